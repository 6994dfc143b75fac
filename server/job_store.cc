// JobStore on SQLite: one connection serialised by mu_, WAL + synchronous=FULL, and
// every mutating method one BEGIN IMMEDIATE ... COMMIT transaction, so a call that
// returned OK is on disk and a call that failed wrote nothing.
#include "server/job_store.h"

#include <sqlite3.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "base/check.h"
#include "base/job_name.h"

namespace edbp::server {
namespace {

// How long a statement waits for a lock held by another connection (another process
// on the same file) before it fails with UNAVAILABLE.
constexpr int kBusyTimeoutMs = 10000;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS jobs(
  id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, also after deletes
  request_id TEXT UNIQUE,                -- NULL when the client gave none
  state INTEGER NOT NULL,                -- v1::JobState, mirrors job.state
  create_time INTEGER NOT NULL,          -- job.create_time, Unix microseconds
  job BLOB NOT NULL);                    -- serialized v1::Job
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state);
CREATE TABLE IF NOT EXISTS transitions(  -- in rowid order; time in Unix microseconds
  job_id INTEGER NOT NULL, from_state INTEGER NOT NULL, to_state INTEGER NOT NULL,
  time INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS transitions_by_job ON transitions(job_id);
CREATE TABLE IF NOT EXISTS events(
  job_id INTEGER NOT NULL, sequence INTEGER NOT NULL,
  event BLOB NOT NULL,                   -- serialized v1::Event
  PRIMARY KEY(job_id, sequence)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS job_tokens(   -- issue 18; added to older stores on open
  token_sha256 BLOB PRIMARY KEY,         -- SHA-256 of a run's token, never the token
  job_id INTEGER NOT NULL, attempt INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sweeps(       -- issue 19; added to older stores on open
  id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused
  sweep BLOB NOT NULL);                  -- serialized v1::Sweep
)sql";

absl::StatusCode CodeFor(int rc, int sys_errno) {
  const int primary = rc & 0xff;  // of an extended result code
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return absl::StatusCode::kUnavailable;
  }
  if (primary == SQLITE_FULL) return absl::StatusCode::kResourceExhausted;
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
    return absl::StatusCode::kDataLoss;
  }
  const bool denied = primary == SQLITE_PERM || primary == SQLITE_READONLY ||
                      primary == SQLITE_AUTH ||
                      (primary == SQLITE_CANTOPEN &&
                       (sys_errno == EACCES || sys_errno == EPERM || sys_errno == EROFS));
  return denied ? absl::StatusCode::kPermissionDenied : absl::StatusCode::kInternal;
}

// "`what`: SQLite's message[ (the OS error)]" with a code that follows SQLite's.
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what) {
  const int sys_errno = db != nullptr ? sqlite3_system_errno(db) : 0;
  std::string message =
      absl::StrCat(what, ": ", db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  const int primary = rc & 0xff;
  if (sys_errno != 0 && (primary == SQLITE_CANTOPEN || primary == SQLITE_IOERR)) {
    absl::StrAppend(&message, " (", std::strerror(sys_errno), ")");
  }
  return absl::Status(CodeFor(rc, sys_errno), message);
}

absl::Status Exec(sqlite3* db, absl::string_view op, const char* sql) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db, rc, absl::StrCat(op, ": ", sql));
  return absl::OkStatus();
}

// Bytes bound as a BLOB (a plain string_view binds as TEXT).
struct Blob {
  absl::string_view bytes;
};

