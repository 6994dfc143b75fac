#include "kernels/cpu/parallel.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace edbp::kernels::cpu {
namespace {

int DetectThreads() {
  if (const char* env = std::getenv("EDBP_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n >= 1) return n;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n >= 1) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

thread_local bool in_parallel_region = false;

// Pieces a ParallelFor is cut into, per thread at most.
constexpr int64_t kPiecesPerThread = 8;

// Workers wait for a generation number to change, run their share of the current
// job, and report back. The caller runs share 0.
class Pool {
 public:
  explicit Pool(int threads) : threads_(threads) {
    for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { Loop(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      ++generation_;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
  }

  int threads() const { return threads_; }

  // Runs share(i) for i in [0, shares) across the pool; shares <= threads_.
  void Run(int shares, const std::function<void(int)>& share) {
    std::lock_guard<std::mutex> run_lock(run_mu_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = &share;
      shares_ = shares;
      pending_ = shares - 1;
      ++generation_;
    }
    cv_.notify_all();
    in_parallel_region = true;
    share(0);
    in_parallel_region = false;
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
  }

 private:
  void Loop(int index) {
    uint64_t seen = 0;
    in_parallel_region = true;
    while (true) {
      const std::function<void(int)>* job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (stop_) return;
        if (index >= shares_) continue;
        job = job_;
      }
      (*job)(index);
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (--pending_ == 0) done_cv_.notify_one();
      }
    }
  }

  const int threads_;
  std::vector<std::thread> workers_;
  std::mutex run_mu_;  // one parallel job at a time
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable done_cv_;
  uint64_t generation_ = 0;                        // guarded by mu_
  bool stop_ = false;                              // guarded by mu_
  const std::function<void(int)>* job_ = nullptr;  // guarded by mu_
  int shares_ = 0;                                 // guarded by mu_
  int pending_ = 0;                                // guarded by mu_
};

Pool& GetPool() {
  static Pool* const pool = new Pool(DetectThreads());
  return *pool;
}

}  // namespace

int NumThreads() { return GetPool().threads(); }

void ParallelFor(int64_t n, int64_t grain,
                 const std::function<void(int64_t begin, int64_t end)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  Pool& pool = GetPool();
  const int64_t pieces = std::min<int64_t>((n + grain - 1) / grain,
                                           int64_t{pool.threads()} * kPiecesPerThread);
  if (pool.threads() <= 1 || pieces <= 1 || in_parallel_region) {
    fn(0, n);
    return;
  }
  // Threads take the next piece as they finish one: work that varies along [0, n) (the
  // time steps of a [T·B] batch differ in density) still spreads evenly.
  std::atomic<int64_t> next{0};
  pool.Run(static_cast<int>(std::min<int64_t>(pool.threads(), pieces)), [&](int) {
    for (int64_t i = next.fetch_add(1); i < pieces; i = next.fetch_add(1)) {
      fn(n * i / pieces, n * (i + 1) / pieces);
    }
  });
}

}  // namespace edbp::kernels::cpu
