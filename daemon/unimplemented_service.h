// The answer for every method the server does not serve: UNIMPLEMENTED with a
// message that says whether the method is part of Keyward's API contract (and
// so is coming in a later build) or does not exist at all.
#ifndef KEYWARD_DAEMON_UNIMPLEMENTED_SERVICE_H_
#define KEYWARD_DAEMON_UNIMPLEMENTED_SERVICE_H_

#include "grpcpp/generic/async_generic_service.h"

namespace keyward::daemon {

// UnimplementedService is registered with
// ServerBuilder::RegisterCallbackGenericService; gRPC routes to it only the
// methods no registered service handles. Thread-safe and stateless.
class UnimplementedService final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override;
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_UNIMPLEMENTED_SERVICE_H_
