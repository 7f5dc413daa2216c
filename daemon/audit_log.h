// AuditLog: an append-only, hash-chained record of every call.
//
// One JSON object per line:
//   {"seq":7,"time":"2026-11-27T17:30:00.123456Z","principal":"unix:uid:1000",
//    "method":"/keyward.v1.CryptoService/Sign","operation":"SIGN",
//    "resource":"keys/payments","version":3,"code":"OK","request_id":"...",
//    "prev":"<hex sha256>","hash":"<hex sha256>"}
// The daemon's own records may carry a "note" (a sentence for a person)
// between "request_id" and "prev".
// `hash` = SHA-256(prev_hash_bytes || the line up to and excluding
// `,"hash":...`); the first record's prev is 32 zero bytes. Records never
// hold plaintext, signatures, MACs or key material.
//
// Durability (AuditLogOptions::fsync, config.proto's AuditFsync):
// - kEveryRecord (the default): Append returns only after the record is
//   written and fdatasync'ed. Concurrent appends share one fdatasync (group
//   commit). A failed fdatasync is final, as a failed write is (below).
// - kInterval: Append returns once the record is written (write(2)); a
//   background thread fdatasyncs at most once per fsync_interval, and the
//   destructor syncs what is left. A power loss can lose up to one interval
//   of acknowledged records. A failed fdatasync is logged, and every Append
//   fails until a retry (one per interval) succeeds.
// In both modes, if a record cannot be written, Append fails and the caller
// must fail the operation (UNAVAILABLE): no audit record, no result.
//
// Outages and recovery: when a write (or a kEveryRecord fdatasync) fails,
// the log cuts itself back to its last accepted record (a torn record, or
// records whose calls are now refused, never stay in it), refuses every
// Append, and counts what it refused. Each later Append first tries to
// recover: cut the file back again, sync it, and go on. The first record
// written after an outage is a gap record (principal "keywardd", method
// "daemon", operation "AUDIT_RESUMED", a "note" saying how many calls were
// refused, from when to when, and why), so the log itself shows the gap.
// health() reports the state for GetStatus. With kInterval, a failed
// background fdatasync is an outage too (records already acknowledged stay:
// they were written), with the same refusals, counts and gap record.
//
// Torn tails: Open quarantines bytes after the last newline (a crash
// mid-write; never acknowledged) to "<path>.torn-<unix time>" and cuts them
// off; Verify reports such a tail precisely.
#ifndef KEYWARD_DAEMON_AUDIT_LOG_H_
#define KEYWARD_DAEMON_AUDIT_LOG_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace keyward::daemon {

struct AuditEntry {
  std::string principal;
  std::string method;
  std::string operation;
  std::string resource;
  int32_t version = 0;  // 0: none
  std::string code;     // "OK", "PERMISSION_DENIED", ...
  std::string request_id;
  // A fact for a person, never secret ("note" in the line; omitted if
  // empty). Only the daemon's own records carry one.
  std::string note;
};

// AuditTail reads the complete lines appended to a log file since its last
// call, from the start (tail -f for followers). Not thread-safe.
class AuditTail {
 public:
  explicit AuditTail(std::string path) : path_(std::move(path)) {}
  ~AuditTail();
  AuditTail(const AuditTail&) = delete;
  AuditTail& operator=(const AuditTail&) = delete;
  // Next returns up to `max` whole lines (without newlines) not returned
  // before, from the first `limit` bytes of the file (the writer's
  // accepted_size(): a record past it may yet be cut off); a line still
  // being written waits for a later call. NOT_FOUND if the file cannot be
  // opened; ABORTED if the file was cut back below what was read (records
  // of refused calls removed after a failed write), naming where to resume.
  absl::StatusOr<std::vector<std::string>> Next(size_t max,
                                                uint64_t limit = UINT64_MAX);

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t offset_ = 0;    // bytes read from the file
  uint64_t last_seq_ = 0;  // of the last line returned
  std::string buffer_;     // read, not yet returned
};

