// keyward-bench's command line (the flags, defined in keyward_bench_flags.cc)
// and what it names: the operations and the key types the bench has a
// raw-crypto baseline for.
#ifndef KEYWARD_TOOLS_KEYWARD_BENCH_FLAGS_H_
#define KEYWARD_TOOLS_KEYWARD_BENCH_FLAGS_H_

#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/signature.h"
#include "keyward/v1/key_service.pb.h"

ABSL_DECLARE_FLAG(std::string, target);
ABSL_DECLARE_FLAG(std::string, op);
ABSL_DECLARE_FLAG(std::string, key_type);
ABSL_DECLARE_FLAG(std::string, key);
ABSL_DECLARE_FLAG(int, payload);
ABSL_DECLARE_FLAG(int, inflight);
ABSL_DECLARE_FLAG(double, rate);
ABSL_DECLARE_FLAG(int, max_inflight);
ABSL_DECLARE_FLAG(absl::Duration, duration);
ABSL_DECLARE_FLAG(absl::Duration, warmup);
ABSL_DECLARE_FLAG(int, batch);
ABSL_DECLARE_FLAG(int, daemon_pid);
ABSL_DECLARE_FLAG(bool, json);
ABSL_DECLARE_FLAG(bool, compare);
ABSL_DECLARE_FLAG(int, runs);
ABSL_DECLARE_FLAG(int, threads);
ABSL_DECLARE_FLAG(std::string, noop_call);
ABSL_DECLARE_FLAG(int, channels);
ABSL_DECLARE_FLAG(std::string, mode);
ABSL_DECLARE_FLAG(absl::Duration, deadline);
ABSL_DECLARE_FLAG(std::string, fsync_probe);

namespace keyward::bench {

namespace pb = keyward::v1;

// Prints "keyward-bench: <what>" on stderr and exits 1.
[[noreturn]] void Die(const std::string& what);

enum class Op {
  kSign, kVerify, kEncrypt, kDecrypt, kMac, kSignBatch, kJwtSign, kJwtVerify,
  kNoop,
};

// The --op spelling of `op`, and the op of a spelling (INVALID_ARGUMENT for
// an unknown one).
const char* NameOf(Op op);
absl::StatusOr<Op> ParseOp(absl::string_view name);

// How the operations travel (--mode): one unary call each; items over one
// DataPlaneService.Stream per channel (keyward::StreamMux); or calls of
// keyward::Client with ClientOptions.coalesce from --inflight threads.
enum class Mode { kUnary, kStream, kCoalesced };
absl::StatusOr<Mode> ParseMode(absl::string_view name);
const char* NameOf(Mode mode);

// The key types the bench has a raw-crypto baseline for. Their names are the
// CLI's (cli::KeyTypeName, from the proto enum), never spelled here.
struct KeyTypeInfo {
  pb::KeyType proto;
  crypto::KeyType type;
  crypto::SignatureAlgorithm algorithm;  // the daemon's default for the type
  std::string name() const;
};

bool IsSigning(const KeyTypeInfo& k);

// ParseBenchKeyType takes a key type's CLI name; INVALID_ARGUMENT for a name
// the CLI does not know, or a type with no baseline here (naming those that
// have one).
absl::StatusOr<const KeyTypeInfo*> ParseBenchKeyType(absl::string_view name);

// The key type `op` uses without --key-type.
const KeyTypeInfo& DefaultKeyType(Op op);

// Whether `op` can use a key of type `k`; the message says why not.
absl::Status Fits(Op op, const KeyTypeInfo& k);

// The purpose of the key the bench creates for `op`.
pb::KeyPurpose PurposeFor(Op op);

// Abseil flags are spelled with '_'; NormalizeFlags accepts the '-'
// spellings too (--key-type, --daemon-pid, --max-inflight). The returned
// pointers point into `storage`.
std::vector<char*> NormalizeFlags(int argc, char** argv,
                                  std::vector<std::string>* storage);

}  // namespace keyward::bench

#endif  // KEYWARD_TOOLS_KEYWARD_BENCH_FLAGS_H_
