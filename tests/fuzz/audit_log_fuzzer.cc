// Fuzzes the audit log readers (daemon/audit_log.h) on the input written to
// a temporary file: AuditLog::Verify, AuditLog::Read, AuditTail::Next, and
// AuditLog::Open (which reads the last record back to continue the chain)
// followed by one Append.
// Asserts, beyond "no crash":
// - Verify, Read and Next succeed on a readable file; Verify's verdict is
//   consistent (first_bad is 0 with no problem, or records_checked + 1
//   with one), and never counts more records than lines;
// - Next returns exactly the complete lines of the file, in order;
// - Read returns at most as many lines as there are, each one of them;
// - Open refuses only with DATA_LOSS; on a log whose chain is intact and
//   whose last line is complete, Open and Append succeed and the chain
//   stays intact with one more record.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "daemon/audit_log.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using keyward::daemon::AuditEntry;
using keyward::daemon::AuditLog;
using keyward::daemon::AuditLogOptions;
using keyward::daemon::AuditTail;
using keyward::fuzz::Require;
using keyward::fuzz::RequireCode;

const std::string& Path() {
  static const std::string* path = [] {
    const char* tmp = std::getenv("TEST_TMPDIR");
    std::string d = std::string(tmp != nullptr ? tmp : "/tmp") +
                    "/audit_log_fuzzer.XXXXXX";
    Require(mkdtemp(d.data()) != nullptr, "mkdtemp");
    return new std::string(d + "/audit.log");
  }();
  return *path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string& path = Path();
  FILE* f = std::fopen(path.c_str(), "wb");
  Require(f != nullptr, "cannot write the temporary log");
  Require(std::fwrite(text.data(), 1, text.size(), f) == text.size(),
          "cannot write the temporary log");
  std::fclose(f);

  // The complete lines, and every line as getline sees them.
  std::vector<std::string> complete = absl::StrSplit(text, '\n');
  const bool torn = !complete.back().empty();
  std::vector<std::string> lines = complete;
  complete.pop_back();
  if (!torn) lines.pop_back();

  auto verdict = AuditLog::Verify(path);
  Require(verdict.ok(), "Verify failed on a readable file");
  Require(verdict->records_checked <= lines.size(), "Verify counted too many");
  Require(verdict->first_bad == 0
              ? verdict->problem.empty()
              : verdict->first_bad ==
                        verdict->first_sequence + verdict->records_checked &&
                    !verdict->problem.empty(),
          "an inconsistent verdict");

  auto read = AuditLog::Read(path, 0, lines.size() + 1);
  Require(read.ok() && read->size() <= lines.size(), "Read");

  // A follower returns the complete lines as they are, unless their
  // sequence numbers skip one: then the record that should come next is in
  // no file (the log was damaged, or a rotated file is gone), and it says so
  // (DATA_LOSS) rather than pass over the gap.
  AuditTail tail(path);
  auto next = tail.Next(complete.size() + 1);
  Require(next.ok() ? *next == complete
                    : next.status().code() == absl::StatusCode::kDataLoss &&
                          absl::StrContains(next.status().message(),
                                            "after record") !=
                              absl::StrContains(next.status().message(),
                                                "after sequence"),
          "AuditTail does not return the complete lines");

  const bool intact = verdict->first_bad == 0 && !torn;
  AuditLogOptions options;
  options.sync = [](int) { return 0; };  // tmpfs or not, no need to sync
  auto log = AuditLog::Open(path, options);
  RequireCode(log.status(), {absl::StatusCode::kDataLoss}, "AuditLog::Open");
  Require(log.ok() || !intact, "Open refused an intact log");
  if (!log.ok()) return 0;
  AuditEntry entry;
  entry.principal = "unix:uid:0";
  entry.method = "/keyward.v1.SystemService/GetStatus";
  entry.operation = "READ";
  entry.resource = "*";
  entry.code = "OK";
  auto seq = (*log)->Append(entry);
  Require(seq.ok(), "Append failed");
  log->reset();
  if (!intact) return 0;
  // (A log whose first record is a rotation header starts at its seq.)
  Require(*seq == verdict->first_sequence + verdict->records_checked,
          "Append's sequence");
  auto after = AuditLog::Verify(path);
  Require(after.ok() && after->first_bad == 0 &&
              after->records_checked == verdict->records_checked + 1,
          "an intact log is not intact after Append");
  return 0;
}