// AuditFsyncMode is when records are flushed to stable storage (see the
// file comment).
enum class AuditFsyncMode { kEveryRecord, kInterval };

struct AuditLogOptions {
  AuditFsyncMode fsync = AuditFsyncMode::kEveryRecord;
  // With kInterval: two fdatasyncs are at least this far apart, and a
  // written record is synced about this long after the previous sync (the
  // sync thread sleeps while nothing is written). Must be positive.
  // Ignored with kEveryRecord.
  absl::Duration fsync_interval = absl::Seconds(1);
  // sync flushes `fd` to stable storage and returns 0, or -1 with errno set,
  // as fdatasync(2) does (the default when empty). Tests inject faults here.
  std::function<int(int fd)> sync;
  // write writes to `fd` as write(2) does (the default when empty), for
  // tests to inject short writes and ENOSPC.
  std::function<ssize_t(int fd, const void* data, size_t size)> write;
};

// AuditHealth: whether the log accepts records, and the current outage.
struct AuditHealth {
  bool writable = true;
  // Set while an outage lasts (until its gap record is written).
  absl::Time failing_since = absl::InfinitePast();
  std::string error;       // the last failure, e.g. "write: No space left"
  uint64_t refused = 0;    // calls refused in this outage
  uint64_t outages = 0;    // outages since the log was opened
};

