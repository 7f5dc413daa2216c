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
//
// Rotation: the live file at <path> is rotated when it holds rotate_bytes,
// when rotate_interval has passed since it began, or on request (Rotate,
// RequestRotate: `keyward audit rotate`, SIGHUP). The old file becomes
// "<path>.<n>" (n = 1, 2, ... in rotation order; "<path>.<n>.gz" once
// compressed) and the new live file starts with a header record: principal
// "keywardd", method "daemon", operation "AUDIT_ROTATED", resource the old
// file's name, a "note" naming it and its last record. The header is a
// record of the one chain: its seq follows the old file's last record and
// its prev is that record's hash, so the chain runs on across files.
// Rotation is an audit write: its records (the old file's last ones, then
// the header) are accepted only once both files are synced and renamed
// into place, and a failure (a full disk) is an outage like any other:
// nothing is renamed, no record is lost, the calls waiting are refused, and
// the next attempt rotates (header first, then the gap record). The switch
// is crash-safe: the new file is written and synced as "<path>.rotating",
// the old one hard-linked to "<path>.<n>", then the new one renamed over
// <path>; Open removes what a crash between these steps leaves.
// A housekeeping thread (never under the append lock) rotates by age,
// gzips rotated files (compress) and removes the oldest ones beyond
// keep_files or older than keep_age, always the oldest first so that the
// files kept form one unbroken chain; with require_shipped, a file is
// removed only once "<path>.<n>.shipped" exists (the operator's or log
// shipper's mark), else it is kept (and with it every newer one) and a
// warning is logged.
#ifndef KEYWARD_DAEMON_AUDIT_LOG_H_
#define KEYWARD_DAEMON_AUDIT_LOG_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
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

namespace audit_internal {
class LineReader;  // audit_files.h
}  // namespace audit_internal

struct AuditEntry {
  std::string principal;
  std::string method;
  std::string operation;
  std::string resource;
  int32_t version = 0;  // 0: none
  std::string code;     // "OK", "PERMISSION_DENIED", ...
  std::string request_id;
  // A fact for a person, never secret ("note" in the line; omitted if
  // empty): the daemon's own records, and calls that set one
  // (Rpc::SetAuditNote, e.g. an import of a legacy short secret).
  std::string note;
};

// AuditPosition: which file is the live one (its inode) and how many of
// its bytes hold accepted records.
struct AuditPosition {
  uint64_t inode = 0;
  uint64_t size = UINT64_MAX;
};

// AuditTail reads the complete lines appended to a log (tail -f for
// followers), following it across rotations. Not thread-safe.
class AuditTail {
 public:
  // A tail of the log at `path` starts with the record `start` (from the
  // rotated file that holds it, if any; 0: from the start of the live
  // file).
  explicit AuditTail(std::string path, uint64_t start = 0);
  ~AuditTail();
  AuditTail(const AuditTail&) = delete;
  AuditTail& operator=(const AuditTail&) = delete;
  // Next returns up to `max` whole lines (without newlines) not returned
  // before. From the live file (the one whose inode is `live.inode`; any
  // file when it is 0) it reads only the first `live.size` bytes (the
  // writer's position(): a record past it may yet be cut off); a line still
  // being written waits for a later call. A file rotated away is read to
  // its end, then the tail goes on with the file whose first record follows
  // its last. NOT_FOUND if the log cannot be opened; ABORTED if the live
  // file was cut back below what was read (records of refused calls removed
  // after a failed write), naming where to resume; DATA_LOSS if the file
  // that follows cannot be found (removed by retention before it was read).
  absl::StatusOr<std::vector<std::string>> Next(size_t max,
                                                AuditPosition live);
  absl::StatusOr<std::vector<std::string>> Next(size_t max,
                                                uint64_t limit = UINT64_MAX) {
    return Next(max, AuditPosition{0, limit});
  }

 private:
  // OpenNext opens the file holding record `seq` (the first one if 0).
  absl::Status OpenNext(uint64_t seq);

  std::string path_;
  uint64_t start_;
  // The file being read: a rotated one through reader_, else the live one
  // (or one that was live when opened) at fd_.
  std::unique_ptr<audit_internal::LineReader> reader_;
  int fd_ = -1;
  uint64_t inode_ = 0;     // of fd_
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

