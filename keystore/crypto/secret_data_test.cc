#include "keystore/crypto/secret_data.h"

#include <cstdint>
#include <cstdio>
#include <fstream>
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

namespace keyward::crypto {
namespace {

// The VmFlags line of the /proc/self/smaps mapping that holds `p`.
std::string VmFlagsOf(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  const auto addr = reinterpret_cast<uintptr_t>(p);
  while (std::getline(smaps, line)) {
    unsigned long start, end;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &start, &end) == 2) {
      inside = addr >= start && addr < end;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}

TEST(SecretDataPinnedTest, KeepsBytesAndIsExcludedFromCoreDumps) {
  SecretData pinned = SecretData::Pinned("root key material, 32 bytes long");
  EXPECT_EQ(pinned.InsecureView(), "root key material, 32 bytes long");
  std::string flags = VmFlagsOf(pinned.InsecureView().data());
  ASSERT_FALSE(flags.empty());
  EXPECT_NE(flags.find(" dd"), std::string::npos) << flags;  // MADV_DONTDUMP
  SecretData moved = std::move(pinned);
  EXPECT_TRUE(pinned.empty());
  EXPECT_EQ(moved.InsecureView(), "root key material, 32 bytes long");
  EXPECT_TRUE(SecretData::Pinned("").empty());
}

}  // namespace
}  // namespace keyward::crypto

namespace keyward::crypto {
namespace {

TEST(WipeStringTest, ZeroesTheWholeBufferAndEmptiesIt) {
  std::string s(40, 'k');
  s.resize(20);  // bytes 20..39 still hold 'k' in the buffer
  const char* buffer = s.data();
  const size_t capacity = s.capacity();
  WipeString(&s);
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.data(), buffer);  // the same buffer, not a new one
  for (size_t i = 0; i < capacity; ++i) EXPECT_EQ(buffer[i], '\0') << i;
  std::string empty;
  WipeString(&empty);
  EXPECT_TRUE(empty.empty());
}

}  // namespace
}  // namespace keyward::crypto
