#include "server/launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/data_dir.h"

namespace edbp::server {
namespace {

using Clock = std::chrono::steady_clock;

// What the child reports through the exec-error pipe: the step that failed and errno.
enum ChildStep : int { kSetpgid = 0, kChdir, kOpenLog, kRedirect, kExec };

std::string ErrnoText(int err) {
  return std::error_code(err, std::generic_category()).message();
}

// `program` as execve gets it: absolute (the child changes its cwd first), looked up in
// PATH when it has no '/'. "" when PATH has no such executable.
std::string ResolveProgram(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    std::error_code ec;
    std::filesystem::path abs = std::filesystem::absolute(program, ec);
    return ec ? program : abs.string();
  }
  const char* path = std::getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path != nullptr ? path : "/usr/bin:/bin", ':')) {
    std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", program);
    if (access(candidate.c_str(), X_OK) == 0) return ResolveProgram(candidate);
  }
  return "";
}

// The server's environment with `extra` added (overriding), as "NAME=value" strings.
std::vector<std::string> BuildEnv(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    absl::string_view kv(*e);
    const size_t eq = kv.find('=');
    if (eq == absl::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  for (const auto& [name, value] : extra) env[name] = value;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [name, value] : env) out.push_back(absl::StrCat(name, "=", value));
  return out;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

[[noreturn]] void ChildFail(int err_fd, ChildStep step) {
  const int msg[2] = {step, errno};
  ssize_t ignored = write(err_fd, msg, sizeof(msg));
  (void)ignored;
  _exit(127);
}

// Runs in the forked child: async-signal-safe calls only (no allocation, no locks).
[[noreturn]] void RunChild(const char* workdir, const char* log_path, const char* program,
                           char* const argv[], char* const envp[], int err_fd,
                           pid_t parent) {
  // The server's death (even kill -9) sends SIGTERM: the job checkpoints and stops.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) _exit(1);  // the server died before prctl took effect
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);  // KILL/STOP fail
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (setpgid(0, 0) != 0) ChildFail(err_fd, kSetpgid);
  if (chdir(workdir) != 0) ChildFail(err_fd, kChdir);
  const int log = open(log_path, O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (log < 0) ChildFail(err_fd, kOpenLog);
  if (dup2(log, STDOUT_FILENO) < 0 || dup2(log, STDERR_FILENO) < 0) {
    ChildFail(err_fd, kRedirect);
  }
  if (log > STDERR_FILENO) close(log);
  const int null = open("/dev/null", O_RDONLY);
  if (null >= 0 && null != STDIN_FILENO) {
    dup2(null, STDIN_FILENO);
    close(null);
  }
  // Descriptors the server did not mark close-on-exec stay out of the child.
  close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  execve(program, argv, envp);
  ChildFail(err_fd, kExec);
}

}  // namespace

std::string ExitInfo::Describe() const {
  if (!detail.empty()) return detail;
  if (exited) return absl::StrCat("exit status ", code);
  if (signal == 0) return "ended with an unknown status";
  const char* name = strsignal(signal);
  return absl::StrCat("killed by signal ", signal, " (", name != nullptr ? name : "?",
                      ")");
}

struct Launcher::Child {
  std::string job_id;
  pid_t pid = -1;  // also its process group id
  // Guarded by Launcher::mu_. `ended`: a zombie or reaped, never to be signalled again.
  bool ended = false;
  bool timer_running = false;  // a KillAfterGrace thread watches it
  Clock::time_point kill_deadline;
};

Launcher::~Launcher() {
  {
    std::lock_guard<std::mutex> lock(spawn_mu_);
    spawn_stop_ = true;
  }
  spawn_cv_.notify_all();
  if (spawner_.joinable()) spawner_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (const auto& [id, child] : children_) {
      if (!child->ended) kill(-child->pid, SIGKILL);
    }
    cv_.notify_all();
  }
  // Waiters end once their child is reaped (after its on_exit); timers see stopping_.
  for (;;) {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      threads.swap(threads_);
    }
    if (threads.empty()) break;
    for (std::thread& t : threads) t.join();
  }
}