class AuditLog {
 public:
  // Open opens (creating 0600) the log at `path` and finds its last record;
  // with kInterval it starts the sync thread. DATA_LOSS if the last record
  // cannot be read back; INVALID_ARGUMENT if fsync_interval is not positive.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(
      const std::string& path, AuditLogOptions options = AuditLogOptions());
  // The destructor syncs records not yet synced (kInterval; a failure is
  // logged) and closes the file. No Append may be running.
  ~AuditLog();

  // Append adds `entry` and returns its sequence number once it is durable
  // (kEveryRecord) or written (kInterval). UNAVAILABLE if it could not be
  // written or synced, or (kInterval) while the last fdatasync has failed;
  // a refused entry takes no sequence number. Thread-safe.
  absl::StatusOr<uint64_t> Append(const AuditEntry& entry);
  // AppendAll adds `entries` in order, consecutively, with one write (and
  // with kEveryRecord one fdatasync) for all, and returns the last one's
  // sequence number; all or none are accepted. For batch calls.
  absl::StatusOr<uint64_t> AppendAll(absl::Span<const AuditEntry> entries);

  uint64_t last_sequence() const;
  AuditHealth health() const;
  // Probe, during an outage, tries to write the gap record that ends it
  // (and nothing else), so that GetStatus sees a recovered disk even when no
  // other call comes. Thread-safe.
  void Probe();
  // accepted_size: the bytes of the file that hold accepted records (durable
  // ones with kEveryRecord); a reader of the live log stops there, since a
  // record past it may be half-written.
  uint64_t accepted_size() const;

  // WaitForNew waits until a record after `seq` is written (or, with
  // kEveryRecord, durable), `timeout` passes, or the log is closing, and
  // returns the last written sequence. For followers (ReadAuditLog follow).
  uint64_t WaitForNew(uint64_t seq, absl::Duration timeout);

  // Verify reads the first `max_bytes` of the log at `path` and checks the
  // chain. A last line with no newline is a torn record: reported as
  // first_bad with its offset and length. NOT_FOUND if it cannot be read.
  struct Verdict {
    uint64_t records_checked = 0;  // intact records before any break
    uint64_t first_bad = 0;        // 0 if the chain is intact
    std::string problem;           // what is wrong with record first_bad
    // A torn tail: where it starts and how long it is (0 if none).
    uint64_t torn_offset = 0;
    uint64_t torn_bytes = 0;
  };
  static absl::StatusOr<Verdict> Verify(const std::string& path,
                                        uint64_t max_bytes = UINT64_MAX);

  // Read returns up to `max` records with sequence >= `start`, each as its
  // JSON line (without the newline), from the first `max_bytes` of the file
  // (a live log passes accepted_size()); a torn last line is not returned.
  // NOT_FOUND if the log cannot be read.
  static absl::StatusOr<std::vector<std::string>> Read(
      const std::string& path, uint64_t start, size_t max,
      uint64_t max_bytes = UINT64_MAX);

  const std::string& path() const { return path_; }

 private:
  AuditLog(std::string path, int fd, uint64_t seq, std::string last_hash,
           uint64_t size, AuditLogOptions options);

  bool NotFlushing() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !flushing_;
  }
  bool SyncWanted() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || written_ > durable_ || !sync_error_.empty();
  }
  int Sync() const;  // options_.sync or fdatasync; keeps errno
  bool Write(absl::string_view data) const;  // all of it, or false + errno
  // Write appends `entries` (after the gap record, if one is due); with none,
  // only the gap record (Probe).
  absl::StatusOr<uint64_t> Write(absl::Span<const AuditEntry> entries);
  // Fail handles a failed write or sync: cut the file back to the accepted
  // records, discard every record not yet accepted (their Appends fail),
  // and start or extend the outage.
  void Fail(const char* call, int error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Recover tries to end the failed state: cut back and sync the file.
  bool Recover() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Chain adds the line of a record with `middle` (its fields between
  // "time" and "prev") to pending_ and returns its sequence number.
  uint64_t Chain(absl::string_view middle, const std::string& time)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // TimeField returns `now` as a record's "time" (RFC 3339, UTC, in
  // microseconds), reusing the formatted second while it lasts.
  const std::string& TimeField(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // SyncThread is the kInterval background loop; SyncWritten syncs what is
  // written, records the outcome and logs failures and recovery.
  void SyncThread();
  void SyncWritten() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  const int fd_;
  const AuditLogOptions options_;
  mutable absl::Mutex mu_;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_);
  std::string last_hash_ ABSL_GUARDED_BY(mu_);
  std::string last_hash_hex_ ABSL_GUARDED_BY(mu_);  // last_hash_ in hex
  std::string pending_ ABSL_GUARDED_BY(mu_);  // lines not yet written
  uint64_t pending_last_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;  // last written sequence
  uint64_t durable_ ABSL_GUARDED_BY(mu_) = 0;  // last synced sequence
  bool flushing_ ABSL_GUARDED_BY(mu_) = false;  // a leader is writing
  std::string time_field_ ABSL_GUARDED_BY(mu_);    // TimeField's cache
  int64_t time_second_ ABSL_GUARDED_BY(mu_) = -1;  // the second it shows
  // The chain as of the last accepted record, and the file's size then.
  uint64_t accepted_seq_ ABSL_GUARDED_BY(mu_);
  std::string accepted_hash_ ABSL_GUARDED_BY(mu_);
  uint64_t accepted_size_ ABSL_GUARDED_BY(mu_);
  std::string pending_last_hash_ ABSL_GUARDED_BY(mu_);
  // An Append waiting for its records (the last is `last`, `count` in all)
  // to be accepted, or refused by a failure that discards them.
  struct Ticket {
    uint64_t last;
    size_t count;
    bool settled = false;
    bool accepted = false;
  };
  std::vector<Ticket*> tickets_ ABSL_GUARDED_BY(mu_);  // by `last`
  // A write (or a kEveryRecord fdatasync) failed, and no recovery since.
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  AuditHealth health_ ABSL_GUARDED_BY(mu_);
  bool in_outage_ ABSL_GUARDED_BY(mu_) = false;  // until the gap record
  uint64_t gap_seq_ ABSL_GUARDED_BY(mu_) = 0;    // the gap record, queued
  // kInterval only: the sync thread's state.
  std::string sync_error_ ABSL_GUARDED_BY(mu_);  // last fdatasync failed
  uint64_t sync_failures_ ABSL_GUARDED_BY(mu_) = 0;  // since the last success
  absl::Time last_sync_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread sync_thread_;
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_AUDIT_LOG_H_