  // Rotation and retention (see the file comment). rotate_bytes: rotate once
  // the live file holds at least this many bytes (0: not by size).
  // rotate_interval: once it began this long ago (zero: not by age).
  uint64_t rotate_bytes = 0;
  absl::Duration rotate_interval = absl::ZeroDuration();
  // Rotated files kept: at most keep_files (0: any number), none older than
  // keep_age by its last change (zero: any age).
  uint32_t keep_files = 0;
  absl::Duration keep_age = absl::ZeroDuration();
  // compress: gzip rotated files. require_shipped: remove a rotated file
  // only once its "<path>.<n>.shipped" marker exists.
  bool compress = false;
  bool require_shipped = false;
};

// AuditRotation: what a rotation did.
struct AuditRotation {
  std::string rotated_file;     // the old live file's new name
  uint64_t last_sequence = 0;   // its last record
  uint64_t first_sequence = 0;  // the new file's header record
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
  // with kInterval it starts the sync thread; it starts the housekeeping
  // thread. DATA_LOSS if the last record cannot be read back;
  // INVALID_ARGUMENT if fsync_interval is not positive or a rotation or
  // retention option is negative.
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
  // accepted_size: the bytes of the live file that hold accepted records
  // (durable ones with kEveryRecord); a reader of the live log stops there,
  // since a record past it may be half-written. position() adds which file
  // that is (for AuditTail across rotations).
  uint64_t accepted_size() const;
  AuditPosition position() const;

  // Rotate rotates the live file now and returns what it did, once the new
  // file's header is accepted. FAILED_PRECONDITION if the live file holds no
  // record but its own header; UNAVAILABLE if the rotation (an audit
  // write) failed: the log is then in an outage and the next write rotates.
  // Thread-safe.
  absl::StatusOr<AuditRotation> Rotate();
  // RequestRotate asks the housekeeping thread to Rotate soon; it returns
  // at once (for a signal handler's thread). Thread-safe.
  void RequestRotate();
  // Housekeep compresses rotated files and applies retention now (the
  // housekeeping thread does it after each rotation). Failures are logged
  // and retried on the next pass. Thread-safe.
  void Housekeep();

  // WaitForNew waits until a record after `seq` is written (or, with
  // kEveryRecord, durable), `timeout` passes, or the log is closing, and
  // returns the last written sequence. For followers (ReadAuditLog follow).
  uint64_t WaitForNew(uint64_t seq, absl::Duration timeout);

  // Verify checks the chain across every file of the log at `path`: its
  // rotated files in order (compressed or not), then the first `max_bytes`
  // of the live file. Each file must go on from the one before (its first
  // record following the other's last); the oldest file kept starts the
  // chain (with prev zero if it starts at record 1, else trusted: older
  // files were removed by retention). A last line of the live file with no
  // newline is a torn record: reported as first_bad with its offset and
  // length. NOT_FOUND if the live file cannot be read.
  //
  // `start` and `end` narrow the check to records start..end (0: from the
  // first kept, to the last): a range starting after the oldest record kept
  // trusts the prev hash stated by its first record, and records after
  // `end` are not read. A record missing inside the range is a break.
  struct Verdict {
    uint64_t records_checked = 0;  // intact records before any break
    uint64_t first_bad = 0;        // 0 if the chain is intact
    std::string problem;           // what is wrong with record first_bad
    // A torn tail: where it starts and how long it is (0 if none).
    uint64_t torn_offset = 0;
    uint64_t torn_bytes = 0;
    uint64_t files_checked = 0;
    uint64_t first_sequence = 0;  // of the oldest record checked
    std::string file;             // the file holding first_bad
    uint64_t offset = 0;          // where first_bad starts in it
  };
  static absl::StatusOr<Verdict> Verify(const std::string& path,
                                        uint64_t max_bytes = UINT64_MAX,
                                        uint64_t start = 0,
                                        uint64_t end = 0);

  // Read returns up to `max` records with sequence >= `start`, each as its
  // JSON line (without the newline), across the log's files (rotated ones
  // too), reading the first `max_bytes` of the live file (a live log passes
  // accepted_size()); a torn last line is not returned. NOT_FOUND if the
  // log cannot be read.
  static absl::StatusOr<std::vector<std::string>> Read(
      const std::string& path, uint64_t start, size_t max,
      uint64_t max_bytes = UINT64_MAX);