// A prepared statement that finalizes itself. Errors name the operation and the SQL.
class Statement {
 public:
  // Prepares `sql` and binds its parameters 1, 2, ... to `args` in order: integers,
  // text (string_view) or Blob.
  template <typename... Args>
  static absl::StatusOr<Statement> Prepare(sqlite3* db, absl::string_view op,
                                           absl::string_view sql, const Args&... args) {
    sqlite3_stmt* raw = nullptr;
    int rc =
        sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(raw);
      return SqliteError(db, rc, absl::StrCat(op, ": prepare \"", sql, "\""));
    }
    Statement stmt(db, raw, absl::StrCat(op, ": \"", sql, "\""));
    [[maybe_unused]] int index = 0;
    ((rc = rc == SQLITE_OK ? stmt.BindOne(++index, args) : rc), ...);
    if (rc != SQLITE_OK) return SqliteError(db, rc, absl::StrCat(stmt.what_, ": bind"));
    return stmt;
  }
  Statement(Statement&& other) noexcept
      : db_(other.db_),
        stmt_(std::exchange(other.stmt_, nullptr)),
        what_(std::move(other.what_)) {}
  ~Statement() { sqlite3_finalize(stmt_); }

  // True when a row is ready to be read, false when the statement is done.
  absl::StatusOr<bool> Step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqliteError(db_, rc, what_);
  }
  int64_t Int(int column) { return sqlite3_column_int64(stmt_, column); }
  // Valid until the next Step.
  absl::string_view Bytes(int column) {
    const void* data = sqlite3_column_blob(stmt_, column);  // before column_bytes
    const int size = sqlite3_column_bytes(stmt_, column);
    return {static_cast<const char*>(data), static_cast<size_t>(size)};
  }

 private:
  Statement(sqlite3* db, sqlite3_stmt* stmt, std::string what)
      : db_(db), stmt_(stmt), what_(std::move(what)) {}

  int BindOne(int index, int64_t value) {
    return sqlite3_bind_int64(stmt_, index, value);
  }
  int BindOne(int index, absl::string_view text) {
    // A null data pointer would bind NULL instead of "".
    return sqlite3_bind_text(stmt_, index, text.empty() ? "" : text.data(),
                             static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  int BindOne(int index, Blob blob) {
    return sqlite3_bind_blob(stmt_, index, blob.bytes.empty() ? "" : blob.bytes.data(),
                             static_cast<int>(blob.bytes.size()), SQLITE_TRANSIENT);
  }

  sqlite3* const db_;
  sqlite3_stmt* stmt_;
  std::string what_;
};

// BEGIN IMMEDIATE (takes the write lock at once, so the transaction never has to be
// retried half-way); rolled back on destruction unless committed.
class Transaction {
 public:
  Transaction(sqlite3* db, absl::string_view op) : db_(db), op_(op) {}
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction() {
    // A failed COMMIT may already have rolled back; ROLLBACK only what is still open.
    if (active_ && sqlite3_get_autocommit(db_) == 0) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }

  absl::Status Begin() {
    absl::Status status = Exec(db_, op_, "BEGIN IMMEDIATE");
    active_ = status.ok();
    return status;
  }
  absl::Status Commit() {
    absl::Status status = Exec(db_, op_, "COMMIT");
    active_ = !status.ok();
    return status;
  }

 private:
  sqlite3* const db_;
  const absl::string_view op_;
  bool active_ = false;
};

// Runs a statement that returns no rows.
template <typename... Args>
absl::Status Execute(sqlite3* db, absl::string_view op, absl::string_view sql,
                     const Args&... args) {
  EDBP_ASSIGN_OR_RETURN(Statement stmt, Statement::Prepare(db, op, sql, args...));
  return stmt.Step().status();
}

int64_t UnixMicros(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000000 + t.nanos() / 1000;
}

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The row id of a job id; only the canonical decimal of a positive integer names a
// job, anything else is not found.
absl::StatusOr<int64_t> ParseId(absl::string_view id) {
  int64_t value = 0;
  if (!absl::SimpleAtoi(id, &value) || value <= 0 || absl::StrCat(value) != id) {
    return absl::NotFoundError(absl::StrCat("job ", id, " not found"));
  }
  return value;
}

absl::StatusOr<v1::Job> ParseJob(absl::string_view bytes, int64_t id) {
  v1::Job job;
  if (!job.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(
        absl::StrCat("job ", id, ": stored record does not parse"));
  }
  return job;
}

// Runs `stmt`, whose rows are (job blob, id).
absl::StatusOr<std::vector<v1::Job>> CollectJobs(Statement& stmt) {
  std::vector<v1::Job> jobs;
  while (true) {
    EDBP_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    if (!row) return jobs;
    EDBP_ASSIGN_OR_RETURN(v1::Job job, ParseJob(stmt.Bytes(0), stmt.Int(1)));
    jobs.push_back(std::move(job));
  }
}

absl::StatusOr<v1::Job> LoadJob(sqlite3* db, absl::string_view op, int64_t id) {
  EDBP_ASSIGN_OR_RETURN(
      Statement stmt,
      Statement::Prepare(db, op, "SELECT job FROM jobs WHERE id = ?", id));
  EDBP_ASSIGN_OR_RETURN(const bool row, stmt.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("job ", id, " not found"));
  return ParseJob(stmt.Bytes(0), id);
}

// Writes the job's columns and blob to its existing row.
absl::Status StoreJob(sqlite3* db, absl::string_view op, int64_t id, const v1::Job& job) {
  return Execute(db, op,
                 "UPDATE jobs SET state = ?, create_time = ?, job = ? WHERE id = ?",
                 static_cast<int64_t>(job.state()), UnixMicros(job.create_time()),
                 Blob{job.SerializeAsString()}, id);
}

}  // namespace

