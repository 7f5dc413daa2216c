// Helpers shared by Keyward's fuzz targets: an invariant check that aborts
// (so libFuzzer, or the replay test, reports the input) and a check that a
// refusal carries one of the codes the parser documents, never INTERNAL or
// UNKNOWN.
#ifndef KEYWARD_TESTS_FUZZ_FUZZ_UTIL_H_
#define KEYWARD_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstdio>
#include <cstdlib>
#include <initializer_list>

#include "absl/status/status.h"

namespace keyward::fuzz {

// Require aborts with `what` on stderr if `ok` is false.
inline void Require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
  std::abort();
}

// RequireCode aborts if `s` is not OK and its code is not in `allowed`.
inline void RequireCode(const absl::Status& s,
                        std::initializer_list<absl::StatusCode> allowed,
                        const char* what) {
  if (s.ok()) return;
  for (absl::StatusCode c : allowed) {
    if (s.code() == c) return;
  }
  std::fprintf(stderr, "fuzz invariant violated: %s: undocumented status %s\n",
               what, s.ToString().c_str());
  std::abort();
}

}  // namespace keyward::fuzz

#endif  // KEYWARD_TESTS_FUZZ_FUZZ_UTIL_H_
