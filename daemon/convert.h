// Conversions between the API's messages and the keystore's values, and the
// parsing of resource names. Every function that reads a request returns
// INVALID_ARGUMENT with a message naming the bad field.
#ifndef KEYWARD_DAEMON_CONVERT_H_
#define KEYWARD_DAEMON_CONVERT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/map.h"
#include "google/protobuf/timestamp.pb.h"
#include "grpcpp/support/status.h"
#include "keystore/jose/jwe.h"
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
// The resource that policies name for a parsed key name ("keys/{id}"), or
// the parse's error: what Rpc::Run takes as its resource.
absl::StatusOr<std::string> ResourceOf(const absl::StatusOr<KeyName>& name);

// A time as a protobuf Timestamp, to the microsecond.
google::protobuf::Timestamp ToTimestamp(absl::Time t);

// ToGrpc converts at the service boundary; codes are the same numbers.
grpc::Status ToGrpc(const absl::Status& status);

absl::StatusOr<keystore::KeyType> FromProto(keyward::v1::KeyType type);
keyward::v1::KeyType ToProto(keystore::KeyType type);
// UNSPECIFIED maps to nullopt (the key's default).
absl::StatusOr<std::optional<crypto::SignatureAlgorithm>> FromProto(
    keyward::v1::SignatureAlgorithm algorithm);
keyward::v1::SignatureAlgorithm ToProto(crypto::SignatureAlgorithm algorithm);

// Key template fields shared by CreateKey and ImportKey.
// A google.protobuf.Duration as an absl::Duration (unset: zero).
absl::Duration FromProto(const google::protobuf::Duration& d);
// UNSPECIFIED maps to nullopt (the type's default purpose).
absl::StatusOr<std::optional<keystore::KeyPurpose>> PurposeFromProto(
    keyward::v1::KeyPurpose purpose);
// At most 64 labels, names 1 to 63 bytes, values at most 255.
absl::Status ValidateLabels(
    const google::protobuf::Map<std::string, std::string>& labels);
// A template's signature_algorithms as the keystore's (it checks them
// against the type and purpose); UNSPECIFIED among them is refused.
absl::StatusOr<std::vector<crypto::SignatureAlgorithm>> AlgorithmsFromProto(
    const keyward::v1::Key& key);

// JWE keys (purpose JWE) have one "alg" each.
// JweAlgorithmsFor: the algs a key type may be given, its default first
// (empty for types that make no JWE keys).
std::vector<jose::JweAlgorithm> JweAlgorithmsFor(keystore::KeyType type);
// JweAlgorithmOf: a JWE key's alg (stored, else its type's default);
// FAILED_PRECONDITION for a key of another purpose.
absl::StatusOr<jose::JweAlgorithm> JweAlgorithmOf(const keystore::KeyRecord& key);
// ChooseJweAlgorithm checks Key.jwe_algorithm for a new key and returns
// the name to store ("" for keys of other purposes).
absl::StatusOr<std::string> ChooseJweAlgorithm(keyward::v1::JweAlgorithm alg,
                                               keystore::KeyType type,
                                               keystore::KeyPurpose purpose);
// UNSPECIFIED maps to nullopt.
absl::StatusOr<std::optional<jose::JweAlgorithm>> FromProto(
    keyward::v1::JweAlgorithm alg);
keyward::v1::JweAlgorithm ToProto(jose::JweAlgorithm alg);

// KidOf: a version's JOSE kid, its own or "{key_id}:v{n}".
std::string KidOf(const keystore::VersionRecord& version);

void ToProto(const keystore::KeyRecord& key, keyward::v1::Key* out);
void ToProto(const keystore::VersionRecord& version, int32_t primary,
             keyward::v1::KeyVersion* out);

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_CONVERT_H_
