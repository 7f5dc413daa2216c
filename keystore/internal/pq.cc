#include "keystore/internal/pq.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace keyward::keystore::internal {
namespace {

// Type OIDs (catalog/pg_type_d.h, stable since forever).
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;
constexpr Oid kByteaOid = 17;

std::string Scrub(std::string message, absl::string_view secret) {
  if (!secret.empty()) {
    message = absl::StrReplaceAll(message, {{secret, "<password>"}});
  }
  return std::string(absl::StripTrailingAsciiWhitespace(message));
}

void IgnoreNotice(void*, const char*) {}

uint64_t BigEndian(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

}  // namespace

PqParams& PqParams::Add(Oid type, std::string value, int length,
                        int format) {
  types_.push_back(type);
  values_.push_back(std::move(value));
  lengths_.push_back(length);
  formats_.push_back(format);
  return *this;
}

PqParams& PqParams::Text(absl::string_view s) {
  return Add(kTextOid, std::string(s), static_cast<int>(s.size()), 1);
}

PqParams& PqParams::Bytes(absl::string_view b) {
  return Add(kByteaOid, std::string(b), static_cast<int>(b.size()), 1);
}

PqParams& PqParams::Int(int64_t v) {
  // Text format: the length is ignored.
  return Add(kInt8Oid, absl::StrCat(v), 0, 0);
}

PqParams& PqParams::Time(absl::Time t) {
  return Int(t == absl::InfiniteFuture() ? INT64_MAX : absl::ToUnixMicros(t));
}

std::vector<const char*> PqParams::values() const {
  std::vector<const char*> out;
  for (const std::string& v : values_) out.push_back(v.c_str());
  return out;
}

int64_t PqRows::Int(int row, int col) const {
  PGresult* r = result_.get();
  if (PQgetisnull(r, row, col)) return 0;
  const char* p = PQgetvalue(r, row, col);
  const int n = PQgetlength(r, row, col);
  const Oid type = PQftype(r, col);
  if ((type == kInt8Oid && n == 8) || (type == kInt4Oid && n == 4) ||
      (type == kInt2Oid && n == 2)) {
    const uint64_t u = BigEndian(p, n);
    // Sign-extend from n bytes.
    const int shift = 64 - 8 * n;
    return static_cast<int64_t>(u << shift) >> shift;
  }
  return 0;  // not an integer column: a programming error caught by tests
}

std::string PqRows::Bytes(int row, int col) const {
  PGresult* r = result_.get();
  return std::string(PQgetvalue(r, row, col), PQgetlength(r, row, col));
}

absl::Time PqRows::Time(int row, int col) const {
  const int64_t us = Int(row, col);
  return us == INT64_MAX ? absl::InfiniteFuture() : absl::FromUnixMicros(us);
}

int64_t PqRows::affected() const {
  const char* n = PQcmdTuples(result_.get());
  return n == nullptr || *n == '\0' ? 0 : std::strtoll(n, nullptr, 10);
}

absl::Status StatusFromPq(PGconn* conn, const PGresult* result,
                          absl::string_view what, absl::string_view secret) {
  const char* state =
      result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary =
      result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string detail = primary ? primary : PQerrorMessage(conn);
  const std::string code = state ? state : "";
  std::string message = Scrub(
      absl::StrCat("PostgreSQL: ", what, ": ", detail,
                   code.empty() ? "" : absl::StrCat(" (SQLSTATE ", code, ")")),
      secret);
  if (PQstatus(conn) != CONNECTION_OK || code.empty() ||
      absl::StartsWith(code, "08") || code == "57P01" || code == "57P02" ||
      code == "57P03") {
    return absl::UnavailableError(absl::StrCat(
        message, "; the connection to PostgreSQL was lost, later calls "
                 "reconnect"));
  }
  if (code == "23505") return absl::AlreadyExistsError(message);
  if (code == "40001" || code == "40P01") {
    return absl::AbortedError(
        absl::StrCat(message, "; the transaction lost a race, try again"));
  }
  if (code == "55P03") {
    return absl::UnavailableError(absl::StrCat(
        message, "; another transaction held the lock past lock_timeout"));
  }
  if (absl::StartsWith(code, "53") || absl::StartsWith(code, "58") ||
      code == "25006" || code == "57014") {
    return absl::UnavailableError(message);
  }
  if (code == "XX001" || code == "XX002") return absl::DataLossError(message);
  if (absl::StartsWith(code, "22")) return absl::InvalidArgumentError(message);
  if (absl::StartsWith(code, "23")) {
    return absl::FailedPreconditionError(message);
  }
  return absl::InternalError(message);
}

absl::StatusOr<PqRows> PqSession::Query(const char* sql,
                                        const PqParams& params,
                                        absl::string_view what) {
  if (stalled_) return Stalled(what);
  std::vector<const char*> values = params.values();
  const bool sent =
      PQsendQueryParams(conn_, sql, params.size(), params.types(),
                        values.data(), params.lengths(), params.formats(),
                        /*resultFormat=*/1) == 1;
  PqRows rows(sent ? Await() : nullptr);
  if (stalled_) return Stalled(what);
  if (!rows.ok()) return Error(rows.get(), what);
  used_ = true;
  return rows;
}

absl::Status PqSession::Exec(const char* sql, absl::string_view what) {
  if (stalled_) return Stalled(what);
  const bool sent = PQsendQuery(conn_, sql) == 1;
  PqRows rows(sent ? Await() : nullptr);  // the last statement's result
  if (stalled_) return Stalled(what);
  if (!rows.ok()) return Error(rows.get(), what);
  used_ = true;
  return absl::OkStatus();
}

PGresult* PqSession::Await() {
  using Clock = std::chrono::steady_clock;
  const bool bounded = answer_timeout_ != absl::InfiniteDuration();
  const auto bound = bounded ? absl::ToChronoMilliseconds(answer_timeout_)
                             : std::chrono::milliseconds(0);
  // The bound is on silence: it starts again with each result (a string of
  // several statements may take statement_timeout for each).
  Clock::time_point deadline = Clock::now() + bound;
  // TLS or GSS may hold decrypted bytes that poll() cannot see (libpq's own
  // wait asks OpenSSL for them); then wait in short slices and let
  // PQconsumeInput look.
  const bool layered = PQsslInUse(conn_) || PQgssEncInUse(conn_);
  auto drop = [this] {
    stalled_ = true;
    // Nothing more is read from or written to this connection; libpq
    // sees the socket closed, and the pool closes the connection.
    shutdown(PQsocket(conn_), SHUT_RDWR);
  };
  // Waits until the socket may be ready for `events`; false (and the
  // connection dropped) once the deadline passes.
  auto wait = [&](short events) {
    while (true) {
      int ms = -1;
      if (bounded) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - Clock::now());
        if (left.count() <= 0) break;
        ms = static_cast<int>(std::min<int64_t>(left.count() + 1, INT32_MAX));
      }
      if (layered) ms = ms < 0 ? 10 : std::min(ms, 10);
      struct pollfd fd = {PQsocket(conn_), events, 0};
      const int ready = poll(&fd, 1, ms);
      if (ready > 0 || (ready < 0 && errno != EINTR)) return true;
      if (ready == 0 && layered) return true;  // let PQconsumeInput look
    }
    drop();
    return false;
  };
  // PQconsumeInput failed: the connection is lost. If libpq has not marked
  // it so, closing the socket makes PQgetResult see that at once rather
  // than wait (without a bound) for the rest of the answer.
  auto lost = [this] {
    if (PQstatus(conn_) == CONNECTION_OK) shutdown(PQsocket(conn_), SHUT_RDWR);
  };
  // The statement may not all be sent yet (the connection does not block).
  while (true) {
    const int flushed = PQflush(conn_);
    if (flushed <= 0) break;  // sent, or failed (PQgetResult says so)
    if (!wait(POLLIN | POLLOUT)) return nullptr;
    if (PQconsumeInput(conn_) == 0) {
      lost();
      break;
    }
  }
  // As PQexec: the last result, stopping early at COPY (which nothing
  // here uses) or a lost connection.
  PGresult* last = nullptr;
  while (true) {
    while (PQisBusy(conn_)) {
      if (!wait(POLLIN)) {
        PQclear(last);
        return nullptr;
      }
      if (PQconsumeInput(conn_) == 0) {
        lost();
        break;  // PQgetResult reports it
      }
    }
    PGresult* next = PQgetResult(conn_);
    if (next == nullptr) return last;
    PQclear(last);
    last = next;
    const ExecStatusType status = PQresultStatus(last);
    if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT ||
        status == PGRES_COPY_BOTH || PQstatus(conn_) != CONNECTION_OK) {
      return last;
    }
    deadline = Clock::now() + bound;
  }
}

