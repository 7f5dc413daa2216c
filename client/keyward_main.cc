// keyward: the command-line tool of Keyward, built on keyward::Client.
//
//   keyward [--addr A] [--json] [--timeout D] [--token-file F] COMMAND ...
//
// Every command and flag is declared in the command table
// (client/cli_command.h, client/cli_table.cc); `keyward help` lists them,
// `keyward COMMAND --help` explains one, and `keyward completion bash|zsh`
// prints a shell completion script. Data comes from stdin and output bytes
// go to stdout unless --in/--out name files; secrets (passphrases, API key
// secrets, private keys) come from files or a terminal prompt, never from
// argv.
//
// Exit codes: 0 success; 1 a verification said "invalid" (verify,
// verify-mac, jwt verify, audit verify); 2 anything else went wrong, after
// one line "keyward: <what went wrong>: <daemon message>" on stderr.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "client/cli_command.h"
#include "client/client.h"

int main(int argc, char** argv) {
  keyward::cli::Environment env;
  env.connect = [](const keyward::ClientOptions& options)
      -> absl::StatusOr<std::unique_ptr<keyward::ClientInterface>> {
    absl::StatusOr<std::unique_ptr<keyward::Client>> client =
        keyward::Client::Create(options);
    if (!client.ok()) return client.status();
    return std::unique_ptr<keyward::ClientInterface>(*std::move(client));
  };
  env.out = &std::cout;
  env.err = &std::cerr;
  return keyward::cli::RunCli(std::vector<std::string>(argv + 1, argv + argc), env);
}
