#include "daemon/passphrase.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace keyward::daemon {

absl::StatusOr<crypto::SecretData> ReadPassphraseFile(const std::string& path) {
  constexpr size_t kMax = 1024;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(
          absl::StrCat("passphrase file '", path, "' does not exist"));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot open passphrase file '", path, "': ", strerror(errno)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("passphrase file '", path, "' is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    close(fd);
    return absl::FailedPreconditionError(absl::StrFormat(
        "passphrase file '%s' is accessible to group or others (mode %04o); "
        "run `chmod 600 %s`",
        path, st.st_mode & 07777, path));
  }
  if (st.st_uid != geteuid()) {
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "passphrase file '", path, "' is owned by uid ", st.st_uid,
        ", not by the daemon's uid ", geteuid(), "; chown it"));
  }
  crypto::SecretData buffer = crypto::SecretData::Zeroed(kMax + 1);
  size_t n = 0;
  while (n < buffer.size()) {
    ssize_t r = read(fd, buffer.InsecureMutableData() + n, buffer.size() - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += r;
  }
  close(fd);
  if (n > kMax) {
    return absl::InvalidArgumentError(absl::StrCat(
        "passphrase file '", path, "' is larger than ", kMax, " bytes"));
  }
  absl::string_view view = buffer.InsecureView().substr(0, n);
  if (!view.empty() && view.back() == '\n') view.remove_suffix(1);
  if (!view.empty() && view.back() == '\r') view.remove_suffix(1);
  if (view.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("passphrase file '", path, "' is empty"));
  }
  return crypto::SecretData(view);
}

}  // namespace keyward::daemon
