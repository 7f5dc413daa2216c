// KeyService (proto/keyward/v1/key_service.proto) over the keystore.
#ifndef KEYWARD_DAEMON_KEY_SERVICE_H_
#define KEYWARD_DAEMON_KEY_SERVICE_H_

#include "daemon/costly_work.h"
#include "daemon/rpc.h"
#include "daemon/wipe.h"
#include "keyward/v1/key_service.grpc.pb.h"

namespace keyward::daemon {

class KeyServiceImpl final : public keyward::v1::KeyService::CallbackService {
 public:
  // `costly` gates key derivation (import and export with a passphrase)
  // and RSA key generation; it must outlive the service.
  KeyServiceImpl(const ServiceEnv* env, CostlyWork* costly)
      : env_(*env), costly_(*costly) {
    // Imported and exported key material and passphrases are wiped when
    // each call is done (WipingAllocator).
    SetMessageAllocatorFor_ImportKey(&import_messages_);
    SetMessageAllocatorFor_ExportKey(&export_messages_);
  }

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
  WipingAllocator<keyward::v1::ImportKeyRequest, keyward::v1::ImportKeyResponse>
      import_messages_{[](keyward::v1::ImportKeyRequest* request,
                          keyward::v1::ImportKeyResponse*) {
        crypto::WipeString(request->mutable_material());
        crypto::WipeString(request->mutable_passphrase());
      }};
  WipingAllocator<keyward::v1::ExportKeyRequest, keyward::v1::ExportKeyResponse>
      export_messages_{[](keyward::v1::ExportKeyRequest* request,
                          keyward::v1::ExportKeyResponse* response) {
        crypto::WipeString(request->mutable_passphrase());
        crypto::WipeString(response->mutable_material());
      }};
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_KEY_SERVICE_H_
