// The per-job ordered event log: assigns sequence numbers, persists every event in the
// JobStore before anyone sees it, keeps the most recent events of all jobs in a bounded
// cache, replays older ones from the store, and tells the watchers subscribed to a job
// of each event as it commits.
//
// Memory: the cache holds at most `cache_bytes` across all jobs, counting each cached
// event (its in-memory size, SpaceUsedLong, plus a fixed overhead) and each job entry
// the hub keeps (a fixed ~0.9 KiB: the entry, its deque, its map and LRU nodes), and
// evicts the oldest events of the least recently used job first. A job's entry (its
// last sequence and whether it ended) stays only while it has cached events: a job
// whose events were all evicted, ended or not, is forgotten entirely and reloaded from
// the store (its Job.last_sequence, and for a job in a final state whether its log's
// last state change is final) when it is next appended to or read. So the hub's memory
// is bounded by `cache_bytes` however many jobs there are, running or ended; only the
// subscriptions (one small node per watcher) are outside it. Reads that start before
// the cached suffix of a job's log come from the store, outside the hub's lock, so a
// watcher that is behind never holds up Append or the other readers.
//
// Thread-safe. Sequence numbers continue from the store after a restart (no gaps, no
// repeats).
#ifndef EDBP_SERVER_METRICS_HUB_H_
#define EDBP_SERVER_METRICS_HUB_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "edbp/v1/training_service.pb.h"
#include "server/job_store.h"

namespace edbp::server {

class MetricsHub {
 public:
  // The default of `cache_bytes` (edbp-server --event-cache-mib).
  static constexpr size_t kDefaultCacheBytes = size_t{64} << 20;

  // `store` outlives the hub. `cache_bytes`: the bound of the event cache; 0 caches
  // nothing (every read comes from the store).
  explicit MetricsHub(JobStore* store, size_t cache_bytes = kDefaultCacheBytes)
      : store_(store), cache_limit_(cache_bytes) {}

  // Sets event.job, the next sequence and the time, stores it, updates the job's
  // summary (last_epoch, best_test_accuracy from epoch metrics), caches it, then calls
  // OnAppended of the job's subscribers (after the hub's lock is released, on this
  // thread). Returns the stored event. Errors: those of the store; when the event
  // itself could not be stored nothing is published, when only the summary update
  // failed the event is published and that error returned. Appends are serialised:
  // sequence order is commit order.
  absl::StatusOr<v1::Event> Append(const std::string& job_id, v1::Event event);

  struct ReadResult {
    std::vector<v1::Event> events;  // sequence >= from, in order, without gaps
    bool ended = false;  // the job has ended and `events` reaches its last event
  };
  // The job's events with sequence >= `from` (values below 1 read from 1) that exist
  // now, at most `limit` (at least 1), from the cache or, for those evicted, from the
  // store. Never waits for new events: subscribe to hear of them. A job has ended once
  // the last state change in its log is to SUCCEEDED, FAILED or CANCELLED. NOT_FOUND
  // for an unknown job; the store's errors otherwise.
  absl::StatusOr<ReadResult> Read(const std::string& job_id, int64_t from, int limit);

  // Told of a job's events as they commit. Callbacks run on the thread of Append
  // (OnAppended) or WakeAll (OnWake) with no hub lock held except the subscription
  // list's (shared), so they may call Read but not Subscribe/Unsubscribe; they should
  // return quickly (a slow one delays that Append's caller).
  class Subscriber {
   public:
    virtual ~Subscriber() = default;
    // `event` was stored with the job's next sequence. Concurrent Appends to one job
    // may call this out of sequence order: a subscriber that sees a sequence skip
    // reads the ones it missed.
    virtual void OnAppended(const v1::Event& event) = 0;
    // WakeAll was called (server shutdown).
    virtual void OnWake() = 0;
    // Interrupt was called for the job: its stream cannot go on (e.g. its end could not
    // be stored); `why` says so. By default, as OnWake.
    virtual void OnInterrupted(const absl::Status& /*why*/) { OnWake(); }
  };
  // Adds `subscriber` (not owned) to the job's list: every event appended after this
  // call returns reaches it. Read after subscribing to miss nothing.
  void Subscribe(const std::string& job_id, Subscriber* subscriber);
  // Removes it; once this returns none of its callbacks runs or will run, so it may be
  // destroyed.
  void Unsubscribe(const std::string& job_id, Subscriber* subscriber);

  // Calls OnWake of every subscriber (server shutdown).
  void WakeAll();

  // Calls OnInterrupted(why) of the job's subscribers: the scheduler could not store
  // the job's end (issue 17: watchers get an error instead of waiting for an event that
  // cannot come until the store writes again).
  void Interrupt(const std::string& job_id, const absl::Status& why);

  // Drops every cached event and the entry of `job_id` (a deleted job: the store no
  // longer has it, and a later Read is NOT_FOUND).
  void Forget(const std::string& job_id);

  // What the cache holds now (for tests and the load benchmark).
  struct CacheStats {
    size_t bytes = 0;   // counted bytes of the cached events and job entries, <=
                        // cache_bytes whenever no call is under way
    size_t events = 0;  // cached events
    size_t jobs = 0;    // jobs the hub keeps an entry for (each has cached events)
  };
  CacheStats Stats();

  // The bytes counted for one job entry with id `job_id`, besides its events.
  static size_t EntryBytes(const std::string& job_id);

 private:
  struct Cached {
    v1::Event event;
    size_t bytes = 0;  // counted for it in cache_bytes_
  };
  struct JobLog {
    int64_t last_sequence = 0;         // of the job's last stored event
    bool ended = false;                // its last state change is terminal
    std::deque<Cached> cached;         // the newest events: sequences up to last_sequence
    std::list<JobLog*>::iterator lru;  // into lru_ while `cached` is non-empty
    std::string id;
  };
  // The per-entry bytes of EntryBytes that do not depend on the id.
  static size_t FixedEntryBytes();
  // The job's entry, loaded from the store (its last sequence, and whether it ended)
  // when the hub has none; a new entry is counted in cache_bytes_ but has no events:
  // the caller caches one or calls DropIfEmpty before releasing mu_.
  absl::StatusOr<JobLog*> LogOf(const std::string& job_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets `log` (and uncounts it) when it has no cached events. `log` may be gone
  // after this.
  void DropIfEmpty(JobLog* log) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks `log` as the most recently used. log->cached non-empty.
  void Touch(JobLog* log) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Evicts the oldest events of the least recently used jobs until the counted bytes
  // fit the limit, forgetting every job left without events.
  void Evict() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  JobStore* const store_;
  const size_t cache_limit_;

  std::mutex mu_;  // held across the store write of Append: that is its ordering
  std::map<std::string, std::unique_ptr<JobLog>> logs_ ABSL_GUARDED_BY(mu_);
  std::list<JobLog*> lru_ ABSL_GUARDED_BY(mu_);  // most recently used first
  size_t cache_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // events and entries, as counted
  size_t cache_events_ ABSL_GUARDED_BY(mu_) = 0;

  absl::Mutex subscribers_mu_;  // shared while callbacks run
  std::map<std::string, std::set<Subscriber*>> subscribers_
      ABSL_GUARDED_BY(subscribers_mu_);
};

// Whether a state is final (SUCCEEDED, FAILED, CANCELLED).
bool IsTerminal(v1::JobState state);

}  // namespace edbp::server

#endif  // EDBP_SERVER_METRICS_HUB_H_
