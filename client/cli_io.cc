// Binary-safe input and output and secret reading of the `keyward` CLI
// (declared in client/cli.h).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/cli.h"

namespace keyward::cli {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  int e = errno;
  std::string msg = absl::StrCat(what, " ", path, ": ", strerror(e));
  switch (e) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::StatusOr<std::string> ReadFd(int fd, const std::string& name) {
  std::string out;
  char buf[64 * 1024];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot read", name);
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

absl::Status WriteFd(int fd, absl::string_view data, const std::string& name) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write", name);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

// --- I/O ---

absl::StatusOr<std::string> ReadInput(const std::string& path) {
  if (path.empty() || path == "-") return ReadFd(0, "stdin");
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  absl::StatusOr<std::string> data = ReadFd(fd, path);
  close(fd);
  return data;
}

absl::Status WriteOutput(const std::string& path, absl::string_view data,
                         mode_t mode) {
  if (path.empty() || path == "-") return WriteFd(1, data, "stdout");
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    // A device or pipe (e.g. /dev/stdout): write through, no rename.
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Errno("cannot open", path);
    absl::Status s = WriteFd(fd, data, path);
    close(fd);
    return s;
  }
  std::string tmp = absl::StrCat(path, ".tmp-XXXXXX");
  int fd = mkstemp(tmp.data());
  if (fd < 0) return Errno("cannot create a file beside", path);
  absl::Status s = absl::OkStatus();
  if (fchmod(fd, mode) != 0) s = Errno("cannot chmod", tmp);
  if (s.ok()) s = WriteFd(fd, data, tmp);
  if (s.ok() && fsync(fd) != 0) s = Errno("cannot sync", tmp);
  if (close(fd) != 0 && s.ok()) s = Errno("cannot close", tmp);
  if (s.ok() && rename(tmp.c_str(), path.c_str()) != 0) {
    s = Errno("cannot write", path);
  }
  if (!s.ok()) unlink(tmp.c_str());
  return s;
}

bool StdoutIsTerminal() { return isatty(1) == 1; }

absl::StatusOr<std::string> ReadSecret(const std::string& file,
                                       absl::string_view prompt,
                                       absl::string_view flag) {
  std::string secret;
  if (!file.empty()) {
    int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("cannot open", file);
    struct stat st;
    if (fstat(fd, &st) != 0) {
      close(fd);
      return Errno("cannot stat", file);
    }
    if (S_ISREG(st.st_mode) && (st.st_mode & 077) != 0) {
      close(fd);
      return absl::FailedPreconditionError(absl::StrCat(
          file, " is accessible to group or others; run: chmod 600 ", file));
    }
    absl::StatusOr<std::string> data = ReadFd(fd, file);
    close(fd);
    if (!data.ok()) return data.status();
    secret = *std::move(data);
  } else {
    int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (tty < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "no terminal to prompt for the ", prompt, "; give ", flag, " FILE"));
    }
    termios old_mode;
    bool restore = tcgetattr(tty, &old_mode) == 0;
    if (restore) {
      termios quiet = old_mode;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      quiet.c_lflag |= ECHONL;
      tcsetattr(tty, TCSAFLUSH, &quiet);
    }
    std::string text = absl::StrCat("Enter ", prompt, ": ");
    (void)WriteFd(tty, text, "/dev/tty");
    char c;
    while (true) {
      ssize_t n = read(tty, &c, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || c == '\n') break;
      secret.push_back(c);
    }
    if (restore) tcsetattr(tty, TCSAFLUSH, &old_mode);
    close(tty);
    c = 0;
    secret.push_back('\n');  // dropped below, as from a file
  }
  if (!secret.empty() && secret.back() == '\n') secret.pop_back();
  if (secret.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ", prompt, " is empty"));
  }
  return secret;
}

void Wipe(std::string* secret) {
  if (!secret->empty()) explicit_bzero(secret->data(), secret->size());
  secret->clear();
}

}  // namespace keyward::cli
