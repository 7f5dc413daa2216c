#include "keystore/jose/json.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/charconv.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace keyward::jose {
namespace {

void ExpectInvalid(absl::string_view text, absl::string_view message_part = "") {
  absl::StatusOr<JsonValue> v = ParseJson(text);
  ASSERT_FALSE(v.ok()) << "accepted: " << text;
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << text;
  if (!message_part.empty()) {
    EXPECT_NE(v.status().message().find(message_part), absl::string_view::npos)
        << v.status().message();
  }
}

TEST(JsonTest, ParsesAndSerializesCompactly) {
  absl::StatusOr<JsonValue> v = ParseJson(
      " { \"a\" : [1, -2.5e3, true, false, null, \"x\\n\\u00e9\\/\"] ,\n"
      "\t\"b\":{}, \"c\":[] , \"d\": 0, \"e\": -0.0 }\r\n");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->Serialize(),
            "{\"a\":[1,-2.5e3,true,false,null,\"x\\n\xc3\xa9/\"],\"b\":{},"
            "\"c\":[],\"d\":0,\"e\":-0.0}");
  EXPECT_EQ(v->Find("a")->elements()[1].number_value(), -2500);
  EXPECT_EQ(v->Find("missing"), nullptr);
  EXPECT_TRUE(ParseJson("\"top-level string\"").ok());
  EXPECT_TRUE(ParseJson("42").ok());
}

TEST(JsonTest, RefusesDuplicateMembersAfterUnescaping) {
  ExpectInvalid("{\"a\":1,\"a\":2}", "duplicate JSON member 'a'");
  ExpectInvalid("{\"alg\":\"HS256\",\"al\\u0067\":\"none\"}",
                "duplicate JSON member 'alg'");
  ExpectInvalid("{\"x\":{\"k\":1,\"k\":1}}", "duplicate JSON member 'k'");
  EXPECT_TRUE(ParseJson("{\"a\":{\"a\":1},\"b\":{\"a\":1}}").ok());
}

TEST(JsonTest, RefusesInvalidUtf8AndSurrogates) {
  ExpectInvalid("\"\xc0\xaf\"", "UTF-8");          // Overlong '/'.
  ExpectInvalid("\"\xe0\x80\xaf\"", "UTF-8");      // Overlong, 3 bytes.
  ExpectInvalid("\"\xed\xa0\x80\"", "UTF-8");      // Encoded surrogate.
  ExpectInvalid("\"\xf4\x90\x80\x80\"", "UTF-8");  // Above U+10FFFF.
  ExpectInvalid("\"\xe2\x82\"", "UTF-8");          // Truncated.
  ExpectInvalid("\"\x80\"", "UTF-8");              // Lone continuation.
  ExpectInvalid("\"\xff\"", "UTF-8");
  ExpectInvalid("\"\\ud800\"", "surrogate");
  ExpectInvalid("\"\\udc00\"", "surrogate");
  ExpectInvalid("\"\\ud800\\u0041\"", "surrogate");
  ExpectInvalid("\"\\ud800\\ud800\"", "surrogate");
  absl::StatusOr<JsonValue> smile = ParseJson("\"\\ud83d\\ude00 \xe2\x82\xac\"");
  ASSERT_TRUE(smile.ok());
  EXPECT_EQ(smile->string_value(), "\xf0\x9f\x98\x80 \xe2\x82\xac");
}

TEST(JsonTest, RefusesWhatRfc8259Does) {
  for (const char* text :
       {"", " ", "{", "}", "[1,]", "{\"a\":1,}", "{,}", "[,1]", "01", "-01",
        "1.", ".5", "+1", "-", "1e", "1e+", "NaN", "Infinity", "tru",
        "nul", "'a'", "{'a':1}", "{a:1}", "[1 2]", "{\"a\" 1}", "/*c*/1",
        "1 // c", "\"a\\x\"", "\"a\\u12\"", "\"unterminated", "\"tab\there\"",
        "\"nl\nhere\"", "\xef\xbb\xbf{}", "{} x", "{}{}", "[1]]", "1e400",
        "-1e400"}) {
    ExpectInvalid(text);
  }
}

TEST(JsonTest, BoundsDepthAndSize) {
  std::string deep_ok(32, '['), deep_bad(33, '[');
  deep_ok += std::string(32, ']');
  deep_bad += std::string(33, ']');
  EXPECT_TRUE(ParseJson(deep_ok).ok());
  ExpectInvalid(deep_bad, "nesting");
  JsonLimits small;
  small.max_bytes = 10;
  EXPECT_TRUE(ParseJson("[1,2,3,4]", small).ok());
  EXPECT_FALSE(ParseJson("[1,2,3,4,5]", small).ok());
}

