#include "keystore/jose/base64url.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
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

TEST(Base64UrlTest, EncodesAsAbseilDoesAndAppends) {
  std::string data;
  for (int n = 0; n < 300; ++n) {
    std::string expected;
    absl::WebSafeBase64Escape(data, &expected);
    EXPECT_EQ(Base64UrlEncode(data), expected) << n;
    EXPECT_EQ(Base64UrlEncodedSize(data.size()), expected.size()) << n;
    std::string appended = "prefix.";
    Base64UrlAppend(data, &appended);
    EXPECT_EQ(appended, "prefix." + expected) << n;
    data.push_back(static_cast<char>(n * 101 + 7));  // Every byte value.
  }
}

// Every byte outside the alphabet, at every position of texts of every
// length the decoder handles differently (whole groups of four, then two or
// three characters left).
TEST(Base64UrlTest, RefusesEveryOtherByteAtEveryPosition) {
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (int c = 0; c < 256; ++c) {
    if (alphabet.find(static_cast<char>(c)) != std::string::npos) continue;
    for (size_t len : {2, 3, 4, 6, 7, 8, 10, 11}) {
      for (size_t at = 0; at < len; ++at) {
        std::string text(len, 'A');
        text[at] = static_cast<char>(c);
        EXPECT_FALSE(Base64UrlDecode(text).ok()) << c << " at " << at;
        EXPECT_FALSE(Base64UrlDecodeSecret(text).ok());
      }
    }
  }
  // Each character decodes to its value in each position.
  for (size_t i = 0; i < alphabet.size(); ++i) {
    const std::string bytes = *Base64UrlDecode(std::string(3, alphabet[i]) + "A");
    const uint32_t v = static_cast<uint32_t>(i << 18 | i << 12 | i << 6);
    EXPECT_EQ(bytes, std::string({static_cast<char>(v >> 16),
                                  static_cast<char>(v >> 8),
                                  static_cast<char>(v)}));
  }
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