absl::Status PqSession::Stalled(absl::string_view what) const {
  return absl::UnavailableError(absl::StrCat(
      "PostgreSQL: ", what, ": no answer within ",
      absl::FormatDuration(answer_timeout_),
      " (statement_timeout + ", absl::FormatDuration(kAnswerGrace),
      "): the server is stopped or hung, or the network to it is cut; the "
      "connection was dropped (a COMMIT left unanswered may still have "
      "taken effect) and later calls reconnect"));
}

absl::Status PqSession::Error(const PGresult* result,
                              absl::string_view what) const {
  return StatusFromPq(conn_, result, what, secret_);
}

void PqSession::Rollback() {
  if (broken()) return;
  if (PQtransactionStatus(conn_) == PQTRANS_IDLE) return;
  Exec("ROLLBACK", "roll back").IgnoreError();
}

// --- The pool -------------------------------------------------------------

PqPool::PqPool(PqPoolOptions options) : options_(std::move(options)) {}

PqPool::~PqPool() {
  absl::MutexLock lock(&mu_);
  for (PGconn* c : idle_) PQfinish(c);
}

absl::string_view PqPool::password() const {
  absl::string_view p = options_.password.InsecureView();
  return p.empty() ? p : p.substr(0, p.size() - 1);
}

absl::StatusOr<std::unique_ptr<PqPool>> PqPool::Create(PqPoolOptions options) {
  char* err = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(options.dsn.c_str(), &err);
  if (parsed == nullptr) {
    // libpq's message may quote the string, and so a password in it: leave
    // it out.
    PQfreemem(err);
    return absl::InvalidArgumentError(
        "the PostgreSQL dsn is not a valid libpq connection string (key=value "
        "pairs or a postgresql:// URI)");
  }
  bool has_password = false;
  for (PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
    if (strcmp(o->keyword, "password") == 0 && o->val && *o->val) {
      has_password = true;
    }
  }
  PQconninfoFree(parsed);
  if (has_password) {
    return absl::InvalidArgumentError(
        "the PostgreSQL dsn holds a password; put it in a password file "
        "(mode 0600) instead, so that it is in no config, argv or log");
  }
  if (options.size < 1 || options.size > 64) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the PostgreSQL pool size must be 1 to 64, not ", options.size));
  }
  // Keep the password NUL-terminated inside wiped memory.
  if (!options.password.empty()) {
    crypto::SecretData c = crypto::SecretData::Zeroed(options.password.size() + 1);
    memcpy(c.InsecureMutableData(), options.password.InsecureView().data(),
           options.password.size());
    options.password = std::move(c);
  }
  std::unique_ptr<PqPool> pool(new PqPool(std::move(options)));
  auto first = pool->Connect();
  if (!first.ok()) return first.status();
  absl::MutexLock lock(&pool->mu_);
  pool->idle_.push_back(*first);
  pool->open_ = 1;
  return pool;
}

