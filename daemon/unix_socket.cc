#include "daemon/unix_socket.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace keyward::daemon {
namespace {

std::string ParentDir(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// True if a server accepts connections on the socket at `path`.
bool SomeoneListens(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path.data(), path.size());
  bool live = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return live;
}

}  // namespace

absl::Status PrepareUnixSocketPath(const std::string& path) {
  if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unix socket path '", path, "' must be 1 to ",
        sizeof(sockaddr_un{}.sun_path) - 1, " bytes; choose a shorter path"));
  }
  const std::string dir = ParentDir(path);
  if (mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return absl::InternalError(absl::StrCat("cannot create socket directory '",
                                            dir, "': ", strerror(errno)));
  }
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::InternalError(
        absl::StrCat("cannot inspect '", path, "': ", strerror(errno)));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "'", path, "' exists and is not a socket; remove it or choose another "
                   "socket path"));
  }
  if (SomeoneListens(path)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "another server is listening on '", path,
        "'; stop it or choose another socket path"));
  }
  if (unlink(path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat(
        "cannot remove stale socket '", path, "': ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status SetSocketMode(const std::string& path, unsigned mode) {
  if (chmod(path.c_str(), mode) != 0) {
    return absl::InternalError(absl::StrCat("cannot set the mode of '", path,
                                            "': ", strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace keyward::daemon
