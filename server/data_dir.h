// The layout of edbp-server's --data-dir, spelled out here only:
//   edbp.lock          the running server's lock and pid (data_dir_lock.h)
//   edbp.sqlite        the job store (jobs, transitions, events)
//   worker.sock        the worker service's Unix socket (mode 0600)
//   datasets/          a default data root of job configs
//   jobs/<id>/         one job: config.yaml, train.log, checkpoints (core/train/
//                      checkpoint_names.h), tensorboard/
#ifndef EDBP_SERVER_DATA_DIR_H_
#define EDBP_SERVER_DATA_DIR_H_

#include <filesystem>
#include <string>
#include <string_view>

namespace edbp::server {

inline std::filesystem::path LockPath(const std::filesystem::path& data_dir) {
  return data_dir / "edbp.lock";
}
inline std::filesystem::path StorePath(const std::filesystem::path& data_dir) {
  return data_dir / "edbp.sqlite";
}
inline std::filesystem::path WorkerSocketPath(const std::filesystem::path& data_dir) {
  return data_dir / "worker.sock";
}
// The gRPC target of that socket, as edbp-train's --report-to takes it.
inline std::string WorkerSocketAddress(const std::filesystem::path& data_dir) {
  return "unix:" + WorkerSocketPath(data_dir).string();
}
inline std::filesystem::path DataSetsDirectory(const std::filesystem::path& data_dir) {
  return data_dir / "datasets";
}
inline std::filesystem::path JobsDirectory(const std::filesystem::path& data_dir) {
  return data_dir / "jobs";
}
// `id`: the job's id ("17" of "jobs/17", base/job_name.h).
inline std::filesystem::path JobDirectory(const std::filesystem::path& data_dir,
                                          std::string_view id) {
  return JobsDirectory(data_dir) / id;
}

// Inside a job's directory: the config it runs (written at each start) and its log
// (stdout and stderr of edbp-train, appended across restarts).
inline constexpr char kJobConfigFile[] = "config.yaml";
inline constexpr char kJobLogFile[] = "train.log";
// The weights a job starts from (CreateJobRequest.init_from): another job's checkpoint,
// hard-linked (copied across file systems) at creation.
inline constexpr char kInitWeightsFile[] = "init_weights.safetensors";

}  // namespace edbp::server

#endif  // EDBP_SERVER_DATA_DIR_H_
