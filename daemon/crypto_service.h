// CryptoService (proto/keyward/v1/crypto_service.proto) over the keystore.
#ifndef KEYWARD_DAEMON_CRYPTO_SERVICE_H_
#define KEYWARD_DAEMON_CRYPTO_SERVICE_H_

#include "daemon/rpc.h"
#include "daemon/wipe.h"
#include "keyward/v1/crypto_service.grpc.pb.h"

namespace keyward::daemon {

// The data-plane operations, one item each, run through `rpc` (Rpc::Run:
// authorized, rate-limited and audited by it, with the errors of the RPC of
// the same name), the body shared by the unary RPCs, the Batch RPCs and
// DataPlaneService/Stream. `rpc` must have identified its caller.
absl::Status DoSign(Rpc& rpc, const keyward::v1::SignRequest& req,
                    keyward::v1::SignResponse* resp);
absl::Status DoVerify(Rpc& rpc, const keyward::v1::VerifyRequest& req,
                      keyward::v1::VerifyResponse* resp);
absl::Status DoEncrypt(Rpc& rpc, const keyward::v1::EncryptRequest& req,
                       keyward::v1::EncryptResponse* resp);
absl::Status DoDecrypt(Rpc& rpc, const keyward::v1::DecryptRequest& req,
                       keyward::v1::DecryptResponse* resp);
absl::Status DoMac(Rpc& rpc, const keyward::v1::MacRequest& req,
                   keyward::v1::MacResponse* resp);
absl::Status DoVerifyMac(Rpc& rpc, const keyward::v1::VerifyMacRequest& req,
                         keyward::v1::VerifyMacResponse* resp);

// Thread-safe; crypto runs on the calling gRPC thread.
class CryptoServiceImpl final
    : public keyward::v1::CryptoService::CallbackService {
 public:
  // Plaintexts in requests and answers are wiped when each call is done
  // (WipingAllocator).
  explicit CryptoServiceImpl(const ServiceEnv* env) : env_(*env) {
    SetMessageAllocatorFor_Encrypt(&encrypt_messages_);
    SetMessageAllocatorFor_Decrypt(&decrypt_messages_);
    SetMessageAllocatorFor_GenerateDataKey(&data_key_messages_);
    SetMessageAllocatorFor_BatchEncrypt(&batch_encrypt_messages_);
    SetMessageAllocatorFor_BatchDecrypt(&batch_decrypt_messages_);
    SetMessageAllocatorFor_Box(&box_messages_);
    SetMessageAllocatorFor_BoxOpen(&box_open_messages_);
  }

  grpc::ServerUnaryReactor* Sign(grpc::CallbackServerContext* context,
                                 const keyward::v1::SignRequest* request,
                                 keyward::v1::SignResponse* response) override;
  grpc::ServerUnaryReactor* Verify(
      grpc::CallbackServerContext* context,
      const keyward::v1::VerifyRequest* request,
      keyward::v1::VerifyResponse* response) override;
  grpc::ServerUnaryReactor* Encrypt(
      grpc::CallbackServerContext* context,
      const keyward::v1::EncryptRequest* request,
      keyward::v1::EncryptResponse* response) override;
  grpc::ServerUnaryReactor* Decrypt(
      grpc::CallbackServerContext* context,
      const keyward::v1::DecryptRequest* request,
      keyward::v1::DecryptResponse* response) override;
  grpc::ServerUnaryReactor* Mac(grpc::CallbackServerContext* context,
                                const keyward::v1::MacRequest* request,
                                keyward::v1::MacResponse* response) override;
  grpc::ServerUnaryReactor* VerifyMac(
      grpc::CallbackServerContext* context,
      const keyward::v1::VerifyMacRequest* request,
      keyward::v1::VerifyMacResponse* response) override;
  grpc::ServerUnaryReactor* GenerateDataKey(
      grpc::CallbackServerContext* context,
      const keyward::v1::GenerateDataKeyRequest* request,
      keyward::v1::GenerateDataKeyResponse* response) override;
  grpc::ServerUnaryReactor* ReEncrypt(
      grpc::CallbackServerContext* context,
      const keyward::v1::ReEncryptRequest* request,
      keyward::v1::ReEncryptResponse* response) override;
  grpc::ServerUnaryReactor* GetPublicKey(
      grpc::CallbackServerContext* context,
      const keyward::v1::GetPublicKeyRequest* request,
      keyward::v1::GetPublicKeyResponse* response) override;
  grpc::ServerUnaryReactor* Box(grpc::CallbackServerContext* context,
                                const keyward::v1::BoxRequest* request,
                                keyward::v1::BoxResponse* response) override;
  grpc::ServerUnaryReactor* BoxOpen(
      grpc::CallbackServerContext* context,
      const keyward::v1::BoxOpenRequest* request,
      keyward::v1::BoxOpenResponse* response) override;
  grpc::ServerUnaryReactor* BatchSign(
      grpc::CallbackServerContext* context,
      const keyward::v1::BatchSignRequest* request,
      keyward::v1::BatchSignResponse* response) override;
  grpc::ServerUnaryReactor* BatchVerify(
      grpc::CallbackServerContext* context,
      const keyward::v1::BatchVerifyRequest* request,
      keyward::v1::BatchVerifyResponse* response) override;
  grpc::ServerUnaryReactor* BatchEncrypt(
      grpc::CallbackServerContext* context,
      const keyward::v1::BatchEncryptRequest* request,
      keyward::v1::BatchEncryptResponse* response) override;
  grpc::ServerUnaryReactor* BatchDecrypt(
      grpc::CallbackServerContext* context,
      const keyward::v1::BatchDecryptRequest* request,
      keyward::v1::BatchDecryptResponse* response) override;

 private:
  const ServiceEnv& env_;
  WipingAllocator<keyward::v1::EncryptRequest, keyward::v1::EncryptResponse>
      encrypt_messages_{[](keyward::v1::EncryptRequest* request,
                           keyward::v1::EncryptResponse*) {
        crypto::WipeString(request->mutable_plaintext());
      }};
  WipingAllocator<keyward::v1::DecryptRequest, keyward::v1::DecryptResponse>
      decrypt_messages_{[](keyward::v1::DecryptRequest*,
                           keyward::v1::DecryptResponse* response) {
        crypto::WipeString(response->mutable_plaintext());
      }};
  WipingAllocator<keyward::v1::GenerateDataKeyRequest,
                  keyward::v1::GenerateDataKeyResponse>
      data_key_messages_{[](keyward::v1::GenerateDataKeyRequest*,
                            keyward::v1::GenerateDataKeyResponse* response) {
        crypto::WipeString(response->mutable_plaintext());
      }};
  WipingAllocator<keyward::v1::BoxRequest, keyward::v1::BoxResponse>
      box_messages_{[](keyward::v1::BoxRequest* request,
                       keyward::v1::BoxResponse*) {
        crypto::WipeString(request->mutable_plaintext());
      }};
  WipingAllocator<keyward::v1::BoxOpenRequest, keyward::v1::BoxOpenResponse>
      box_open_messages_{[](keyward::v1::BoxOpenRequest*,
                            keyward::v1::BoxOpenResponse* response) {
        crypto::WipeString(response->mutable_plaintext());
      }};
  WipingAllocator<keyward::v1::BatchEncryptRequest,
                  keyward::v1::BatchEncryptResponse>
      batch_encrypt_messages_{[](keyward::v1::BatchEncryptRequest* request,
                                 keyward::v1::BatchEncryptResponse*) {
        for (auto& item : *request->mutable_requests()) {
          crypto::WipeString(item.mutable_plaintext());
        }
      }};
  WipingAllocator<keyward::v1::BatchDecryptRequest,
                  keyward::v1::BatchDecryptResponse>
      batch_decrypt_messages_{[](keyward::v1::BatchDecryptRequest*,
                                 keyward::v1::BatchDecryptResponse* response) {
        for (auto& result : *response->mutable_results()) {
          crypto::WipeString(result.mutable_response()->mutable_plaintext());
        }
      }};
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_CRYPTO_SERVICE_H_
