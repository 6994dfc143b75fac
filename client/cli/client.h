// The commands of edbp-client over one gRPC channel to edbp-server.
#ifndef EDBP_CLIENT_CLI_CLIENT_H_
#define EDBP_CLIENT_CLI_CLIENT_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "client/cli/args.h"
#include "edbp/v1/training_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace edbp::cli {

// Runs one parsed command line. Results go to `out`, errors (one line each, prefixed
// "edbp-client: ") to `err`. Not thread-safe.
class Client {
 public:
  // `channel`: from MakeChannel (client/cli/channel.h). `interactive`: `out` is a
  // terminal (watch then rewrites one progress line).
  Client(Options options, std::shared_ptr<grpc::Channel> channel, std::ostream& out,
         std::ostream& err, bool interactive);

  // Runs options.command (not kHelp) and returns the process exit code.
  ExitCode Run();

 private:
  ExitCode Submit();
  ExitCode List();
  ExitCode Get();
  ExitCode Cancel();
  ExitCode Download();
  // watch.cc. Follows `job` until it ends; `from_start` replays every event, else the
  // finished epochs are summarized first.
  ExitCode Watch(const std::string& job, bool from_start);
  // watch.cc: train.log through ReadJobLog (--follow: until the job ends), or with
  // --events the job's LogLine events so far.
  ExitCode Logs();
  ExitCode LogEvents();
  // grpc.health.v1.Health/Check of the whole server ("").
  ExitCode Health();
  // lifecycle.cc
  ExitCode Delete();
  ExitCode Resume();
  ExitCode Metrics();
  // sweep_command.cc
  ExitCode CreateSweep();
  ExitCode ListSweeps();
  ExitCode GetSweep();
  ExitCode CancelSweep();
  // The job named by a display name (options_.job_display_name): "jobs/{id}" of the
  // one job with that name. NOT_FOUND when none has it, FAILED_PRECONDITION naming
  // the ids when several do.
  grpc::Status ResolveDisplayName(const std::string& display_name, std::string* job);
  // --init-from JOB[:best|last] with JOB resolved to "jobs/{id}".
  grpc::Status ResolveInitFrom(std::string* init_from);

  // Calls `call` with a context whose deadline is options_.timeout. With `retry`, an
  // UNAVAILABLE answer is retried (at most 3 attempts, within 2 timeouts): only for
  // idempotent calls.
  grpc::Status CallUnary(const std::function<grpc::Status(grpc::ClientContext*)>& call,
                         bool retry);
  // GetJob(name) with retries.
  grpc::Status FetchJob(const std::string& name, v1::Job* job);
  // Prints the failure of a call and returns its exit code.
  ExitCode Fail(const grpc::Status& status);
  // The one-line "cannot reach edbp-server at ADDR: reason" (kUnreachable).
  ExitCode Unreachable(const std::string& reason);
  // Prints each line of `message` prefixed "edbp-client: ".
  void PrintError(const std::string& message);
  // "edbp-client --server ADDR" with the credential flags given: the start of a
  // command that reaches the same server as this one (watch.cc).
  std::string CommandPrefix() const;
  // The job's outcome once its event stream has ended: kOk for SUCCEEDED.
  ExitCode Outcome(const std::string& job, v1::JobState last_state_seen);

  Options options_;  // job filled in by Run() where a display name named it
  std::ostream& out_;
  std::ostream& err_;
  const bool interactive_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::TrainingService::Stub> stub_;
};

}  // namespace edbp::cli

#endif  // EDBP_CLIENT_CLI_CLIENT_H_
