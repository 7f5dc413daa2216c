// AuditLog: an append-only, hash-chained record of every call.
//
// One JSON object per line:
//   {"seq":7,"time":"2026-11-27T17:30:00.123456Z","principal":"unix:uid:1000",
//    "method":"/keyward.v1.CryptoService/Sign","operation":"SIGN",
//    "resource":"keys/payments","version":3,"code":"OK","request_id":"...",
//    "prev":"<hex sha256>","hash":"<hex sha256>"}
// `hash` = SHA-256(prev_hash_bytes || the line up to and excluding
// `,"hash":...`); the first record's prev is 32 zero bytes. Records never
// hold plaintext, signatures, MACs or key material.
//
// Durability: Append returns only after the record is written and
// fdatasync'ed. Concurrent appends share one fdatasync (group commit). If a
// record cannot be made durable, Append fails and the caller must fail the
// operation (UNAVAILABLE): no audit record, no result.
#ifndef KEYWARD_DAEMON_AUDIT_LOG_H_
#define KEYWARD_DAEMON_AUDIT_LOG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace keyward::daemon {

struct AuditEntry {
  std::string principal;
  std::string method;
  std::string operation;
  std::string resource;
  int32_t version = 0;  // 0: none
  std::string code;     // "OK", "PERMISSION_DENIED", ...
  std::string request_id;
};

class AuditLog {
 public:
  // Open opens (creating 0600) the log at `path` and finds its last record.
  // DATA_LOSS if the last record cannot be read back.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(const std::string& path);
  ~AuditLog();

  // Append adds `entry` and returns its sequence number once durable.
  // UNAVAILABLE if it could not be written or synced. Thread-safe.
  absl::StatusOr<uint64_t> Append(const AuditEntry& entry);

  uint64_t last_sequence() const;

  // Verify reads the log at `path` from the start and checks the chain.
  // NOT_FOUND if it cannot be read.
  struct Verdict {
    uint64_t records_checked = 0;  // intact records before any break
    uint64_t first_bad = 0;        // 0 if the chain is intact
    std::string problem;           // what is wrong with record first_bad
  };
  static absl::StatusOr<Verdict> Verify(const std::string& path);

  // Read returns up to `max` records with sequence >= `start`, each as its
  // JSON line (without the newline). NOT_FOUND if the log cannot be read.
  static absl::StatusOr<std::vector<std::string>> Read(const std::string& path,
                                                       uint64_t start,
                                                       size_t max);

  const std::string& path() const { return path_; }

 private:
  AuditLog(std::string path, int fd, uint64_t seq, std::string last_hash)
      : path_(std::move(path)),
        fd_(fd),
        next_seq_(seq + 1),
        last_hash_(std::move(last_hash)) {}

  bool NotFlushing() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !flushing_;
  }

  const std::string path_;
  const int fd_;
  mutable absl::Mutex mu_;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_);
  std::string last_hash_ ABSL_GUARDED_BY(mu_);
  std::string pending_ ABSL_GUARDED_BY(mu_);  // lines not yet written
  uint64_t pending_last_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t durable_ ABSL_GUARDED_BY(mu_) = 0;  // last durable sequence
  bool flushing_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_AUDIT_LOG_H_
