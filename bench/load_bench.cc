// The server under load (issue 17): one edbp-server (a temporary data dir, a loopback
// port, edbp-fake-train as its train program), N watchers on one job and M submitted
// jobs. Prints the errors, the latency of the watched job's live events (the server's
// event time to the watcher's receipt, p50/p99 over every watcher and event), and the
// server's threads and resident memory (/proc/PID/status) while the jobs run (a line
// every 30 s: jobs ended, threads, RSS, so that a run stopped early still has its
// curve) and after they finish.
//
//   edbp_load_bench [--watchers=1000] [--jobs=10000] [--events=10] [--cpu-slots=2]
//                   [--submitters=4] [--watched-events=100] [--watched-interval-ms=20]
//                   [--server=build/bin/edbp-server] [--fake-train=PATH]
//                   [--server-flag=--event-cache-mib=8]...
//
// The watched job (job 1) waits until every watcher has its stream open, then sends
// --watched-events events --watched-interval-ms apart; the other jobs send --events
// events at once (--events=2 for the fastest run: one progress record and the epoch's
// metrics), submitted from --submitters client threads. --server may name another
// build (e.g. main's) to compare. The temporary directory (server.log, the jobs'
// train.log) is removed after a run without errors and kept otherwise.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "edbp/v1/training_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace edbp::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  int watchers = 1000;
  int jobs = 10000;
  int events = 10;
  int cpu_slots = 2;
  int submitters = 4;
  int watched_events = 100;
  int watched_interval_ms = 20;
  std::string server = EDBP_SERVER_BIN;
  std::string fake_train = EDBP_FAKE_TRAIN_BIN;
  std::vector<std::string> server_flags;
};

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    int* number = name == "--watchers"              ? &o.watchers
                  : name == "--jobs"                ? &o.jobs
                  : name == "--events"              ? &o.events
                  : name == "--cpu-slots"           ? &o.cpu_slots
                  : name == "--submitters"          ? &o.submitters
                  : name == "--watched-events"      ? &o.watched_events
                  : name == "--watched-interval-ms" ? &o.watched_interval_ms
                                                    : nullptr;
    if (number != nullptr && absl::SimpleAtoi(value, number) && *number >= 0) continue;
    if (name == "--server" && !value.empty()) {
      o.server = value;
    } else if (name == "--fake-train" && !value.empty()) {
      o.fake_train = value;
    } else if (name == "--server-flag" && !value.empty()) {
      o.server_flags.push_back(value);
    } else {
      std::fprintf(stderr, "edbp_load_bench: bad argument %s (see the file's header)\n",
                   arg.c_str());
      std::exit(2);
    }
  }
  return o;
}

// Threads and VmRSS (KiB) of a process, from /proc/PID/status.
struct ProcessSample {
  int64_t threads = 0;
  int64_t rss_kib = 0;
};

ProcessSample Sample(pid_t pid) {
  ProcessSample s;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (absl::StartsWith(line, "Threads:")) s.threads = std::stoll(line.substr(8));
    if (absl::StartsWith(line, "VmRSS:")) s.rss_kib = std::stoll(line.substr(6));
  }
  return s;
}

// A config the server accepts (configs/small.yaml, 1 epoch, on Synthetic data: the fake
// trainer reads none, and the server checks a data set's files at submit) with the fake
// trainer's plan in a comment.
std::string Config(const std::string& plan) {
  std::ifstream in("configs/small.yaml");
  std::stringstream text;
  text << in.rdbuf();
  std::string yaml = text.str();
  if (yaml.empty()) {
    std::fprintf(stderr, "edbp_load_bench: run from the repository root (configs/)\n");
    std::exit(2);
  }
  yaml.replace(yaml.find("epochs: 100"), 11, "epochs: 1");
  const std::string dataset = "dataset: \"FashionMNIST\"";
  yaml.replace(yaml.find(dataset), dataset.size(),
               "dataset: \"Synthetic\"\n  input_shape: [1, 28, 28]");
  return absl::StrCat("# fake-train: ", plan, "\n", yaml);
}

