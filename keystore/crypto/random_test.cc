#include "keystore/crypto/random.h"

#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace keyward::crypto {
namespace {

TEST(RandomTest, ReturnsTheLengthAskedForOnBothSidesOfTheBufferedSize) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{12}, kBufferedRandomMax - 1,
                   kBufferedRandomMax, kBufferedRandomMax + 1, size_t{1024},
                   size_t{5000}}) {
    EXPECT_EQ(RandomBytes(n).size(), n) << n;
  }
}

TEST(RandomTest, NeverHandsOutTheSameBytesTwice) {
  // Many more than one refill's worth, in sizes that do not divide it.
  std::set<std::string> seen;
  for (int i = 0; i < 20000; ++i) {
    const std::string bytes = RandomBytes(i % 3 == 0 ? 12 : 16);
    EXPECT_NE(bytes, std::string(bytes.size(), '\0'));
    EXPECT_TRUE(seen.insert(bytes).second) << "repeated at call " << i;
  }
}

TEST(RandomTest, ThreadsNeverShareBytes) {
  constexpr int kThreads = 4, kEach = 3000;
  std::vector<std::vector<std::string>> drawn(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&drawn, t] {
      for (int i = 0; i < kEach; ++i) drawn[t].push_back(RandomBytes(16));
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<std::string> seen;
  for (const auto& each : drawn) {
    for (const auto& bytes : each) EXPECT_TRUE(seen.insert(bytes).second);
  }
  EXPECT_EQ(seen.size(), size_t{kThreads * kEach});
}

TEST(RandomTest, AForkedChildDoesNotHandOutWhatItsParentWill) {
  RandomBytes(16);  // the buffer now holds output for the next calls
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string bytes = RandomBytes(16);
    const bool written =
        write(pipe_fds[1], bytes.data(), bytes.size()) ==
        static_cast<ssize_t>(bytes.size());
    _exit(written ? 0 : 1);
  }
  close(pipe_fds[1]);
  const std::string mine = RandomBytes(16);
  std::string childs(16, '\0');
  EXPECT_EQ(read(pipe_fds[0], childs.data(), childs.size()), 16);
  close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(mine, childs);
}

}  // namespace
}  // namespace keyward::crypto
