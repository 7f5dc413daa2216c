// keyward-bench's (a) of --compare: the raw crypto layer in this process,
// doing what the daemon does for one operation, and the payloads both use.
#ifndef KEYWARD_TOOLS_KEYWARD_BENCH_RAW_H_
#define KEYWARD_TOOLS_KEYWARD_BENCH_RAW_H_

#include <cstddef>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "tools/keyward_bench_flags.h"

namespace keyward::bench {

// `n` bytes of a..z.
std::string Payload(size_t n);

// The claims of jwt-sign: a JSON object of about `size` bytes.
std::string JwtClaims(size_t size);

// The raw operation (a) for `op` with a fresh key of `type`: a function that
// does one operation (and exits the process if it fails). UNIMPLEMENTED for
// noop and for a type with no baseline for `op`.
absl::StatusOr<std::function<void()>> RawOp(Op op, const KeyTypeInfo& type,
                                            const std::string& payload);

}  // namespace keyward::bench

#endif  // KEYWARD_TOOLS_KEYWARD_BENCH_RAW_H_