absl::Status PqPool::SetDeadlines(PqSession& session) const {
  std::string sql;
  const std::pair<const char*, absl::Duration> deadlines[] = {
      {"statement_timeout", options_.statement_timeout},
      {"lock_timeout", options_.lock_timeout},
      {"idle_in_transaction_session_timeout",
       options_.idle_in_transaction_session_timeout}};
  for (const auto& [name, value] : deadlines) {
    if (value <= absl::ZeroDuration()) continue;
    absl::StrAppend(&sql, "SET ", name, " = ",
                    std::max<int64_t>(1, absl::ToInt64Milliseconds(value)),
                    ";");
  }
  if (sql.empty()) return absl::OkStatus();
  return session.Exec(sql.c_str(), "set the session's timeouts");
}

PqSession PqPool::Session(PGconn* conn) const {
  return PqSession(conn, password(),
                   options_.statement_timeout > absl::ZeroDuration()
                       ? options_.statement_timeout + kAnswerGrace
                       : absl::InfiniteDuration());
}

absl::StatusOr<PGconn*> PqPool::Connect() {
  const std::string timeout = absl::StrCat(
      std::max<int64_t>(1, absl::ToInt64Seconds(options_.connect_timeout)));
  std::vector<const char*> keys = {"connect_timeout", "application_name",
                                   "client_encoding", "dbname"};
  std::vector<const char*> values = {timeout.c_str(), "keywardd", "UTF8",
                                     options_.dsn.c_str()};
  if (!options_.password.empty()) {
    keys.push_back("password");
    values.push_back(
        reinterpret_cast<const char*>(options_.password.InsecureView().data()));
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keys.data(), values.data(),
                                   /*expand_dbname=*/1);
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
    std::string message = Scrub(
        absl::StrCat("cannot connect to PostgreSQL: ",
                     conn ? PQerrorMessage(conn) : "out of memory"),
        password());
    PQfinish(conn);
    return absl::UnavailableError(message);
  }
  PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  // A change that returned OK must be durable: never run with the server's
  // synchronous_commit turned off for this session.
  // The connection never blocks: a statement waits for its answer in
  // PqSession::Await, within the answer bound.
  if (PQsetnonblocking(conn, 1) != 0) {
    PQfinish(conn);
    return absl::InternalError("PostgreSQL: cannot make a connection non-blocking");
  }
  PqSession session = Session(conn);
  auto sync = session.Query("SELECT current_setting('synchronous_commit')",
                            "read synchronous_commit");
  absl::Status s = sync.status();
  if (s.ok()) {
    const std::string v = sync->Bytes(0, 0);
    if (v == "off" || v == "local") {
      s = session.Exec("SET synchronous_commit = on", "set synchronous_commit");
    }
  }
  if (s.ok()) s = SetDeadlines(session);
  if (!s.ok()) {
    PQfinish(conn);
    return s;
  }
  return conn;
}

