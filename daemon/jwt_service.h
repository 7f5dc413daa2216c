// JwtService (proto/keyward/v1/jwt_service.proto): SignJwt, VerifyJwt and
// GetJwks over JWT keys (purpose JWT), EncryptJwe/DecryptJwe over JWE keys
// (purpose JWE), with the JOSE rules of keystore/jose (alg from the key,
// never from the token). Token records and revocation, and the nested forms,
// are not served by this build yet.
#ifndef KEYWARD_DAEMON_JWT_SERVICE_H_
#define KEYWARD_DAEMON_JWT_SERVICE_H_

#include "daemon/rpc.h"
#include "keyward/v1/jwt_service.grpc.pb.h"

namespace keyward::daemon {

class JwtServiceImpl final : public keyward::v1::JwtService::CallbackService {
 public:
  // `leeway`: the default clock leeway of VerifyJwt; `max_token_bytes`:
  // the largest token accepted.
  JwtServiceImpl(const ServiceEnv* env, absl::Duration leeway,
                 size_t max_token_bytes)
      : env_(*env), leeway_(leeway), max_token_bytes_(max_token_bytes) {}

#define KEYWARD_RPC(Name)                                                  \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* context,     \
                                 const keyward::v1::Name##Request* request, \
                                 keyward::v1::Name##Response* response) override;
  KEYWARD_RPC(SignJwt)
  KEYWARD_RPC(VerifyJwt)
  KEYWARD_RPC(GetJwks)
  KEYWARD_RPC(EncryptJwe)
  KEYWARD_RPC(DecryptJwe)
  KEYWARD_RPC(GetTokenRecord)
  KEYWARD_RPC(RevokeToken)
  KEYWARD_RPC(ListTokenRecords)
#undef KEYWARD_RPC

  // RunSignJwt and RunVerifyJwt: one SignJwt or VerifyJwt through `rpc`
  // (Rpc::Run: authorized, rate-limited, audited by it, with the RPC's
  // errors), shared by the unary RPCs and DataPlaneService/Stream. `rpc`
  // must have identified its caller. Thread-safe.
  absl::Status RunSignJwt(Rpc& rpc, const keyward::v1::SignJwtRequest& request,
                          keyward::v1::SignJwtResponse* response) const;
  absl::Status RunVerifyJwt(Rpc& rpc,
                            const keyward::v1::VerifyJwtRequest& request,
                            keyward::v1::VerifyJwtResponse* response) const;

 private:
  // Sign is SignJwt's body, also run for EncryptJwe's nested_jwt (whose
  // JWT_SIGN grant the caller checks first).
  absl::Status Sign(Rpc& rpc, const keyward::v1::SignJwtRequest& request,
                    keyward::v1::SignJwtResponse* response,
                    int32_t* version) const;
  // Verify is VerifyJwt's body for `token` with `request`'s settings, also
  // run for DecryptJwe's verify_nested. With `authorize`, JWT_VERIFY on the
  // key is checked here (VerifyJwt checks it before).
  absl::Status Verify(Rpc& rpc, const keyward::v1::VerifyJwtRequest& request,
                      absl::string_view token, bool authorize,
                      keyward::v1::VerifyJwtResponse* response,
                      int32_t* version) const;
  // Up to `limit` records matching `filter` after `cursor` among those the
  // caller holds TOKEN_READ on; `more` if a next page may hold more.
  struct ReadablePage {
    std::vector<keystore::TokenRecord> records;
    keystore::TokenCursor last;
    bool more = false;
  };
  absl::StatusOr<ReadablePage> NextReadable(
      Rpc& rpc, const keystore::TokenFilter& filter,
      keystore::TokenCursor cursor, int limit) const;
  absl::Status ToProto(Rpc& rpc, const keystore::TokenRecord& record,
                       keyward::v1::TokenRecord* out) const;

  const ServiceEnv& env_;
  const absl::Duration leeway_;
  const size_t max_token_bytes_;
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_JWT_SERVICE_H_
