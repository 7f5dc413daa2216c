// Wiping secrets out of the protobuf messages of a call.
//
// A request's secret fields (private key material, passphrases, API key
// secrets, plaintexts) are copied into SecretData where they are used, then
// wiped in the request with WipeRequestField. What this cannot reach: gRPC
// receives and sends through its own buffers (grpc_slice, the HTTP/2
// frames, HPACK tables for metadata such as "authorization"), which it
// frees without wiping; those copies stay in freed heap memory until reused.
// See README, "Known limits".
#ifndef KEYWARD_DAEMON_WIPE_H_
#define KEYWARD_DAEMON_WIPE_H_

#include <string>

#include "absl/strings/string_view.h"
#include "grpcpp/support/message_allocator.h"
#include "keystore/crypto/secret_data.h"

namespace keyward::daemon {

// WipeRequestField zeroes and empties a string field of a request that
// gRPC handed the handler as const. The message is gRPC's, not const, and
// nothing reads it after the handler has taken what it needs; an unset field
// (protobuf's shared empty default) is left alone. Call it once the field's
// contents live in SecretData (or are no longer needed).
inline void WipeRequestField(const std::string& field) {
  if (field.empty()) return;  // possibly the shared default instance
  crypto::WipeString(const_cast<std::string*>(&field));
}

// WipingAllocator gives a unary method's request and response messages a
// life the daemon controls: when gRPC is done with the call (the answer
// sent, or the call failed), `wipe` runs on both before they are freed, so
// that secrets in their fields (a Login's token, a Decrypt's plaintext) do
// not stay in freed memory. Install it with the generated
// SetMessageAllocatorFor_<Method>; it must outlive the server. Thread-safe.
template <typename Request, typename Response>
class WipingAllocator final : public grpc::MessageAllocator<Request, Response> {
 public:
  using Wipe = void (*)(Request* request, Response* response);
  explicit WipingAllocator(Wipe wipe) : wipe_(wipe) {}

  grpc::MessageHolder<Request, Response>* AllocateMessages() override {
    return new Holder(wipe_);
  }

 private:
  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    explicit Holder(Wipe wipe) : wipe_(wipe) {
      this->set_request(&request_);
      this->set_response(&response_);
    }
    void Release() override {
      wipe_(&request_, &response_);
      delete this;
    }

   private:
    const Wipe wipe_;
    Request request_;
    Response response_;
  };

  const Wipe wipe_;
};

// RandomSecret returns `prefix` followed by `bytes` random bytes in
// unpadded base64url, leaving no unwiped temporary behind (the result is
// the caller's to wipe, e.g. by moving it into a wiped message field).
std::string RandomSecret(absl::string_view prefix, size_t bytes);

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_WIPE_H_
