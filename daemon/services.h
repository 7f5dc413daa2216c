// The gRPC services the daemon serves over the keystore. The only module
// that knows both gRPC and the keystore.
#ifndef KEYWARD_DAEMON_SERVICES_H_
#define KEYWARD_DAEMON_SERVICES_H_

#include <memory>
#include <vector>

#include "daemon/access_service.h"
#include "daemon/costly_work.h"
#include "daemon/crypto_service.h"
#include "daemon/data_plane_service.h"
#include "daemon/jwt_service.h"
#include "daemon/key_service.h"
#include "daemon/rpc.h"
#include "daemon/server.h"
#include "daemon/system_service.h"

namespace keyward::daemon {

// Services owns the service implementations over `env` (whose pointers
// must outlive it).
class Services {
 public:
  // `data_dir` is where backups are staged; `jwt_leeway` and
  // `max_token_bytes` configure JWT verification; `costly` (which must
  // outlive it) gates key derivation and generation.
  Services(ServiceEnv env, const std::string& data_dir,
           absl::Duration jwt_leeway, size_t max_token_bytes,
           CostlyWork* costly);

  // List returns the services to register, with their names.
  std::vector<ServerOptions::Service> List();

 private:
  const ServiceEnv env_;
  CryptoServiceImpl crypto_;
  KeyServiceImpl keys_;
  JwtServiceImpl jwt_;
  DataPlaneServiceImpl data_plane_;  // after jwt_, which it uses
  AccessServiceImpl access_;
  SystemServiceImpl system_;
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_SERVICES_H_