TEST(JsonTest, BuildsValues) {
  JsonValue o = JsonValue::Object();
  o.Set("s", JsonValue::String("q\"\\\x01\x7f"));
  o.Set("i", JsonValue::Int(-9007199254740993));
  o.Set("d", JsonValue::Double(0.5));
  o.Set("n", JsonValue::Double(1.0 / 0.0));  // Not finite: null.
  JsonValue a = JsonValue::Array();
  a.Append(JsonValue::Bool(true));
  a.Append(JsonValue());
  o.Set("a", a);
  o.Set("i", JsonValue::Int(7));  // Replaces, keeps the position.
  EXPECT_EQ(o.Serialize(),
            "{\"s\":\"q\\\"\\\\\\u0001\x7f\",\"i\":7,\"d\":0.5,\"n\":null,"
            "\"a\":[true,null]}");
  EXPECT_TRUE(o.Remove("d"));
  EXPECT_FALSE(o.Remove("d"));
  absl::StatusOr<JsonValue> back = ParseJson(o.Serialize());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->Serialize(), o.Serialize());
}

TEST(JsonTest, AsInt64) {
  EXPECT_EQ(ParseJson("1700000000")->AsInt64(), 1700000000);
  EXPECT_EQ(ParseJson("1.7e9")->AsInt64(), 1700000000);
  EXPECT_FALSE(ParseJson("1.5")->AsInt64().has_value());
  EXPECT_FALSE(ParseJson("1e19")->AsInt64().has_value());
  EXPECT_FALSE(ParseJson("\"1\"")->AsInt64().has_value());
}

// Integers of up to 15 digits take a shortcut past from_chars: the same
// values, and the same text kept.
TEST(JsonTest, ParsesIntegersAsFromCharsDoes) {
  for (const char* text :
       {"0", "-0", "7", "-7", "1700000000", "-1700000000", "999999999999999",
        "-999999999999999", "1000000000000000", "9007199254740993",
        "-9223372036854775808", "12345678901234567890", "100000000000000000000000"}) {
    absl::StatusOr<JsonValue> v = ParseJson(text);
    ASSERT_TRUE(v.ok()) << text;
    double expected = 0;
    absl::from_chars(text, text + std::strlen(text), expected);
    EXPECT_EQ(v->number_value(), expected) << text;
    EXPECT_EQ(std::signbit(v->number_value()), std::signbit(expected)) << text;
    EXPECT_EQ(v->Serialize(), text);
  }
  EXPECT_EQ(ParseJson("1700000000")->AsInt64(), 1700000000);
  EXPECT_EQ(ParseJson("-0")->AsInt64(), 0);
}

TEST(JsonTest, FindsMembersByExactName) {
  absl::StatusOr<JsonValue> v =
      ParseJson("{\"ab\":1,\"a\":2,\"abc\":3,\"\":4,\"a\\u0000\":5}");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->Find("a")->number_value(), 2);
  EXPECT_EQ(v->Find("ab")->number_value(), 1);
  EXPECT_EQ(v->Find("abc")->number_value(), 3);
  EXPECT_EQ(v->Find("")->number_value(), 4);
  EXPECT_EQ(v->Find(absl::string_view("a\0", 2))->number_value(), 5);
  EXPECT_EQ(v->Find("abcd"), nullptr);
  EXPECT_EQ(v->Find("b"), nullptr);
  EXPECT_EQ(JsonValue::Array().Find("a"), nullptr);
}

