// The durable job store: SQLite in WAL mode under the server's data dir. Jobs, their
// state transitions and every event survive a server crash (kill -9): each write is
// one transaction, committed before the call returns.
//
// Thread-safe: every method may be called from any thread (one connection, serialised
// by a mutex).
#ifndef EDBP_SERVER_JOB_STORE_H_
#define EDBP_SERVER_JOB_STORE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "edbp/v1/job.pb.h"
#include "edbp/v1/sweep.pb.h"
#include "edbp/v1/training_service.pb.h"

struct sqlite3;

namespace edbp::server {

class JobStore {
 public:
  // Opens or creates the database file at `path` (WAL mode, synchronous=FULL, a busy
  // timeout, schema created if missing). Errors name the path and SQLite's message:
  // PERMISSION_DENIED (EACCES/EPERM/EROFS), DATA_LOSS (not a database, corrupt),
  // UNAVAILABLE (locked past the busy timeout), INTERNAL otherwise (e.g. a missing
  // directory). Other methods map SQLite errors the same way.
  static absl::StatusOr<std::unique_ptr<JobStore>> Open(const std::string& path);
  ~JobStore();

  // Inserts `job` (state, times, config, ...) under a new id: decimal "1", "2", ...
  // increasing, never reused (also across reopening); sets job.name = "jobs/{id}" and
  // job.last_sequence = 0, returns the stored job and true. When `request_id` is
  // non-empty and a job was created with it before, returns that job as it is now and
  // false instead, writing nothing; ALREADY_EXISTS when that job was created with
  // another config_yaml (a retry may differ in name or priority: the first job wins).
  absl::StatusOr<std::pair<v1::Job, bool>> CreateJob(v1::Job job,
                                                     const std::string& request_id);

  // NOT_FOUND ("job 7 not found") for an unknown id; only the canonical decimal of a
  // stored id is known ("07" is not found).
  absl::StatusOr<v1::Job> GetJob(const std::string& id);

  // Jobs with id < `before_id` (<= 0: no bound), newest (highest id) first, at most
  // `limit` (<= 0: no limit), only those in `state` unless JOB_STATE_UNSPECIFIED, and
  // only those whose display_name is `display_name` unless it is "".
  absl::StatusOr<std::vector<v1::Job>> ListJobs(v1::JobState state, int64_t before_id,
                                                int limit,
                                                absl::string_view display_name = "");

  // Removes job `id` with its events, state transitions and token hashes, in one
  // transaction. Its id is never given again (AUTOINCREMENT). NOT_FOUND for an
  // unknown job. Whether the job may be deleted is the caller's to decide.
  absl::Status DeleteJob(const std::string& id);

  // Jobs in `state`, oldest first (for recovery at start-up).
  absl::StatusOr<std::vector<v1::Job>> JobsInState(v1::JobState state);

  // Replaces the stored job `job.name`; when its state differs from the stored one, a
  // row (job, from, to, time) is added to the transitions table in the same
  // transaction. last_sequence and last_record are AppendEvent's: the stored values
  // are kept, whatever `job` says. INVALID_ARGUMENT for a malformed name, NOT_FOUND for
  // an unknown job.
  absl::Status UpdateJob(const v1::Job& job);

  // Appends `event` (event.job names the job; event.sequence must be exactly the
  // job's last sequence + 1, else FAILED_PRECONDITION) and sets the job's
  // last_sequence, and last_record for a training record (event.record > 0), in one
  // transaction; on any error nothing is written. A record not above the job's
  // last_record is ALREADY_EXISTS (stored before: a replay, exactly once across
  // crashes because both are written in one transaction). INVALID_ARGUMENT for a
  // malformed event.job or a negative record, NOT_FOUND for an unknown job.
  absl::Status AppendEvent(const v1::Event& event);

  // Events of job `id` with sequence >= from_sequence, in order, at most `limit`
  // (<= 0: all). NOT_FOUND for an unknown job.
  absl::StatusOr<std::vector<v1::Event>> ReadEvents(const std::string& id,
                                                    int64_t from_sequence, int limit = 0);

  // State transitions of job `id` in order: (from, to) pairs, one per UpdateJob that
  // changed the state (creation is none). NOT_FOUND for an unknown job.
  absl::StatusOr<std::vector<std::pair<v1::JobState, v1::JobState>>> Transitions(
      const std::string& id);

  // Sweeps (issue 19): records of their own, "sweeps/{id}" with ids as jobs' (1, 2,
  // ..., never reused). CreateSweep stores `sweep` under a new id and returns it with
  // its name set; UpdateSweep replaces the stored one (NOT_FOUND when unknown);
  // ListSweeps is newest first, below `before_id` (<= 0: no bound), at most `limit`
  // (<= 0: all).
  absl::StatusOr<v1::Sweep> CreateSweep(v1::Sweep sweep);
  absl::StatusOr<v1::Sweep> GetSweep(int64_t id);
  absl::Status UpdateSweep(const v1::Sweep& sweep);
  absl::StatusOr<std::vector<v1::Sweep>> ListSweeps(int64_t before_id, int limit);

  // Job tokens (server/job_token.h): records that the run `attempt` of job `id` holds
  // the token whose SHA-256 is `token_sha256` (32 bytes; INVALID_ARGUMENT otherwise).
  // A hash stored before fails (a constraint error; 2^-256 for fresh tokens).
  absl::Status AddJobToken(const std::string& id, int64_t attempt,
                           absl::string_view token_sha256);
  // The (job id, attempt) a token's hash belongs to; NOT_FOUND when none.
  absl::StatusOr<std::pair<std::string, int64_t>> FindJobToken(
      absl::string_view token_sha256);

 private:
  explicit JobStore(sqlite3* db) : db_(db) {}
  std::mutex mu_;
  // The connection; every statement on it runs under mu_.
  sqlite3* const db_ ABSL_PT_GUARDED_BY(mu_);
};

}  // namespace edbp::server

#endif  // EDBP_SERVER_JOB_STORE_H_
