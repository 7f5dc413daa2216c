#include "keystore/jose/base64url.h"

#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace keyward::jose {
namespace {

TEST(Base64UrlTest, RoundTripsEveryLength) {
  std::string data;
  for (int n = 0; n < 70; ++n) {
    const std::string text = Base64UrlEncode(data);
    EXPECT_EQ(text.find('='), std::string::npos);
    absl::StatusOr<std::string> back = Base64UrlDecode(text);
    ASSERT_TRUE(back.ok()) << text;
    EXPECT_EQ(*back, data);
    absl::StatusOr<crypto::SecretData> secret = Base64UrlDecodeSecret(text);
    ASSERT_TRUE(secret.ok());
    EXPECT_EQ(secret->InsecureView(), data);
    data.push_back(static_cast<char>(n * 37 + 251));
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff\xbf"), "-_-_");
}

TEST(Base64UrlTest, RefusesEveryOtherSpelling) {
  for (const char* text :
       {"Zm9v=", "Zg==", "Zg=", "Zm 9v", " Zm9v", "Zm9v\n", "Zm+v", "Zm/v",
        "Z", "Zm9vY", "AB", "AAB", "Zh", "Zm9", "Zm9w?", "ZZ$Z", "\xc3\xa9"}) {
    absl::StatusOr<std::string> r = Base64UrlDecode(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(), "non-canonical base64url");
    EXPECT_FALSE(Base64UrlDecodeSecret(text).ok());
  }
  EXPECT_EQ(*Base64UrlDecode("AA"), std::string(1, '\0'));
  EXPECT_EQ(*Base64UrlDecode("AAE"), std::string("\0\x01", 2));
  EXPECT_EQ(*Base64UrlDecode(""), "");
}

}  // namespace
}  // namespace keyward::jose