absl::StatusOr<std::unique_ptr<JobStore>> JobStore::Open(const std::string& path) {
  const std::string op = absl::StrCat("JobStore::Open(", path, ")");
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  // Owns the connection from here on: every early return closes it.
  std::unique_ptr<JobStore> store(new JobStore(db));
  if (rc != SQLITE_OK) return SqliteError(db, rc, op);
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  {
    // The pragma answers with the mode now in force; it stays the old one where WAL is
    // impossible, which would silently lose the crash guarantees.
    EDBP_ASSIGN_OR_RETURN(Statement wal,
                          Statement::Prepare(db, op, "PRAGMA journal_mode=WAL"));
    EDBP_ASSIGN_OR_RETURN(const bool row, wal.Step());
    if (!row || !absl::EqualsIgnoreCase(wal.Bytes(0), "wal")) {
      return absl::InternalError(absl::StrCat(op, ": cannot switch to WAL mode (got \"",
                                              row ? wal.Bytes(0) : "", "\")"));
    }
  }
  EDBP_RETURN_IF_ERROR(Exec(db, op, "PRAGMA synchronous=FULL"));
  Transaction txn(db, op);
  EDBP_RETURN_IF_ERROR(txn.Begin());
  EDBP_RETURN_IF_ERROR(Exec(db, op, kSchema));
  EDBP_RETURN_IF_ERROR(txn.Commit());
  return store;
}

JobStore::~JobStore() { sqlite3_close(db_); }

absl::StatusOr<std::pair<v1::Job, bool>> JobStore::CreateJob(
    v1::Job job, const std::string& request_id) {
  constexpr absl::string_view kOp = "CreateJob";
  std::lock_guard<std::mutex> lock(mu_);
  Transaction txn(db_, kOp);
  EDBP_RETURN_IF_ERROR(txn.Begin());
  if (!request_id.empty()) {
    EDBP_ASSIGN_OR_RETURN(
        Statement find,
        Statement::Prepare(db_, kOp, "SELECT job, id FROM jobs WHERE request_id = ?",
                           request_id));
    EDBP_ASSIGN_OR_RETURN(const bool found, find.Step());
    if (found) {  // nothing written; the transaction rolls back
      EDBP_ASSIGN_OR_RETURN(v1::Job existing, ParseJob(find.Bytes(0), find.Int(1)));
      // A retry repeats the config; the same id with another config is the client's
      // mistake, never an answer with a job that trains something else.
      if (existing.config_yaml() != job.config_yaml()) {
        return absl::AlreadyExistsError(
            absl::StrCat("request_id ", request_id, " was used for ", existing.name(),
                         " with another config; use a new request id"));
      }
      return std::make_pair(std::move(existing), false);
    }
  }
  // The id is known only after the insert; the full record follows in StoreJob.
  EDBP_RETURN_IF_ERROR(Execute(db_, kOp,
                               "INSERT INTO jobs(request_id, state, create_time, job) "
                               "VALUES(NULLIF(?, ''), 0, 0, X'')",
                               request_id));
  const int64_t id = sqlite3_last_insert_rowid(db_);
  job.set_name(JobName(id));
  job.set_last_sequence(0);
  EDBP_RETURN_IF_ERROR(StoreJob(db_, kOp, id, job));
  EDBP_RETURN_IF_ERROR(txn.Commit());
  return std::make_pair(std::move(job), true);
}

absl::StatusOr<v1::Job> JobStore::GetJob(const std::string& id) {
  EDBP_ASSIGN_OR_RETURN(const int64_t row_id, ParseId(id));
  std::lock_guard<std::mutex> lock(mu_);
  return LoadJob(db_, "GetJob", row_id);
}