absl::StatusOr<pid_t> Launcher::Launch(const LaunchSpec& spec,
                                       std::function<void(const ExitInfo&)> on_exit) {
  std::call_once(spawner_once_,
                 [this] { spawner_ = std::thread([this] { SpawnerLoop(); }); });
  auto task = std::make_shared<std::packaged_task<absl::StatusOr<pid_t>()>>(
      [this, &spec, &on_exit] { return LaunchHere(spec, std::move(on_exit)); });
  std::future<absl::StatusOr<pid_t>> result = task->get_future();
  {
    std::lock_guard<std::mutex> lock(spawn_mu_);
    if (spawn_stop_)
      return absl::FailedPreconditionError("the launcher is shutting down");
    spawn_queue_.push_back([task] { (*task)(); });
  }
  spawn_cv_.notify_one();
  return result.get();
}

void Launcher::SpawnerLoop() {
  while (true) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(spawn_mu_);
      spawn_cv_.wait(lock, [this] { return spawn_stop_ || !spawn_queue_.empty(); });
      if (spawn_queue_.empty()) return;  // stopping and nothing left
      job = std::move(spawn_queue_.front());
      spawn_queue_.pop_front();
    }
    job();
  }
}

absl::StatusOr<pid_t> Launcher::LaunchHere(const LaunchSpec& spec,
                                           std::function<void(const ExitInfo&)> on_exit) {
  // Everything the child needs is built here: after fork it may not allocate.
  const std::string program = ResolveProgram(spec.program);
  if (program.empty()) {
    return absl::InternalError(absl::StrCat("cannot run ", spec.program, " for job ",
                                            spec.job_id, ": not found in PATH"));
  }
  std::error_code ec;
  std::filesystem::create_directories(spec.workdir, ec);
  const std::filesystem::path workdir = std::filesystem::absolute(spec.workdir, ec);
  if (ec || !std::filesystem::is_directory(workdir)) {
    return absl::InternalError(absl::StrCat("cannot create the workdir ", spec.workdir,
                                            " of job ", spec.job_id, ": ",
                                            ec ? ec.message() : "not a directory"));
  }
  const std::string workdir_str = workdir.string();
  const std::string log_path = (workdir / kJobLogFile).string();
  std::vector<std::string> arg_strings = {program};
  arg_strings.insert(arg_strings.end(), spec.args.begin(), spec.args.end());
  std::vector<char*> argv = CStrings(arg_strings);
  std::vector<std::string> env_strings = BuildEnv(spec.env);
  std::vector<char*> envp = CStrings(env_strings);

  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return absl::FailedPreconditionError("the launcher is shutting down");
  JoinFinishedLocked();
  if (auto it = children_.find(spec.job_id); it != children_.end()) {
    return absl::AlreadyExistsError(absl::StrCat(
        "job ", spec.job_id, " already has a running child (pid ", it->second->pid, ")"));
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("cannot run ", program, " for job ",
                                            spec.job_id, ": pipe: ", ErrnoText(errno)));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(fds[0]);
    close(fds[1]);
    return absl::InternalError(absl::StrCat("cannot run ", program, " for job ",
                                            spec.job_id, ": fork: ", ErrnoText(err)));
  }
  if (pid == 0) {
    RunChild(workdir_str.c_str(), log_path.c_str(), program.c_str(), argv.data(),
             envp.data(), fds[1], parent);
  }
  close(fds[1]);
  setpgid(pid, pid);  // also here, so the group exists whichever runs first
  // EOF: execve succeeded (the pipe is close-on-exec); else the child's step and errno.
  int msg[2] = {0, 0};
  size_t got = 0;
  while (got < sizeof(msg)) {
    const ssize_t n = read(fds[0], reinterpret_cast<char*>(msg) + got, sizeof(msg) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fds[0]);
  if (got > 0) {
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    static constexpr const char* kSteps[] = {"setpgid", "chdir", "open train.log",
                                             "redirect output", "exec"};
    const std::string step = got == sizeof(msg) && msg[0] >= kSetpgid && msg[0] <= kExec
                                 ? kSteps[msg[0]]
                                 : "child setup";
    return absl::InternalError(
        absl::StrCat("cannot run ", program, " for job ", spec.job_id, ": ", step, ": ",
                     got == sizeof(msg) ? ErrnoText(msg[1]) : "?"));
  }

  auto child = std::make_shared<Child>();
  child->job_id = spec.job_id;
  child->pid = pid;
  children_[spec.job_id] = child;
  threads_.emplace_back([this, child, cb = std::move(on_exit)]() mutable {
    Wait(child, cb);
    MarkFinished();
  });
  return pid;
}

