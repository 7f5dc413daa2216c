// keyward-bench's flags, operations and key types (keyward_bench_flags.h).
#include "tools/keyward_bench_flags.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/cli.h"

ABSL_FLAG(std::string, target, "",
          "daemon address: unix:///path/to.sock (or a bare /path) or "
          "host:port; default $KEYWARD_ADDR");
ABSL_FLAG(std::string, op, "sign",
          "sign|verify|encrypt|decrypt|mac|sign-batch|jwt-sign|jwt-verify|noop");
ABSL_FLAG(std::string, key_type, "",
          "key type by its CLI name (`keyward key create --type`); a type "
          "the bench has no baseline for is refused with the list; default: "
          "ed25519 for sign/verify/sign-batch, aes256-gcm for "
          "encrypt/decrypt, hmac-sha256 for mac, ecdsa-p256 (ES256) for jwt-*");
ABSL_FLAG(std::string, key, "",
          "use this existing key (NAME or keys/NAME) instead of creating "
          "kwb-<op>-<type>-<pid>-<time>");
ABSL_FLAG(int, payload, 1024, "bytes of data (or plaintext) per item");
ABSL_FLAG(int, inflight, 32,
          "closed loop: calls kept in flight (a new one starts as one ends)");
ABSL_FLAG(double, rate, 0,
          "open loop: start this many calls per second, whatever the "
          "latency; latency counts from when a call was due. 0: closed loop");
ABSL_FLAG(int, max_inflight, 2000,
          "open loop: calls due while this many are outstanding are not "
          "sent and are counted as errors (DROPPED)");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "measured time");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2),
          "load before the measured window (not counted)");
ABSL_FLAG(int, batch, 64, "items per call for sign-batch");
ABSL_FLAG(int, daemon_pid, 0,
          "daemon pid for its CPU time (/proc/PID/stat); default: found "
          "from the Unix socket (SO_PEERCRED)");
ABSL_FLAG(bool, json, false, "print one JSON object instead of text");
ABSL_FLAG(bool, compare, false,
          "measure (a) the raw library in process, (b) noop, (c) the op, "
          "--runs times each, and print medians and ratios");
ABSL_FLAG(int, runs, 3, "runs of each of (a), (b), (c) with --compare");
ABSL_FLAG(int, threads, 0, "threads for (a) with --compare; 0 = cores");
ABSL_FLAG(std::string, noop_call, "whoami",
          "what noop calls: whoami (AccessService/WhoAmI: identify, audit) "
          "or status (SystemService/GetStatus: the same plus a SQLite "
          "COUNT(*) of the keys)");
ABSL_FLAG(int, channels, 1,
          "gRPC channels (connections) the calls are spread over");
ABSL_FLAG(std::string, mode, "unary",
          "unary: one call per operation; stream: operations as items over "
          "one DataPlaneService.Stream per channel (keyward::StreamMux, "
          "which coalesces the items submitted during a write); coalesced: "
          "--inflight threads calling keyward::Client (one per channel) "
          "with ClientOptions.coalesce, closed loop only. stream and "
          "coalesced carry sign, verify, encrypt, decrypt, mac, jwt-sign, "
          "jwt-verify");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(30), "per-call deadline");
ABSL_FLAG(std::string, fsync_probe, "",
          "before each daemon run, time 50 appends + fdatasync of a 300-byte "
          "line to a scratch file in this directory (use the daemon's audit "
          "log directory): the audit log's durability cost on that disk");