absl::StatusOr<std::vector<v1::Job>> JobStore::ListJobs(v1::JobState state,
                                                        int64_t before_id, int limit,
                                                        absl::string_view display_name) {
  constexpr absl::string_view kOp = "ListJobs";
  constexpr int64_t kNoBound = std::numeric_limits<int64_t>::max();
  std::lock_guard<std::mutex> lock(mu_);
  // A plain `id < ?` (no OR) lets SQLite walk the primary key backwards from the bound.
  // The display name lives in the record: with one, rows are filtered here and the
  // limit counts the matches.
  const bool by_name = !display_name.empty();
  EDBP_ASSIGN_OR_RETURN(
      Statement stmt,
      Statement::Prepare(db_, kOp,
                         "SELECT job, id FROM jobs WHERE id < ?1 AND "
                         "(?2 = 0 OR state = ?2) ORDER BY id DESC "
                         "LIMIT ?3",
                         before_id > 0 ? before_id : kNoBound,
                         static_cast<int64_t>(state),
                         static_cast<int64_t>(limit > 0 && !by_name ? limit : -1)));
  if (!by_name) return CollectJobs(stmt);
  std::vector<v1::Job> jobs;
  while (limit <= 0 || static_cast<int>(jobs.size()) < limit) {
    EDBP_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    if (!row) break;
    EDBP_ASSIGN_OR_RETURN(v1::Job job, ParseJob(stmt.Bytes(0), stmt.Int(1)));
    if (job.display_name() == display_name) jobs.push_back(std::move(job));
  }
  return jobs;
}

absl::Status JobStore::DeleteJob(const std::string& id) {
  EDBP_ASSIGN_OR_RETURN(const int64_t row_id, ParseId(id));
  const std::string op = absl::StrCat("DeleteJob(", id, ")");
  std::lock_guard<std::mutex> lock(mu_);
  Transaction txn(db_, op);
  EDBP_RETURN_IF_ERROR(txn.Begin());
  EDBP_RETURN_IF_ERROR(LoadJob(db_, op, row_id).status());
  for (const char* sql :
       {"DELETE FROM events WHERE job_id = ?", "DELETE FROM transitions WHERE job_id = ?",
        "DELETE FROM job_tokens WHERE job_id = ?", "DELETE FROM jobs WHERE id = ?"}) {
    EDBP_RETURN_IF_ERROR(Execute(db_, op, sql, row_id));
  }
  return txn.Commit();
}

absl::StatusOr<std::vector<v1::Job>> JobStore::JobsInState(v1::JobState state) {
  std::lock_guard<std::mutex> lock(mu_);
  EDBP_ASSIGN_OR_RETURN(
      Statement stmt,
      Statement::Prepare(db_, "JobsInState",
                         "SELECT job, id FROM jobs WHERE state = ? ORDER BY id",
                         static_cast<int64_t>(state)));
  return CollectJobs(stmt);
}

absl::Status JobStore::UpdateJob(const v1::Job& job) {
  EDBP_ASSIGN_OR_RETURN(const std::string id_text, JobIdFromName(job.name()));
  EDBP_ASSIGN_OR_RETURN(const int64_t id, ParseId(id_text));
  const std::string op = absl::StrCat("UpdateJob(", job.name(), ")");
  std::lock_guard<std::mutex> lock(mu_);
  Transaction txn(db_, op);
  EDBP_RETURN_IF_ERROR(txn.Begin());
  EDBP_ASSIGN_OR_RETURN(const v1::Job stored, LoadJob(db_, op, id));
  // last_sequence belongs to AppendEvent: a caller's copy may be older than the log.
  v1::Job updated = job;
  updated.set_last_sequence(stored.last_sequence());
  updated.set_last_record(stored.last_record());
  EDBP_RETURN_IF_ERROR(StoreJob(db_, op, id, updated));
  if (stored.state() != job.state()) {
    EDBP_RETURN_IF_ERROR(
        Execute(db_, op,
                "INSERT INTO transitions(job_id, from_state, to_state, time) "
                "VALUES(?, ?, ?, ?)",
                id, static_cast<int64_t>(stored.state()),
                static_cast<int64_t>(job.state()), NowMicros()));
  }
  return txn.Commit();
}

