#include "daemon/log.h"

#include <unistd.h>

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace keyward::daemon {
namespace {

// JSON string escaping (RFC 8259): quote, backslash and control characters.
std::string Json(absl::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      absl::StrAppend(&out, "\\u00", absl::BytesToHexString(
                                         absl::string_view(
                                             reinterpret_cast<char*>(&c), 1)));
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

void Write(absl::string_view level, absl::string_view event,
           std::initializer_list<LogField> fields) {
  std::string line = absl::StrCat(
      "{\"ts\":\"",
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
      "\",\"level\":\"", level, "\",\"event\":\"", Json(event), "\"");
  for (const auto& [name, value] : fields) {
    absl::StrAppend(&line, ",\"", Json(name), "\":\"",
                    Json(value), "\"");
  }
  line += "}\n";
  // One write(2): lines from different threads do not interleave.
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace

void LogInfo(absl::string_view event, std::initializer_list<LogField> fields) {
  Write("info", event, fields);
}

void LogWarning(absl::string_view event,
                std::initializer_list<LogField> fields) {
  Write("warning", event, fields);
}

}  // namespace keyward::daemon
