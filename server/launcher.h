// Runs each job as a child edbp-train process and watches it.
//
// The child runs in its job directory with stdout and stderr appended to
// `<workdir>/train.log`, in its own process group, with the environment of the server
// plus `env` (e.g. CUDA_VISIBLE_DEVICES), default signal dispositions and an empty
// signal mask. A thread per child waits for its exit and calls `on_exit` (from that
// thread, with no lock held: it may call back into the Launcher). `on_exit` runs
// exactly once per successful Launch, also for children the destructor kills.
// Signals go to the child's process group and never to a child already reaped.
// Thread-safe.
#ifndef EDBP_SERVER_LAUNCHER_H_
#define EDBP_SERVER_LAUNCHER_H_

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"

namespace edbp::server {

struct LaunchSpec {
  std::string job_id;
  std::string workdir;                     // created if missing; the child's cwd
  std::string program;                     // path of edbp-train
  std::vector<std::string> args;           // argv[1..]
  std::map<std::string, std::string> env;  // added to the server's environment
};

struct ExitInfo {
  bool exited = false;  // normal exit: `code` is valid
  int code = 0;         // exit status
  int signal = 0;       // the signal that killed it (when !exited)
  // What an executor knows beyond the process (Slurm's JobState, Reason, ExitCode);
  // when set, Describe() returns it.
  std::string detail;
  std::string Describe() const;  // "exit status 1", "killed by signal 9 (Killed)"
};

class Launcher {
 public:
  Launcher() = default;
  ~Launcher();  // SIGKILLs children still running and joins the waiter threads

  // Starts the child. `program` without a '/' is looked up in PATH; a relative one is
  // taken from the server's cwd. Errors: INTERNAL naming the program when fork/exec
  // fails (an exec failure is detected before returning, e.g. a missing program; then
  // `on_exit` is never called) or naming the workdir when it cannot be created;
  // ALREADY_EXISTS when the job already has a running child; FAILED_PRECONDITION
  // while the Launcher is being destroyed.
  //
  // Children get SIGTERM when the server dies (PR_SET_PDEATHSIG), even by SIGKILL: they
  // checkpoint and stop, and the restarted server resumes them. Because that signal
  // follows the *thread* that forked, every fork happens on one spawner thread that
  // lives as long as the Launcher.
  absl::StatusOr<pid_t> Launch(const LaunchSpec& spec,
                               std::function<void(const ExitInfo&)> on_exit);

  // SIGTERM to the job's process group; SIGKILL to the group after `grace` if the
  // child is still running (a later call may shorten the grace, never extend it).
  // NOT_FOUND when the job has no running child. Returns at once.
  absl::Status Terminate(const std::string& job_id, std::chrono::milliseconds grace);

  // Pid of the job's running child, or -1.
  pid_t PidOf(const std::string& job_id);

 private:
  struct Child;
  absl::StatusOr<pid_t> LaunchHere(const LaunchSpec& spec,
                                   std::function<void(const ExitInfo&)> on_exit);
  void SpawnerLoop();
  // Thread bodies: the waiter of a child, and the SIGKILL timer Terminate starts.
  void Wait(const std::shared_ptr<Child>& child,
            const std::function<void(const ExitInfo&)>& on_exit);
  void KillAfterGrace(const std::shared_ptr<Child>& child);
  // Last act of a thread: lets the next Launch/Terminate join it.
  void MarkFinished();
  void JoinFinishedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::mutex mu_;
  std::condition_variable cv_;  // a child ended, a deadline moved, or stopping_
  std::map<std::string, std::shared_ptr<Child>> children_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread::id> finished_ ABSL_GUARDED_BY(mu_);  // joinable at once
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;                  // in the destructor

  // The spawner thread and its queue of fork requests.
  std::mutex spawn_mu_;
  std::condition_variable spawn_cv_;
  std::deque<std::function<void()>> spawn_queue_ ABSL_GUARDED_BY(spawn_mu_);
  bool spawn_stop_ ABSL_GUARDED_BY(spawn_mu_) = false;
  std::thread spawner_;  // started by the first Launch
  std::once_flag spawner_once_;
};

}  // namespace edbp::server

#endif  // EDBP_SERVER_LAUNCHER_H_
