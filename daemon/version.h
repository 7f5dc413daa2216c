// The Keyward version: the one place it is written. GetStatus and backups
// report it, `keywardd --version` prints it, and tools/package names the
// Debian packages after it (it reads the kVersion line below).
#ifndef KEYWARD_DAEMON_VERSION_H_
#define KEYWARD_DAEMON_VERSION_H_

namespace keyward::daemon {

// kVersion is the daemon's semantic version, e.g. "1.4.0".
inline constexpr char kVersion[] = "0.1.0";

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_VERSION_H_
