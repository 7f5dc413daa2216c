#include "daemon/reflection.h"

#include <set>
#include <utility>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"

namespace keyward::daemon {
namespace {

namespace rpb = grpc::reflection::v1alpha;
using google::protobuf::DescriptorPool;
using google::protobuf::FileDescriptor;

// Adds `file` and, transitively, the files it imports, each once.
void AddFileWithDeps(const FileDescriptor* file, std::set<std::string>* seen,
                     rpb::FileDescriptorResponse* out) {
  if (!seen->insert(file->name()).second) return;
  google::protobuf::FileDescriptorProto proto;
  file->CopyTo(&proto);
  proto.SerializeToString(out->add_file_descriptor_proto());
  for (int i = 0; i < file->dependency_count(); ++i) {
    AddFileWithDeps(file->dependency(i), seen, out);
  }
}

void SetError(rpb::ServerReflectionResponse* response, grpc::StatusCode code,
              const std::string& message) {
  response->mutable_error_response()->set_error_code(code);
  response->mutable_error_response()->set_error_message(message);
}

}  // namespace

ReflectionService::ReflectionService(std::vector<std::string> services)
    : services_(std::move(services)) {}

grpc::Status ReflectionService::ServerReflectionInfo(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<rpb::ServerReflectionResponse,
                             rpb::ServerReflectionRequest>* stream) {
  const DescriptorPool* pool = DescriptorPool::generated_pool();
  rpb::ServerReflectionRequest request;
  while (stream->Read(&request)) {
    rpb::ServerReflectionResponse response;
    response.set_valid_host(request.host());
    *response.mutable_original_request() = request;
    std::set<std::string> seen;
    const FileDescriptor* file = nullptr;
    switch (request.message_request_case()) {
      case rpb::ServerReflectionRequest::kListServices:
        for (const std::string& name : services_) {
          response.mutable_list_services_response()->add_service()->set_name(
              name);
        }
        break;
      case rpb::ServerReflectionRequest::kFileByFilename:
        file = pool->FindFileByName(request.file_by_filename());
        break;
      case rpb::ServerReflectionRequest::kFileContainingSymbol:
        file = pool->FindFileContainingSymbol(request.file_containing_symbol());
        break;
      case rpb::ServerReflectionRequest::kFileContainingExtension: {
        const auto* type = pool->FindMessageTypeByName(
            request.file_containing_extension().containing_type());
        const auto* ext =
            type == nullptr
                ? nullptr
                : pool->FindExtensionByNumber(
                      type, request.file_containing_extension()
                                .extension_number());
        if (ext != nullptr) file = ext->file();
        break;
      }
      default:
        SetError(&response, grpc::StatusCode::UNIMPLEMENTED,
                 "this reflection request is not supported");
        break;
    }
    if (file != nullptr) {
      AddFileWithDeps(file, &seen, response.mutable_file_descriptor_response());
    } else if (request.message_request_case() !=
                   rpb::ServerReflectionRequest::kListServices &&
               !response.has_error_response()) {
      SetError(&response, grpc::StatusCode::NOT_FOUND,
               "no such file or symbol in this server's API");
    }
    if (!stream->Write(response)) break;
  }
  return grpc::Status::OK;
}

}  // namespace keyward::daemon
