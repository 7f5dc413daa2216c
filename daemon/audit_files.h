// The audit log's files on disk: the live file and the rotated ones beside
// it. Internal to the audit_log library; the scheme is documented in
// audit_log.h ("Rotation").
//
// For a live log at PATH, rotated files are "PATH.<n>" (n = 1, 2, ... in the
// order they were rotated) or, once compressed, "PATH.<n>.gz". The operator
// (or a log shipper) marks a rotated file as shipped with an empty file
// "PATH.<n>.shipped".
#ifndef KEYWARD_DAEMON_AUDIT_FILES_H_
#define KEYWARD_DAEMON_AUDIT_FILES_H_

#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace keyward::daemon::audit_internal {

// AuditFile is one file of a log: a rotated one (generation >= 1) or the
// live one (generation 0).
struct AuditFile {
  uint64_t generation = 0;
  std::string path;  // as found: "PATH.<n>", "PATH.<n>.gz" or PATH
  bool compressed = false;
};

// RotatedFiles lists the rotated files of the log at `live_path`, oldest
// (lowest generation) first. A generation found both plain and compressed
// (a compression in progress) is listed once, plain.
std::vector<AuditFile> RotatedFiles(const std::string& live_path);

// RotatedName is "PATH.<n>"; ShippedMarker is "PATH.<n>.shipped".
std::string RotatedName(const std::string& live_path, uint64_t generation);
std::string ShippedMarker(const std::string& live_path, uint64_t generation);

// LineReader reads a file line by line: through zlib if its name ends in
// ".gz", as it is otherwise (so a plain log whose bytes happen to start
// with gzip's magic is read as the bytes it holds, as AuditLog::Open reads
// it). Not thread-safe.
class LineReader {
 public:
  LineReader() = default;
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // Open opens `path` to read at most its first `limit` bytes
  // (uncompressed); false (errno set) if it cannot be opened.
  bool Open(const std::string& path, uint64_t limit = UINT64_MAX);
  // Next reads the next line into `line` (without its newline) and says
  // whether it ended with one (`complete`); false at the end of the file or
  // on a read error (then error() is true).
  bool Next(std::string* line, bool* complete);
  bool error() const { return error_; }
  // at_limit: the reader stopped at `limit`, not at the end of the file.
  bool at_limit() const { return at_limit_; }
  // offset: where the line last returned starts (uncompressed bytes).
  uint64_t offset() const { return line_start_; }

 private:
  // Read reads up to `size` bytes: the count, 0 at the end, -1 on error.
  int Read(char* out, unsigned size);

  gzFile file_ = nullptr;  // a ".gz" file
  int fd_ = -1;            // any other
  std::string buffer_;
  size_t at_ = 0;
  uint64_t consumed_ = 0;  // bytes before buffer_[0]
  uint64_t line_start_ = 0;
  uint64_t limit_ = UINT64_MAX;
  bool eof_ = false;
  bool error_ = false;
  bool at_limit_ = false;
};

// FirstSequence reads the "seq" of the first record of `path` (plain or
// compressed); false if it has none or cannot be read.
bool FirstSequence(const std::string& path, uint64_t* seq);

// CompressFile writes `path` gzip-compressed to "<path>.gz" (through a
// temporary file, synced, then renamed; with `path`'s modification time),
// then removes `path`. On failure
// nothing is left but `path`.
absl::Status CompressFile(const std::string& path);

// LiveFileFacts: what the first record of a live file says: the sequence
// of its rotation header (0 if it has none) and its time (InfinitePast if
// the file is empty or unreadable).
struct LiveFileFacts {
  uint64_t header_seq = 0;
  absl::Time start = absl::InfinitePast();
};
LiveFileFacts ReadLiveFileFacts(const std::string& path);

// kRotationHeader is the operation of a rotated-to file's first record.
inline constexpr absl::string_view kRotationHeader = "AUDIT_ROTATED";

// CleanUpRotation removes what a crash in the middle of a rotation left at
// `live_path`: the new file not yet in place ("<path>.rotating"; its records
// were never accepted), and a newest rotated file that is still the live
// one (hard-linked, not yet replaced). UNAVAILABLE if it cannot.
absl::Status CleanUpRotation(const std::string& live_path);

// SyncDirOf fsyncs the directory holding `path` (so that a rename or an
// unlink in it is durable); 0 or -1 with errno.
int SyncDirOf(const std::string& path);

}  // namespace keyward::daemon::audit_internal

#endif  // KEYWARD_DAEMON_AUDIT_FILES_H_
