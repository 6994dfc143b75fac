#include "server/local_executor.h"

#include <unistd.h>

#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace edbp::server {

LaunchSpec LocalExecutor::MakeLaunchSpec(const RunSpec& spec) const {
  LaunchSpec launch;
  launch.job_id = spec.job_id;
  launch.workdir = spec.workdir;
  launch.env = spec.env;
  const int workers = spec.resources.workers;
  if (workers <= 1) {
    launch.program = spec.program;
    launch.args = spec.args;
  } else {
    launch.program = mpirun_;
    launch.args = {"-np", absl::StrCat(workers)};
    const unsigned cores = std::thread::hardware_concurrency();
    if (cores > 0 && static_cast<unsigned>(workers) > cores) {
      launch.args.push_back("--oversubscribe");
    }
    launch.args.push_back(spec.program);
    launch.args.insert(launch.args.end(), spec.args.begin(), spec.args.end());
    if (geteuid() == 0) {
      launch.env["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
      launch.env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
    }
  }
  std::vector<std::string> gpus;
  for (const std::string& slot : spec.slots) {
    if (slot.rfind("cuda:", 0) == 0) gpus.push_back(slot.substr(5));
  }
  if (!gpus.empty()) launch.env["CUDA_VISIBLE_DEVICES"] = absl::StrJoin(gpus, ",");
  return launch;
}

absl::StatusOr<RunStarted> LocalExecutor::Start(const RunSpec& spec,
                                                RunEndCallback on_end) {
  auto pid = launcher_->Launch(MakeLaunchSpec(spec), std::move(on_end));
  if (!pid.ok()) return pid.status();
  RunStarted started;
  started.device = absl::StrJoin(spec.slots, ",");
  return started;
}

absl::Status LocalExecutor::Terminate(const std::string& job_id,
                                      std::chrono::milliseconds grace) {
  return launcher_->Terminate(job_id, grace);
}

absl::StatusOr<RunStarted> LocalExecutor::Reattach(const v1::Job&, RunEndCallback) {
  return RunStarted{};  // children died with the previous server
}

}  // namespace edbp::server
