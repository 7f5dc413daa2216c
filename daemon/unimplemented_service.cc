#include "daemon/unimplemented_service.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/descriptor.h"

namespace keyward::daemon {
namespace {

class FinishNow final : public grpc::ServerGenericBidiReactor {
 public:
  explicit FinishNow(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

// "/keyward.v1.JwtService/SignJwt" -> the method's descriptor, if the API
// contract (linked into this binary) has it.
const google::protobuf::MethodDescriptor* FindInContract(
    const std::string& path) {
  if (path.size() < 2 || path[0] != '/') return nullptr;
  return google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
      absl::StrReplaceAll(path.substr(1), {{"/", "."}}));
}

}  // namespace

grpc::ServerGenericBidiReactor* UnimplementedService::CreateReactor(
    grpc::GenericCallbackServerContext* context) {
  const std::string& method = context->method();
  if (FindInContract(method) != nullptr) {
    return new FinishNow(grpc::Status(
        grpc::StatusCode::UNIMPLEMENTED,
        absl::StrCat(method,
                     " is part of the Keyward API but this daemon build does "
                     "not serve it yet; see the README for what is served")));
  }
  return new FinishNow(grpc::Status(
      grpc::StatusCode::UNIMPLEMENTED,
      absl::StrCat("no method ", method,
                   " on this server; check the service and method name")));
}

}  // namespace keyward::daemon
