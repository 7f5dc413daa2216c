#include "keystore/jose/json.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/charconv.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace keyward::jose {

JsonValue JsonValue::Bool(bool b) {
  JsonValue v;
  v.type_ = Type::kBool;
  v.bool_ = b;
  return v;
}

JsonValue JsonValue::Int(int64_t i) {
  JsonValue v;
  v.type_ = Type::kNumber;
  v.number_ = static_cast<double>(i);
  v.text_ = absl::StrCat(i);
  return v;
}

JsonValue JsonValue::Double(double d) {
  JsonValue v;
  if (!std::isfinite(d)) return v;
  v.type_ = Type::kNumber;
  v.number_ = d;
  v.text_ = absl::StrFormat("%.17g", d);
  return v;
}

JsonValue JsonValue::String(std::string s) {
  JsonValue v;
  v.type_ = Type::kString;
  v.text_ = std::move(s);
  return v;
}

JsonValue JsonValue::Array() {
  JsonValue v;
  v.type_ = Type::kArray;
  return v;
}

JsonValue JsonValue::Object() {
  JsonValue v;
  v.type_ = Type::kObject;
  return v;
}

std::optional<int64_t> JsonValue::AsInt64() const {
  // 2^63 is exactly representable; anything at or above it does not fit.
  if (type_ != Type::kNumber || number_ != std::floor(number_) ||
      number_ < -9223372036854775808.0 || number_ >= 9223372036854775808.0) {
    return std::nullopt;
  }
  return static_cast<int64_t>(number_);
}

const std::string& JsonValue::string_value() const {
  static const std::string* empty = new std::string();
  return type_ == Type::kString ? text_ : *empty;
}

namespace {

// SameName is a == b, cheaper for member names: most names differ in size
// or first byte (JOSE's are mostly three letters), which spares a call.
bool SameName(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() &&
         (a.empty() || (a[0] == b[0] &&
                        std::memcmp(a.data() + 1, b.data() + 1, a.size() - 1) == 0));
}

}  // namespace

const JsonValue* JsonValue::Find(absl::string_view name) const {
  for (const JsonMember& m : members_) {
    if (SameName(m.name, name)) return &m.value;
  }
  return nullptr;
}

void JsonValue::Set(absl::string_view name, JsonValue value) {
  if (type_ != Type::kObject) return;
  for (JsonMember& m : members_) {
    if (SameName(m.name, name)) {
      m.value = std::move(value);
      return;
    }
  }
  members_.push_back(JsonMember{std::string(name), std::move(value)});
}

bool JsonValue::Remove(absl::string_view name) {
  for (auto it = members_.begin(); it != members_.end(); ++it) {
    if (SameName(it->name, name)) {
      members_.erase(it);
      return true;
    }
  }
  return false;
}

void JsonValue::Append(JsonValue value) {
  if (type_ == Type::kArray) elements_.push_back(std::move(value));
}

namespace {

// Word-at-a-time scanning: the string loops below skip eight bytes at a time
// while none of them needs work, then find the exact byte one at a time.
constexpr uint64_t kOnes = 0x0101010101010101u;
constexpr uint64_t kHighBits = 0x8080808080808080u;

uint64_t LoadWord(const char* p) {
  uint64_t x;
  std::memcpy(&x, p, sizeof(x));
  return x;
}

// HasByteBelow says whether some byte of |x| is below |n| (n <= 0x80);
// HasByte whether some byte is |b|. Both exact (Bit Twiddling Hacks,
// "Determine if a word has a byte less than n").
bool HasByteBelow(uint64_t x, uint8_t n) {
  return ((x - kOnes * n) & ~x & kHighBits) != 0;
}
bool HasByte(uint64_t x, uint8_t b) { return HasByteBelow(x ^ (kOnes * b), 1); }

// A byte is EscapedAsIs if the serializer writes it as itself inside a
// string: not a control character, '"' or '\'. (Bytes from 0x80 on are
// written as they are: strings hold UTF-8.) It is ParsedAsIs if, inside a
// JSON string text, it is its own value and needs no checking: printable
// ASCII but '"' and '\'.
constexpr uint8_t kEscapedAsIs = 1, kParsedAsIs = 2;
constexpr std::array<uint8_t, 256> kByteClass = [] {
  std::array<uint8_t, 256> classes{};
  for (int c = 0x20; c < 0x100; ++c) {
    if (c == '"' || c == '\\') continue;
    classes[c] = kEscapedAsIs | (c < 0x80 ? kParsedAsIs : 0);
  }
  return classes;
}();
bool EscapedAsIs(uint8_t c) { return (kByteClass[c] & kEscapedAsIs) != 0; }
bool ParsedAsIs(uint8_t c) { return (kByteClass[c] & kParsedAsIs) != 0; }
bool WordEscapedAsIs(uint64_t x) {
  return !HasByteBelow(x, 0x20) && !HasByte(x, '"') && !HasByte(x, '\\');
}
bool WordParsedAsIs(uint64_t x) {
  return (x & kHighBits) == 0 && WordEscapedAsIs(x);
}

}  // namespace

