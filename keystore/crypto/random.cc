#include "keystore/crypto/random.h"

#include <openssl/rand.h>
#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace keyward::crypto {
namespace {

constexpr size_t kBlock = 1024;  // 32 requests of 32 bytes per RAND_bytes

void Fill(uint8_t* out, size_t n) {
  if (n > 0 && RAND_bytes(out, n) != 1) {
    std::fputs("keyward: RAND_bytes failed; cannot continue safely\n", stderr);
    std::abort();
  }
}

// Bumped in every child process, so that a buffer filled before a fork is
// never handed out by both sides.
std::atomic<uint64_t> fork_generation{1};

// Registered at load time, before any thread of ours could fork: a lazy
// registration could be interrupted by a fork in another thread.
[[maybe_unused]] const bool fork_handler_registered = [] {
  if (pthread_atfork(nullptr, nullptr, [] {
        fork_generation.fetch_add(1, std::memory_order_relaxed);
      }) != 0) {
    std::fputs("keyward: pthread_atfork failed; cannot continue safely\n",
               stderr);
    std::abort();
  }
  return true;
}();

struct Buffer {
  uint8_t bytes[kBlock];
  size_t used = kBlock;    // bytes[used..] not yet handed out
  uint64_t generation = 0;  // fork_generation when filled
};

}  // namespace

uint64_t ForkGeneration() {
  return fork_generation.load(std::memory_order_relaxed);
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  auto* dest = reinterpret_cast<uint8_t*>(out.data());
  if (n > kBufferedRandomMax) {
    Fill(dest, n);
    return out;
  }
  thread_local Buffer buffer;
  const uint64_t generation = ForkGeneration();
  if (buffer.generation != generation || kBlock - buffer.used < n) {
    Fill(buffer.bytes, kBlock);
    buffer.used = 0;
    buffer.generation = generation;
  }
  std::memcpy(dest, buffer.bytes + buffer.used, n);
  std::memset(buffer.bytes + buffer.used, 0, n);  // handed out once
  buffer.used += n;
  return out;
}

}  // namespace keyward::crypto
