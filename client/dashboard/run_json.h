// The JSON that the dashboard's run comparison and sweep view read: a job's config as
// flat hyper-parameters, and its epoch records (with the names of
// core/train/statistics.h, numbers as JSON numbers, as client::ToJson writes them).
#ifndef EDBP_CLIENT_DASHBOARD_RUN_JSON_H_
#define EDBP_CLIENT_DASHBOARD_RUN_JSON_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "edbp/v1/job.pb.h"
#include "edbp/v1/metrics.pb.h"
#include "edbp/v1/sweep.pb.h"

namespace edbp::dashboard {

// The hyper-parameters of a config YAML: every scalar under Network and Layers as
// "Network.lr" -> "0.0005", "Layers.conv_1.out_channels" -> "15" (the YAML text of the
// value); a sequence as its flow form ("[1, 28, 28]"). Other top-level keys are left
// out. INVALID_ARGUMENT for text that is no YAML mapping, nesting deeper than 4 levels
// or more than 4096 keys.
absl::StatusOr<std::map<std::string, std::string>> FlattenConfig(std::string_view yaml);

// GET /api/jobs/{id}: the Job as client::ToJson writes it (config_yaml included), plus
// "config": FlattenConfig's map (null when the YAML does not flatten) and
// "config_error": why ("" when it does), and "class_names": the names of the labels of
// its Network.dataset (base/class_names.h; [] for a data set without names).
std::string JobDetailJson(const v1::Job& job);

// The epoch records of a job's event stream as the page shows them: one per epoch, in
// epoch order; a record for an epoch seen before (a resumed run) replaces it and every
// later one.
void AddEpochRecord(const v1::EpochMetrics& m, std::vector<v1::EpochMetrics>* records);

// GET /api/jobs/{id}/epochs:
//   {"job": "jobs/7", "display_name": "...", "state": "RUNNING", "seed": 3,
//    "epochs_total": 20,
//    "epochs": [{"epoch": 1, "epochs": 20, "train_loss": 0.9, "test_loss": 1.0,
//                "train_accuracy": 0.7, "test_accuracy": 0.68, "learning_rate": 5e-4,
//                "seconds": 12.5, "best": true}, ...],
//    "best_test_accuracy": 0.68 | null, "best_epoch": 1 | null}
// best_*: the highest test accuracy of `records` and the first epoch that reached it.
std::string EpochsJson(const v1::Job& job, const std::vector<v1::EpochMetrics>& records);

// GET /api/sweeps: {"reachable": error.empty(), "error": error, "sweeps": [Sweep as
// client::ToJson writes it, without its config_yaml]}.
std::string SweepListJson(const std::vector<v1::Sweep>& sweeps, const std::string& error);

}  // namespace edbp::dashboard

#endif  // EDBP_CLIENT_DASHBOARD_RUN_JSON_H_
