// Test helpers for the audit log's tests (audit_log_test.cc,
// audit_rotation_test.cc): a sample entry and a disk that fills up.
#ifndef KEYWARD_DAEMON_AUDIT_TESTING_H_
#define KEYWARD_DAEMON_AUDIT_TESTING_H_

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <functional>

#include "absl/strings/str_cat.h"
#include "daemon/audit_log.h"

namespace keyward::daemon::testing {

// Entry is a Sign call's record on key "keys/k<i>".
inline AuditEntry Entry(int i) {
  AuditEntry e;
  e.principal = "unix:uid:1000";
  e.method = "CryptoService/Sign";
  e.operation = "SIGN";
  e.resource = absl::StrCat("keys/k", i);
  e.version = 1;
  e.code = "OK";
  e.request_id = absl::StrCat("req-", i);
  return e;
}

// FakeDisk stands in for write(2) (AuditLogOptions::write): while full, it
// writes half of what it is given (a torn record, as a filling disk leaves)
// and then fails with ENOSPC.
class FakeDisk {
 public:
  std::function<ssize_t(int, const void*, size_t)> Function() {
    return [this](int fd, const void* data, size_t size) -> ssize_t {
      if (!full_.load()) return write(fd, data, size);
      if (size > 1 && !tore_) {
        tore_ = true;
        return write(fd, data, size / 2);
      }
      tore_ = false;
      errno = ENOSPC;
      return -1;
    };
  }
  void set_full(bool full) { full_ = full; }

 private:
  std::atomic<bool> full_{false};
  bool tore_ = false;  // used only by the writing thread (the leader)
};

}  // namespace keyward::daemon::testing

#endif  // KEYWARD_DAEMON_AUDIT_TESTING_H_
