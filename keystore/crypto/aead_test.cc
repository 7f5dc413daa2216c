#include "keystore/crypto/aead.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace keyward::crypto {
namespace {

std::unique_ptr<Aead> NewAead() {
  absl::StatusOr<std::unique_ptr<Aead>> aead =
      AesGcm::Create(SecretData::Random(32));
  EXPECT_TRUE(aead.ok()) << aead.status();
  return *std::move(aead);
}

void ExpectNotAuthentic(const absl::StatusOr<std::string>& result) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(),
            "ciphertext is not authentic or is truncated");
}

TEST(AesGcmTest, RejectsKeysOtherThan32Bytes) {
  for (size_t size : {0, 16, 24, 31, 33, 64}) {
    absl::StatusOr<std::unique_ptr<Aead>> aead =
        AesGcm::Create(SecretData::Random(size));
    ASSERT_FALSE(aead.ok()) << size;
    EXPECT_EQ(aead.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(AesGcmTest, RoundTrip) {
  auto aead = NewAead();
  for (const std::string& plaintext :
       {std::string(), std::string("a"), std::string(5000, 'x')}) {
    for (const char* aad : {"", "context"}) {
      absl::StatusOr<std::string> ct = aead->Encrypt(plaintext, aad);
      ASSERT_TRUE(ct.ok()) << ct.status();
      EXPECT_EQ(ct->size(), 12 + plaintext.size() + 16);
      absl::StatusOr<std::string> pt = aead->Decrypt(*ct, aad);
      ASSERT_TRUE(pt.ok()) << pt.status();
      EXPECT_EQ(*pt, plaintext);
    }
  }
}

TEST(AesGcmTest, NonceIsFreshEachTime) {
  auto aead = NewAead();
  EXPECT_NE(*aead->Encrypt("same", "same"), *aead->Encrypt("same", "same"));
}

TEST(AesGcmTest, EveryBitFlipOfCiphertextFails) {
  auto aead = NewAead();
  const std::string ct = *aead->Encrypt("twenty byte message!", "aad");
  for (size_t bit = 0; bit < ct.size() * 8; ++bit) {
    std::string bad = ct;
    bad[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    ExpectNotAuthentic(aead->Decrypt(bad, "aad"));
  }
}

TEST(AesGcmTest, EveryBitFlipOfAssociatedDataFails) {
  auto aead = NewAead();
  const std::string aad = "associated data";
  const std::string ct = *aead->Encrypt("message", aad);
  for (size_t bit = 0; bit < aad.size() * 8; ++bit) {
    std::string bad = aad;
    bad[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    ExpectNotAuthentic(aead->Decrypt(ct, bad));
  }
  ExpectNotAuthentic(aead->Decrypt(ct, ""));
  ExpectNotAuthentic(aead->Decrypt(ct, aad + "x"));
}

TEST(AesGcmTest, EveryTruncationAndExtensionFails) {
  auto aead = NewAead();
  const std::string ct = *aead->Encrypt("message", "");
  for (size_t len = 0; len < ct.size(); ++len) {
    ExpectNotAuthentic(aead->Decrypt(ct.substr(0, len), ""));
    ExpectNotAuthentic(aead->Decrypt(ct.substr(ct.size() - len), ""));
  }
  ExpectNotAuthentic(aead->Decrypt(ct + '\0', ""));
}

TEST(AesGcmTest, OtherKeyFails) {
  const std::string ct = *NewAead()->Encrypt("message", "");
  ExpectNotAuthentic(NewAead()->Decrypt(ct, ""));
}

TEST(AesGcmTest, SharedAcrossThreads) {
  auto aead = NewAead();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&aead, t] {
      for (int i = 0; i < 200; ++i) {
        const std::string msg = std::to_string(t * 1000 + i);
        absl::StatusOr<std::string> ct = aead->Encrypt(msg, "ad");
        ASSERT_TRUE(ct.ok());
        absl::StatusOr<std::string> pt = aead->Decrypt(*ct, "ad");
        ASSERT_TRUE(pt.ok());
        EXPECT_EQ(*pt, msg);
      }
    });
  }
  for (auto& thread : threads) thread.join();
}

}  // namespace
}  // namespace keyward::crypto
