#include "daemon/unix_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace keyward::daemon {
namespace {

// Socket paths must fit sockaddr_un (108 bytes); TEST_TMPDIR is too deep.
std::string TempPath(const std::string& name) {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/kw-sock-XXXXXX";
    return std::string(mkdtemp(tmpl));
  }();
  return absl::StrCat(dir, "/", name);
}

// Binds a socket at `path`; listens if `listen_too`. Returns the fd.
int BindAt(const std::string& path, bool listen_too) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  if (listen_too) {
    EXPECT_EQ(listen(fd, 1), 0);
  }
  return fd;
}

TEST(UnixSocketTest, StaleSocketIsReplaced) {
  std::string path = TempPath("stale.sock");
  close(BindAt(path, false));  // a socket file nobody listens on
  ASSERT_EQ(access(path.c_str(), F_OK), 0);
  EXPECT_TRUE(PrepareUnixSocketPath(path).ok());
  EXPECT_NE(access(path.c_str(), F_OK), 0);
}

TEST(UnixSocketTest, LiveSocketIsNotTakenOver) {
  std::string path = TempPath("live.sock");
  int fd = BindAt(path, true);
  absl::Status s = PrepareUnixSocketPath(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(access(path.c_str(), F_OK), 0);
  close(fd);
}

TEST(UnixSocketTest, RegularFileIsRefused) {
  std::string path = TempPath("file.sock");
  std::ofstream(path) << "not a socket";
  EXPECT_EQ(PrepareUnixSocketPath(path).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(UnixSocketTest, TooLongPathIsInvalid) {
  EXPECT_EQ(PrepareUnixSocketPath("/" + std::string(200, 'a')).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(UnixSocketTest, MissingParentIsCreatedPrivate) {
  std::string dir = TempPath("newdir");
  EXPECT_TRUE(PrepareUnixSocketPath(dir + "/k.sock").ok());
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750);
}

}  // namespace
}  // namespace keyward::daemon
