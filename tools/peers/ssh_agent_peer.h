// OpenSSH's ssh-agent as a peer, over its Unix socket with the agent
// protocol (draft-miller-ssh-agent): SSH2_AGENTC_REQUEST_IDENTITIES to find
// the key, then SSH2_AGENTC_SIGN_REQUEST per signature. The keys are added
// beforehand with ssh-add; one connection per session.
#ifndef KEYWARD_TOOLS_PEERS_SSH_AGENT_PEER_H_
#define KEYWARD_TOOLS_PEERS_SSH_AGENT_PEER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tools/peers/peer.h"

namespace keyward::peers {

// Connects to the agent at `socket_path` and picks its first identity of
// `type` (ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa; RSA signs with
// rsa-sha2-256). NOT_FOUND if the agent holds none, UNAVAILABLE if the
// socket does not answer.
absl::StatusOr<std::unique_ptr<Peer>> OpenSshAgentPeer(const std::string& socket_path,
                                                       KeyType type);

}  // namespace keyward::peers

#endif  // KEYWARD_TOOLS_PEERS_SSH_AGENT_PEER_H_
