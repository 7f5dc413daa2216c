// The audit log's line format, shared by its writer (audit_log.cc) and its
// readers (audit_read.cc). Internal to the audit_log library; the format
// itself is documented in audit_log.h.
#ifndef KEYWARD_DAEMON_AUDIT_RECORD_H_
#define KEYWARD_DAEMON_AUDIT_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace keyward::daemon {
struct AuditEntry;
}  // namespace keyward::daemon

namespace keyward::daemon::audit_internal {

inline constexpr absl::string_view kHashField = ",\"hash\":\"";
inline constexpr size_t kHashBytes = 32;  // SHA-256

// ZeroHash: the first record's prev, 32 zero bytes.
const std::string& ZeroHash();
// AppendJson appends `s` escaped for a JSON string.
void AppendJson(std::string* out, absl::string_view s);
// SplitRecord splits a line into its body (what the hash covers) and its
// hash in hex; false if the line is not shaped as a record.
bool SplitRecord(absl::string_view line, absl::string_view* body,
                 absl::string_view* hash_hex);
// ReadSeq reads a line's "seq"; ReadPrev a body's "prev" (as bytes).
bool ReadSeq(absl::string_view line, uint64_t* seq);
bool ReadPrev(absl::string_view body, std::string* prev);
// Middle is a record's fields between "time" and "prev", escaped.
std::string Middle(const AuditEntry& e);

}  // namespace keyward::daemon::audit_internal

#endif  // KEYWARD_DAEMON_AUDIT_RECORD_H_
