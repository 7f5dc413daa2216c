#include "daemon/audit_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <map>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "daemon/audit_record.h"

namespace keyward::daemon::audit_internal {
namespace {

// Splits "DIR/NAME" (a bare NAME is in ".").
void SplitPath(const std::string& path, std::string* dir, std::string* base) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    *dir = ".";
    *base = path;
  } else {
    *dir = slash == 0 ? "/" : path.substr(0, slash);
    *base = path.substr(slash + 1);
  }
}

bool AllDigits(absl::string_view s) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

std::string RotatedName(const std::string& live_path, uint64_t generation) {
  return absl::StrCat(live_path, ".", generation);
}

std::string ShippedMarker(const std::string& live_path, uint64_t generation) {
  return absl::StrCat(live_path, ".", generation, ".shipped");
}

std::vector<AuditFile> RotatedFiles(const std::string& live_path) {
  std::string dir, base;
  SplitPath(live_path, &dir, &base);
  std::map<uint64_t, AuditFile> found;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return {};
  const std::string prefix = base + ".";
  while (struct dirent* entry = readdir(d)) {
    absl::string_view name(entry->d_name);
    if (!absl::ConsumePrefix(&name, prefix)) continue;
    const bool compressed = absl::ConsumeSuffix(&name, ".gz");
    uint64_t generation = 0;
    if (!AllDigits(name) || !absl::SimpleAtoi(name, &generation) ||
        generation == 0) {
      continue;
    }
    auto it = found.find(generation);
    if (it != found.end() && !it->second.compressed) continue;  // plain wins
    found[generation] = AuditFile{
        generation, absl::StrCat(live_path, ".", generation,
                                 compressed ? ".gz" : ""),
        compressed};
  }
  closedir(d);
  std::vector<AuditFile> files;
  files.reserve(found.size());
  for (auto& [generation, file] : found) files.push_back(std::move(file));
  return files;
}

LineReader::~LineReader() {
  if (file_ != nullptr) gzclose(file_);
  if (fd_ >= 0) close(fd_);
}

bool LineReader::Open(const std::string& path, uint64_t limit) {
  limit_ = limit;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  if (!absl::EndsWith(path, ".gz")) {
    fd_ = fd;
    return true;
  }
  file_ = gzdopen(fd, "rb");
  if (file_ == nullptr) {
    close(fd);
    errno = ENOMEM;
    return false;
  }
  gzbuffer(file_, 1 << 16);
  return true;
}

bool LineReader::Next(std::string* line, bool* complete) {
  while (true) {
    const size_t newline = buffer_.find('\n', at_);
    if (newline != std::string::npos) {
      line->assign(buffer_, at_, newline - at_);
      line_start_ = consumed_ + at_;
      at_ = newline + 1;
      *complete = true;
      return true;
    }
    if (eof_ || error_ || (file_ == nullptr && fd_ < 0)) {
      if (at_ >= buffer_.size()) return false;
      line->assign(buffer_, at_, std::string::npos);  // a last, torn line
      line_start_ = consumed_ + at_;
      at_ = buffer_.size();
      *complete = false;
      return true;
    }
    consumed_ += at_;
    buffer_.erase(0, at_);
    at_ = 0;
    char chunk[1 << 16];
    const uint64_t room = limit_ - consumed_ - buffer_.size();
    if (room == 0) {
      eof_ = at_limit_ = true;
      continue;
    }
    const int n =
        Read(chunk, static_cast<unsigned>(std::min<uint64_t>(sizeof(chunk), room)));
    if (n < 0) {
      error_ = true;
    } else if (n == 0) {
      eof_ = true;
    } else {
      buffer_.append(chunk, n);
    }
  }
}

int LineReader::Read(char* out, unsigned size) {
  if (file_ != nullptr) return gzread(file_, out, size);
  while (true) {
    const ssize_t n = read(fd_, out, size);
    if (n >= 0 || errno != EINTR) return static_cast<int>(n);
  }
}

bool FirstSequence(const std::string& path, uint64_t* seq) {
  LineReader reader;
  std::string line;
  bool complete = false;
  return reader.Open(path) && reader.Next(&line, &complete) && complete &&
         ReadSeq(line, seq);
}

