// keyward::ClientInterface: the calls of a Keyward client, as an abstract
// class. keyward::Client (client/client.h) implements it over gRPC; code
// that only makes calls (the `keyward` CLI's command handlers) takes a
// ClientInterface& so that its unit tests can run against a fake
// (client/mock_client.h).
//
// Contract of every method: it makes one call of the RPC of the same name
// (see proto/keyward/v1/*.proto for requests, responses and error codes)
// and returns the response, or the daemon's status with the same code and
// message. Implementations are thread-safe.
#ifndef KEYWARD_CLIENT_CLIENT_INTERFACE_H_
#define KEYWARD_CLIENT_CLIENT_INTERFACE_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpc/health/v1/health.pb.h"
#include "keyward/v1/access_service.pb.h"
#include "keyward/v1/crypto_service.pb.h"
#include "keyward/v1/jwt_service.pb.h"
#include "keyward/v1/key_service.pb.h"
#include "keyward/v1/system_service.pb.h"

// KEYWARD_CLIENT_UNARY_RPCS(X) applies X(Method) to every unary RPC whose
// C++ method has the shape
//   absl::StatusOr<v1::MethodResponse> Method(const v1::MethodRequest&);
// The calls without a request (GetStatus, Seal, WhoAmI), the health check
// and the three streams are declared one by one in ClientInterface.
// Which calls Client retries is written in client/client.h.
#define KEYWARD_CLIENT_UNARY_RPCS(X) \
  /* SystemService */                \
  X(Unseal)                          \
  X(ChangePassphrase)                \
  X(VerifyAuditLog)                  \
  /* KeyService */                   \
  X(CreateKey)                       \
  X(GetKey)                          \
  X(ListKeys)                        \
  X(UpdateKey)                       \
  X(RotateKey)                       \
  X(ListKeyVersions)                 \
  X(GetKeyVersion)                   \
  X(DisableKeyVersion)               \
  X(EnableKeyVersion)                \
  X(DestroyKeyVersion)               \
  X(ImportKey)                       \
  X(ExportKey)                       \
  /* CryptoService */                \
  X(Sign)                            \
  X(Verify)                          \
  X(Encrypt)                         \
  X(Decrypt)                         \
  X(Mac)                             \
  X(VerifyMac)                       \
  X(GenerateDataKey)                 \
  X(ReEncrypt)                       \
  X(GetPublicKey)                    \
  X(Box)                             \
  X(BoxOpen)                         \
  X(BatchSign)                       \
  X(BatchVerify)                     \
  X(BatchEncrypt)                    \
  X(BatchDecrypt)                    \
  /* JwtService */                   \
  X(SignJwt)                         \
  X(VerifyJwt)                       \
  X(GetJwks)                         \
  X(EncryptJwe)                      \
  X(DecryptJwe)                      \
  X(GetTokenRecord)                  \
  X(RevokeToken)                     \
  X(ListTokenRecords)                \
  /* AccessService */                \
  X(CreatePolicy)                    \
  X(DeletePolicy)                    \
  X(ListPolicies)                    \
  X(CreateApiKey)                    \
  X(RevokeApiKey)                    \
  X(ListApiKeys)                     \
  X(Login)

namespace keyward {

class ClientInterface {
 public:
  virtual ~ClientInterface() = default;

  // --- grpc.health.v1 ---
  // CheckHealth asks the standard health service about `service` ("" = the
  // whole server).
  virtual absl::StatusOr<grpc::health::v1::HealthCheckResponse> CheckHealth(
      const std::string& service) = 0;

  // --- Calls without a request message ---
  virtual absl::StatusOr<v1::GetStatusResponse> GetStatus() = 0;
  virtual absl::StatusOr<v1::SealResponse> Seal() = 0;
  virtual absl::StatusOr<v1::RotateAuditLogResponse> RotateAuditLog() = 0;
  virtual absl::StatusOr<v1::WhoAmIResponse> WhoAmI() = 0;

  // --- Streams ---
  // CreateBackup streams the backup to `sink`, chunk by chunk in order, and
  // returns the BackupInfo of the first message. A non-OK status from
  // `sink` cancels the stream and is returned.
  virtual absl::StatusOr<v1::BackupInfo> CreateBackup(
      const std::function<absl::Status(absl::string_view chunk)>& sink) = 0;
  // RestoreBackup sends `passphrase` and `replace_existing` in the first
  // message, then the chunks `next_chunk` returns until it returns an empty
  // string (end of input). A non-OK status from `next_chunk` cancels the
  // stream (the daemon changes nothing) and is returned.
  virtual absl::StatusOr<v1::RestoreBackupResponse> RestoreBackup(
      const std::string& passphrase, bool replace_existing,
      const std::function<absl::StatusOr<std::string>()>& next_chunk) = 0;
  // ReadAuditLog calls `on_records` for each streamed batch until the
  // stream ends or `on_records` returns false (then the stream is cancelled
  // and OK returned).
  virtual absl::Status ReadAuditLog(
      const v1::ReadAuditLogRequest& request,
      const std::function<bool(const v1::ReadAuditLogResponse&)>&
          on_records) = 0;

  // --- Every other unary call: see KEYWARD_CLIENT_UNARY_RPCS ---
#define KEYWARD_CLIENT_DECLARE_PURE_(Method)              \
  virtual absl::StatusOr<v1::Method##Response> Method( \
      const v1::Method##Request& request) = 0;
  KEYWARD_CLIENT_UNARY_RPCS(KEYWARD_CLIENT_DECLARE_PURE_)
#undef KEYWARD_CLIENT_DECLARE_PURE_
};

}  // namespace keyward

#endif  // KEYWARD_CLIENT_CLIENT_INTERFACE_H_
