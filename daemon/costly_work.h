// Bounded work per request: calls whose work can take well over ~100 ms
// (a KDF on ImportKey, ExportKey with a passphrase, Unseal,
// ChangePassphrase, RestoreBackup; RSA key generation) check that their
// caller still waits before starting it, and take one of a few slots so
// that a flood of them cannot occupy every core.
//
// The work itself is one libcrypto call (PBKDF2, scrypt, RSA keygen) that
// cannot be interrupted once started, so a deadline that passes during it is
// noticed only afterwards; what bounds such a call is the limit on its cost
// (pbe_limits.h for imports; the keystore's scrypt parameters; the RSA sizes
// offered).
#ifndef KEYWARD_DAEMON_COSTLY_WORK_H_
#define KEYWARD_DAEMON_COSTLY_WORK_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"

namespace keyward::daemon {

// StillWanted: OK if the call of `context` is neither past its deadline nor
// cancelled; else DEADLINE_EXCEEDED or CANCELLED, saying that the work was
// not started. Thread-safe.
absl::Status StillWanted(const grpc::ServerContextBase& context);

// CostlyWork hands out `slots` permits for costly work. Thread-safe.
class CostlyWork {
 public:
  // Slot is a held permit; it is given back when it dies.
  class Slot {
   public:
    Slot(Slot&& other) noexcept : owner_(other.owner_) { other.owner_ = nullptr; }
    Slot& operator=(Slot&&) = delete;
    Slot(const Slot&) = delete;
    ~Slot();

   private:
    friend class CostlyWork;
    explicit Slot(CostlyWork* owner) : owner_(owner) {}
    CostlyWork* owner_;
  };

  // `slots` at least 1; `max_wait` bounds how long a call queues for one.
  explicit CostlyWork(int slots, absl::Duration max_wait = absl::Seconds(30))
      : slots_(slots < 1 ? 1 : slots), max_wait_(max_wait) {}

  // Begin waits for a free slot while the call of `context` still wants an
  // answer, then checks StillWanted once more. DEADLINE_EXCEEDED or
  // CANCELLED if the caller gave up first (nothing was started);
  // RESOURCE_EXHAUSTED after `max_wait` without a slot.
  absl::StatusOr<Slot> Begin(const grpc::ServerContextBase& context);

 private:
  void Release();

  const int slots_;
  const absl::Duration max_wait_;
  absl::Mutex mu_;
  int busy_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_COSTLY_WORK_H_
