// The peers that tools/peers_suite.py measures Keyward against, as seen by
// tools/peers/peers_bench.cc: something that signs a message with a key it
// holds, from one thread per session.
#ifndef KEYWARD_TOOLS_PEERS_PEER_H_
#define KEYWARD_TOOLS_PEERS_PEER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace keyward::peers {

// The key types every peer and Keyward share.
enum class KeyType { kEd25519, kEcdsaP256, kRsa2048 };

// "ed25519", "ecdsa-p256", "rsa-2048" (keyward-bench's names);
// INVALID_ARGUMENT for anything else.
absl::StatusOr<KeyType> ParseKeyType(absl::string_view name);

// One thread's handle on a peer (a PKCS#11 session, an agent connection).
// Not thread-safe; each load thread has its own.
class SignSession {
 public:
  virtual ~SignSession() = default;
  // Signs `data` with the peer's key and checks that a signature came
  // back (not its validity: the peers are trusted to sign correctly).
  virtual absl::Status Sign(absl::string_view data) = 0;
};

// A peer holding one key of the type it was opened for. Thread-safe.
class Peer {
 public:
  virtual ~Peer() = default;
  // A new, independent session; fails with the peer's error.
  virtual absl::StatusOr<std::unique_ptr<SignSession>> NewSession() = 0;
  // What is signed and how, for the report ("CKM_EDDSA", "rsa-sha2-256").
  virtual std::string Mechanism() const = 0;
};

}  // namespace keyward::peers

#endif  // KEYWARD_TOOLS_PEERS_PEER_H_