void AppendJsonString(absl::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  const char* p = s.data();
  const char* const end = p + s.size();
  while (p != end) {
    const char* const run = p;
    while (end - p >= 8 && WordEscapedAsIs(LoadWord(p))) p += 8;
    while (p != end && EscapedAsIs(static_cast<uint8_t>(*p))) ++p;
    out->append(run, p - run);
    if (p == end) break;
    const uint8_t c = static_cast<uint8_t>(*p++);
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\b': *out += "\\b"; break;
      case '\f': *out += "\\f"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default: {  // Another control character: \u00XX, lowercase hex.
        const char escape[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
        out->append(escape, sizeof(escape));
      }
    }
  }
  out->push_back('"');
}

JsonObjectWriter::JsonObjectWriter(std::string* out) : out_(out) {
  out_->push_back('{');
}

void JsonObjectWriter::Name(absl::string_view name) {
  if (!first_) out_->push_back(',');
  first_ = false;
  AppendJsonString(name, out_);
  out_->push_back(':');
}

void JsonObjectWriter::Add(absl::string_view name, const JsonValue& value) {
  Name(name);
  value.SerializeTo(out_);
}

void JsonObjectWriter::AddString(absl::string_view name,
                                 absl::string_view value) {
  Name(name);
  AppendJsonString(value, out_);
}

void JsonObjectWriter::AddInt(absl::string_view name, int64_t value) {
  Name(name);
  absl::StrAppend(out_, value);  // As JsonValue::Int writes it.
}

void JsonObjectWriter::AddMembers(const JsonValue& object) {
  for (const JsonMember& m : object.members()) Add(m.name, m.value);
}

void JsonObjectWriter::Finish() { out_->push_back('}'); }

// JsonParser is a recursive-descent parser over the whole input.
class JsonParser {
 public:
  JsonParser(absl::string_view text, const JsonLimits& limits)
      : s_(text), limits_(limits) {}

  absl::StatusOr<JsonValue> ParseDocument() {
    if (s_.size() > limits_.max_bytes) {
      return Fail(absl::StrCat("JSON is longer than ", limits_.max_bytes, " bytes"));
    }
    JsonValue v;
    absl::Status status = ParseValue(0, &v);
    if (!status.ok()) return status;
    SkipSpace();
    if (pos_ != s_.size()) return Fail("trailing characters after the JSON value");
    return v;
  }

