// edbp-fake-train: a stand-in for edbp-train under edbp-server (--train-program) for the
// load benchmark and the server's streaming tests, where real training is too slow for
// thousands of jobs. It accepts edbp-train's command line as the scheduler gives it
// (CONFIG.yaml --out-dir DIR --report-to ADDR --job-id ID --attempt N ...), waits
// delay_ms, sends `events` events (progress records, then one epoch's metrics) through
// worker::WorkerReporter, interval_ms apart, and exits 0. The three numbers come from a
// comment line of the config, "# fake-train: events=200 interval_ms=10 delay_ms=3000"
// (any of them), else from $EDBP_FAKE_TRAIN_EVENTS, $EDBP_FAKE_TRAIN_INTERVAL_MS and
// $EDBP_FAKE_TRAIN_DELAY_MS; defaults 10, 0 and 0. Without --report-to it only prints
// what it would send.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "core/train/metrics.h"
#include "worker/worker_reporter.h"

namespace {

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* text = std::getenv(name);
  int64_t value = 0;
  if (text == nullptr || !absl::SimpleAtoi(text, &value) || value < 0) return fallback;
  return value;
}

struct Plan {
  int64_t events = EnvInt("EDBP_FAKE_TRAIN_EVENTS", 10);
  int64_t interval_ms = EnvInt("EDBP_FAKE_TRAIN_INTERVAL_MS", 0);
  int64_t delay_ms = EnvInt("EDBP_FAKE_TRAIN_DELAY_MS", 0);
};

// The environment's plan, overridden by the config's "# fake-train:" line.
Plan ReadPlan(const std::string& config_path) {
  Plan plan;
  std::ifstream config(config_path);
  for (std::string line; std::getline(config, line);) {
    constexpr absl::string_view kPrefix = "# fake-train:";
    if (!absl::StartsWith(line, kPrefix)) continue;
    for (absl::string_view word : absl::StrSplit(
             absl::string_view(line).substr(kPrefix.size()), ' ', absl::SkipEmpty())) {
      const std::pair<std::string, std::string> kv = absl::StrSplit(word, '=');
      int64_t value = 0;
      if (!absl::SimpleAtoi(kv.second, &value) || value < 0) continue;
      if (kv.first == "events") plan.events = value;
      if (kv.first == "interval_ms") plan.interval_ms = value;
      if (kv.first == "delay_ms") plan.delay_ms = value;
    }
  }
  return plan;
}

}  // namespace

int main(int argc, char** argv) {
  std::string report_to;
  std::string job_id;
  int64_t attempt = 0;
  for (int i = 1; i + 1 < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--report-to" || flag == "--report_to") report_to = argv[++i];
    if (flag == "--job-id" || flag == "--job_id") job_id = argv[++i];
    if (flag == "--attempt") attempt = std::strtoll(argv[++i], nullptr, 10);
  }
  if (!report_to.empty() && job_id.empty()) {
    std::fprintf(stderr, "edbp-fake-train: --report-to needs --job-id\n");
    return 2;
  }
  const Plan plan = ReadPlan(argc > 1 && argv[1][0] != '-' ? argv[1] : "");
  std::unique_ptr<edbp::worker::WorkerReporter> reporter;
  if (!report_to.empty()) {
    reporter = std::make_unique<edbp::worker::WorkerReporter>(report_to, job_id, attempt);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(plan.delay_ms));
  for (int64_t i = 1; i <= plan.events; ++i) {
    if (i > 1) std::this_thread::sleep_for(std::chrono::milliseconds(plan.interval_ms));
    if (i < plan.events) {
      edbp::train::ProgressRecord r;
      r.epoch = 1;
      r.batch = i;
      r.batches = plan.events - 1;
      r.running_loss = 1.0 / static_cast<double>(i);
      r.running_accuracy = 0.5;
      if (reporter != nullptr) reporter->OnProgress(r);
    } else {
      edbp::train::EpochMetrics m;
      m.epoch = 1;
      m.epochs = 1;
      m.test_accuracy = 0.5;
      m.seconds = 0.001;
      if (reporter != nullptr) reporter->OnEpoch(m);
    }
    if (reporter == nullptr) std::printf("event %lld\n", static_cast<long long>(i));
  }
  return 0;
}
