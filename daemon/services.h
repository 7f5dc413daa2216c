// The gRPC services the daemon serves over the keystore. The only module
// that knows both gRPC and the keystore.
#ifndef KEYWARD_DAEMON_SERVICES_H_
#define KEYWARD_DAEMON_SERVICES_H_

#include <vector>

#include "daemon/server.h"
#include "keystore/keystore.h"

namespace keyward::daemon {

// Services owns the service implementations. `keystore` may be null (the
// daemon is sealed); it must outlive this object.
class Services {
 public:
  explicit Services(keystore::Keystore* keystore);
  ~Services();

  // List returns the services to register, with their names.
  std::vector<ServerOptions::Service> List();

 private:
  keystore::Keystore* keystore_;
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_SERVICES_H_
