#include "daemon/audit_record.h"

#include "absl/strings/str_cat.h"
#include "daemon/audit_log.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"

namespace keyward::daemon::audit_internal {

const std::string& ZeroHash() {
  static const std::string* zero = new std::string(32, '\0');
  return *zero;
}

// AppendJson appends `s` escaped for a JSON string.
void AppendJson(std::string* out, absl::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      out->append("\\u00");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xf]);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
}

// Splits a record line into (body, hash hex): body is what the hash covers.
bool SplitRecord(absl::string_view line, absl::string_view* body,
                 absl::string_view* hash_hex) {
  size_t at = line.rfind(kHashField);
  if (at == absl::string_view::npos || !absl::EndsWith(line, "\"}")) {
    return false;
  }
  *body = line.substr(0, at);
  *hash_hex = line.substr(at + kHashField.size(),
                          line.size() - at - kHashField.size() - 2);
  return hash_hex->size() == 64;
}

bool ReadSeq(absl::string_view line, uint64_t* seq) {
  constexpr absl::string_view kSeq = "{\"seq\":";
  if (!absl::StartsWith(line, kSeq)) return false;
  absl::string_view rest = line.substr(kSeq.size());
  return absl::SimpleAtoi(rest.substr(0, rest.find(',')), seq);
}

bool ReadPrev(absl::string_view body, std::string* prev) {
  constexpr absl::string_view kPrev = ",\"prev\":\"";
  size_t at = body.rfind(kPrev);
  if (at == absl::string_view::npos) return false;
  absl::string_view hex = body.substr(at + kPrev.size());
  if (hex.size() != 65 || hex.back() != '"') return false;
  *prev = absl::HexStringToBytes(hex.substr(0, 64));
  return true;
}

std::string Middle(const AuditEntry& e) {
  std::string middle;
  middle.reserve(160 + e.principal.size() + e.method.size() +
                 e.resource.size() + e.request_id.size() + e.note.size());
  absl::StrAppend(&middle, "\",\"principal\":\"");
  AppendJson(&middle, e.principal);
  absl::StrAppend(&middle, "\",\"method\":\"");
  AppendJson(&middle, e.method);
  absl::StrAppend(&middle, "\",\"operation\":\"");
  AppendJson(&middle, e.operation);
  absl::StrAppend(&middle, "\",\"resource\":\"");
  AppendJson(&middle, e.resource);
  absl::StrAppend(&middle, "\",\"version\":", e.version, ",\"code\":\"");
  AppendJson(&middle, e.code);
  absl::StrAppend(&middle, "\",\"request_id\":\"");
  AppendJson(&middle, e.request_id);
  if (!e.note.empty()) {
    absl::StrAppend(&middle, "\",\"note\":\"");
    AppendJson(&middle, e.note);
  }
  absl::StrAppend(&middle, "\",\"prev\":\"");
  return middle;
}

}  // namespace keyward::daemon::audit_internal
