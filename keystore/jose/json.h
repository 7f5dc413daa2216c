// A small, strict JSON (RFC 8259) value type and parser for untrusted JOSE
// headers and JWT claims, and a compact serializer.
//
// ParseJson refuses, with INVALID_ARGUMENT and a message naming the problem:
// duplicate member names in an object ("duplicate JSON member 'x'", names
// compared after unescaping), invalid UTF-8 (overlong forms, surrogates,
// code points above U+10FFFF), lone or mismatched \u surrogates, control
// characters inside strings, leading zeros, trailing commas, comments,
// anything after the value but whitespace, nesting deeper than
// JsonLimits::max_depth, input longer than JsonLimits::max_bytes, and
// numbers that do not fit a double. (protobuf's JSON parser takes duplicate
// members, last one wins, which lets two parsers disagree on a token.)
//
// Usage:
//   absl::StatusOr<JsonValue> v = ParseJson(R"({"alg":"ES256"})");
//   if (!v.ok()) return v.status();
//   const JsonValue* alg = v->Find("alg");          // null if absent
//   if (alg != nullptr && alg->is_string()) Use(alg->string_value());
//   JsonValue o = JsonValue::Object();
//   o.Set("exp", JsonValue::Int(1700000000));
//   std::string text = o.Serialize();                // {"exp":1700000000}
//
// JsonValue is a plain value: copyable, not thread-safe for mutation,
// safe for concurrent const use.

#ifndef KEYSTORE_JOSE_JSON_H_
#define KEYSTORE_JOSE_JSON_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace keyward::jose {

struct JsonMember;

// JsonValue is one JSON value. Object members keep their order.
class JsonValue {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  // JsonValue() is null.
  JsonValue() = default;
  static JsonValue Bool(bool b);
  // Int makes an integer number; Double a number from |d| (null if |d| is
  // not finite, which JSON cannot hold).
  static JsonValue Int(int64_t i);
  static JsonValue Double(double d);
  static JsonValue String(std::string s);
  static JsonValue Array();
  static JsonValue Object();

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  // Accessors return a default (false, 0, "", empty) for another type.
  bool bool_value() const { return type_ == Type::kBool && bool_; }
  double number_value() const { return type_ == Type::kNumber ? number_ : 0; }
  // AsInt64 returns the number if it is an integer within int64_t.
  std::optional<int64_t> AsInt64() const;
  const std::string& string_value() const;
  const std::vector<JsonValue>& elements() const { return elements_; }
  const std::vector<JsonMember>& members() const { return members_; }

  // Find returns the member named |name| of an object, or null.
  const JsonValue* Find(absl::string_view name) const;
  // Set replaces member |name| or appends it (objects only; no-op otherwise).
  void Set(absl::string_view name, JsonValue value);
  // Remove deletes member |name|; returns whether it was there.
  bool Remove(absl::string_view name);
  // Append adds an element (arrays only; no-op otherwise).
  void Append(JsonValue value);

  // Serialize returns compact JSON: no whitespace, members in order, strings
  // escaped as RFC 8259 requires (other characters as UTF-8), numbers as
  // parsed (their source text) or as made.
  std::string Serialize() const;
  // SerializeTo appends Serialize() to |out|.
  void SerializeTo(std::string* out) const;

 private:
  friend class JsonParser;

  Type type_ = Type::kNull;
  bool bool_ = false;
  double number_ = 0;
  std::string text_;  // A string's value, or a number's text.
  std::vector<JsonValue> elements_;
  std::vector<JsonMember> members_;
};

// JsonMember is one member of an object.
struct JsonMember {
  std::string name;
  JsonValue value;
};

// JsonObjectWriter appends one JSON object to a string, member by member,
// exactly as Serialize would write a JsonValue object with those members in
// that order; for output written once (a JWS header, JWT claims with the
// registered claims added) without building and copying a JsonValue. The
// caller keeps member names unique (Set would replace a member; the writer
// does not look).
//
//   std::string out;
//   JsonObjectWriter w(&out);          // "{"
//   w.AddString("alg", "HS256");
//   w.AddMembers(claims);              // Each member of an object.
//   w.AddInt("exp", 1700000000);
//   w.Finish();                        // "}"
class JsonObjectWriter {
 public:
  // Appends '{' to |out|, which must outlive the writer.
  explicit JsonObjectWriter(std::string* out);
  void Add(absl::string_view name, const JsonValue& value);
  // AddString is Add(name, JsonValue::String(value)), AddInt
  // Add(name, JsonValue::Int(value)), without making the value.
  void AddString(absl::string_view name, absl::string_view value);
  void AddInt(absl::string_view name, int64_t value);
  // AddMembers adds each member of |object| in order (nothing if it is not
  // an object).
  void AddMembers(const JsonValue& object);
  // Finish appends '}'; nothing is added after it.
  void Finish();

 private:
  void Name(absl::string_view name);

  std::string* out_;
  bool first_ = true;
};

// AppendJsonString appends |s| to |out| as a JSON string, quoted and escaped
// as Serialize writes strings.
void AppendJsonString(absl::string_view s, std::string* out);

// JsonLimits bound what ParseJson takes.
struct JsonLimits {
  size_t max_bytes = 64 * 1024;
  int max_depth = 32;  // Arrays and objects nested at most this deep.
};

// ParseJson parses |text|, a single JSON value with optional whitespace
// around it. INVALID_ARGUMENT as described at the top of this file.
absl::StatusOr<JsonValue> ParseJson(absl::string_view text,
                                    const JsonLimits& limits = {});

// ParseJsonObject is ParseJson that also requires an object at the top.
absl::StatusOr<JsonValue> ParseJsonObject(absl::string_view text,
                                          const JsonLimits& limits = {});

}  // namespace keyward::jose

#endif  // KEYSTORE_JOSE_JSON_H_