absl::Status JobStore::AppendEvent(const v1::Event& event) {
  EDBP_ASSIGN_OR_RETURN(const std::string id_text, JobIdFromName(event.job()));
  EDBP_ASSIGN_OR_RETURN(const int64_t id, ParseId(id_text));
  const std::string op = absl::StrCat("AppendEvent(", event.job(), ")");
  std::lock_guard<std::mutex> lock(mu_);
  Transaction txn(db_, op);
  EDBP_RETURN_IF_ERROR(txn.Begin());
  EDBP_ASSIGN_OR_RETURN(v1::Job job, LoadJob(db_, op, id));
  // Only CreateJob (0) and this method set the stored last_sequence, each in the
  // transaction that writes the events, so it always equals the log's last sequence.
  const int64_t last = job.last_sequence();
  if (event.sequence() != last + 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        op, ": event sequence ", event.sequence(), " is not next; the last is ", last,
        ", so ", last + 1, " was expected"));
  }
  if (event.record() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(op, ": event record ", event.record(), " is negative"));
  }
  if (event.record() > 0 && event.record() <= job.last_record()) {
    return absl::AlreadyExistsError(absl::StrCat(op, ": record ", event.record(),
                                                 " is stored already (the last is ",
                                                 job.last_record(), ")"));
  }
  EDBP_RETURN_IF_ERROR(
      Execute(db_, op, "INSERT INTO events(job_id, sequence, event) VALUES(?, ?, ?)", id,
              event.sequence(), Blob{event.SerializeAsString()}));
  job.set_last_sequence(event.sequence());
  if (event.record() > 0) job.set_last_record(event.record());
  EDBP_RETURN_IF_ERROR(StoreJob(db_, op, id, job));
  return txn.Commit();
}

absl::StatusOr<std::vector<v1::Event>> JobStore::ReadEvents(const std::string& id,
                                                            int64_t from_sequence,
                                                            int limit) {
  EDBP_ASSIGN_OR_RETURN(const int64_t row_id, ParseId(id));
  constexpr absl::string_view kOp = "ReadEvents";
  std::lock_guard<std::mutex> lock(mu_);
  EDBP_RETURN_IF_ERROR(LoadJob(db_, kOp, row_id).status());
  EDBP_ASSIGN_OR_RETURN(Statement stmt,
                        Statement::Prepare(db_, kOp,
                                           "SELECT event, sequence FROM events WHERE "
                                           "job_id = ? AND sequence >= ? "
                                           "ORDER BY sequence LIMIT ?",
                                           row_id, from_sequence,
                                           static_cast<int64_t>(limit > 0 ? limit : -1)));
  std::vector<v1::Event> events;
  while (true) {
    EDBP_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    if (!row) return events;
    const absl::string_view bytes = stmt.Bytes(0);
    if (!events.emplace_back().ParseFromArray(bytes.data(),
                                              static_cast<int>(bytes.size()))) {
      return absl::DataLossError(
          absl::StrCat("job ", id, ": stored event ", stmt.Int(1), " does not parse"));
    }
  }
}

absl::StatusOr<std::vector<std::pair<v1::JobState, v1::JobState>>> JobStore::Transitions(
    const std::string& id) {
  EDBP_ASSIGN_OR_RETURN(const int64_t row_id, ParseId(id));
  constexpr absl::string_view kOp = "Transitions";
  std::lock_guard<std::mutex> lock(mu_);
  EDBP_RETURN_IF_ERROR(LoadJob(db_, kOp, row_id).status());
  EDBP_ASSIGN_OR_RETURN(Statement stmt,
                        Statement::Prepare(db_, kOp,
                                           "SELECT from_state, to_state FROM transitions "
                                           "WHERE job_id = ? ORDER BY rowid",
                                           row_id));
  std::vector<std::pair<v1::JobState, v1::JobState>> transitions;
  while (true) {
    EDBP_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    if (!row) return transitions;
    transitions.emplace_back(static_cast<v1::JobState>(stmt.Int(0)),
                             static_cast<v1::JobState>(stmt.Int(1)));
  }
}

namespace {

absl::StatusOr<v1::Sweep> ParseSweep(absl::string_view bytes, int64_t id) {
  v1::Sweep sweep;
  if (!sweep.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(
        absl::StrCat("sweep ", id, ": stored record does not parse"));
  }
  return sweep;
}

// "sweeps/{id}" -> id; INVALID_ARGUMENT otherwise.
absl::StatusOr<int64_t> SweepRowId(absl::string_view name) {
  int64_t id = 0;
  if (!absl::ConsumePrefix(&name, "sweeps/") || !absl::SimpleAtoi(name, &id) || id <= 0 ||
      absl::StrCat(id) != name) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed sweep name \"", name, "\"; expected sweeps/ID"));
  }
  return id;
}

}  // namespace

