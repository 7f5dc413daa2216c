// AccessService (proto/keyward/v1/access_service.proto): policies and
// WhoAmI. API keys and Login are not served by this build yet; they answer
// UNIMPLEMENTED with a message saying so.
#ifndef KEYWARD_DAEMON_ACCESS_SERVICE_H_
#define KEYWARD_DAEMON_ACCESS_SERVICE_H_

#include "daemon/rpc.h"
#include "daemon/wipe.h"
#include "keyward/v1/access_service.grpc.pb.h"

namespace keyward::daemon {

class AccessServiceImpl final
    : public keyward::v1::AccessService::CallbackService {
 public:
  // API key secrets and session tokens in requests and answers are wiped
  // when each call is done (WipingAllocator).
  explicit AccessServiceImpl(const ServiceEnv* env) : env_(*env) {
    SetMessageAllocatorFor_Login(&login_messages_);
    SetMessageAllocatorFor_CreateApiKey(&create_api_key_messages_);
  }

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
  WipingAllocator<keyward::v1::LoginRequest, keyward::v1::LoginResponse>
      login_messages_{[](keyward::v1::LoginRequest* request,
                         keyward::v1::LoginResponse* response) {
        crypto::WipeString(request->mutable_api_key_secret());
        crypto::WipeString(response->mutable_session_token());
      }};
  WipingAllocator<keyward::v1::CreateApiKeyRequest,
                  keyward::v1::CreateApiKeyResponse>
      create_api_key_messages_{[](keyward::v1::CreateApiKeyRequest*,
                                  keyward::v1::CreateApiKeyResponse* response) {
        crypto::WipeString(response->mutable_secret());
      }};
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_ACCESS_SERVICE_H_
