// AccessService (proto/keyward/v1/access_service.proto): policies and
// WhoAmI. API keys and Login are not served by this build yet; they answer
// UNIMPLEMENTED with a message saying so.
#ifndef KEYWARD_DAEMON_ACCESS_SERVICE_H_
#define KEYWARD_DAEMON_ACCESS_SERVICE_H_

#include "daemon/rpc.h"
#include "keyward/v1/access_service.grpc.pb.h"

namespace keyward::daemon {

class AccessServiceImpl final
    : public keyward::v1::AccessService::CallbackService {
 public:
  explicit AccessServiceImpl(const ServiceEnv* env) : env_(*env) {}

#define KEYWARD_RPC(Name)                                                  \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* context,     \
                                 const keyward::v1::Name##Request* request, \
                                 keyward::v1::Name##Response* response) override;
  KEYWARD_RPC(CreatePolicy)
  KEYWARD_RPC(DeletePolicy)
  KEYWARD_RPC(ListPolicies)
  KEYWARD_RPC(WhoAmI)
  KEYWARD_RPC(CreateApiKey)
  KEYWARD_RPC(RevokeApiKey)
  KEYWARD_RPC(ListApiKeys)
  KEYWARD_RPC(Login)
#undef KEYWARD_RPC

 private:
  const ServiceEnv& env_;
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_ACCESS_SERVICE_H_
