// A PKCS#11 module as a peer: SoftHSM2 in-process (libsofthsm2.so), or the
// same token behind `p11-kit server` through p11-kit's client module
// (p11-kit-client.so, which reads P11_KIT_SERVER_ADDRESS).
#ifndef KEYWARD_TOOLS_PEERS_PKCS11_PEER_H_
#define KEYWARD_TOOLS_PEERS_PKCS11_PEER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tools/peers/peer.h"

namespace keyward::peers {

struct Pkcs11Options {
  std::string module;       // path to the module, dlopen()ed
  std::string token_label;  // the token to use; empty: the first with a token
  std::string pin;          // the user PIN
  // The key's CKA_LABEL. A private key of the type with this label is used
  // if the token holds one; otherwise a key pair is generated as token
  // objects under it (so the next process, or the server, finds it).
  std::string key_label;
};

// Loads the module (C_Initialize with CKF_OS_LOCKING_OK), logs the user in
// and finds or generates the key. The signing mechanism is the first the
// token offers of, for Ed25519: CKM_EDDSA; P-256: CKM_ECDSA_SHA256, then
// CKM_ECDSA over a SHA-256 computed here (SoftHSM2 2.6 has only the
// latter); RSA-2048: CKM_SHA256_RSA_PKCS_PSS (Keyward's default, salt 32),
// CKM_RSA_PKCS_PSS over a SHA-256 computed here (what p11-kit 0.24's RPC
// carries), CKM_SHA256_RSA_PKCS. Peer::Mechanism() says which.
// FAILED_PRECONDITION naming the mechanisms if none is offered (p11-kit
// 0.24 carries no CKM_EDDSA); the module's CKR_ code for anything else.
absl::StatusOr<std::unique_ptr<Peer>> OpenPkcs11Peer(const Pkcs11Options& options,
                                                     KeyType type);

}  // namespace keyward::peers

#endif  // KEYWARD_TOOLS_PEERS_PKCS11_PEER_H_
