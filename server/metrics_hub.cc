#include "server/metrics_hub.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/job_name.h"
#include "server/clock.h"

namespace edbp::server {
namespace {

// What one heap allocation costs besides its bytes (glibc malloc's header and
// rounding, about).
constexpr size_t kMallocOverhead = 16;

// Counted per cached event besides its SpaceUsedLong (which includes the message
// object and its submessages and strings): the byte count beside it in the deque slot
// and the malloc headers of its ~4 allocations (timestamp, the oneof's message, the
// job name and a string of that message).
constexpr size_t kEventOverhead = sizeof(size_t) + 4 * kMallocOverhead;

bool IsTerminalEvent(const v1::Event& event) {
  return event.has_state_change() && IsTerminal(event.state_change().state());
}

// Whether the last state change in the stored log of `job` is final, read backwards
// from its last event a page at a time. Ended is what the log says, not the job's
// state alone: the scheduler stores a final state just before it appends the event
// announcing it, and a report may still follow that event.
absl::StatusOr<bool> LastStateChangeIsTerminal(JobStore* store, const std::string& job_id,
                                               const v1::Job& job) {
  constexpr int64_t kPage = 16;
  for (int64_t end = job.last_sequence(); end >= 1; end -= kPage) {
    const int64_t from = std::max<int64_t>(1, end - kPage + 1);
    EDBP_ASSIGN_OR_RETURN(
        std::vector<v1::Event> page,
        store->ReadEvents(job_id, from, static_cast<int>(end - from + 1)));
    for (auto it = page.rbegin(); it != page.rend(); ++it) {
      if (it->has_state_change()) return IsTerminalEvent(*it);
    }
  }
  return false;
}

}  // namespace

bool IsTerminal(v1::JobState state) {
  return state == v1::SUCCEEDED || state == v1::FAILED || state == v1::CANCELLED;
}

size_t MetricsHub::FixedEntryBytes() {
  // libstdc++'s deque allocates its map (8 node pointers) and one node (512 bytes'
  // worth of elements, or one element) as soon as it is constructed.
  constexpr size_t kDequeNode =
      sizeof(Cached) < 512 ? 512 / sizeof(Cached) * sizeof(Cached) : sizeof(Cached);
  constexpr size_t kDequeMap = 8 * sizeof(void*);
  // A std::map node: three pointers and the colour, then the key and value.
  constexpr size_t kMapNode =
      4 * sizeof(void*) + sizeof(std::pair<const std::string, std::unique_ptr<JobLog>>);
  constexpr size_t kListNode = 3 * sizeof(void*);
  // Allocations: the JobLog, the deque's map and node, the map node, the list node.
  return sizeof(JobLog) + kDequeMap + kDequeNode + kMapNode + kListNode +
         5 * kMallocOverhead;
}

size_t MetricsHub::EntryBytes(const std::string& job_id) {
  // The id twice (the map's key and JobLog::id), counted whether or not it fits the
  // string's inline buffer.
  return FixedEntryBytes() + 2 * job_id.size();
}

absl::StatusOr<MetricsHub::JobLog*> MetricsHub::LogOf(const std::string& job_id) {
  auto it = logs_.find(job_id);
  if (it != logs_.end()) return it->second.get();
  EDBP_ASSIGN_OR_RETURN(const v1::Job job, store_->GetJob(job_id));
  auto log = std::make_unique<JobLog>();
  log->id = job_id;
  // Exact under mu_: every event of the job is appended through this hub, under mu_,
  // and the store sets last_sequence in the event's own transaction.
  log->last_sequence = job.last_sequence();
  // A job not in a final state has not ended (the scheduler stores a state before the
  // event announcing it: a job resumed from a final state is QUEUED before its event
  // is); one in a final state has ended once that event is in its log.
  if (IsTerminal(job.state())) {
    EDBP_ASSIGN_OR_RETURN(log->ended, LastStateChangeIsTerminal(store_, job_id, job));
  }
  JobLog* raw = log.get();
  logs_.emplace(job_id, std::move(log));
  cache_bytes_ += EntryBytes(job_id);
  return raw;
}

void MetricsHub::DropIfEmpty(JobLog* log) {
  if (!log->cached.empty()) return;
  cache_bytes_ -= EntryBytes(log->id);
  logs_.erase(logs_.find(log->id));  // reloaded from the store when asked for again
}

void MetricsHub::Forget(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = logs_.find(job_id);
  if (it == logs_.end()) return;
  JobLog* log = it->second.get();
  for (const Cached& cached : log->cached) cache_bytes_ -= cached.bytes;
  cache_events_ -= log->cached.size();
  if (!log->cached.empty()) lru_.erase(log->lru);
  log->cached.clear();
  DropIfEmpty(log);
}

void MetricsHub::Touch(JobLog* log) { lru_.splice(lru_.begin(), lru_, log->lru); }

void MetricsHub::Evict() {
  while (cache_bytes_ > cache_limit_ && !lru_.empty()) {
    JobLog* victim = lru_.back();
    cache_bytes_ -= victim->cached.front().bytes;
    victim->cached.pop_front();
    --cache_events_;
    if (victim->cached.empty()) {
      lru_.pop_back();
      DropIfEmpty(victim);
    }
  }
}

absl::StatusOr<v1::Event> MetricsHub::Append(const std::string& job_id, v1::Event event) {
  absl::Status summary;
  {
    std::lock_guard<std::mutex> lock(mu_);
    EDBP_ASSIGN_OR_RETURN(JobLog * log, LogOf(job_id));
    event.set_job(JobName(job_id));
    event.set_sequence(log->last_sequence + 1);
    *event.mutable_time() = Now();
    if (absl::Status stored = store_->AppendEvent(event); !stored.ok()) {
      DropIfEmpty(log);
      return stored;
    }
    // Stored: from here on the event is the job's, whatever else fails.
    log->last_sequence = event.sequence();
    if (event.has_state_change()) log->ended = IsTerminalEvent(event);
    if (event.has_epoch_metrics()) {
      summary = [&]() -> absl::Status {
        EDBP_ASSIGN_OR_RETURN(v1::Job job, store_->GetJob(job_id));
        const v1::EpochMetrics& m = event.epoch_metrics();
        job.set_last_epoch(m.epoch());
        if (m.test_accuracy() > job.best_test_accuracy()) {
          job.set_best_test_accuracy(m.test_accuracy());
        }
        return store_->UpdateJob(job);
      }();
    }
    const size_t bytes = event.SpaceUsedLong() + kEventOverhead;
    const bool was_empty = log->cached.empty();
    log->cached.push_back(Cached{event, bytes});
    cache_bytes_ += bytes;
    ++cache_events_;
    if (was_empty) {
      lru_.push_front(log);
      log->lru = lru_.begin();
    } else {
      Touch(log);
    }
    Evict();  // may forget `log`: not used below
  }
  {
    absl::ReaderMutexLock lock(&subscribers_mu_);
    auto it = subscribers_.find(job_id);
    if (it != subscribers_.end()) {
      for (Subscriber* subscriber : it->second) subscriber->OnAppended(event);
    }
  }
  if (!summary.ok()) return summary;
  return event;
}

absl::StatusOr<MetricsHub::ReadResult> MetricsHub::Read(const std::string& job_id,
                                                        int64_t from, int limit) {
  from = std::max<int64_t>(from, 1);
  const int64_t count = std::max(limit, 1);
  int64_t last = 0;
  int64_t first_cached = 0;
  bool ended = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    EDBP_ASSIGN_OR_RETURN(JobLog * log, LogOf(job_id));
    last = log->last_sequence;
    ended = log->ended;
    first_cached = last - static_cast<int64_t>(log->cached.size()) + 1;
    if (from >= first_cached) {  // all there is from `from` on is cached
      ReadResult r;
      const int64_t end = std::min(last, from - 1 + count);
      for (int64_t seq = from; seq <= end; ++seq) {
        r.events.push_back(log->cached[static_cast<size_t>(seq - first_cached)].event);
      }
      r.ended = ended && end == last;
      if (!log->cached.empty()) {
        Touch(log);
      } else {
        DropIfEmpty(log);  // a job without cached events is not kept
      }
      return r;
    }
    DropIfEmpty(log);
  }
  // Evicted events: from the store, without the hub's lock (they never change).
  const int64_t end = std::min(first_cached - 1, from - 1 + count);
  EDBP_ASSIGN_OR_RETURN(
      std::vector<v1::Event> stored,
      store_->ReadEvents(job_id, from, static_cast<int>(end - from + 1)));
  if (static_cast<int64_t>(stored.size()) != end - from + 1) {
    return absl::DataLossError(absl::StrCat("job ", job_id, ": the store has ",
                                            stored.size(), " events from sequence ", from,
                                            ", expected ", end - from + 1));
  }
  for (size_t i = 0; i < stored.size(); ++i) {
    if (stored[i].sequence() != from + static_cast<int64_t>(i)) {
      return absl::DataLossError(absl::StrCat("job ", job_id, ": stored event ",
                                              from + static_cast<int64_t>(i),
                                              " has sequence ", stored[i].sequence()));
    }
  }
  ReadResult r;
  r.events = std::move(stored);
  r.ended = ended && end == last;
  return r;
}

