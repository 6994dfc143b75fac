// Whether the job store can write (issue 17, store failures): the scheduler reports the
// outcome of every write of a job's state; a failure (a full disk, an I/O error) makes
// the store unhealthy until a later write succeeds. The server's health service
// (NOT_SERVING while unhealthy: take no new work here) and /metrics listen.
//
// Thread-safe. Listeners are added before the first report and are called on the
// reporting thread, with no lock of this class held, each time health changes.
#ifndef EDBP_SERVER_STORE_HEALTH_H_
#define EDBP_SERVER_STORE_HEALTH_H_

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"

namespace edbp::server {

class StoreHealth {
 public:
  using Listener = std::function<void(bool healthy, const std::string& last_error)>;

  void AddListener(Listener listener) { listeners_.push_back(std::move(listener)); }

  // The outcome of one write: a failure counts and makes the store unhealthy, a
  // success makes it healthy again.
  void OnWrite(const absl::Status& status) {
    bool changed = false;
    bool healthy = false;
    std::string error;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!status.ok()) {
        ++failures_;
        last_error_ = status.ToString();
      }
      changed = healthy_ != status.ok();
      healthy_ = status.ok();
      healthy = healthy_;
      error = last_error_;
    }
    if (changed) {
      for (const Listener& listener : listeners_) listener(healthy, error);
    }
  }

  bool healthy() {
    std::lock_guard<std::mutex> lock(mu_);
    return healthy_;
  }
  int64_t failures() {
    std::lock_guard<std::mutex> lock(mu_);
    return failures_;
  }

 private:
  std::vector<Listener> listeners_;  // fixed before the first report
  std::mutex mu_;
  bool healthy_ ABSL_GUARDED_BY(mu_) = true;
  int64_t failures_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace edbp::server

#endif  // EDBP_SERVER_STORE_HEALTH_H_
