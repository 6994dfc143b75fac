// The lines watch and submit --follow end with (issue 19): the job's final state (with
// the reason of a FAILED or CANCELLED one), its best test accuracy and that epoch,
// where its checkpoints are on the server's machine, and the commands that download
// them.
#ifndef EDBP_CLIENT_CLI_FOLLOW_SUMMARY_H_
#define EDBP_CLIENT_CLI_FOLLOW_SUMMARY_H_

#include <cstdint>
#include <map>
#include <string>

#include "edbp/v1/training_service.pb.h"

namespace edbp::cli {

// Not thread-safe.
class FollowSummary {
 public:
  // Feed every event of the job's stream (replayed history included), in order.
  void Observe(const v1::Event& event);

  // The summary of `job` (as GetJob returns it once the stream ended), "\n"-terminated
  // lines. `client` starts each download command: "edbp-client --server ADDR" and the
  // credential flags the command was given.
  std::string Format(const v1::Job& job, const std::string& client) const;

  // The best test accuracy among the epoch records seen (-1: none) and its epoch (the
  // first that reached it, as the trainer's "best" checkpoint).
  double best_accuracy() const { return best_accuracy_; }
  int64_t best_epoch() const { return best_epoch_; }

 private:
  struct Saved {
    int64_t epoch = 0;
    std::string path;  // "" when the event has none (stored before issue 19)
  };

  double best_accuracy_ = -1;
  int64_t best_epoch_ = 0;
  std::map<std::string, Saved> checkpoints_;  // by kind: "best", "last"
};

// `word` as one shell word: unchanged when it holds only safe characters, else in
// single quotes (a ' inside as '\'').
std::string ShellQuote(const std::string& word);

}  // namespace edbp::cli

#endif  // EDBP_CLIENT_CLI_FOLLOW_SUMMARY_H_
