// The local executor: a run is a child process of the server (server/launcher.h) in
// the job's directory. One worker: edbp-train itself. W > 1 workers: `mpirun -np W
// edbp-train ...` (with --oversubscribe only when W exceeds this machine's cores; as
// root with OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 in the
// child's environment). On GPU slots CUDA_VISIBLE_DEVICES lists the run's GPUs.
// Runs die with the server (PR_SET_PDEATHSIG): Reattach finds nothing. Thread-safe.
#ifndef EDBP_SERVER_LOCAL_EXECUTOR_H_
#define EDBP_SERVER_LOCAL_EXECUTOR_H_

#include <string>

#include "server/executor.h"
#include "server/launcher.h"

namespace edbp::server {

class LocalExecutor final : public Executor {
 public:
  // `launcher` (not owned) outlives this executor. `mpirun`: the launcher of W > 1.
  explicit LocalExecutor(Launcher* launcher, std::string mpirun = "mpirun")
      : launcher_(launcher), mpirun_(std::move(mpirun)) {}

  bool UsesSlots() const override { return true; }
  bool RunsOutliveServer() const override { return false; }
  absl::StatusOr<RunStarted> Start(const RunSpec& spec, RunEndCallback on_end) override;
  absl::Status Terminate(const std::string& job_id,
                         std::chrono::milliseconds grace) override;
  absl::StatusOr<RunStarted> Reattach(const v1::Job& job, RunEndCallback on_end) override;

  // The LaunchSpec of a run (exposed for tests).
  LaunchSpec MakeLaunchSpec(const RunSpec& spec) const;

 private:
  Launcher* const launcher_;
  const std::string mpirun_;
};

}  // namespace edbp::server

#endif  // EDBP_SERVER_LOCAL_EXECUTOR_H_
