#include "keystore/crypto/secret_data.h"

#include <sstream>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "keystore/crypto/random.h"

namespace keyward::crypto {
namespace {

TEST(SecretDataTest, CopiesBytes) {
  std::string bytes = "sixteen byte key";
  SecretData secret(bytes);
  bytes[0] = 'X';
  EXPECT_EQ(secret.size(), 16u);
  EXPECT_FALSE(secret.empty());
  EXPECT_EQ(secret.InsecureView(), "sixteen byte key");
}

TEST(SecretDataTest, DefaultIsEmpty) {
  SecretData secret;
  EXPECT_TRUE(secret.empty());
  EXPECT_EQ(secret.InsecureView(), "");
  EXPECT_TRUE(SecretData("").empty());
}

TEST(SecretDataTest, MoveLeavesSourceEmpty) {
  SecretData a("secret");
  SecretData b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the contract.
  EXPECT_EQ(b.InsecureView(), "secret");
  SecretData c("other");
  c = std::move(b);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(c.InsecureView(), "secret");
}

TEST(SecretDataTest, RandomHasSizeAndDiffers) {
  SecretData a = SecretData::Random(32);
  SecretData b = SecretData::Random(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a.InsecureView(), b.InsecureView());
  EXPECT_TRUE(SecretData::Random(0).empty());
}

TEST(SecretDataTest, ZeroedIsWritable) {
  SecretData secret = SecretData::Zeroed(4);
  EXPECT_EQ(secret.InsecureView(), std::string(4, '\0'));
  secret.InsecureMutableData()[1] = 'a';
  EXPECT_EQ(secret.InsecureView(), std::string("\0a\0\0", 4));
}

TEST(SecretDataTest, PrintsOnlyTheSize) {
  std::ostringstream os;
  os << SecretData("hunter2");
  EXPECT_EQ(os.str(), "SecretData(7 bytes)");
}

TEST(ConstantTimeEqualsTest, ComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
}

TEST(RandomBytesTest, SizeAndVariety) {
  EXPECT_EQ(RandomBytes(0), "");
  EXPECT_EQ(RandomBytes(17).size(), 17u);
  EXPECT_NE(RandomBytes(16), RandomBytes(16));
}

}  // namespace
}  // namespace keyward::crypto
