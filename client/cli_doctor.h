// `keyward doctor`: checks one host's keywardd setup against the
// recommendations and prints what to fix. It reads the daemon's config file
// and looks at the files it names (data dir, passphrase file, socket, audit
// log, their disks), the clock, and, if the daemon answers on its socket,
// its status (seal state, audit log, key count against the cache size).
//
// It never reads a secret: the passphrase and password files are only
// stat(2)ed, and nothing from a file's contents is printed except the
// config's own non-secret values (paths, sizes, modes).
#ifndef KEYWARD_CLIENT_CLI_DOCTOR_H_
#define KEYWARD_CLIENT_CLI_DOCTOR_H_

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "keyward/v1/system_service.pb.h"

namespace keyward::cli {

// kDefaultDaemonConfig is where the Debian package puts keywardd's config.
inline constexpr char kDefaultDaemonConfig[] = "/etc/keyward/keywardd.textproto";

// DoctorOptions are `keyward doctor`'s inputs.
struct DoctorOptions {
  // The daemon's config file. Empty: kDefaultDaemonConfig if it exists,
  // else the built-in defaults (said in the report).
  std::string config_path;
  // Asks the daemon for its status; unset: the daemon is not asked. The
  // argument is the target ("unix:///run/keyward/keyward.sock") from the
  // config's socket unless the caller chose one.
  std::function<absl::StatusOr<keyward::v1::GetStatusResponse>(
      const std::string& target)>
      get_status;
  // The target to ask; empty: the config's Unix socket.
  std::string target;
  // Free space below which a data or audit disk check fails, and below
  // which it warns.
  uint64_t fail_free_bytes = uint64_t{256} << 20;  // 256 MiB
  uint64_t warn_free_bytes = uint64_t{2} << 30;    // 2 GiB
  // The local clock, for tests.
  std::function<absl::Time()> now = [] { return absl::Now(); };
};

// CheckLevel orders results: a kFail makes the exit code non-zero.
enum class CheckLevel { kOk, kWarn, kFail };

// CheckResult is one line of the report.
struct CheckResult {
  CheckLevel level = CheckLevel::kOk;
  std::string check;   // e.g. "passphrase file"
  std::string detail;  // what was seen
  std::string fix;     // what to do; empty for kOk
};

// RunDoctorChecks runs every check and returns the results in report order.
// Never fails as a whole: a check that cannot be made is itself a result.
std::vector<CheckResult> RunDoctorChecks(const DoctorOptions& options);

// PrintDoctorReport writes the results, one per line with its fix, and a
// summary line, as text or (json) as a JSON array; it returns the exit
// code: 0 if no check failed, 1 (kExitInvalid) if one did.
int PrintDoctorReport(const std::vector<CheckResult>& results, bool json,
                      std::ostream& out);

}  // namespace keyward::cli

#endif  // KEYWARD_CLIENT_CLI_DOCTOR_H_
