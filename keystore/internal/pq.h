// libpq plumbing for PostgresStorage (keystore/postgres_storage.h): query
// parameters, binary results, the mapping from SQLSTATE to absl::Status, and
// a fixed-size connection pool that replaces broken connections. Internal to
// //keystore; nothing here knows the keystore's schema.
#ifndef KEYWARD_KEYSTORE_INTERNAL_PQ_H_
#define KEYWARD_KEYSTORE_INTERNAL_PQ_H_

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "keystore/crypto/secret_data.h"

namespace keyward::keystore::internal {

// PqParams: the parameters of one statement ($1, $2, ...), each with an
// explicit type, so the server never guesses. Text and bytea go as bytes
// (binary format, exact length), integers as decimal text. Values are never
// spliced into SQL.
class PqParams {
 public:
  PqParams& Text(absl::string_view s);   // text
  PqParams& Bytes(absl::string_view b);  // bytea
  PqParams& Int(int64_t v);              // bigint
  // Time: microseconds since the epoch (truncated), INT64_MAX for
  // absl::InfiniteFuture() ("never"), as keystore/FORMAT.md stores times.
  PqParams& Time(absl::Time t);

  int size() const { return static_cast<int>(values_.size()); }
  const Oid* types() const { return types_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }
  // values() points into this object: valid until it changes.
  std::vector<const char*> values() const;

 private:
  // Add appends one parameter (format 1: binary, 0: text).
  PqParams& Add(Oid type, std::string value, int length, int format);

  std::vector<Oid> types_;
  std::vector<std::string> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// PqRows: the rows of a statement run with binary results. Columns are
// 0-based. Int() reads smallint, integer and bigint columns; Bytes() reads
// text and bytea columns; a NULL reads as 0 or "".
class PqRows {
 public:
  struct Clear {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  explicit PqRows(PGresult* result) : result_(result) {}

  int size() const { return PQntuples(result_.get()); }
  int64_t Int(int row, int col) const;
  std::string Bytes(int row, int col) const;
  // Time reads what PqParams::Time wrote.
  absl::Time Time(int row, int col) const;
  bool IsNull(int row, int col) const {
    return PQgetisnull(result_.get(), row, col) != 0;
  }
  // affected is the number of rows an INSERT/UPDATE/DELETE touched.
  int64_t affected() const;
  const PGresult* get() const { return result_.get(); }
  bool ok() const {
    ExecStatusType s = result_ ? PQresultStatus(result_.get())
                               : PGRES_FATAL_ERROR;
    return s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK;
  }

 private:
  std::unique_ptr<PGresult, Clear> result_;
};

// PqSession: one borrowed connection, for the length of one PqPool::Run.
class PqSession {
 public:
  // Query runs one parameterized statement. `what` names the step for the
  // error message ("create a key"). Errors: see StatusFromPq.
  absl::StatusOr<PqRows> Query(const char* sql, const PqParams& params,
                               absl::string_view what);
  absl::StatusOr<PqRows> Query(const char* sql, absl::string_view what) {
    return Query(sql, PqParams(), what);
  }
  // Exec runs parameterless SQL, possibly several statements (schema).
  absl::Status Exec(const char* sql, absl::string_view what);
  // Rollback ends the open transaction, if any; errors are ignored (a broken
  // connection rolls back by itself).
  void Rollback();

  // broken: the connection was lost, or dropped as stalled; the pool
  // replaces it.
  bool broken() const {
    return stalled_ || PQstatus(conn_) != CONNECTION_OK;
  }
  // stalled: a statement got no answer within the answer bound (see
  // PqPoolOptions::statement_timeout), so the connection was dropped.
  bool stalled() const { return stalled_; }
  // used: a statement has succeeded on it during this Run.
  bool used() const { return used_; }

 private:
  friend class PqPool;
  friend class PqListener;
  PqSession(PGconn* conn, absl::string_view secret,
            absl::Duration answer_timeout)
      : conn_(conn), secret_(secret), answer_timeout_(answer_timeout) {}
  absl::Status Error(const PGresult* result, absl::string_view what) const;
  // Await waits for the answer to the statement just sent and returns its
  // result as PQexec would (the last one; null if the connection was lost).
  // After answer_timeout_ without a result it shuts the connection's socket
  // down, sets stalled_ and returns null. COPY is not supported.
  PGresult* Await();
  absl::Status Stalled(absl::string_view what) const;