TEST(JsonTest, ParseJsonObjectWantsAnObject) {
  EXPECT_TRUE(ParseJsonObject("{}").ok());
  EXPECT_EQ(ParseJsonObject("[]").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// SlowQuote is the byte-at-a-time escaping the serializer must agree with.
std::string SlowQuote(absl::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  return out + "\"";
}

// The serializer and the parser skip plain bytes eight at a time: put each
// kind of byte that needs work at every position of runs around that size.
TEST(JsonTest, EscapesEveryByteAtEveryPositionOfARun) {
  for (int c = 0; c < 256; ++c) {
    for (size_t len = 1; len <= 26; ++len) {
      for (size_t at = 0; at < len; ++at) {
        std::string s(len, 'a');
        s[at] = static_cast<char>(c);
        std::string out;
        AppendJsonString(s, &out);
        ASSERT_EQ(out, SlowQuote(s)) << "byte " << c << " at " << at;
        ASSERT_EQ(JsonValue::String(s).Serialize(), out);
        if (c >= 0x80) continue;  // Alone, not UTF-8: tested below.
        absl::StatusOr<JsonValue> back = ParseJson(out);
        ASSERT_TRUE(back.ok()) << back.status();
        ASSERT_EQ(back->string_value(), s) << "byte " << c << " at " << at;
      }
    }
  }
}

TEST(JsonTest, ParsesEscapesAndUtf8AtRunBoundaries) {
  const std::pair<absl::string_view, absl::string_view> cases[] = {
      {"\\n", "\n"}, {"\\\"", "\""}, {"\\\\", "\\"}, {"\\/", "/"},
      {"\\u0041", "A"}, {"\\u00e9", "\xc3\xa9"}, {"\\ud83d\\ude00", "\xf0\x9f\x98\x80"},
      {"\xc3\xa9", "\xc3\xa9"}, {"\xe2\x82\xac", "\xe2\x82\xac"},
      {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"}, {"\x7f", "\x7f"}};
  for (const auto& [text, value] : cases) {
    for (size_t before = 0; before <= 18; ++before) {
      for (size_t after = 0; after <= 18; after += 3) {
        const std::string a(before, 'x'), b(after, 'y');
        absl::StatusOr<JsonValue> v = ParseJson(absl::StrCat("\"", a, text, b, "\""));
        ASSERT_TRUE(v.ok()) << v.status();
        EXPECT_EQ(v->string_value(), absl::StrCat(a, value, b));
        // Two in a row, and as a member name.
        v = ParseJson(absl::StrCat("{\"", a, text, text, b, "\":1}"));
        ASSERT_TRUE(v.ok()) << v.status();
        EXPECT_EQ(v->members()[0].name, absl::StrCat(a, value, value, b));
      }
    }
  }
}

// Each refusal names the byte where the bad character is, wherever it falls
// in a run of plain bytes.
TEST(JsonTest, RefusesBadBytesAfterPlainRunsAtTheirPosition) {
  const std::pair<absl::string_view, absl::string_view> cases[] = {
      {"\x01", "control character in a string"},
      {"\x1f", "control character in a string"},
      {"\n", "control character in a string"},
      {absl::string_view("\0", 1), "control character in a string"},
      {"\x80", "invalid UTF-8"}, {"\xc0\xaf", "invalid UTF-8"},
      {"\xed\xa0\x80", "invalid UTF-8"}, {"\xf4\x90\x80\x80", "invalid UTF-8"},
      {"\xff", "invalid UTF-8"}, {"\\x", "unknown escape"}};
  for (const auto& [bad, what] : cases) {
    for (size_t before = 0; before <= 20; ++before) {
      const std::string text =
          absl::StrCat("\"", std::string(before, 'p'), bad, "qqqqqqqqqq\"");
      absl::StatusOr<JsonValue> v = ParseJson(text);
      ASSERT_FALSE(v.ok()) << text;
      EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
      // An unknown escape is reported after its second character.
      const size_t at = 1 + before + (bad[0] == '\\' ? 2 : 0);
      EXPECT_EQ(v.status().message(),
                absl::StrCat("invalid JSON at byte ", at, ": ", what));
    }
  }
  for (size_t len = 0; len <= 20; ++len) {
    const std::string plain(len, 'p');
    EXPECT_EQ(ParseJson("\"" + plain).status().message(),
              absl::StrCat("invalid JSON at byte ", len + 1, ": unterminated string"));
    EXPECT_EQ(ParseJson("\"" + plain + "\xe2\x82").status().message(),
              absl::StrCat("invalid JSON at byte ", len + 1, ": invalid UTF-8"));
    EXPECT_EQ(ParseJson("\"" + plain + "\xe2\x82\xac").status().message(),
              absl::StrCat("invalid JSON at byte ", len + 4, ": unterminated string"));
    EXPECT_EQ(ParseJson("\"" + plain + "\\").status().message(),
              absl::StrCat("invalid JSON at byte ", len + 2, ": unterminated escape"));
  }
}

// Duplicates are found by a scan for small objects and a set for large
// ones: both, on either side of the switch.
TEST(JsonTest, RefusesDuplicatesInObjectsOfEverySize) {
  for (int members = 1; members <= 40; ++members) {
    std::string text = "{";
    for (int i = 0; i < members; ++i) absl::StrAppend(&text, "\"m", i, "\":", i, ",");
    EXPECT_TRUE(ParseJson(text.substr(0, text.size() - 1) + "}").ok()) << members;
    for (int dup = 0; dup < members; ++dup) {
      ExpectInvalid(absl::StrCat(text, "\"m", dup, "\":0}"),
                    absl::StrCat("duplicate JSON member 'm", dup, "'"));
    }
  }
}

TEST(JsonObjectWriterTest, WritesWhatSerializeWrites) {
  absl::StatusOr<JsonValue> claims =
      ParseJson("{\"sub\":\"a\\\"b\",\"n\":[1,{\"x\":null}],\"f\":-1.5e3}");
  ASSERT_TRUE(claims.ok());
  JsonValue built = JsonValue::Object();
  built.Set("alg", JsonValue::String("HS256"));
  for (const JsonMember& m : claims->members()) built.Set(m.name, m.value);
  built.Set("exp", JsonValue::Int(-1700000000));
  built.Set("t\n", JsonValue::Bool(true));

  std::string out = "prefix";
  JsonObjectWriter w(&out);
  w.AddString("alg", "HS256");
  w.AddMembers(*claims);
  w.AddMembers(JsonValue::Array());  // Not an object: nothing.
  w.AddInt("exp", -1700000000);
  w.Add("t\n", JsonValue::Bool(true));
  w.Finish();
  EXPECT_EQ(out, "prefix" + built.Serialize());

  std::string empty;
  JsonObjectWriter(&empty).Finish();
  EXPECT_EQ(empty, "{}");
}

}  // namespace
}  // namespace keyward::jose
