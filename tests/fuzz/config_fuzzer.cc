// Fuzzes the daemon's text-format config (daemon/config.h): LoadConfigFile
// on the input written to a temporary file, then FinalizeConfig.
// Asserts, beyond "no crash":
// - LoadConfigFile refuses only with INVALID_ARGUMENT naming the file;
//   FinalizeConfig only with INVALID_ARGUMENT;
// - a config that loads prints (TextFormat) to text that loads again to an
//   equal message;
// - FinalizeConfig is idempotent: a finalized config finalizes again,
//   unchanged.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "daemon/config.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using google::protobuf::util::MessageDifferencer;
using keyward::fuzz::Require;
using keyward::fuzz::RequireCode;

const std::string& Dir() {
  static const std::string* dir = [] {
    const char* tmp = std::getenv("TEST_TMPDIR");
    std::string d = std::string(tmp != nullptr ? tmp : "/tmp") +
                    "/config_fuzzer.XXXXXX";
    Require(mkdtemp(d.data()) != nullptr, "mkdtemp");
    return new std::string(d);
  }();
  return *dir;
}

void WriteFile(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "wb");
  Require(f != nullptr, "cannot write the temporary config");
  Require(std::fwrite(text.data(), 1, text.size(), f) == text.size(),
          "cannot write the temporary config");
  std::fclose(f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = Dir() + "/keyward.conf";
  WriteFile(path, std::string(reinterpret_cast<const char*>(data), size));
  auto config = keyward::daemon::LoadConfigFile(path);
  RequireCode(config.status(), {absl::StatusCode::kInvalidArgument},
              "LoadConfigFile");
  if (!config.ok()) {
    Require(absl::StrContains(config.status().message(), path),
            "a syntax error does not name the file");
    return 0;
  }

  std::string printed;
  Require(google::protobuf::TextFormat::PrintToString(*config, &printed),
          "TextFormat::PrintToString");
  const std::string again_path = Dir() + "/printed.conf";
  WriteFile(again_path, printed);
  auto again = keyward::daemon::LoadConfigFile(again_path);
  Require(again.ok() && MessageDifferencer::Equals(*config, *again),
          "a printed config does not load to itself");

  keyward::v1::DaemonConfig finalized = *config;
  absl::Status s = keyward::daemon::FinalizeConfig(&finalized);
  RequireCode(s, {absl::StatusCode::kInvalidArgument}, "FinalizeConfig");
  if (!s.ok()) return 0;
  keyward::v1::DaemonConfig twice = finalized;
  Require(keyward::daemon::FinalizeConfig(&twice).ok() &&
              MessageDifferencer::Equals(finalized, twice),
          "FinalizeConfig is not idempotent");
  return 0;
}