  PGconn* conn_;
  absl::string_view secret_;  // scrubbed from messages; may be empty
  absl::Duration answer_timeout_;  // infinite: wait as long as it takes
  bool used_ = false;
  bool stalled_ = false;
};

// kAnswerGrace: how long past statement_timeout a statement's answer may
// take before the server is deemed stalled (see PqPoolOptions).
inline constexpr absl::Duration kAnswerGrace = absl::Seconds(2);

// StatusFromPq maps a failed statement to the Storage contract's codes:
// 23505 unique_violation -> ALREADY_EXISTS; 40001 serialization_failure and
// 40P01 deadlock -> ABORTED; a lost connection, class 08, 57P01-57P03
// (shutdown, crash), 53 (disk full, out of memory), 58 (I/O), 25006 (read-only
// server), 57014 (cancelled) -> UNAVAILABLE; XX001/XX002 (corruption) ->
// DATA_LOSS; class 22 (a value the column cannot hold) -> INVALID_ARGUMENT;
// other class 23 -> FAILED_PRECONDITION; anything else -> INTERNAL. The
// message is "PostgreSQL: <what>: <server's primary message> (SQLSTATE x)",
// with `secret` (when not empty) replaced by "<password>".
absl::Status StatusFromPq(PGconn* conn, const PGresult* result,
                          absl::string_view what, absl::string_view secret);

// PqPoolOptions: how to reach the server.
struct PqPoolOptions {
  std::string dsn;  // libpq connection string, without the password
  // The password (no trailing newline) or empty; wiped when freed.
  crypto::SecretData password;
  int size = 4;
  absl::Duration connect_timeout = absl::Seconds(10);
  // Session deadlines each connection SETs when it opens (zero: the
  // server's setting): PostgresOptions' fields of the same names.
  // statement_timeout also bounds the wait on this side: a statement with
  // no answer after statement_timeout + kAnswerGrace (a server stopped or
  // hung, or the network to it cut without a reset, where the server's
  // own timeout cannot fire or its answer cannot arrive) fails with
  // UNAVAILABLE, and its connection and the idle ones are dropped. Zero:
  // no bound.
  absl::Duration statement_timeout = absl::ZeroDuration();
  absl::Duration lock_timeout = absl::ZeroDuration();
  absl::Duration idle_in_transaction_session_timeout = absl::ZeroDuration();
};

// PqPool: up to `size` connections, each used by one thread at a time.
// Run() borrows one (waiting while all are in use), connecting a new one if
// none is idle. A connection found broken is closed and replaced on a later
// borrow, so a server restart costs the calls in flight (UNAVAILABLE) and
// nothing after it. After a failed connect, further attempts wait out a
// backoff (50 ms doubling to 2 s) and fail fast with UNAVAILABLE meanwhile.
// Thread-safe.
class PqPool {
 public:
  // Create checks `options.dsn` (INVALID_ARGUMENT if it does not parse or
  // holds a password) and opens the first connection (UNAVAILABLE if the
  // server cannot be reached or refuses the login).
  static absl::StatusOr<std::unique_ptr<PqPool>> Create(PqPoolOptions options);
  ~PqPool();
  PqPool(const PqPool&) = delete;
  PqPool& operator=(const PqPool&) = delete;

  // Run calls fn with a session on a borrowed connection and returns its
  // status. If the connection turns out broken before any statement
  // succeeded on it (so fn changed nothing), fn runs again on another one
  // (at most pool size + 1 tries): idle connections that a server restart
  // killed cost no call. Not after a stall: another connection to a
  // stalled server would only stall again. A connection left broken, or
  // inside a transaction, is closed.
  absl::Status Run(const std::function<absl::Status(PqSession&)>& fn);

 private:
  friend class PqListener;
  explicit PqPool(PqPoolOptions options);
  absl::StatusOr<PGconn*> Borrow();
  // Return gives `conn` back, or closes it if `broken` (or unusable); after
  // a stall it closes every idle connection too.
  void Return(PGconn* conn, bool broken, bool stalled);
  absl::StatusOr<PGconn*> Connect();
  // SetDeadlines SETs options_' session timeouts on a new connection.
  absl::Status SetDeadlines(PqSession& session) const;
  // Session wraps `conn` for one use, with the answer bound.
  PqSession Session(PGconn* conn) const;

  // password() is the password without the NUL that options_.password
  // holds at its end (libpq takes C strings).
  absl::string_view password() const;

  const PqPoolOptions options_;

  absl::Mutex mu_;
  std::vector<PGconn*> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // idle + borrowed + being connected
  absl::Time next_connect_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Duration backoff_ ABSL_GUARDED_BY(mu_) = absl::Milliseconds(50);
  std::string last_connect_error_ ABSL_GUARDED_BY(mu_);
};

// PqListener: a connection of its own (outside the pool, opened as the
// pool opens one) that LISTENs on one channel, for a thread that waits for
// NOTIFY. One thread at a time.
class PqListener {
 public:
  // Open connects and runs LISTEN `channel` (an SQL identifier):
  // UNAVAILABLE if the server cannot be reached.
  static absl::StatusOr<std::unique_ptr<PqListener>> Open(
      PqPool& pool, absl::string_view channel);
  ~PqListener();
  PqListener(const PqListener&) = delete;
  PqListener& operator=(const PqListener&) = delete;

  // Wait returns true once a notification has arrived (consuming every
  // one pending), false when `timeout` passed without one; UNAVAILABLE if
  // the connection is lost (open another).
  absl::StatusOr<bool> Wait(absl::Duration timeout);

 private:
  explicit PqListener(PGconn* conn) : conn_(conn) {}
  // Drain consumes pending notifications and says whether there were any.
  bool Drain();
  PGconn* const conn_;
};

}  // namespace keyward::keystore::internal

#endif  // KEYWARD_KEYSTORE_INTERNAL_PQ_H_
