#include "client/cli/follow_summary.h"

#include "absl/strings/str_cat.h"
#include "client/cli/format.h"

namespace edbp::cli {

void FollowSummary::Observe(const v1::Event& event) {
  if (event.has_epoch_metrics()) {
    const v1::EpochMetrics& m = event.epoch_metrics();
    // Strictly better, as the trainer's best checkpoint: ties keep the earlier epoch.
    if (m.test_accuracy() > best_accuracy_) {
      best_accuracy_ = m.test_accuracy();
      best_epoch_ = m.epoch();
    }
  } else if (event.has_checkpoint_saved()) {
    const v1::CheckpointSaved& c = event.checkpoint_saved();
    checkpoints_[c.kind()] = Saved{c.epoch(), c.path()};
  }
}

std::string FollowSummary::Format(const v1::Job& job, const std::string& client) const {
  std::string out = absl::StrCat("summary: ", job.name());
  if (!job.display_name().empty()) absl::StrAppend(&out, " \"", job.display_name(), "\"");
  absl::StrAppend(&out, " ", StateName(job.state()), " after ", job.last_epoch(), "/",
                  job.epochs(), " epochs");
  if ((job.state() == v1::FAILED || job.state() == v1::CANCELLED) &&
      !job.error().empty()) {
    absl::StrAppend(&out, ": ", job.error());
  }
  out += "\n";
  // The records seen, else the job's own (a stream whose epoch records were not
  // all seen still knows the accuracy).
  if (best_accuracy_ >= 0) {
    absl::StrAppend(&out, "  best test accuracy: ", FormatPercent(best_accuracy_),
                    " at epoch ", best_epoch_, "\n");
  } else if (job.best_test_accuracy() >= 0) {
    absl::StrAppend(
        &out, "  best test accuracy: ", FormatPercent(job.best_test_accuracy()), "\n");
  } else {
    out += "  best test accuracy: - (no epoch finished)\n";
  }
  // A job with finished epochs has both files, whether or not their events were seen.
  const bool has_last = checkpoints_.count("last") > 0 || job.last_epoch() > 0;
  const bool has_best = checkpoints_.count("best") > 0 || job.best_test_accuracy() >= 0;
  if (!has_last && !has_best) {
    out += "  checkpoints: none (no epoch finished)\n";
    return out;
  }
  out += "  checkpoints (on the server's machine):\n";
  for (const char* kind : {"last", "best"}) {
    if (!(kind[0] == 'l' ? has_last : has_best)) continue;
    auto it = checkpoints_.find(kind);
    if (it == checkpoints_.end()) {
      absl::StrAppend(&out, "    ", kind, ": (path not reported)\n");
    } else {
      absl::StrAppend(
          &out, "    ", kind, " (epoch ", it->second.epoch,
          "): ", it->second.path.empty() ? "(path not reported)" : it->second.path, "\n");
    }
  }
  const std::string id = job.name().substr(job.name().find('/') + 1);
  const char* prefix = "  download: ";
  for (const char* kind : {"last", "best"}) {
    if (!(kind[0] == 'l' ? has_last : has_best)) continue;
    absl::StrAppend(&out, prefix, client, " download ", job.name(),
                    kind[0] == 'b' ? " --best" : "", " -o ",
                    ShellQuote(absl::StrCat("job", id, "_", kind, ".safetensors")), "\n");
    prefix = "            ";
  }
  return out;
}

std::string ShellQuote(const std::string& word) {
  const bool safe =
      !word.empty() && word.find_first_not_of(
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                           "qrstuvwxyz0123456789_-./:=@,+%") == std::string::npos;
  if (safe) return word;
  std::string out = "'";
  for (const char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace edbp::cli