  const std::string& path() const { return path_; }

 private:
  // File is an open log file; the live one is shared with a sync in
  // progress, so that a rotation may replace it meanwhile. Closed when the
  // last holder lets go.
  struct File {
    explicit File(int fd);
    ~File();
    File(const File&) = delete;
    File& operator=(const File&) = delete;
    const int fd;
    uint64_t inode = 0;
  };

  AuditLog(std::string path, int fd, uint64_t seq, std::string last_hash,
           uint64_t size, AuditLogOptions options);

  bool NotFlushing() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !flushing_;
  }
  bool SyncWanted() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || written_ > durable_ || !sync_error_.empty();
  }
  bool HousekeepingWanted() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || housekeeping_wanted_;
  }
  int Sync(int fd) const;  // options_.sync or fdatasync; keeps errno
  // Write writes all of `data` to `fd`, or returns false with errno set.
  bool Write(int fd, absl::string_view data) const;
  // Write appends `entries` (after the rotation header and the gap record,
  // if due); with none, only what is due (Probe, Rotate).
  absl::StatusOr<uint64_t> Write(absl::Span<const AuditEntry> entries);
  // Accept records that the records up to `upto` (whose hash is `hash`,
  // `bytes` of the live file) are written (and synced, if `durable`):
  // their Appends succeed, and an outage whose gap record is among them
  // ends.
  void Accept(uint64_t upto, const std::string& hash, uint64_t bytes,
              bool durable) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
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

  // Rotation (audit_rotate.cc). HasRecords: the live file holds (or will
  // hold) a record besides its header. RotationDue: a rotation is asked
  // for, by request, size or age. ChainHeader queues the new file's header
  // record; what is pending before it goes to the old file.
  bool HasRecords() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool RotationDue(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ChainHeader(const std::string& time) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // SwitchFile writes `data` (the header and what follows) to a new file,
  // syncs it, moves the live file to generation `generation` and puts the
  // new one in its place. nullptr and `opened` on success; else the call
  // that failed, with `error`, and nothing changed on disk.
  const char* SwitchFile(absl::string_view data, uint64_t generation,
                         std::shared_ptr<File>* opened, int* error) const;
  // Installed makes the new file live after a successful switch.
  void Installed(std::shared_ptr<File> file, uint64_t header_seq,
                 uint64_t generation) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HousekeepingThread();

  const std::string path_;
  const AuditLogOptions options_;
  mutable absl::Mutex mu_;
  std::shared_ptr<File> file_ ABSL_GUARDED_BY(mu_);  // the live file
  bool regular_file_ ABSL_GUARDED_BY(mu_) = true;  // else never rotated
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

  // Rotation state. The live file began at file_start_ with its header
  // record file_header_seq_ (0: it has none); the next rotated file is
  // generation next_generation_.
  absl::Time file_start_ ABSL_GUARDED_BY(mu_);
  uint64_t file_header_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  bool rotate_requested_ ABSL_GUARDED_BY(mu_) = false;  // Rotate
  bool rotate_soon_ ABSL_GUARDED_BY(mu_) = false;       // RequestRotate
  // A header queued and not yet written (0: none): pending_ before
  // pending_split_ goes to the old file, ending with record split_seq_
  // (hash split_hash_).
  uint64_t header_seq_ ABSL_GUARDED_BY(mu_) = 0;
  size_t pending_split_ ABSL_GUARDED_BY(mu_) = std::string::npos;
  uint64_t split_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::string split_hash_ ABSL_GUARDED_BY(mu_);
  uint64_t rotations_ ABSL_GUARDED_BY(mu_) = 0;
  AuditRotation last_rotation_ ABSL_GUARDED_BY(mu_);
  bool housekeeping_wanted_ ABSL_GUARDED_BY(mu_) = false;
  std::thread housekeeping_thread_;
  // One Housekeep at a time; the generations already warned about as not
  // shipped.
  absl::Mutex housekeeping_mu_;
  std::set<uint64_t> unshipped_warned_ ABSL_GUARDED_BY(housekeeping_mu_);
};

}  // namespace keyward::daemon

#endif  // KEYWARD_DAEMON_AUDIT_LOG_H_