absl::StatusOr<PGconn*> PqPool::Borrow() {
  {
    absl::MutexLock lock(&mu_);
    auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || open_ < options_.size;
    };
    mu_.Await(absl::Condition(&available));
    while (!idle_.empty()) {
      PGconn* conn = idle_.back();
      idle_.pop_back();
      // A server that went away has closed the socket: reading it now
      // tells, without a round trip.
      if (PQconsumeInput(conn) != 0 && PQstatus(conn) == CONNECTION_OK) {
        return conn;
      }
      PQfinish(conn);
      --open_;
    }
    if (absl::Now() < next_connect_) {
      return absl::UnavailableError(absl::StrCat(
          last_connect_error_, " (retrying in at most ",
          absl::FormatDuration(backoff_), ")"));
    }
    ++open_;  // this slot is ours while we connect
  }
  auto conn = Connect();
  absl::MutexLock lock(&mu_);
  if (!conn.ok()) {
    --open_;
    next_connect_ = absl::Now() + backoff_;
    backoff_ = std::min(backoff_ * 2, absl::Seconds(2));
    last_connect_error_ = std::string(conn.status().message());
    return conn.status();
  }
  backoff_ = absl::Milliseconds(50);
  next_connect_ = absl::InfinitePast();
  return *conn;
}

void PqPool::Return(PGconn* conn, bool broken, bool stalled) {
  // Never hand on a connection in an unknown or open transaction.
  const bool reusable = !broken && PQstatus(conn) == CONNECTION_OK &&
                        PQtransactionStatus(conn) == PQTRANS_IDLE;
  if (!reusable) PQfinish(conn);
  absl::MutexLock lock(&mu_);
  if (stalled) {
    // The idle connections go to the same silent server: each would cost
    // a call the whole bound again. Later calls connect afresh (within
    // connect_timeout).
    for (PGconn* idle : idle_) PQfinish(idle);
    open_ -= static_cast<int>(idle_.size());
    idle_.clear();
  }
  if (reusable) {
    idle_.push_back(conn);
  } else {
    --open_;
  }
}

absl::Status PqPool::Run(const std::function<absl::Status(PqSession&)>& fn) {
  absl::Status s;
  // Each idle connection may be one that a server restart killed: try until
  // a fresh one answers (at most every pooled connection, then a new one).
  for (int attempt = 0; attempt <= options_.size; ++attempt) {
    auto conn = Borrow();
    if (!conn.ok()) return conn.status();
    PqSession session = Session(*conn);
    s = fn(session);
    session.Rollback();  // a no-op after COMMIT
    const bool retry = !s.ok() && session.broken() && !session.used() &&
                       !session.stalled();
    Return(*conn, session.broken(), session.stalled());
    if (!retry) break;
  }
  return s;
}

// --- PqListener ----------------------------------------------------------

absl::StatusOr<std::unique_ptr<PqListener>> PqListener::Open(
    PqPool& pool, absl::string_view channel) {
  auto conn = pool.Connect();
  if (!conn.ok()) return conn.status();
  std::unique_ptr<PqListener> listener(new PqListener(*conn));
  PqSession session = pool.Session(*conn);
  absl::Status s = session.Exec(absl::StrCat("LISTEN ", channel).c_str(),
                                "listen for changes");
  if (!s.ok()) return s;
  return listener;
}

PqListener::~PqListener() { PQfinish(conn_); }

bool PqListener::Drain() {
  bool any = false;
  while (PGnotify* n = PQnotifies(conn_)) {
    any = true;
    PQfreemem(n);
  }
  return any;
}

absl::StatusOr<bool> PqListener::Wait(absl::Duration timeout) {
  auto lost = [this] {
    return absl::UnavailableError(
        absl::StrCat("PostgreSQL: the LISTEN connection was lost: ",
                     PQerrorMessage(conn_)));
  };
  if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) {
    return lost();
  }
  if (Drain()) return true;
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    struct pollfd fd = {PQsocket(conn_), POLLIN, 0};
    int ready = poll(&fd, 1,
                     static_cast<int>(std::max<int64_t>(
                         1, absl::ToInt64Milliseconds(left))));
    if (ready < 0 && errno != EINTR) return lost();
    if (ready <= 0) continue;
    if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) {
      return lost();
    }
    if (Drain()) return true;
  }
}

}  // namespace keyward::keystore::internal
