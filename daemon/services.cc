#include "daemon/services.h"

namespace keyward::daemon {

Services::Services(keystore::Keystore* keystore) : keystore_(keystore) {}
Services::~Services() = default;

std::vector<ServerOptions::Service> Services::List() { return {}; }

}  // namespace keyward::daemon
