// `keyward doctor`: the command-table entry for the host checks of
// cli_doctor.h. The daemon's status comes from a client of its own, made
// for the target the checks choose (the config's socket unless --addr).
#include "client/cli_command.h"
#include "client/cli_doctor.h"
#include "client/client.h"

namespace keyward::cli {
namespace {

int RunDoctor(Context& ctx) {
  DoctorOptions options;
  options.config_path = ctx.Flag("config");
  options.target = ctx.Flag("addr");
  options.get_status = [](const std::string& target)
      -> absl::StatusOr<v1::GetStatusResponse> {
    ClientOptions client_options;
    client_options.target = target;
    client_options.timeout = absl::Seconds(3);
    absl::StatusOr<std::unique_ptr<Client>> client =
        Client::Create(client_options);
    if (!client.ok()) return client.status();
    return (*client)->GetStatus();
  };
  return PrintDoctorReport(RunDoctorChecks(options), ctx.json(), ctx.out());
}

}  // namespace

std::vector<Command> DoctorCommands() {
  return {
      {"doctor", "[--config FILE]",
       "check this host's keywardd setup and say what to fix",
       {{"config", FlagSpec::Kind::kValue, "FILE",
         "the daemon's config (default /etc/keyward/keywardd.textproto)"}},
       0, 0, RunDoctor,
       "Checks the config against the recommendations, the data dir, passphrase\n"
       "file and socket permissions, free space for the keystore and the audit\n"
       "log, the clock, and the running daemon (via the config's socket unless\n"
       "--addr). Never reads or prints a secret. Exit code 0 when no check\n"
       "fails, 1 when one does, 2 on a usage error."},
  };
}

}  // namespace keyward::cli
