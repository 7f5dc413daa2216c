// SystemService (proto/keyward/v1/system_service.proto): status, seal and
// unseal, passphrase change and audit verification. Backup/restore and audit
// streaming are not served by this build yet.
#ifndef KEYWARD_DAEMON_SYSTEM_SERVICE_H_
#define KEYWARD_DAEMON_SYSTEM_SERVICE_H_

#include "absl/time/time.h"
#include "daemon/rpc.h"
#include "keyward/v1/system_service.grpc.pb.h"

namespace keyward::daemon {

class SystemServiceImpl final
    : public keyward::v1::SystemService::CallbackService {
 public:
  explicit SystemServiceImpl(const ServiceEnv* env)
      : env_(*env), start_(absl::Now()) {}

#define KEYWARD_RPC(Name)                                                  \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* context,     \
                                 const keyward::v1::Name##Request* request, \
                                 keyward::v1::Name##Response* response) override;
  KEYWARD_RPC(GetStatus)
  KEYWARD_RPC(Seal)
  KEYWARD_RPC(Unseal)
  KEYWARD_RPC(ChangePassphrase)
  KEYWARD_RPC(VerifyAuditLog)
#undef KEYWARD_RPC

 private:
  const ServiceEnv& env_;
  const absl::Time start_;
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_SYSTEM_SERVICE_H_
