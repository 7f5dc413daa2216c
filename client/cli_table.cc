// THE command table of the `keyward` CLI.
//
// Adding a command (e.g. `keyward doctor`):
//   1. Write client/cli_doctor.cc with its handler, `int RunDoctor(Context&)`,
//      and right after it the group function returning its entry:
//        std::vector<Command> DoctorCommands() {
//          return {{"doctor", "", "check the setup end to end",
//                   {{"fix", FlagSpec::Kind::kBool, "", "repair what it can"}},
//                   0, 0, RunDoctor}};
//        }
//      Reach the daemon only through ctx.Call / ctx.ListAll, so that a test
//      (client/cli_doctor_test.cc, with client/mock_client.h) can fake it.
//   2. Declare DoctorCommands() in client/cli_command.h and add one line
//      to the table below; add the file to the "cli_commands" srcs in
//      client/BUILD.bazel.
//   A command in an existing group is one entry in that group's function.
// Help, argument checks and the bash/zsh completion scripts come from the
// table; cli_table_test checks every entry (names unique, flags unique,
// each flag in the completion scripts).
//
// Every flag offered must be one the daemon honours; a flag it does not
// honour yet goes in the command's `withheld` list (refused, not shown).
#include "client/cli_command.h"

namespace keyward::cli {

const std::vector<CommandGroup>& CommandGroups() {
  static const auto* groups = new std::vector<CommandGroup>{
      {"system", "daemon and identity", SystemCommands},
      {"key", "keys and versions", KeyCommands},
      {"crypto", "cryptography with a key", CryptoCommands},
      {"policy", "access policies", PolicyCommands},
      {"apikey", "API keys and sessions", ApiKeyCommands},
      {"jwt", "JWT and JWE", JwtCommands},
      {"audit", "audit log", AuditCommands},
      {"host", "this host's setup", DoctorCommands},
      {"shell", "shell", CompletionCommands},
  };
  return *groups;
}

const std::vector<Command>& Commands() {
  static const auto* commands = [] {
    auto* all = new std::vector<Command>;
    for (const CommandGroup& group : CommandGroups()) {
      for (Command& c : group.commands()) {
        c.group = group.name;
        all->push_back(std::move(c));
      }
    }
    return all;
  }();
  return *commands;
}

}  // namespace keyward::cli
