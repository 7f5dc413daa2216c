// Unix-domain socket paths for the daemon's listener.
//
// A daemon that died (kill -9, power loss) leaves its socket file behind;
// the next start replaces it. A socket that still answers belongs to a live
// daemon and is never taken over.
#ifndef KEYWARD_DAEMON_UNIX_SOCKET_H_
#define KEYWARD_DAEMON_UNIX_SOCKET_H_

#include <string>

#include "absl/status/status.h"

namespace keyward::daemon {

// PrepareUnixSocketPath makes `path` ready for a listener to bind: it creates
// the parent directory (mode 0750) if missing and removes a stale socket
// file. Returns FAILED_PRECONDITION if a live server answers on `path` or if
// `path` exists and is not a socket, INVALID_ARGUMENT if `path` is too long
// for sockaddr_un, and INTERNAL for other system errors; each message names
// the path and what to do.
absl::Status PrepareUnixSocketPath(const std::string& path);

// SetSocketMode changes the permission bits of the socket file at `path`.
absl::Status SetSocketMode(const std::string& path, unsigned mode);

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_UNIX_SOCKET_H_
