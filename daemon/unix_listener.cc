#include "daemon/unix_listener.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "daemon/log.h"
#include "daemon/unix_socket.h"
#include "grpcpp/server_posix.h"

namespace keyward::daemon {

void PeerTable::Set(int fd, const PeerCredentials& creds) {
  absl::MutexLock lock(&mu_);
  by_fd_[fd] = creds;
}

std::optional<PeerCredentials> PeerTable::Find(absl::string_view peer) const {
  int fd;
  if (!absl::ConsumePrefix(&peer, "fd:") || !absl::SimpleAtoi(peer, &fd)) {
    return std::nullopt;
  }
  absl::ReaderMutexLock lock(&mu_);
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::unique_ptr<UnixListener>> UnixListener::Listen(
    const std::string& path, unsigned mode, grpc::Server* server,
    PeerTable* peers) {
  absl::Status prepared = PrepareUnixSocketPath(path);
  if (!prepared.ok()) return prepared;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path.data(), path.size());
  // Never let the socket exist with wider permissions than asked for.
  mode_t old_umask = umask(0177);
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int bind_errno = errno;
  umask(old_umask);
  if (rc != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on unix socket '", path, "': ", strerror(bind_errno),
        "; check that its directory is writable"));
  }
  absl::Status s = SetSocketMode(path, mode);
  if (s.ok() && listen(fd, 128) != 0) {
    s = absl::InternalError(absl::StrCat("listen: ", strerror(errno)));
  }
  if (!s.ok()) {
    close(fd);
    unlink(path.c_str());
    return s;
  }
  return std::unique_ptr<UnixListener>(
      new UnixListener(path, fd, server, peers));
}

UnixListener::UnixListener(std::string path, int fd, grpc::Server* server,
                           PeerTable* peers)
    : path_(std::move(path)), listen_fd_(fd), server_(server), peers_(peers) {
  if (pipe2(wake_fds_, O_CLOEXEC) != 0) abort();
  thread_ = std::thread([this] { AcceptLoop(); });
}

UnixListener::~UnixListener() {
  char byte = 0;
  ssize_t ignored = write(wake_fds_[1], &byte, 1);
  (void)ignored;
  thread_.join();
  close(listen_fd_);
  close(wake_fds_[0]);
  close(wake_fds_[1]);
  unlink(path_.c_str());
}

void UnixListener::AcceptLoop() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fds_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      LogWarning("accept_failed", {{"error", strerror(errno)}});
      return;
    }
    if (fds[1].revents != 0) return;
    int conn = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (conn < 0) {
      if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
        LogWarning("accept_failed", {{"error", strerror(errno)}});
        // Out of descriptors or similar: back off instead of spinning.
        usleep(10000);
      }
      continue;
    }
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      close(conn);
      continue;
    }
    peers_->Set(conn, PeerCredentials{cred.uid, cred.gid, cred.pid});
    grpc::AddInsecureChannelFromFd(server_, conn);
  }
}

}  // namespace keyward::daemon
