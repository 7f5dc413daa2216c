#include "keystore/crypto/asymmetric.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "keystore/crypto/keys.h"

namespace keyward::crypto {
namespace {

class RsaOaepTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    key_ = new SecretData(*GenerateKeyMaterial(KeyType::kRsa2048));
    spki_ = new std::string(*PublicKeyFromPrivate(KeyType::kRsa2048, *key_));
  }

  void SetUp() override {
    auto encrypter = NewAsymmetricEncrypter(*spki_);
    ASSERT_TRUE(encrypter.ok()) << encrypter.status();
    encrypter_ = *std::move(encrypter);
    auto decrypter = NewAsymmetricDecrypter(*key_);
    ASSERT_TRUE(decrypter.ok()) << decrypter.status();
    decrypter_ = *std::move(decrypter);
  }

  static void ExpectInvalid(const absl::StatusOr<std::string>& result) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(result.status().message(), "ciphertext is not valid");
  }

  static SecretData* key_;
  static std::string* spki_;
  std::unique_ptr<AsymmetricEncrypter> encrypter_;
  std::unique_ptr<AsymmetricDecrypter> decrypter_;
};

SecretData* RsaOaepTest::key_ = nullptr;
std::string* RsaOaepTest::spki_ = nullptr;

TEST_F(RsaOaepTest, RoundTripWithAndWithoutLabel) {
  EXPECT_EQ(encrypter_->MaxPlaintextSize(), 256u - 66u);
  for (const std::string& plaintext : {std::string(), std::string("key"),
                                      std::string(190, 'k')}) {
    for (const char* label : {"", "label"}) {
      absl::StatusOr<std::string> ct = encrypter_->Encrypt(plaintext, label);
      ASSERT_TRUE(ct.ok()) << ct.status();
      EXPECT_EQ(ct->size(), 256u);
      absl::StatusOr<std::string> pt = decrypter_->Decrypt(*ct, label);
      ASSERT_TRUE(pt.ok()) << pt.status();
      EXPECT_EQ(*pt, plaintext);
    }
  }
}

TEST_F(RsaOaepTest, TooLongPlaintextIsRefused) {
  EXPECT_EQ(encrypter_->Encrypt(std::string(191, 'k'), "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RsaOaepTest, EveryBitFlipOfCiphertextFails) {
  const std::string ct = *encrypter_->Encrypt("a wrapped key", "label");
  for (size_t bit = 0; bit < ct.size() * 8; ++bit) {
    std::string bad = ct;
    bad[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    ExpectInvalid(decrypter_->Decrypt(bad, "label"));
  }
}

TEST_F(RsaOaepTest, EveryBitFlipOfLabelFails) {
  const std::string label = "the label";
  const std::string ct = *encrypter_->Encrypt("a wrapped key", label);
  for (size_t bit = 0; bit < label.size() * 8; ++bit) {
    std::string bad = label;
    bad[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    ExpectInvalid(decrypter_->Decrypt(ct, bad));
  }
  ExpectInvalid(decrypter_->Decrypt(ct, ""));
}

TEST_F(RsaOaepTest, EveryTruncationAndExtensionFails) {
  const std::string ct = *encrypter_->Encrypt("a wrapped key", "");
  for (size_t len = 0; len < ct.size(); ++len) {
    ExpectInvalid(decrypter_->Decrypt(ct.substr(0, len), ""));
  }
  ExpectInvalid(decrypter_->Decrypt(ct + '\0', ""));
  ExpectInvalid(decrypter_->Decrypt('\0' + ct, ""));
}

TEST_F(RsaOaepTest, WrongKeyTypesAreRefused) {
  for (KeyType type : {KeyType::kEd25519, KeyType::kEcdsaP256}) {
    SecretData key = *GenerateKeyMaterial(type);
    auto decrypter = NewAsymmetricDecrypter(key);
    ASSERT_FALSE(decrypter.ok());
    EXPECT_EQ(decrypter.status().code(), absl::StatusCode::kInvalidArgument);
    auto encrypter = NewAsymmetricEncrypter(*PublicKeyFromPrivate(type, key));
    ASSERT_FALSE(encrypter.ok());
    EXPECT_EQ(encrypter.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(NewAsymmetricEncrypter("junk").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NewAsymmetricDecrypter(SecretData("junk")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RsaOaepTest, SharedAcrossThreads) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 10; ++i) {
        const std::string msg = std::to_string(t * 1000 + i);
        absl::StatusOr<std::string> ct = encrypter_->Encrypt(msg, "l");
        ASSERT_TRUE(ct.ok());
        absl::StatusOr<std::string> pt = decrypter_->Decrypt(*ct, "l");
        ASSERT_TRUE(pt.ok());
        EXPECT_EQ(*pt, msg);
      }
    });
  }
  for (auto& thread : threads) thread.join();
}

}  // namespace
}  // namespace keyward::crypto
