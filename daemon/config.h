// The daemon's configuration: a text-format keyward.v1.DaemonConfig file
// (proto/keyward/v1/config.proto), overridden by command-line flags, with
// defaults filled in and every value checked before anything starts.
#ifndef KEYWARD_DAEMON_CONFIG_H_
#define KEYWARD_DAEMON_CONFIG_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "keyward/v1/config.pb.h"

namespace keyward::daemon {

// LoadConfigFile parses the text-format file at `path`. NOT_FOUND if it cannot
// be read; INVALID_ARGUMENT naming `path:line:column` and the parser's
// complaint (an unknown field, a bad value) if it does not parse.
absl::StatusOr<keyward::v1::DaemonConfig> LoadConfigFile(
    const std::string& path);

// FinalizeConfig fills defaults (paths under data_dir, socket mode 0660,
// cache size, scrypt cost) and validates every value. INVALID_ARGUMENT names
// the field, the bad value and what is allowed.
absl::Status FinalizeConfig(keyward::v1::DaemonConfig* config);

// ToDuration: a config Duration as an absl::Duration.
absl::Duration ToDuration(const google::protobuf::Duration& d);

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_CONFIG_H_
