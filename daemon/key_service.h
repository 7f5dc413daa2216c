// KeyService (proto/keyward/v1/key_service.proto) over the keystore.
#ifndef KEYWARD_DAEMON_KEY_SERVICE_H_
#define KEYWARD_DAEMON_KEY_SERVICE_H_

#include "daemon/costly_work.h"
#include "daemon/rpc.h"
#include "keyward/v1/key_service.grpc.pb.h"

namespace keyward::daemon {

class KeyServiceImpl final : public keyward::v1::KeyService::CallbackService {
 public:
  // `costly` gates key derivation (import and export with a passphrase)
  // and RSA key generation; it must outlive the service.
  KeyServiceImpl(const ServiceEnv* env, CostlyWork* costly)
      : env_(*env), costly_(*costly) {}

#define KEYWARD_RPC(Name)                                              \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* context, \
                                 const keyward::v1::Name##Request* request, \
                                 keyward::v1::Name##Response* response) override;
  KEYWARD_RPC(CreateKey)
  KEYWARD_RPC(GetKey)
  KEYWARD_RPC(ListKeys)
  KEYWARD_RPC(UpdateKey)
  KEYWARD_RPC(RotateKey)
  KEYWARD_RPC(ListKeyVersions)
  KEYWARD_RPC(GetKeyVersion)
  KEYWARD_RPC(DisableKeyVersion)
  KEYWARD_RPC(EnableKeyVersion)
  KEYWARD_RPC(DestroyKeyVersion)
  KEYWARD_RPC(ImportKey)
  KEYWARD_RPC(ExportKey)
#undef KEYWARD_RPC

 private:
  const ServiceEnv& env_;
  CostlyWork& costly_;
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_KEY_SERVICE_H_