absl::StatusOr<v1::Sweep> JobStore::CreateSweep(v1::Sweep sweep) {
  constexpr absl::string_view kOp = "CreateSweep";
  std::lock_guard<std::mutex> lock(mu_);
  Transaction txn(db_, kOp);
  EDBP_RETURN_IF_ERROR(txn.Begin());
  EDBP_RETURN_IF_ERROR(Execute(db_, kOp, "INSERT INTO sweeps(sweep) VALUES(X'')"));
  const int64_t id = sqlite3_last_insert_rowid(db_);
  sweep.set_name(absl::StrCat("sweeps/", id));
  EDBP_RETURN_IF_ERROR(Execute(db_, kOp, "UPDATE sweeps SET sweep = ? WHERE id = ?",
                               Blob{sweep.SerializeAsString()}, id));
  EDBP_RETURN_IF_ERROR(txn.Commit());
  return sweep;
}

absl::StatusOr<v1::Sweep> JobStore::GetSweep(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  EDBP_ASSIGN_OR_RETURN(
      Statement stmt,
      Statement::Prepare(db_, "GetSweep", "SELECT sweep FROM sweeps WHERE id = ?", id));
  EDBP_ASSIGN_OR_RETURN(const bool row, stmt.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("sweep ", id, " not found"));
  return ParseSweep(stmt.Bytes(0), id);
}

absl::Status JobStore::UpdateSweep(const v1::Sweep& sweep) {
  EDBP_ASSIGN_OR_RETURN(const int64_t id, SweepRowId(sweep.name()));
  const std::string op = absl::StrCat("UpdateSweep(", sweep.name(), ")");
  std::lock_guard<std::mutex> lock(mu_);
  Transaction txn(db_, op);
  EDBP_RETURN_IF_ERROR(txn.Begin());
  {
    EDBP_ASSIGN_OR_RETURN(
        Statement find,
        Statement::Prepare(db_, op, "SELECT id FROM sweeps WHERE id = ?", id));
    EDBP_ASSIGN_OR_RETURN(const bool row, find.Step());
    if (!row) return absl::NotFoundError(absl::StrCat("sweep ", id, " not found"));
  }
  EDBP_RETURN_IF_ERROR(Execute(db_, op, "UPDATE sweeps SET sweep = ? WHERE id = ?",
                               Blob{sweep.SerializeAsString()}, id));
  return txn.Commit();
}

absl::StatusOr<std::vector<v1::Sweep>> JobStore::ListSweeps(int64_t before_id,
                                                            int limit) {
  constexpr int64_t kNoBound = std::numeric_limits<int64_t>::max();
  std::lock_guard<std::mutex> lock(mu_);
  EDBP_ASSIGN_OR_RETURN(
      Statement stmt,
      Statement::Prepare(
          db_, "ListSweeps",
          "SELECT sweep, id FROM sweeps WHERE id < ? ORDER BY id DESC LIMIT ?",
          before_id > 0 ? before_id : kNoBound,
          static_cast<int64_t>(limit > 0 ? limit : -1)));
  std::vector<v1::Sweep> sweeps;
  while (true) {
    EDBP_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    if (!row) return sweeps;
    EDBP_ASSIGN_OR_RETURN(v1::Sweep sweep, ParseSweep(stmt.Bytes(0), stmt.Int(1)));
    sweeps.push_back(std::move(sweep));
  }
}

absl::Status JobStore::AddJobToken(const std::string& id, int64_t attempt,
                                   absl::string_view token_sha256) {
  constexpr absl::string_view kOp = "AddJobToken";
  EDBP_ASSIGN_OR_RETURN(const int64_t row_id, ParseId(id));
  if (token_sha256.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("AddJobToken: a SHA-256 has 32 bytes, got ", token_sha256.size()));
  }
  std::lock_guard<std::mutex> lock(mu_);
  return Execute(db_, kOp,
                 "INSERT INTO job_tokens(token_sha256, job_id, attempt) VALUES (?, ?, ?)",
                 Blob{token_sha256}, row_id, attempt);
}

absl::StatusOr<std::pair<std::string, int64_t>> JobStore::FindJobToken(
    absl::string_view token_sha256) {
  constexpr absl::string_view kOp = "FindJobToken";
  std::lock_guard<std::mutex> lock(mu_);
  EDBP_ASSIGN_OR_RETURN(
      Statement stmt,
      Statement::Prepare(db_, kOp,
                         "SELECT job_id, attempt FROM job_tokens WHERE token_sha256 = ?",
                         Blob{token_sha256}));
  EDBP_ASSIGN_OR_RETURN(const bool row, stmt.Step());
  if (!row) return absl::NotFoundError("no job has this token");
  return std::make_pair(absl::StrCat(stmt.Int(0)), stmt.Int(1));
}

}  // namespace edbp::server