 private:
  absl::Status Fail(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON at byte ", pos_, ": ", what));
  }
  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' ||
                                s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Consume(absl::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  absl::Status ParseValue(int depth, JsonValue* out) {
    SkipSpace();
    if (pos_ >= s_.size()) return Fail("unexpected end of input");
    const char c = s_[pos_];
    if (c == '{' || c == '[') {
      if (depth >= limits_.max_depth) {
        return Fail(absl::StrCat("nesting deeper than ", limits_.max_depth));
      }
      return c == '{' ? ParseObject(depth + 1, out) : ParseArray(depth + 1, out);
    }
    if (c == '"') {
      out->type_ = JsonValue::Type::kString;
      return ParseString(&out->text_);
    }
    if (Consume("true")) { *out = JsonValue::Bool(true); return absl::OkStatus(); }
    if (Consume("false")) { *out = JsonValue::Bool(false); return absl::OkStatus(); }
    if (Consume("null")) { *out = JsonValue(); return absl::OkStatus(); }
    if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber(out);
    return Fail("unexpected character");
  }

  absl::Status ParseObject(int depth, JsonValue* out) {
    *out = JsonValue::Object();
    ++pos_;  // '{'
    std::vector<JsonMember>& members = out->members_;
    // Duplicate names: a scan of the members so far while there are at
    // most kScannedMembers, then a set (filled when first needed).
    constexpr size_t kScannedMembers = 16;
    std::set<std::string> names;
    SkipSpace();
    if (Consume("}")) return absl::OkStatus();
    while (true) {
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != '"') return Fail("expected a member name");
      std::string name;
      absl::Status status = ParseString(&name);
      if (!status.ok()) return status;
      bool duplicate = false;
      if (members.size() < kScannedMembers) {
        for (const JsonMember& m : members) duplicate |= SameName(m.name, name);
      } else {
        if (names.empty()) {
          for (const JsonMember& m : members) names.insert(m.name);
        }
        duplicate = !names.insert(name).second;
      }
      if (duplicate) {
        return absl::InvalidArgumentError(
            absl::StrCat("duplicate JSON member '", name, "'"));
      }
      SkipSpace();
      if (!Consume(":")) return Fail("expected ':'");
      // Room for a JWT's claims or header at the top, a few members below.
      if (members.empty()) members.reserve(depth == 1 ? 8 : 4);
      members.emplace_back();
      members.back().name = std::move(name);
      status = ParseValue(depth, &members.back().value);
      if (!status.ok()) return status;
      SkipSpace();
      if (Consume("}")) return absl::OkStatus();
      if (!Consume(",")) return Fail("expected ',' or '}'");
    }
  }

  absl::Status ParseArray(int depth, JsonValue* out) {
    *out = JsonValue::Array();
    ++pos_;  // '['
    SkipSpace();
    if (Consume("]")) return absl::OkStatus();
    while (true) {
      JsonValue element;
      absl::Status status = ParseValue(depth, &element);
      if (!status.ok()) return status;
      out->elements_.push_back(std::move(element));
      SkipSpace();
      if (Consume("]")) return absl::OkStatus();
      if (!Consume(",")) return Fail("expected ',' or ']'");
    }
  }

