#include "keystore/crypto/digest.h"

#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace keyward::crypto {
namespace {

// FIPS 180-2 appendix B.1 and the empty string.
TEST(DigestTest, Sha256KnownAnswers) {
  EXPECT_EQ(absl::BytesToHexString(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(absl::BytesToHexString(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(DigestTest, Sha256FromManyThreads) {
  std::vector<std::thread> threads;
  std::vector<std::string> out(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) out[t] = Sha256("abc");
    });
  }
  for (auto& t : threads) t.join();
  for (const std::string& d : out) EXPECT_EQ(d, Sha256("abc"));
}

}  // namespace
}  // namespace keyward::crypto