class ServerProcess {
 public:
  ServerProcess(const Options& o, const fs::path& dir) {
    int out[2];
    if (pipe(out) != 0) std::exit(1);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      const int err =
          open((dir / "server.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(err, 2);
      std::vector<std::string> args = {o.server,
                                       "--listen=127.0.0.1:0",
                                       "--data-dir=" + (dir / "data").string(),
                                       "--train-program=" + o.fake_train,
                                       "--cpu-slots=" + std::to_string(o.cpu_slots),
                                       "--grace-seconds=5"};
      args.insert(args.end(), o.server_flags.begin(), o.server_flags.end());
      std::vector<char*> argv;
      argv.reserve(args.size() + 1);
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      setenv("EDBP_FAKE_TRAIN_EVENTS", std::to_string(o.events).c_str(), 1);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    FILE* f = fdopen(out[0], "r");
    char line[256] = {};
    if (fgets(line, sizeof(line), f) == nullptr ||
        std::string(line).rfind("listening on ", 0) != 0) {
      std::fprintf(stderr, "edbp-server did not start; see %s\n",
                   (dir / "server.log").c_str());
      std::exit(1);
    }
    fclose(f);
    const std::string text(line);
    address_ = text.substr(13, text.find('\n') - 13);
  }
  ~ServerProcess() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }
  const std::string& address() const { return address_; }

 private:
  pid_t pid_ = -1;
  std::string address_;
};

// One WatchJob stream on the client's callback API: records the latency of each live
// event of the watched job (progress and epoch metrics).
class Watcher final : public grpc::ClientReadReactor<v1::Event> {
 public:
  Watcher(v1::TrainingService::Stub* stub, const std::string& job,
          std::atomic<int>* opened)
      : opened_(opened) {
    request_.set_name(job);
    request_.set_from_sequence(1);
    stub->async()->WatchJob(&context_, &request_, this);
    StartRead(&event_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    if (!counted_open_) {
      counted_open_ = true;
      opened_->fetch_add(1);
    }
    ++events_;
    if (event_.has_progress() || event_.has_epoch_metrics()) {
      const auto now = std::chrono::system_clock::now().time_since_epoch();
      const double sent =
          static_cast<double>(event_.time().seconds()) + event_.time().nanos() * 1e-9;
      latencies_.push_back(std::chrono::duration<double>(now).count() - sent);
    }
    StartRead(&event_);
  }
  void OnDone(const grpc::Status& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
    done_ = true;
    cv_.notify_all();
  }
  // Waits for the end of the stream; its status.
  grpc::Status Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return done_; });
    return status_;
  }
  const std::vector<double>& latencies() const { return latencies_; }
  int64_t events() const { return events_; }

 private:
  std::atomic<int>* const opened_;
  grpc::ClientContext context_;
  v1::WatchJobRequest request_;
  v1::Event event_;
  bool counted_open_ = false;
  int64_t events_ = 0;
  std::vector<double> latencies_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  grpc::Status status_;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1,
                    static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// The benchmark with its files under `dir`; 0 when there was no error.
