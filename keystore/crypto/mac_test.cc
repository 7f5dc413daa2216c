#include "keystore/crypto/mac.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace keyward::crypto {
namespace {

void ExpectMismatch(const absl::Status& status) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(status.message(), "MAC does not match");
}

TEST(HmacTest, Rfc4231TestCase1) {
  // key = 0x0b * 20, data = "Hi There". (Case 2's 4-byte key is below
  // Keyward's 16-byte minimum.)
  const SecretData key(std::string(20, '\x0b'));
  const std::string data = "Hi There";
  struct Case {
    HashType hash;
    const char* tag_hex;
  };
  for (const Case& c : {
           Case{HashType::kSha256,
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cf"
                "f7"},
           Case{HashType::kSha384,
                "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc5"
                "9cfaea9ea9076ede7f4af152e8b2fa9cb6"},
           Case{HashType::kSha512,
                "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17c"
                "dedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a12"
                "6854"},
       }) {
    auto mac = Hmac::Create(c.hash, key);
    ASSERT_TRUE(mac.ok()) << mac.status();
    absl::StatusOr<std::string> tag = (*mac)->ComputeMac(data);
    ASSERT_TRUE(tag.ok());
    EXPECT_EQ(absl::BytesToHexString(*tag), c.tag_hex);
    EXPECT_TRUE((*mac)->VerifyMac(*tag, data).ok());
  }
}

TEST(HmacTest, RejectsShortKeys) {
  for (size_t size : {0, 1, 15}) {
    auto mac = Hmac::Create(HashType::kSha256, SecretData::Random(size));
    ASSERT_FALSE(mac.ok());
    EXPECT_EQ(mac.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(Hmac::Create(HashType::kSha256, SecretData::Random(16)).ok());
  EXPECT_TRUE(Hmac::Create(HashType::kSha512, SecretData::Random(200)).ok());
}

TEST(HmacTest, TagSizes) {
  const SecretData key = SecretData::Random(32);
  EXPECT_EQ((*(*Hmac::Create(HashType::kSha256, key))->ComputeMac("x")).size(), 32u);
  EXPECT_EQ((*(*Hmac::Create(HashType::kSha384, key))->ComputeMac("x")).size(), 48u);
  EXPECT_EQ((*(*Hmac::Create(HashType::kSha512, key))->ComputeMac("x")).size(), 64u);
}

TEST(HmacTest, TamperedTagDataAndTruncationsFail) {
  for (HashType hash : {HashType::kSha256, HashType::kSha384, HashType::kSha512}) {
    auto mac = *Hmac::Create(hash, SecretData::Random(32));
    const std::string data = "the data";
    const std::string tag = *mac->ComputeMac(data);
    for (size_t bit = 0; bit < tag.size() * 8; ++bit) {
      std::string bad = tag;
      bad[bit / 8] ^= static_cast<char>(1 << (bit % 8));
      ExpectMismatch(mac->VerifyMac(bad, data));
    }
    for (size_t bit = 0; bit < data.size() * 8; ++bit) {
      std::string bad = data;
      bad[bit / 8] ^= static_cast<char>(1 << (bit % 8));
      ExpectMismatch(mac->VerifyMac(tag, bad));
    }
    for (size_t len = 0; len < tag.size(); ++len) {
      ExpectMismatch(mac->VerifyMac(tag.substr(0, len), data));
    }
    ExpectMismatch(mac->VerifyMac(tag + '\0', data));
  }
}

TEST(HmacTest, OtherKeyFails) {
  auto a = *Hmac::Create(HashType::kSha256, SecretData::Random(32));
  auto b = *Hmac::Create(HashType::kSha256, SecretData::Random(32));
  ExpectMismatch(b->VerifyMac(*a->ComputeMac("data"), "data"));
}

TEST(HmacTest, SharedAcrossThreads) {
  auto mac = *Hmac::Create(HashType::kSha256, SecretData::Random(32));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&mac, t] {
      for (int i = 0; i < 500; ++i) {
        const std::string data = std::to_string(t * 1000 + i);
        EXPECT_TRUE(mac->VerifyMac(*mac->ComputeMac(data), data).ok());
      }
    });
  }
  for (auto& thread : threads) thread.join();
}

}  // namespace
}  // namespace keyward::crypto
