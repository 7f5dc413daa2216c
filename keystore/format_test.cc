#include "keystore/format.h"

#include "gtest/gtest.h"

namespace keyward::keystore {
namespace {

TEST(FormatTest, RoundTrip) {
  std::string e = EncodeEnvelope(42, std::string("\0\x01payload", 9));
  EXPECT_EQ(e.substr(0, 6), "kw:v42");
  auto parsed = ParseEnvelope(e, "ciphertext");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->version, 42);
  EXPECT_EQ(parsed->payload, std::string("\0\x01payload", 9));
}

TEST(FormatTest, MalformedPrefixesAreInvalidArgument) {
  for (const char* bad : {"", "kw", "kw:v", "kw:v:", "kw:v0:x", "kw:v01:x",
                          "kw:v1x:x", "kw:v-1:x", "kw:v1234567890:x", "vault:v1:x",
                          "KW:v1:x", "kw:v1"}) {
    auto parsed = ParseEnvelope(bad, "signature");
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(FormatTest, EmptyPayloadParses) {
  auto parsed = ParseEnvelope("kw:v7:", "MAC");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->version, 7);
  EXPECT_TRUE(parsed->payload.empty());
}

}  // namespace
}  // namespace keyward::keystore