void MetricsHub::Subscribe(const std::string& job_id, Subscriber* subscriber) {
  absl::MutexLock lock(&subscribers_mu_);
  subscribers_[job_id].insert(subscriber);
}

void MetricsHub::Unsubscribe(const std::string& job_id, Subscriber* subscriber) {
  absl::MutexLock lock(&subscribers_mu_);
  auto it = subscribers_.find(job_id);
  if (it == subscribers_.end()) return;
  it->second.erase(subscriber);
  if (it->second.empty()) subscribers_.erase(it);
}

void MetricsHub::WakeAll() {
  absl::ReaderMutexLock lock(&subscribers_mu_);
  for (const auto& [job, subscribers] : subscribers_) {
    for (Subscriber* subscriber : subscribers) subscriber->OnWake();
  }
}

void MetricsHub::Interrupt(const std::string& job_id, const absl::Status& why) {
  absl::ReaderMutexLock lock(&subscribers_mu_);
  auto it = subscribers_.find(job_id);
  if (it == subscribers_.end()) return;
  for (Subscriber* subscriber : it->second) subscriber->OnInterrupted(why);
}

MetricsHub::CacheStats MetricsHub::Stats() {
  std::lock_guard<std::mutex> lock(mu_);
  return CacheStats{cache_bytes_, cache_events_, logs_.size()};
}

}  // namespace edbp::server
