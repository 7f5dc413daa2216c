#include "daemon/services.h"

namespace keyward::daemon {

Services::Services(ServiceEnv env, const std::string& data_dir,
                   absl::Duration jwt_leeway, size_t max_token_bytes,
                   CostlyWork* costly)
    : env_(env),
      crypto_(&env_),
      keys_(&env_, costly),
      jwt_(&env_, jwt_leeway, max_token_bytes),
      data_plane_(&env_, &jwt_),
      access_(&env_),
      system_(&env_, data_dir, costly) {}

std::vector<ServerOptions::Service> Services::List() {
  return {
      {keyward::v1::CryptoService::service_full_name(), &crypto_},
      {keyward::v1::KeyService::service_full_name(), &keys_},
      {keyward::v1::JwtService::service_full_name(), &jwt_},
      {keyward::v1::DataPlaneService::service_full_name(), &data_plane_},
      {keyward::v1::AccessService::service_full_name(), &access_},
      {keyward::v1::SystemService::service_full_name(), &system_},
  };
}

}  // namespace keyward::daemon