LiveFileFacts ReadLiveFileFacts(const std::string& path) {
  LiveFileFacts facts;
  LineReader reader;
  std::string line;
  bool complete = false;
  uint64_t seq = 0;
  if (!reader.Open(path) || !reader.Next(&line, &complete) || !complete ||
      !ReadSeq(line, &seq)) {
    return facts;
  }
  if (absl::StrContains(line, absl::StrCat("\"operation\":\"",
                                           kRotationHeader, "\""))) {
    facts.header_seq = seq;
  }
  constexpr absl::string_view kTime = "\"time\":\"";
  const size_t at = line.find(kTime.data(), 0, kTime.size());
  if (at != std::string::npos) {
    const size_t from = at + kTime.size();
    const size_t to = line.find('"', from);
    absl::Time start;
    std::string error;
    if (to != std::string::npos &&
        absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", line.substr(from, to - from),
                        &start, &error)) {
      facts.start = start;
    }
  }
  return facts;
}

absl::Status CleanUpRotation(const std::string& live_path) {
  const std::string temporary = live_path + ".rotating";
  if (unlink(temporary.c_str()) != 0 && errno != ENOENT) {
    return absl::UnavailableError(absl::StrCat(
        "cannot remove '", temporary, "' (an interrupted audit log rotation): ",
        strerror(errno)));
  }
  const std::vector<AuditFile> rotated = RotatedFiles(live_path);
  struct stat live, newest;
  if (!rotated.empty() && stat(live_path.c_str(), &live) == 0 &&
      stat(rotated.back().path.c_str(), &newest) == 0 &&
      live.st_dev == newest.st_dev && live.st_ino == newest.st_ino &&
      unlink(rotated.back().path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot remove '", rotated.back().path,
        "' (a link left by an interrupted audit log rotation): ",
        strerror(errno)));
  }
  return absl::OkStatus();
}

int SyncDirOf(const std::string& path) {
  std::string dir, base;
  SplitPath(path, &dir, &base);
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  const int rc = fsync(fd);
  const int error = errno;
  close(fd);
  errno = error;
  return rc;
}

absl::Status CompressFile(const std::string& path) {
  const std::string target = path + ".gz";
  const std::string temporary = target + ".tmp";
  auto fail = [&](absl::string_view what, int error) {
    unlink(temporary.c_str());
    return absl::UnavailableError(absl::StrCat(
        "cannot compress '", path, "' (", what, "): ", strerror(error)));
  };
  int in = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return fail("open", errno);
  int out = open(temporary.c_str(),
                 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) {
    const int error = errno;
    close(in);
    return fail("create", error);
  }
  // gzclose closes `out`; a dup is kept to fsync the result.
  const int sync_fd = dup(out);
  gzFile gz = gzdopen(out, "wb6");
  if (gz == nullptr || sync_fd < 0) {
    if (gz == nullptr) close(out);
    else gzclose(gz);
    if (sync_fd >= 0) close(sync_fd);
    close(in);
    return fail("zlib", ENOMEM);
  }
  char chunk[1 << 16];
  bool ok = true;
  int error = 0;
  while (true) {
    ssize_t n = read(in, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ok = false;
      error = errno;
      break;
    }
    if (n == 0) break;
    if (gzwrite(gz, chunk, static_cast<unsigned>(n)) != n) {
      ok = false;
      error = errno != 0 ? errno : EIO;
      break;
    }
  }
  close(in);
  errno = 0;
  if (gzclose(gz) != Z_OK && ok) {
    ok = false;
    error = errno != 0 ? errno : EIO;
  }
  // The compressed file keeps the original's times (retention by age).
  struct stat original;
  if (ok && stat(path.c_str(), &original) == 0) {
    const struct timespec times[2] = {original.st_atim, original.st_mtim};
    futimens(sync_fd, times);
  }
  if (ok && fsync(sync_fd) != 0) {
    ok = false;
    error = errno;
  }
  close(sync_fd);
  if (!ok) return fail("write", error);
  if (rename(temporary.c_str(), target.c_str()) != 0) return fail("rename", errno);
  SyncDirOf(target);
  // Both forms exist for a moment; readers prefer the plain one until now.
  unlink(path.c_str());
  SyncDirOf(path);
  return absl::OkStatus();
}

}  // namespace keyward::daemon::audit_internal
