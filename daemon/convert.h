// Conversions between the API's messages and the keystore's values, and the
// parsing of resource names. Every function that reads a request returns
// INVALID_ARGUMENT with a message naming the bad field.
#ifndef KEYWARD_DAEMON_CONVERT_H_
#define KEYWARD_DAEMON_CONVERT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/support/status.h"
#include "keystore/keystore.h"
#include "keyward/v1/common.pb.h"

namespace keyward::daemon {

// A parsed "keys/{id}" or "keys/{id}/versions/{n}" (version 0 if absent).
struct KeyName {
  std::string id;
  int32_t version = 0;
  // "keys/{id}": the resource that policies name.
  std::string Resource() const { return "keys/" + id; }
};

absl::StatusOr<KeyName> ParseKeyName(absl::string_view name,
                                     absl::string_view field = "name");
std::string VersionName(absl::string_view id, int32_t version);

// ToGrpc converts at the service boundary; codes are the same numbers.
grpc::Status ToGrpc(const absl::Status& status);

absl::StatusOr<keystore::KeyType> FromProto(keyward::v1::KeyType type);
keyward::v1::KeyType ToProto(keystore::KeyType type);
// UNSPECIFIED maps to nullopt (the key's default).
absl::StatusOr<std::optional<crypto::SignatureAlgorithm>> FromProto(
    keyward::v1::SignatureAlgorithm algorithm);
keyward::v1::SignatureAlgorithm ToProto(crypto::SignatureAlgorithm algorithm);

void ToProto(const keystore::KeyRecord& key, keyward::v1::Key* out);
void ToProto(const keystore::VersionRecord& version, int32_t primary,
             keyward::v1::KeyVersion* out);

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_CONVERT_H_