int RunIn(const Options& o, const fs::path& dir) {
  ServerProcess server(o, dir);
  const ProcessSample idle = Sample(server.pid());
  std::printf("server %s (pid %d) on %s: %lld threads, %lld KiB RSS at start\n",
              o.server.c_str(), server.pid(), server.address().c_str(),
              static_cast<long long>(idle.threads), static_cast<long long>(idle.rss_kib));

  // Several connections: one HTTP/2 connection per channel (a distinct channel arg
  // keeps gRPC from sharing the subchannel).
  constexpr int kChannels = 16;
  std::vector<std::unique_ptr<v1::TrainingService::Stub>> stubs;
  for (int c = 0; c < kChannels; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("edbp.load_bench.channel", c);
    stubs.push_back(v1::TrainingService::NewStub(grpc::CreateCustomChannel(
        server.address(), grpc::InsecureChannelCredentials(), args)));
  }
  std::atomic<int64_t> errors{0};
  auto create = [&](v1::TrainingService::Stub* stub, const std::string& yaml) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::CreateJobRequest req;
    req.set_config_yaml(yaml);
    v1::Job job;
    const grpc::Status s = stub->CreateJob(&ctx, req, &job);
    if (!s.ok()) {
      if (errors.fetch_add(1) < 5) {
        std::fprintf(stderr, "CreateJob: %s\n", s.error_message().c_str());
      }
    }
    return job.name();
  };

  // The watched job waits until the watchers are in place (2 s per 1,000 watchers).
  const int delay_ms = 1000 + 2 * o.watchers;
  const std::string watched =
      create(stubs[0].get(), Config(absl::StrCat("events=", o.watched_events,
                                                 " interval_ms=", o.watched_interval_ms,
                                                 " delay_ms=", delay_ms)));
  std::atomic<int> opened{0};
  std::vector<std::unique_ptr<Watcher>> watchers;
  watchers.reserve(o.watchers);
  const Clock::time_point t0 = Clock::now();
  for (int w = 0; w < o.watchers; ++w) {
    watchers.push_back(
        std::make_unique<Watcher>(stubs[w % kChannels].get(), watched, &opened));
  }

  // Samples the server every 100 ms until told to stop.
  std::atomic<bool> sampling{true};
  ProcessSample peak;
  std::thread sampler([&] {
    while (sampling.load()) {
      const ProcessSample s = Sample(server.pid());
      peak.threads = std::max(peak.threads, s.threads);
      peak.rss_kib = std::max(peak.rss_kib, s.rss_kib);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });

  // The submissions, from --submitters client threads.
  const std::string yaml = Config("");
  const int submitter_count = std::max(o.submitters, 1);
  std::vector<std::thread> submitters;
  submitters.reserve(submitter_count);
  for (int t = 0; t < submitter_count; ++t) {
    submitters.emplace_back([&, t] {
      for (int j = t; j < o.jobs; j += submitter_count)
        create(stubs[j % kChannels].get(), yaml);
    });
  }
  for (std::thread& t : submitters) t.join();
  const double submit_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("submitted %d jobs in %.1f s; %d of %d watchers had their stream open\n",
              o.jobs, submit_s, opened.load(), o.watchers);

  std::vector<double> latencies;
  int64_t watch_errors = 0;
  int64_t events_seen = 0;
  for (auto& w : watchers) {
    const grpc::Status s = w->Wait();
    if (!s.ok() && watch_errors++ < 5) {
      std::fprintf(stderr, "WatchJob: %s\n", s.error_message().c_str());
    }
    events_seen += w->events();
    latencies.insert(latencies.end(), w->latencies().begin(), w->latencies().end());
  }
  const ProcessSample watching_peak = peak;
  std::printf("watchers done after %.1f s: %lld events received, %lld stream errors\n",
              std::chrono::duration<double>(Clock::now() - t0).count(),
              static_cast<long long>(events_seen), static_cast<long long>(watch_errors));
  std::printf(
      "event latency (server time to receipt) over %zu events: p50 %.2f ms, "
      "p99 %.2f ms, max %.2f ms\n",
      latencies.size(), 1e3 * Percentile(latencies, 0.50),
      1e3 * Percentile(latencies, 0.99), 1e3 * Percentile(latencies, 1.0));
  watchers.clear();

  // Until every job has ended: the newest job's id is the highest; jobs run in id order.
  int64_t ended = 0, failed = 0;
  int polls = 0;
  while (true) {
    ended = failed = 0;
    std::string token;
    do {
      grpc::ClientContext ctx;
      v1::ListJobsRequest req;
      req.set_page_size(1000);
      req.set_page_token(token);
      v1::ListJobsResponse resp;
      if (!stubs[0]->ListJobs(&ctx, req, &resp).ok()) break;
      for (const v1::Job& job : resp.jobs()) {
        if (job.state() == v1::SUCCEEDED) ++ended;
        if (job.state() == v1::FAILED || job.state() == v1::CANCELLED) ++failed;
      }
      token = resp.next_page_token();
    } while (!token.empty());
    if (ended + failed >= o.jobs + 1) break;
    if (++polls % 15 == 0) {  // every 30 s
      const ProcessSample s = Sample(server.pid());
      std::printf("  %.0f s: %lld of %d jobs ended; server %lld threads, %lld KiB RSS\n",
                  std::chrono::duration<double>(Clock::now() - t0).count(),
                  static_cast<long long>(ended) + static_cast<long long>(failed),
                  o.jobs + 1, static_cast<long long>(s.threads),
                  static_cast<long long>(s.rss_kib));
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  const double all_s = std::chrono::duration<double>(Clock::now() - t0).count();
  sampling.store(false);
  sampler.join();
  std::printf(
      "all %d jobs ended after %.1f s (%.1f jobs/s): %lld succeeded, %lld failed; "
      "%lld CreateJob errors\n",
      o.jobs + 1, all_s, (o.jobs + 1) / all_s, static_cast<long long>(ended),
      static_cast<long long>(failed), static_cast<long long>(errors.load()));
  std::printf(
      "server during the run: peak %lld threads (%lld while watched), peak %lld "
      "KiB RSS\n",
      static_cast<long long>(peak.threads), static_cast<long long>(watching_peak.threads),
      static_cast<long long>(peak.rss_kib));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const ProcessSample after = Sample(server.pid());
  std::printf("server 2 s after the last job: %lld threads, %lld KiB RSS\n",
              static_cast<long long>(after.threads),
              static_cast<long long>(after.rss_kib));
  // Every job's log read once more from sequence 1 (a late watcher per job, one at a
  // time): replays come from the store and the cache stays bounded.
  const int replays = std::min(o.jobs + 1, 2000);
  int64_t replayed = 0;
  for (int j = 1; j <= replays; ++j) {
    grpc::ClientContext ctx;
    v1::WatchJobRequest req;
    req.set_name(absl::StrCat("jobs/", j));
    req.set_from_sequence(1);
    auto reader = stubs[j % kChannels]->WatchJob(&ctx, req);
    v1::Event e;
    while (reader->Read(&e)) ++replayed;
    if (!reader->Finish().ok()) ++errors;
  }
  const ProcessSample replay = Sample(server.pid());
  std::printf(
      "after replaying jobs 1..%d from sequence 1 (%lld events): %lld threads, "
      "%lld KiB RSS\n",
      replays, static_cast<long long>(replayed), static_cast<long long>(replay.threads),
      static_cast<long long>(replay.rss_kib));
  const int64_t total_errors = errors.load() + watch_errors + failed;
  std::printf("errors: %lld\n", static_cast<long long>(total_errors));
  return total_errors == 0 ? 0 : 1;
}

int Run(const Options& o) {
  const fs::path dir =
      fs::temp_directory_path() / ("edbp_load_bench_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const int code = RunIn(o, dir);  // the server has stopped
  if (code == 0) {
    fs::remove_all(dir);
  } else {  // the failed jobs' train.log and the server's log, to see why
    std::printf("kept %s (server.log, data/jobs/*/train.log)\n", dir.c_str());
  }
  return code;
}

}  // namespace
}  // namespace edbp::bench

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF,
               0);  // progress lines as they come, also into a file
  return edbp::bench::Run(edbp::bench::ParseOptions(argc, argv));
}