void Launcher::Wait(const std::shared_ptr<Child>& child,
                    const std::function<void(const ExitInfo&)>& on_exit) {
  // Wait without reaping: until `ended` is set under mu_ the pid cannot be reused, so
  // Terminate's and the timer's signals never reach another process.
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  int rc;
  do {
    rc = waitid(P_PID, static_cast<id_t>(child->pid), &info, WEXITED | WNOWAIT);
  } while (rc != 0 && errno == EINTR);
  ExitInfo exit_info;
  if (rc == 0 && info.si_code == CLD_EXITED) {
    exit_info.exited = true;
    exit_info.code = info.si_status;
  } else if (rc == 0 && (info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED)) {
    exit_info.signal = info.si_status;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    child->ended = true;
    auto it = children_.find(child->job_id);
    if (it != children_.end() && it->second == child) children_.erase(it);
    cv_.notify_all();
  }
  while (waitpid(child->pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (on_exit) on_exit(exit_info);
}

absl::Status Launcher::Terminate(const std::string& job_id,
                                 std::chrono::milliseconds grace) {
  std::lock_guard<std::mutex> lock(mu_);
  JoinFinishedLocked();
  auto it = children_.find(job_id);
  if (it == children_.end()) {
    return absl::NotFoundError(absl::StrCat("job ", job_id, " has no running child"));
  }
  const std::shared_ptr<Child> child = it->second;
  if (kill(-child->pid, SIGTERM) != 0 && errno != ESRCH) {
    return absl::InternalError(absl::StrCat("SIGTERM to job ", job_id, " (pid ",
                                            child->pid, "): ", ErrnoText(errno)));
  }
  if (stopping_) return absl::OkStatus();  // the destructor SIGKILLs it already
  const Clock::time_point deadline =
      Clock::now() + std::max(grace, std::chrono::milliseconds(0));
  if (!child->timer_running) {
    child->timer_running = true;
    child->kill_deadline = deadline;
    threads_.emplace_back([this, child] {
      KillAfterGrace(child);
      MarkFinished();
    });
  } else if (deadline < child->kill_deadline) {
    child->kill_deadline = deadline;
    cv_.notify_all();
  }
  return absl::OkStatus();
}

void Launcher::KillAfterGrace(const std::shared_ptr<Child>& child) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!child->ended && !stopping_) {
    if (Clock::now() >= child->kill_deadline) {
      kill(-child->pid, SIGKILL);
      break;
    }
    cv_.wait_until(lock, child->kill_deadline);
  }
  child->timer_running = false;
}

pid_t Launcher::PidOf(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = children_.find(job_id);
  return it == children_.end() ? -1 : it->second->pid;
}

void Launcher::MarkFinished() {
  std::lock_guard<std::mutex> lock(mu_);
  finished_.push_back(std::this_thread::get_id());
}

void Launcher::JoinFinishedLocked() {
  if (finished_.empty()) return;
  // Each of these has pushed its id as its last act under mu_: join returns at once.
  auto done = [this](const std::thread& t) {
    return std::find(finished_.begin(), finished_.end(), t.get_id()) != finished_.end();
  };
  for (std::thread& t : threads_) {
    if (done(t)) t.join();
  }
  threads_.erase(std::remove_if(threads_.begin(), threads_.end(),
                                [](const std::thread& t) { return !t.joinable(); }),
                 threads_.end());
  finished_.clear();
}

}  // namespace edbp::server
