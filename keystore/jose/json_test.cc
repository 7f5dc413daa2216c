#include "keystore/jose/json.h"

#include <string>

#include "absl/status/status.h"
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

TEST(JsonTest, ParseJsonObjectWantsAnObject) {
  EXPECT_TRUE(ParseJsonObject("{}").ok());
  EXPECT_EQ(ParseJsonObject("[]").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace keyward::jose
