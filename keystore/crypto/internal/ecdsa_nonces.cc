#include "keystore/crypto/internal/ecdsa_nonces.h"

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "keystore/crypto/internal/ossl_compat.h"
#include "keystore/crypto/random.h"

namespace keyward::crypto::internal {
namespace {

// Below this many ready nonces of a curve, a Take wakes the maker.
constexpr size_t kRefillAt = kEcdsaNoncesPerCurve * 3 / 4;

struct Curve {
  const int nid;
  bool wanted = false;  // a signer asked for it: make its nonces
  bool failed = false;  // making one failed: make no more
  std::vector<EcdsaNonce> ready;
};

// SetLowestPriority puts the calling thread in SCHED_IDLE, or at nice 19
// where that is refused. False if both are refused (a seccomp filter).
bool SetLowestPriority() {
  pthread_setname_np(pthread_self(), "keyward-nonces");
  sched_param param{};
  return pthread_setschedparam(pthread_self(), SCHED_IDLE, &param) == 0 ||
         setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)),
                     19) == 0;
}

// NoncePool holds the ready nonces and runs the thread that makes them. One
// per process, made on first use and never destroyed (its thread runs
// until the process exits).
//
// The pool's lock is a std::mutex, held only to move a nonce in or out.
// Take only tries it: the maker runs at the lowest priority and can be
// preempted holding it, and a signer never waits for the maker.
class NoncePool {
 public:
  static NoncePool& Get() {
    static NoncePool* const pool = new NoncePool;
    return *pool;
  }

  std::optional<EcdsaNonce> Take(int nid) {
    Curve* curve = Find(nid);
    // A child process (fork) takes nothing its parent made, nor the lock,
    // which the parent's maker may have held at the fork.
    if (curve == nullptr || ForkGeneration() != generation_ ||
        disabled_.load(std::memory_order_relaxed)) {
      return std::nullopt;
    }
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    if (!lock.owns_lock()) return std::nullopt;
    std::optional<EcdsaNonce> nonce;
    if (!curve->ready.empty()) {
      nonce = std::move(curve->ready.back());
      curve->ready.pop_back();
    }
    const bool wake = Want(*curve);
    lock.unlock();
    if (wake) wake_.notify_one();
    return nonce;
  }

  size_t Ready(int nid) {
    Curve* curve = Find(nid);
    if (curve == nullptr || ForkGeneration() != generation_) return 0;
    std::lock_guard<std::mutex> lock(mu_);
    return curve->ready.size();
  }

  void DisableForGood() {
    std::lock_guard<std::mutex> lock(mu_);
    Disable();
    for (Curve& curve : curves_) curve.ready.clear();  // frees: wipes k^-1
  }

  bool Disabled() const { return disabled_.load(std::memory_order_relaxed); }

  bool Settled() {
    std::lock_guard<std::mutex> lock(mu_);
    return !making_;
  }

 private:
  NoncePool() : generation_(ForkGeneration()) {
    // At exit, libcrypto frees its global state (OPENSSL_cleanup, an atexit
    // handler), which a nonce being made would use. Starting libcrypto
    // here registers its handler first (if it was not already), so this
    // one, registered after, runs before it.
    OPENSSL_init_crypto(0, nullptr);
    std::atexit([] { Get().Stop(); });
  }

  // Stop has the maker finish the nonce in hand and make no more, and
  // waits for that: one nonce, at most about a millisecond of CPU (P-384),
  // and the maker gets a core while this thread waits.
  void Stop() {
    // A child's exit: its parent's maker is not its own (and may have held
    // the lock at the fork).
    if (ForkGeneration() != generation_) return;
    std::unique_lock<std::mutex> lock(mu_);
    if (!started_ || stopping_) return;
    stopping_ = true;
    making_ = true;
    wake_.notify_one();
    parked_.wait(lock, [this] { return stopped_; });
  }

  Curve* Find(int nid) {
    for (Curve& curve : curves_) {
      if (curve.nid == nid) return &curve;
    }
    return nullptr;
  }