namespace keyward::bench {

void Die(const std::string& what) {
  std::fprintf(stderr, "keyward-bench: %s\n", what.c_str());
  std::exit(1);
}

namespace {

struct OpName {
  Op op;
  const char* name;
};
constexpr OpName kOps[] = {
    {Op::kSign, "sign"},         {Op::kVerify, "verify"},
    {Op::kEncrypt, "encrypt"},   {Op::kDecrypt, "decrypt"},
    {Op::kMac, "mac"},           {Op::kSignBatch, "sign-batch"},
    {Op::kJwtSign, "jwt-sign"},  {Op::kJwtVerify, "jwt-verify"},
    {Op::kNoop, "noop"},
};

struct ModeName {
  Mode mode;
  const char* name;
};
constexpr ModeName kModes[] = {
    {Mode::kUnary, "unary"},
    {Mode::kStream, "stream"},
    {Mode::kCoalesced, "coalesced"},
};

const KeyTypeInfo kKeyTypes[] = {
    {pb::KEY_TYPE_ED25519, crypto::KeyType::kEd25519,
     crypto::SignatureAlgorithm::kEd25519},
    {pb::KEY_TYPE_ECDSA_P256, crypto::KeyType::kEcdsaP256,
     crypto::SignatureAlgorithm::kEcdsaP256Sha256Der},
    {pb::KEY_TYPE_RSA_2048, crypto::KeyType::kRsa2048,
     crypto::SignatureAlgorithm::kRsaPssSha256},
    {pb::KEY_TYPE_AES256_GCM, crypto::KeyType::kAes256Gcm,
     crypto::SignatureAlgorithm::kEd25519},
    {pb::KEY_TYPE_HMAC_SHA256, crypto::KeyType::kHmacSha256,
     crypto::SignatureAlgorithm::kEd25519},
};

const KeyTypeInfo* FindKeyType(pb::KeyType proto) {
  for (const KeyTypeInfo& k : kKeyTypes) {
    if (k.proto == proto) return &k;
  }
  return nullptr;
}

}  // namespace

std::string KeyTypeInfo::name() const { return cli::KeyTypeName(proto); }

bool IsSigning(const KeyTypeInfo& k) {
  return k.type == crypto::KeyType::kEd25519 ||
         k.type == crypto::KeyType::kEcdsaP256 ||
         k.type == crypto::KeyType::kRsa2048;
}

const char* NameOf(Op op) {
  for (const OpName& o : kOps) {
    if (o.op == op) return o.name;
  }
  return "?";
}

absl::StatusOr<Op> ParseOp(absl::string_view name) {
  for (const OpName& o : kOps) {
    if (name == o.name) return o.op;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown --op '", name, "'"));
}

const char* NameOf(Mode mode) {
  for (const ModeName& m : kModes) {
    if (m.mode == mode) return m.name;
  }
  return "?";
}

absl::StatusOr<Mode> ParseMode(absl::string_view name) {
  for (const ModeName& m : kModes) {
    if (name == m.name) return m.mode;
  }
  return absl::InvalidArgumentError(
      "--mode must be unary, stream or coalesced");
}

// ParseBenchKeyType takes a key type's CLI name; INVALID_ARGUMENT for a name
// the CLI does not know, or a type with no baseline here (naming those that
// have one).
absl::StatusOr<const KeyTypeInfo*> ParseBenchKeyType(absl::string_view name) {
  absl::StatusOr<pb::KeyType> proto = cli::ParseKeyType(name);
  if (!proto.ok()) return proto.status();
  if (const KeyTypeInfo* k = FindKeyType(*proto)) return k;
  std::vector<std::string> names;
  for (const KeyTypeInfo& k : kKeyTypes) names.push_back(k.name());
  return absl::InvalidArgumentError(
      absl::StrCat("keyward-bench has no baseline for key type ", name,
                   "; one of: ", absl::StrJoin(names, ", ")));
}

const KeyTypeInfo& DefaultKeyType(Op op) {
  switch (op) {
    case Op::kEncrypt:
    case Op::kDecrypt:
      return *FindKeyType(pb::KEY_TYPE_AES256_GCM);
    case Op::kMac:
      return *FindKeyType(pb::KEY_TYPE_HMAC_SHA256);
    case Op::kJwtSign:
    case Op::kJwtVerify:
      return *FindKeyType(pb::KEY_TYPE_ECDSA_P256);
    default:
      return *FindKeyType(pb::KEY_TYPE_ED25519);
  }
}

// Whether `op` can use a key of type `k`; the message says why not.
absl::Status Fits(Op op, const KeyTypeInfo& k) {
  bool ok = false;
  switch (op) {
    case Op::kSign:
    case Op::kVerify:
    case Op::kSignBatch:
      ok = IsSigning(k);
      break;
    case Op::kEncrypt:
    case Op::kDecrypt:
      ok = k.type == crypto::KeyType::kAes256Gcm ||
           k.type == crypto::KeyType::kRsa2048;
      break;
    case Op::kMac:
      ok = k.type == crypto::KeyType::kHmacSha256;
      break;
    case Op::kJwtSign:
    case Op::kJwtVerify:
      ok = IsSigning(k) || k.type == crypto::KeyType::kHmacSha256;
      break;
    case Op::kNoop:
      ok = true;
      break;
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "--op ", NameOf(op), " cannot use --key-type ", k.name()));
}

pb::KeyPurpose PurposeFor(Op op) {
  switch (op) {
    case Op::kEncrypt:
    case Op::kDecrypt:
      return pb::KEY_PURPOSE_ENCRYPT_DECRYPT;
    case Op::kMac:
      return pb::KEY_PURPOSE_MAC;
    case Op::kJwtSign:
    case Op::kJwtVerify:
      return pb::KEY_PURPOSE_JWT;
    default:
      return pb::KEY_PURPOSE_SIGN_VERIFY;
  }
}

std::vector<char*> NormalizeFlags(int argc, char** argv,
                                  std::vector<std::string>* storage) {
  storage->reserve(argc);
  std::vector<char*> out;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (i > 0 && absl::StartsWith(a, "--") && a.size() > 2) {
      size_t eq = a.find('=');
      for (size_t j = 2; j < std::min(eq, a.size()); ++j) {
        if (a[j] == '-') a[j] = '_';
      }
    }
    storage->push_back(a);
  }
  for (std::string& s : *storage) out.push_back(s.data());
  return out;
}

}  // namespace keyward::bench