  absl::Status ParseNumber(JsonValue* out) {
    const size_t start = pos_;
    auto digits = [this] {
      const size_t from = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ - from;
    };
    Consume("-");
    if (Consume("0")) {
      if (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        return Fail("leading zero in a number");
      }
    } else if (digits() == 0) {
      return Fail("expected a digit");
    }
    if (Consume(".") && digits() == 0) return Fail("expected a digit after '.'");
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (!Consume("+")) Consume("-");
      if (digits() == 0) return Fail("expected a digit in the exponent");
    }
    const absl::string_view text = s_.substr(start, pos_ - start);
    double d = 0;
    if (!SmallInteger(text, &d)) {
      const absl::from_chars_result r =
          absl::from_chars(text.data(), text.data() + text.size(), d);
      if (r.ec != std::errc() || r.ptr != text.data() + text.size() ||
          !std::isfinite(d)) {
        return Fail("number out of range");
      }
    }
    out->type_ = JsonValue::Type::kNumber;
    out->number_ = d;
    out->text_ = std::string(text);
    return absl::OkStatus();
  }

  // SmallInteger sets |d| to the value of |text|, a valid JSON number, if
  // it is an integer of at most 15 digits (no fraction or exponent): exact
  // in a double, so what from_chars would give (also -0 for "-0"), without
  // its cost (JWT times are such integers).
  static bool SmallInteger(absl::string_view text, double* d) {
    const bool negative = !text.empty() && text[0] == '-';
    const absl::string_view digits = text.substr(negative ? 1 : 0);
    if (digits.empty() || digits.size() > 15) return false;
    int64_t value = 0;
    for (const char c : digits) {
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    *d = negative ? -static_cast<double>(value) : static_cast<double>(value);
    return true;
  }

  // Hex4 reads four hex digits after "\u".
  bool Hex4(uint32_t* out) {
    if (pos_ + 4 > s_.size()) return false;
    *out = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_++];
      const int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
      if (d < 0) return false;
      *out = (*out << 4) | static_cast<uint32_t>(d);
    }
    return true;
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  // Utf8Length returns the length of the valid UTF-8 sequence at pos_, or 0
  // (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
  size_t Utf8Length() const {
    const auto b = [this](size_t i) {
      return pos_ + i < s_.size() ? static_cast<uint8_t>(s_[pos_ + i]) : 0;
    };
    const uint8_t c = b(0);
    auto cont = [&](size_t i) { return (b(i) & 0xc0) == 0x80; };
    if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
      const uint8_t lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
      return b(1) >= lo && b(1) <= hi && cont(2) ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
      const uint8_t lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
      return b(1) >= lo && b(1) <= hi && cont(2) && cont(3) ? 4 : 0;
    }
    return 0;
  }

  // SkipParsedAsIs returns the first position from pos_ on whose byte is
  // not ParsedAsIs (or the end).
  size_t SkipParsedAsIs() const {
    const char* const data = s_.data();
    size_t i = pos_;
    while (s_.size() - i >= 8 && WordParsedAsIs(LoadWord(data + i))) i += 8;
    while (i < s_.size() && ParsedAsIs(static_cast<uint8_t>(data[i]))) ++i;
    return i;
  }

  absl::Status ParseString(std::string* out) {
    ++pos_;  // '"'
    out->clear();
    // Bytes from |run| to pos_ are copied to |out| as they are, in one
    // append when an escape or the closing '"' is reached.
    size_t run = pos_;
    while (true) {
      pos_ = SkipParsedAsIs();
      if (pos_ >= s_.size()) return Fail("unterminated string");
      const uint8_t c = static_cast<uint8_t>(s_[pos_]);
      if (c >= 0x80) {
        const size_t n = Utf8Length();
        if (n == 0) return Fail("invalid UTF-8");
        pos_ += n;
        continue;
      }
      if (c < 0x20) return Fail("control character in a string");
      out->append(s_.data() + run, pos_ - run);
      if (c == '"') {
        ++pos_;
        return absl::OkStatus();
      }
      // c is '\'.
      if (++pos_ >= s_.size()) return Fail("unterminated escape");
      const char e = s_[pos_++];
      switch (e) {
        case '"': case '\\': case '/': out->push_back(e); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          uint32_t cp = 0;
          if (!Hex4(&cp)) return Fail("bad \\u escape");
          if (cp >= 0xdc00 && cp <= 0xdfff) return Fail("lone low surrogate");
          if (cp >= 0xd800 && cp <= 0xdbff) {
            uint32_t low = 0;
            if (!Consume("\\u") || !Hex4(&low) || low < 0xdc00 || low > 0xdfff) {
              return Fail("high surrogate without a low surrogate");
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          }
          AppendUtf8(cp, out);
          break;
        }
        default:
          return Fail("unknown escape");
      }
      run = pos_;
    }
  }

  const absl::string_view s_;
  const JsonLimits limits_;
  size_t pos_ = 0;
};

std::string JsonValue::Serialize() const {
  std::string out;
  SerializeTo(&out);
  return out;
}

void JsonValue::SerializeTo(std::string* out) const {
  switch (type_) {
    case Type::kNull: *out += "null"; return;
    case Type::kBool: *out += bool_ ? "true" : "false"; return;
    case Type::kNumber: *out += text_; return;
    case Type::kString: AppendJsonString(text_, out); return;
    case Type::kArray:
      out->push_back('[');
      for (size_t i = 0; i < elements_.size(); ++i) {
        if (i > 0) out->push_back(',');
        elements_[i].SerializeTo(out);
      }
      out->push_back(']');
      return;
    case Type::kObject:
      out->push_back('{');
      for (size_t i = 0; i < members_.size(); ++i) {
        if (i > 0) out->push_back(',');
        AppendJsonString(members_[i].name, out);
        out->push_back(':');
        members_[i].value.SerializeTo(out);
      }
      out->push_back('}');
      return;
  }
}

absl::StatusOr<JsonValue> ParseJson(absl::string_view text,
                                    const JsonLimits& limits) {
  return JsonParser(text, limits).ParseDocument();
}

absl::StatusOr<JsonValue> ParseJsonObject(absl::string_view text,
                                          const JsonLimits& limits) {
  absl::StatusOr<JsonValue> v = ParseJson(text, limits);
  if (v.ok() && !v->is_object()) {
    return absl::InvalidArgumentError("JSON value is not an object");
  }
  return v;
}

}  // namespace keyward::jose