  // Want marks |curve| as asked for and says whether the maker must be
  // woken: it sleeps, and |curve| is below kRefillAt. Starts the maker on
  // the first ask.
  bool Want(Curve& curve) {
    if (!curve.wanted) {
      curve.wanted = true;
      // Once: the maker's pushes then allocate nothing under the lock.
      curve.ready.reserve(kEcdsaNoncesPerCurve);
    }
    if (curve.failed || making_ || curve.ready.size() > kRefillAt) {
      return false;
    }
    making_ = true;
    if (!started_) {
      try {
        std::thread([this] { Run(); }).detach();
        started_ = true;
      } catch (const std::system_error&) {
        // No thread: signers make their own nonces, as without the pool.
        Disable();
        return false;
      }
    }
    return true;
  }

  // Disable makes no more nonces, for good; Take then returns at once.
  void Disable() {
    for (Curve& curve : curves_) curve.failed = true;
    making_ = false;
    disabled_.store(true, std::memory_order_relaxed);
  }

  // Next returns the asked-for curve with the fewest ready nonces, if it is
  // not full.
  Curve* Next() {
    Curve* next = nullptr;
    for (Curve& curve : curves_) {
      if (curve.wanted && !curve.failed &&
          curve.ready.size() < kEcdsaNoncesPerCurve &&
          (next == nullptr || curve.ready.size() < next->ready.size())) {
        next = &curve;
      }
    }
    return next;
  }

  // Run is the maker: it fills every asked-for curve, then sleeps until a
  // Take finds one below kRefillAt.
  void Run() {
    // Made at the priority of the calls, nonces would take their CPU: then
    // none are made, and signers make their own.
    const bool lowest = SetLowestPriority();
    // A key per curve to make nonces with: EcdsaSignSetup needs one with a
    // private key, which it does not use.
    std::array<EcKeyPtr, std::tuple_size<decltype(curves_)>::value> keys;
    std::unique_lock<std::mutex> lock(mu_);
    if (!lowest) Disable();
    for (;;) {
      if (stopping_) {
        stopped_ = true;
        parked_.notify_all();
        wake_.wait(lock, [] { return false; });  // until the process ends
      }
      Curve* curve = Next();
      if (curve == nullptr) {
        making_ = false;
        wake_.wait(lock, [this] { return making_; });
        continue;
      }
      EcKeyPtr& key = keys[curve - curves_.data()];
      lock.unlock();
      EcdsaNonce nonce;
      if (key == nullptr) {
        key.reset(EC_KEY_new_by_curve_name(curve->nid));
        if (key != nullptr && EC_KEY_generate_key(key.get()) != 1) {
          key.reset();
        }
      }
      const bool made =
          key != nullptr && EcdsaSignSetup(key.get(), &nonce.kinv, &nonce.r);
      lock.lock();
      if (!made) {
        curve->failed = true;
      } else if (!curve->failed) {  // not disabled meanwhile
        curve->ready.push_back(std::move(nonce));
      }
    }
  }

  const uint64_t generation_;  // ForkGeneration() of the process that made it
  std::atomic<bool> disabled_{false};  // Disable() was called
  std::mutex mu_;
  std::condition_variable wake_;
  // Guarded by mu_ (Curve::nid is constant).
  std::array<Curve, 3> curves_ = {Curve{NID_X9_62_prime256v1},
                                   Curve{NID_secp384r1}, Curve{NID_secp521r1}};
  std::condition_variable parked_;  // the maker stopped (Stop)
  bool started_ = false;   // the maker thread was started
  bool making_ = false;    // the maker is at work or was woken
  bool stopping_ = false;  // Stop was called: make no more
  bool stopped_ = false;   // the maker saw it and makes no more
};

}  // namespace

bool EcdsaNoncesSupported() { return EcdsaSignSetupSupported(); }

std::optional<EcdsaNonce> TakeEcdsaNonce(int nid) {
  if (!EcdsaNoncesSupported()) return std::nullopt;
  return NoncePool::Get().Take(nid);
}

size_t EcdsaNoncesReady(int nid) {
  if (!EcdsaNoncesSupported()) return 0;
  return NoncePool::Get().Ready(nid);
}

void DisableEcdsaNonces() {
  if (EcdsaNoncesSupported()) NoncePool::Get().DisableForGood();
}

bool EcdsaNoncesEnabled() {
  return EcdsaNoncesSupported() && !NoncePool::Get().Disabled();
}

bool EcdsaNoncesSettled() {
  if (!EcdsaNoncesSupported()) return true;
  return NoncePool::Get().Settled();
}

}  // namespace keyward::crypto::internal
