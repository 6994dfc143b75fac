// Issue 19, the job lifecycle end to end: the real edbp-server runs real edbp-train
// jobs, driven by the real edbp-client as a user types it: seeds, names, delete,
// resume, init-from, logs --follow, the metrics export and retention.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/train/statistics.h"
#include "core/train/tensorboard.h"
#include "edbp/v1/training_service.grpc.pb.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/client_fixture.h"
#include "tests/integration/server_fixture.h"
#include "tests/process_util.h"
#include "tests/wait_until.h"

namespace edbp {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;  // NOLINT(google-build-using-namespace)
using testing::ClientServerTest;
using testing::CommandResult;
using testing::ReadFile;
using testing::TinyConfig;

// A line split at runs of two or more spaces (the epoch and layer tables' columns:
// labels hold single spaces), without leading and trailing spaces.
std::vector<std::string> Columns(absl::string_view line) {
  std::vector<std::string> cells;
  std::string cell;
  size_t spaces = 0;
  for (const char c : line) {
    if (c == ' ' || c == '\n') {
      ++spaces;
      continue;
    }
    if (spaces >= 2 && !cell.empty()) {
      cells.push_back(cell);
      cell.clear();
    } else if (spaces == 1 && !cell.empty()) {
      cell += ' ';
    }
    spaces = 0;
    cell += c;
  }
  if (!cell.empty()) cells.push_back(cell);
  return cells;
}

// The epoch and layer tables of a console text (edbp-train's train.log, or edbp-client
// watch): per epoch row "E/N", its cells by label, and per layer its cells by label.
struct ConsoleEpoch {
  std::map<std::string, std::string> cells;
  std::map<std::string, std::map<std::string, std::string>> layers;
};
std::map<std::string, ConsoleEpoch> ParseConsole(const std::string& text) {
  std::map<std::string, ConsoleEpoch> epochs;
  const std::vector<std::string> lines = absl::StrSplit(text, '\n');
  const std::vector<std::string> header = Columns(train::EpochTableHeader());
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    if (Columns(lines[i]) != header) continue;
    // Rows until the next non-row: each row followed by its layer table.
    for (size_t r = i + 1; r < lines.size(); ++r) {
      const std::vector<std::string> row = Columns(lines[r]);
      if (row.size() < header.size() || row[0].find('/') == std::string::npos) break;
      ConsoleEpoch& epoch = epochs[row[0]];
      for (size_t c = 1; c < header.size(); ++c) epoch.cells[header[c]] = row[c];
      if (r + 1 < lines.size() && absl::StartsWith(lines[r + 1], "    layer  ")) {
        const std::vector<std::string> labels = Columns(lines[r + 1]);
        size_t l = r + 2;
        for (; l < lines.size() && absl::StartsWith(lines[l], "    ") &&
               !absl::StartsWith(lines[l], "    layer  ");
             ++l) {
          const std::vector<std::string> cells = Columns(lines[l]);
          if (cells.size() != labels.size()) break;
          for (size_t c = 1; c < labels.size(); ++c) {
            epoch.layers[cells[0]][labels[c]] = cells[c];
          }
        }
        r = l - 1;
      }
    }
  }
  return epochs;
}

class WorkflowTest : public ClientServerTest {
 protected:
  // `metrics JOB --format jsonl`: one object per epoch.
  std::vector<nlohmann::json> Epochs(const std::string& job) {
    const CommandResult r = Client("metrics " + job + " --format jsonl");
    EXPECT_EQ(r.code, 0) << r.output;
    std::vector<nlohmann::json> epochs;
    for (absl::string_view line : absl::StrSplit(r.output, '\n', absl::SkipEmpty())) {
      epochs.push_back(nlohmann::json::parse(line));
    }
    return epochs;
  }
};

TEST_F(WorkflowTest, SeedRepeatsAJobAndChangesIt) {
  const std::string config = WriteConfig("tiny", TinyConfig(1, 100));
  const std::string a = Submit(config, "--seed 7");
  const std::string b = Submit(config, "--seed 7");
  const std::string c = Submit(config, "--seed 8");
  // Network.seed in the config is the default of --seed.
  std::string yaml = TinyConfig(1, 100);
  yaml.replace(yaml.find("n_steps: 5"), 10, "n_steps: 5\n  seed: 8");
  const std::string d = Submit(WriteConfig("seeded", yaml));
  for (const std::string& job : {a, b, c, d}) {
    EXPECT_EQ(WaitFor(job, v1::SUCCEEDED, 180s).state(), v1::SUCCEEDED) << job;
  }
  EXPECT_EQ(Get(a).seed(), 7u);
  EXPECT_EQ(Get(c).seed(), 8u);
  EXPECT_EQ(Get(d).seed(), 8u);
  const auto ea = Epochs(a), eb = Epochs(b), ec = Epochs(c), ed = Epochs(d);
  ASSERT_EQ(ea.size(), 1u);
  ASSERT_EQ(eb.size(), 1u);
  ASSERT_EQ(ec.size(), 1u);
  ASSERT_EQ(ed.size(), 1u);
  // The same seed: the same numbers, bit for bit (doubles printed round-trip).
  EXPECT_EQ(ea[0]["train_loss"], eb[0]["train_loss"]);
  EXPECT_EQ(ea[0]["test_loss"], eb[0]["test_loss"]);
  EXPECT_EQ(ea[0]["layers"], eb[0]["layers"]);
  // Another seed: other numbers; the config's seed 8 equals --seed 8.
  EXPECT_NE(ea[0]["train_loss"], ec[0]["train_loss"]);
  EXPECT_EQ(ec[0]["train_loss"], ed[0]["train_loss"]);
  EXPECT_EQ(ec[0]["layers"], ed[0]["layers"]);
  // Hostile seeds are usage errors of the client.
  EXPECT_EQ(Client("submit " + config + " --seed -1").code, 2);
  EXPECT_EQ(Client("submit " + config + " --seed 18446744073709551616").code, 2);
  EXPECT_EQ(Client("submit " + config + " --seed 1e3").code, 2);
}

TEST_F(WorkflowTest, MetricsExportsEveryEpochAsCsvAndJsonLines) {
  const std::string job = Submit(WriteConfig("tiny", TinyConfig(2, 100)));
  ASSERT_EQ(WaitFor(job, v1::SUCCEEDED, 180s).state(), v1::SUCCEEDED);
  const CommandResult csv = Client("metrics " + job);
  ASSERT_EQ(csv.code, 0) << csv.output;
  const std::vector<std::string> rows =
      absl::StrSplit(csv.output, '\n', absl::SkipEmpty());
  ASSERT_EQ(rows.size(), 3u) << csv.output;  // the header and two epochs
  EXPECT_TRUE(absl::StartsWith(rows[0], "job,epoch,epochs,train_loss,train_accuracy,"))
      << rows[0];
  EXPECT_TRUE(absl::StrContains(rows[0], ",conv_1.grad_norm,")) << rows[0];
  const std::vector<std::string> header = absl::StrSplit(rows[0], ',');
  for (int i = 1; i <= 2; ++i) {
    const std::vector<std::string> cells = absl::StrSplit(rows[i], ',');
    EXPECT_EQ(cells.size(), header.size()) << rows[i];
    EXPECT_EQ(cells[0], job);
    EXPECT_EQ(cells[1], std::to_string(i));
    EXPECT_EQ(cells[2], "2");
  }
  const auto epochs = Epochs(job);
  ASSERT_EQ(epochs.size(), 2u);
  EXPECT_EQ(epochs[1]["epoch"], 2);  // a number, not a string
  EXPECT_EQ(epochs[1]["layers"].size(), 4u);
  EXPECT_EQ(epochs[1]["confusion"].size(), 100u);
  EXPECT_EQ(Client("metrics " + job + " --format xml").code, 2);
  EXPECT_EQ(Client("metrics 999").code, 4);
}

// Issue 19 item 6, one vocabulary: one job's statistics as edbp-train's console
// (train.log), `watch` (the client's tables), `watch --output json`, `metrics --format
// jsonl` and `--format csv` and TensorBoard show them: the same names (labels in the
// tables, from core/train/statistics.h), the same values, in the same formats.
TEST_F(WorkflowTest, EveryViewNamesAndShowsTheStatisticsAlike) {
  const std::string job = Submit(WriteConfig("tiny", TinyConfig(2, 100)));
  ASSERT_EQ(WaitFor(job, v1::SUCCEEDED, 180s).state(), v1::SUCCEEDED);
  const std::string id = job.substr(job.find('/') + 1);
  const std::vector<nlohmann::json> jsonl = Epochs(job);
  ASSERT_EQ(jsonl.size(), 2u);

  // The names: the JSON lines' and `watch --output json`'s are the vocabulary's.
  std::set<std::string> epoch_names = {"n_class", "confusion", "best", "layers"};
  for (const train::EpochStatistic& s : train::EpochStatistics()) {
    epoch_names.emplace(s.name);
  }
  std::set<std::string> layer_names = {"name", "index"};
  for (const train::LayerStatistic& s : train::LayerStatistics()) {
    layer_names.emplace(s.name);
  }
  const auto keys = [](const nlohmann::json& object) {
    std::set<std::string> out;
    for (const auto& item : object.items()) out.insert(item.key());
    return out;
  };
  std::set<std::string> with_job = epoch_names;
  with_job.insert("job");
  EXPECT_EQ(keys(jsonl[0]), with_job);
  EXPECT_EQ(keys(jsonl[0]["layers"][0]), layer_names);
  const CommandResult watched = Client("--output json watch " + job + " --from-start");
  ASSERT_EQ(watched.code, 0) << watched.output;
  std::vector<nlohmann::json> events;
  for (absl::string_view line : absl::StrSplit(watched.output, '\n', absl::SkipEmpty())) {
    const nlohmann::json event = nlohmann::json::parse(line);
    if (event.contains("epoch_metrics")) events.push_back(event["epoch_metrics"]);
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(keys(events[0]), epoch_names);
  EXPECT_EQ(keys(events[0]["layers"][0]), layer_names);

  // CSV: the same columns, the same numbers.
  const CommandResult csv = Client("metrics " + job + " --format csv");
  ASSERT_EQ(csv.code, 0) << csv.output;
  const std::vector<std::string> rows =
      absl::StrSplit(csv.output, '\n', absl::SkipEmpty());
  ASSERT_EQ(rows.size(), 3u);
  const std::vector<std::string> header = absl::StrSplit(rows[0], ',');

  const std::string log = ReadFile(JobDir(id) + "train.log");
  const std::map<std::string, ConsoleEpoch> console = ParseConsole(log);
  const CommandResult text = Client("watch " + job + " --from-start");
  ASSERT_EQ(text.code, 0) << text.output;
  const std::map<std::string, ConsoleEpoch> client_tables = ParseConsole(text.output);
  ASSERT_EQ(console.size(), 2u) << log;
  ASSERT_EQ(client_tables.size(), 2u) << text.output;

  std::map<std::string, std::map<int64_t, float>> tensorboard;  // tag -> step -> value
  for (const auto& entry : fs::directory_iterator(JobDir(id) + "tensorboard")) {
    for (const train::TensorBoardScalar& s :
         train::ReadTensorBoardScalars(entry.path().string())) {
      EXPECT_TRUE(tensorboard[s.tag].emplace(s.step, s.value).second)
          << s.tag << " written twice at step " << s.step;
    }
  }

  for (size_t e = 0; e < 2; ++e) {
    const nlohmann::json& m = jsonl[e];
    const std::vector<std::string> cells = absl::StrSplit(rows[e + 1], ',');
    ASSERT_EQ(cells.size(), header.size());
    const std::string epoch = absl::StrCat(e + 1, "/2");
    ASSERT_TRUE(console.contains(epoch)) << log;
    for (const train::EpochStatistic& s : train::EpochStatistics()) {
      const std::string name(s.name);
      SCOPED_TRACE(absl::StrCat("epoch ", e + 1, " ", name));
      ASSERT_TRUE(m[name].is_number());
      EXPECT_EQ(events[e][name], m[name]);
      const auto column = std::find(header.begin(), header.end(), name);
      ASSERT_NE(column, header.end());
      EXPECT_EQ(nlohmann::json::parse(cells[column - header.begin()]), m[name]);
      const double value = m[name].get<double>();
      if (s.in_table) {
        const std::string shown = train::FormatStatistic(s.format, value);
        EXPECT_EQ(console.at(epoch).cells.at(std::string(s.label)), shown);
        EXPECT_EQ(client_tables.at(epoch).cells.at(std::string(s.label)), shown);
      }
      if (s.format != train::StatisticFormat::kInteger) {
        EXPECT_EQ(tensorboard[name].at(static_cast<int64_t>(e + 1)),
                  static_cast<float>(value));
      }
    }
    ASSERT_EQ(m["layers"].size(), 4u);
    for (const nlohmann::json& layer : m["layers"]) {
      const std::string layer_name = layer["name"];
      ASSERT_TRUE(console.at(epoch).layers.contains(layer_name)) << log;
      for (const train::LayerStatistic& s : train::LayerStatistics()) {
        const std::string name(s.name);
        SCOPED_TRACE(absl::StrCat("epoch ", e + 1, " ", layer_name, " ", name));
        const double value = layer[name].get<double>();
        const auto column =
            std::find(header.begin(), header.end(), absl::StrCat(layer_name, ".", name));
        ASSERT_NE(column, header.end());
        EXPECT_EQ(nlohmann::json::parse(cells[column - header.begin()]), layer[name]);
        const std::string shown = train::FormatStatistic(s.format, value);
        EXPECT_EQ(console.at(epoch).layers.at(layer_name).at(std::string(s.label)),
                  shown);
        EXPECT_EQ(client_tables.at(epoch).layers.at(layer_name).at(std::string(s.label)),
                  shown);
        EXPECT_EQ(tensorboard[absl::StrCat(name, "/", layer_name)].at(
                      static_cast<int64_t>(e + 1)),
                  static_cast<float>(value));
      }
    }
  }
  // Firing rates reach TensorBoard for every layer.
  for (const nlohmann::json& layer : jsonl[1]["layers"]) {
    EXPECT_EQ(tensorboard[absl::StrCat("firing_rate/", layer["name"].get<std::string>())]
                  .size(),
              2u);
  }
}

TEST_F(WorkflowTest, DeleteRefusesALiveJobThenRemovesEverything) {
  const std::string config = WriteConfig("long", TinyConfig(50, 200));
  const std::string job = Submit(config);
  const std::string id(job.substr(5));
  ASSERT_TRUE(WaitForFirstEpoch(job));
  CommandResult r = Client("delete " + id);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "cancel it first")) << r.output;
  ASSERT_EQ(Client("cancel " + id).code, 0);
  ASSERT_EQ(WaitFor(job, v1::CANCELLED).state(), v1::CANCELLED);
  ASSERT_TRUE(fs::exists(JobDir(id) + "checkpoint_last.safetensors"));
  r = Client("delete " + id);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "deleted " + job)) << r.output;
  EXPECT_FALSE(fs::exists(JobDir(id)));
  EXPECT_EQ(Client("get " + id).code, 4);
  EXPECT_EQ(Client("delete " + id).code, 4);
  EXPECT_EQ(Client("list").output, "no jobs\n");
  // Its id is never given again.
  const std::string another = Submit(WriteConfig("tiny", TinyConfig(1, 100)));
  EXPECT_EQ(another, "jobs/" + std::to_string(std::stoi(id) + 1));
  EXPECT_EQ(WaitFor(another, v1::SUCCEEDED, 180s).state(), v1::SUCCEEDED);
}

TEST_F(WorkflowTest, ResumeAfterCancelContinuesFromTheCheckpoint) {
  const std::string job = Submit(WriteConfig("twenty", TinyConfig(20, 300)));
  ASSERT_TRUE(WaitForFirstEpoch(job));
  ASSERT_EQ(Client("cancel " + job).code, 0);
  ASSERT_EQ(WaitFor(job, v1::CANCELLED).state(), v1::CANCELLED);
  const int64_t done = Get(job).last_epoch();
  ASSERT_GE(done, 1);
  const CommandResult r = Client("resume " + job);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "resumed " + job)) << r.output;
  const v1::Job ended = WaitFor(job, v1::SUCCEEDED, 240s);
  ASSERT_EQ(ended.state(), v1::SUCCEEDED);
  EXPECT_EQ(ended.error(), "");
  EXPECT_FALSE(ended.has_end_time() && ended.end_time().seconds() == 0);
  const std::vector<v1::Event> events = Watch(job);
  ExpectRecordsOnceInOrder(events);
  std::vector<int64_t> epochs;
  bool said = false;
  for (const v1::Event& e : events) {
    if (e.has_epoch_metrics()) epochs.push_back(e.epoch_metrics().epoch());
    said =
        said || (e.has_log() &&
                 absl::StrContains(e.log().text(), "continues from its last checkpoint"));
  }
  std::vector<int64_t> expected(20);
  for (int i = 0; i < 20; ++i) expected[i] = i + 1;
  EXPECT_EQ(epochs, expected);  // none lost, none trained twice
  EXPECT_TRUE(said);
  // TensorBoard: the resumed run wrote a file of its own, and each step of each tag is
  // in the job's event files once (read back: none lost, none written twice).
  std::map<std::string, std::vector<int64_t>> steps;
  int files = 0;
  for (const auto& entry :
       fs::directory_iterator(JobDir(job.substr(job.find('/') + 1)) + "tensorboard")) {
    ++files;
    for (const train::TensorBoardScalar& s :
         train::ReadTensorBoardScalars(entry.path().string())) {
      steps[s.tag].push_back(s.step);
    }
  }
  EXPECT_GE(files, 2);
  for (auto& [tag, list] : steps) {
    std::sort(list.begin(), list.end());
    EXPECT_EQ(std::adjacent_find(list.begin(), list.end()), list.end()) << tag;
  }
  EXPECT_EQ(steps["test_accuracy"], expected);
  EXPECT_EQ(steps["firing_rate/conv_1"], expected);
  // A SUCCEEDED job has nothing to resume; an unknown one is not found.
  const CommandResult again = Client("resume " + job);
  EXPECT_EQ(again.code, 1);
  EXPECT_TRUE(absl::StrContains(again.output, "init_from")) << again.output;
  EXPECT_EQ(Client("resume 4242").code, 4);
}

TEST_F(WorkflowTest, InitFromStartsFromAnotherJobsWeights) {
  const std::string source =
      Submit(WriteConfig("source", TinyConfig(1, 200)), "--name src");
  ASSERT_EQ(WaitFor(source, v1::SUCCEEDED, 180s).state(), v1::SUCCEEDED);
  // A learning rate too small to move a weight: its first test pass is the source's
  // last one (the source's checkpoint is the weights of its last test pass).
  std::string yaml = TinyConfig(1, 200);
  yaml.replace(yaml.find("lr: 0.0005"), 10, "lr: 1.0e-30");
  const std::string tuned =
      Submit(WriteConfig("tuned", yaml), "--init-from src:last --seed 3");
  ASSERT_EQ(WaitFor(tuned, v1::SUCCEEDED, 180s).state(), v1::SUCCEEDED);
  EXPECT_EQ(Get(tuned).init_from(), source + ":last");
  EXPECT_EQ(
      ReadFile(JobDir(std::string(tuned.substr(5))) + "init_weights.safetensors"),
      ReadFile(JobDir(std::string(source.substr(5))) + "checkpoint_last.safetensors"));
  const auto from = Epochs(source), to = Epochs(tuned);
  ASSERT_EQ(from.size(), 1u);
  ASSERT_EQ(to.size(), 1u);
  EXPECT_EQ(to[0]["test_accuracy"], from[0]["test_accuracy"]);
  EXPECT_NEAR(to[0]["test_loss"].get<double>(), from[0]["test_loss"].get<double>(), 1e-6);
  // The source may go away: the new job has its own copy.
  ASSERT_EQ(Client("delete " + source).code, 0);
  EXPECT_TRUE(
      fs::exists(JobDir(std::string(tuned.substr(5))) + "init_weights.safetensors"));
  // Hostile references: each a clear error, nothing created.
  const std::string config = WriteConfig("tiny", TinyConfig(1, 100));
  CommandResult r = Client("submit " + config + " --init-from " + source);
  EXPECT_EQ(r.code, 4) << r.output;  // deleted
  r = Client("submit " + config + " --init-from " + tuned + ":middle");
  EXPECT_EQ(r.code, 4) << r.output;  // no job is named "jobs/N:middle"
  r = Client("submit " + config + " --init-from nosuchname");
  EXPECT_EQ(r.code, 4) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "no job is named \"nosuchname\"")) << r.output;
  {
    grpc::ClientContext ctx;
    v1::CreateJobRequest req;
    req.set_config_yaml(TinyConfig(1, 100));
    v1::Job job;
    req.set_init_from(tuned + ":sideways");
    EXPECT_EQ(server_->stub().CreateJob(&ctx, req, &job).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    v1::CreateJobRequest req;
    req.set_config_yaml(TinyConfig(1, 100));
    v1::Job job;
    req.set_init_from(std::string(100, '7'));
    EXPECT_EQ(server_->stub().CreateJob(&ctx, req, &job).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  // A checkpoint that does not fit the config is refused at submission, naming the
  // tensor and both shapes; no job is created.
  std::string wide = TinyConfig(1, 100);
  wide.replace(wide.find("out_channels: 15"), 16, "out_channels: 16");
  wide.replace(wide.find("in_channels: 15"), 15, "in_channels: 16");
  const std::string jobs_before = Client("list").output;
  r = Client("submit " + WriteConfig("wide", wide) + " --init-from " + tuned);
  EXPECT_EQ(r.code, 5) << r.output;
  EXPECT_TRUE(absl::StrContains(
      r.output,
      "init_from: " + tuned + ":last cannot initialise this config's network: "))
      << r.output;
  EXPECT_TRUE(absl::StrContains(r.output,
                                "the checkpoint has [15,1,5,5], the network "
                                "[16,1,5,5]"))
      << r.output;
  EXPECT_EQ(Client("list").output, jobs_before);
  // A file that is not a checkpoint where the source's was (a disk's corruption, a
  // hand's edit): a clear error at submission too, naming the file.
  fs::resize_file(
      fs::path(JobDir(std::string(tuned.substr(5)))) / "checkpoint_last.safetensors", 5);
  r = Client("submit " + config + " --init-from " + tuned);
  EXPECT_EQ(r.code, 5) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "checkpoint_last.safetensors")) << r.output;
  EXPECT_EQ(Client("list").output, jobs_before);
}

TEST_F(WorkflowTest, NamesAddressJobsWhereUnique) {
  const std::string config = WriteConfig("tiny", TinyConfig(1, 100));
  const std::string alpha = Submit(config, "--name alpha");
  Submit(config, "--name beta");
  Submit(config, "--name beta");
  CommandResult r = Client("--output json get alpha");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["name"], alpha);
  r = Client("get beta");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(absl::StrContains(r.output, "the name \"beta\" is used by jobs 3, 2"))
      << r.output;
  r = Client("get gamma");
  EXPECT_EQ(r.code, 4);
  EXPECT_TRUE(absl::StrContains(r.output, "no job is named \"gamma\"")) << r.output;
  for (const std::string job : {"jobs/1", "jobs/2", "jobs/3"}) {
    EXPECT_EQ(WaitFor(job, v1::SUCCEEDED, 180s).state(), v1::SUCCEEDED);
  }
}

TEST_F(WorkflowTest, LogsFollowStreamsTrainLogUntilTheJobEnds) {
  const std::string job = Submit(WriteConfig("twenty", TinyConfig(20, 200)));
  const std::string id(job.substr(5));
  const CommandResult followed = Client("logs " + id + " --follow");
  ASSERT_EQ(followed.code, 0) << followed.output;
  const v1::Job ended = Get(job);
  EXPECT_EQ(ended.state(), v1::SUCCEEDED);
  const std::string log = ReadFile(JobDir(id) + "train.log");
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(followed.output, log);  // the whole of train.log, byte for byte
  EXPECT_TRUE(absl::StrContains(log, "epoch")) << log;
  // Without --follow: what the log holds now; as JSON, a line each.
  EXPECT_EQ(Client("logs " + id).output, log);
  const CommandResult json = Client("--output json logs " + id);
  ASSERT_EQ(json.code, 0);
  const std::vector<std::string> lines =
      absl::StrSplit(json.output, '\n', absl::SkipEmpty());
  const std::vector<std::string> log_lines = absl::StrSplit(log, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), log_lines.size());
  EXPECT_EQ(nlohmann::json::parse(lines.back())["line"], log_lines.back());
  EXPECT_EQ(Client("logs 999 --follow").code, 4);
  {
    grpc::ClientContext ctx;
    v1::ReadJobLogRequest req;
    req.set_name(job);
    req.set_offset(-5);
    auto reader = server_->stub().ReadJobLog(&ctx, req);
    v1::LogChunk chunk;
    while (reader->Read(&chunk)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {  // past the end: nothing
    grpc::ClientContext ctx;
    v1::ReadJobLogRequest req;
    req.set_name(job);
    req.set_offset(int64_t{1} << 40);
    auto reader = server_->stub().ReadJobLog(&ctx, req);
    v1::LogChunk chunk;
    EXPECT_FALSE(reader->Read(&chunk));
    EXPECT_TRUE(reader->Finish().ok());
  }
}

TEST_F(WorkflowTest, SweepWithMedianStoppingStopsALaggingTrial) {
  const std::string config = WriteConfig("base", TinyConfig(4, 400));
  // Every trial's config is checked before any job exists.
  CommandResult r =
      Client("sweep " + config + " --grid Network.lr=abc,0.001 --seeds 0,1");
  EXPECT_EQ(r.code, 5) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "trial 0 (Network.lr=abc, seed=0): "))
      << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "trial 1 (Network.lr=abc, seed=1): "))
      << r.output;
  EXPECT_FALSE(absl::StrContains(r.output, "trial 2")) << r.output;
  r = Client("sweep " + config + " --grid Network.lrr=0.1");
  EXPECT_EQ(r.code, 5) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "did you mean")) << r.output;
  EXPECT_EQ(Client("list").output, "no jobs\n");
  r = Client("sweep " + config + " --grid Network.lr=1 --random 2");  // no range
  EXPECT_EQ(r.code, 2) << r.output;
  r = Client("sweep " + config +
             " --grid Network.lr=0.0005,1e-12 --seeds 0,1 --validate-only");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "the sweep's 4 trial configs are valid"))
      << r.output;
  EXPECT_EQ(Client("list").output, "no jobs\n");

  // Trials run one at a time here: the tiny learning rate's trials start after both
  // others have finished, and the median rule stops them after their first epoch.
  r = Client(
      "sweep " + config +
      " --name lrs --grid Network.lr=0.0005,1e-12 --seeds 0,1 --early-stop median");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(absl::StartsWith(r.output, "created sweeps/1 \"lrs\" with 4 trials"))
      << r.output;
  for (const std::string job : {"jobs/1", "jobs/2", "jobs/3", "jobs/4"}) {
    EXPECT_TRUE(testing::WaitUntil(
        [&] {
          const v1::JobState state = Get(job).state();
          return state == v1::SUCCEEDED || state == v1::CANCELLED || state == v1::FAILED;
        },
        240s, 100ms))
        << job;
  }
  EXPECT_EQ(Get("jobs/1").state(), v1::SUCCEEDED);
  EXPECT_EQ(Get("jobs/2").state(), v1::SUCCEEDED);
  EXPECT_EQ(Get("jobs/1").sweep(), "sweeps/1");
  EXPECT_EQ(Get("jobs/2").seed(), 1u);
  EXPECT_EQ(Get("jobs/1").display_name(), "lrs#0");
  int stopped = 0;
  for (const std::string job : {"jobs/3", "jobs/4"}) {
    const v1::Job trial = Get(job);
    if (trial.state() != v1::CANCELLED) continue;
    ++stopped;
    EXPECT_TRUE(
        absl::StartsWith(trial.error(), "stopped early by sweep 1: best test accuracy "))
        << trial.error();
    EXPECT_LT(trial.last_epoch(), 4);
  }
  EXPECT_GE(stopped, 1);
  r = Client("--output json get sweeps/1");
  ASSERT_EQ(r.code, 0) << r.output;
  const nlohmann::json sweep = nlohmann::json::parse(r.output);
  EXPECT_EQ(sweep["state"], "SWEEP_FINISHED");
  EXPECT_EQ(sweep["stopped_early"], stopped);
  EXPECT_EQ(sweep["trials"].size(), 4u);
  EXPECT_EQ(sweep["trials"][2]["parameters"][0]["value"], "1e-12");
  EXPECT_TRUE(sweep["best_job"] == "jobs/1" || sweep["best_job"] == "jobs/2")
      << sweep["best_job"];
  r = Client("get sweeps/1");
  EXPECT_TRUE(absl::StrContains(r.output, "Network.lr=1e-12 seed=0")) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "stopped early by sweep 1")) << r.output;
  r = Client("sweeps");
  EXPECT_TRUE(absl::StrContains(r.output, "sweeps/1")) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "FINISHED")) << r.output;
  EXPECT_EQ(Client("get sweeps/9").code, 4);
  EXPECT_EQ(Client("get sweeps/x").code, 5);
}

// A trial whose process could not report (the server paused) leaves its epochs in its
// spool; the server stores them when the process ends, and the sweep's policy counts
// them as it counts live reports. Trials run one at a time: trial 2 (a good learning
// rate) runs entirely while the server is stopped, so its epochs arrive only through
// the spool; trial 3 (a tiny learning rate) is judged at epoch 1 against the other
// trials there, and the median rule needs two of them (--min-trials defaults to 2):
// trials 1 and 2. Without trial 2's spooled epochs it would run to its end.
TEST_F(WorkflowTest, SpooledEpochsOfATrialCountForItsSweep) {
  const std::string config = WriteConfig("sweep", TinyConfig(3, 500));
  CommandResult r =
      Client("sweep " + config +
             " --grid Network.lr=0.0005,1e-12 --seeds 0,1 --early-stop median");
  ASSERT_EQ(r.code, 0) << r.output;
  ASSERT_EQ(WaitFor("jobs/1", v1::SUCCEEDED, 180s).state(), v1::SUCCEEDED);
  ASSERT_TRUE(testing::WaitUntil([&] { return Get("jobs/2").state() == v1::RUNNING; },
                                 60s, 10ms));
  kill(server_->pid(), SIGSTOP);
  const bool ended = testing::WaitUntil(
      [&] { return testing::ProcessesWith(JobDir("2")).empty(); }, 180s, 100ms);
  kill(server_->pid(), SIGCONT);
  ASSERT_TRUE(ended);
  ASSERT_EQ(WaitFor("jobs/2", v1::SUCCEEDED, 60s).state(), v1::SUCCEEDED);
  const std::string log = ReadFile(fs::path(JobDir("2")) / "train.log");
  EXPECT_TRUE(absl::StrContains(log, "bytes of reports stay in")) << log;
  EXPECT_EQ(Epochs("jobs/2").size(), 3u);  // stored from the spool
  const v1::Job third = WaitFor("jobs/3", v1::CANCELLED, 180s);
  EXPECT_EQ(third.state(), v1::CANCELLED) << third.error();
  EXPECT_TRUE(absl::StartsWith(third.error(), "stopped early by sweep 1: "))
      << third.error();
  EXPECT_TRUE(absl::StrContains(third.error(), "of 2 other")) << third.error();
}

// --progress-every applies to every trial, checked as submit's is.
TEST_F(WorkflowTest, SweepProgressEveryAppliesToEveryTrial) {
  const std::string config = WriteConfig("tiny", TinyConfig(1, 100));
  CommandResult r = Client("sweep " + config + " --seeds 0,1 --progress-every 5000000");
  EXPECT_EQ(r.code, 5) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "trial 0 (seed=0): progress_every: expected 0"))
      << r.output;
  EXPECT_EQ(Client("list").output, "no jobs\n");
  r = Client("sweep " + config + " --seeds 0,1 --progress-every 0");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const std::string job : {"jobs/1", "jobs/2"}) {
    EXPECT_EQ(Get(job).progress_every(), 0) << job;
    EXPECT_EQ(WaitFor(job, v1::SUCCEEDED, 180s).state(), v1::SUCCEEDED) << job;
    int progress = 0;
    for (const v1::Event& e : Watch(job)) progress += e.has_progress();
    EXPECT_EQ(progress, 0) << job;  // 0: no progress records
  }
}

TEST_F(WorkflowTest, CancelSweepStopsItsLiveTrials) {
  const std::string config = WriteConfig("long", TinyConfig(50, 200));
  CommandResult r = Client("sweep " + config + " --seeds 1,2,3");
  ASSERT_EQ(r.code, 0) << r.output;
  ASSERT_TRUE(WaitForFirstEpoch("jobs/1"));
  r = Client("cancel sweeps/1");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const std::string job : {"jobs/1", "jobs/2", "jobs/3"}) {
    const v1::Job trial = WaitFor(job, v1::CANCELLED);
    EXPECT_EQ(trial.state(), v1::CANCELLED) << job;
    EXPECT_EQ(trial.error(), "cancelled with sweep 1") << job;
  }
  r = Client("--output json get sweeps/1");
  EXPECT_EQ(nlohmann::json::parse(r.output)["state"], "SWEEP_CANCELLED");
}

class RetentionTest : public WorkflowTest {
 protected:
  std::vector<std::string> ServerFlags() const override { return {"--keep-jobs=1"}; }
};

TEST_F(RetentionTest, KeepsOnlyTheNewestEndedJobsAndSweepsOrphans) {
  const std::string config = WriteConfig("tiny", TinyConfig(1, 100));
  const std::string first = Submit(config);
  ASSERT_EQ(WaitFor(first, v1::SUCCEEDED, 180s).state(), v1::SUCCEEDED);
  const std::string second = Submit(config);
  ASSERT_EQ(WaitFor(second, v1::SUCCEEDED, 180s).state(), v1::SUCCEEDED);
  EXPECT_TRUE(testing::WaitUntil([&] { return !fs::exists(JobDir("1")); }, 10s, 50ms));
  EXPECT_EQ(Client("get 1").code, 4);
  EXPECT_EQ(Client("get 2").code, 0);
  // A directory without a job (a delete cut short by a crash) goes at the next start;
  // what is not named like a job stays.
  server_->Kill(SIGKILL);
  fs::create_directories(dir_ / "jobs" / "77");
  fs::create_directories(dir_ / "jobs" / "notes");
  server_->Start(ServerFlags());
  // Recovery runs once the server listens.
  EXPECT_TRUE(
      testing::WaitUntil([&] { return !fs::exists(dir_ / "jobs" / "77"); }, 10s, 20ms));
  EXPECT_TRUE(fs::exists(dir_ / "jobs" / "notes"));
  EXPECT_TRUE(fs::exists(JobDir("2")));
}

// Retention keeps the ended trials of a live sweep: they are its results so far. Trials
// run one at a time here. Trial 1 (one epoch) ends; a plain job with a higher priority
// runs before trial 2 and ends; counted by end time, trial 1 is then beyond the newest
// one, but trial 2 (long) is still live, so trial 1 stays. Once the sweep has ended
// (cancelled here), its trials age like any job.
TEST_F(RetentionTest, KeepsTheEndedTrialsOfALiveSweep) {
  const std::string config = WriteConfig("tiny", TinyConfig(1, 100));
  CommandResult r = Client("sweep " + config + " --grid Network.epochs=1,200");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string plain = Submit(config, "--priority 10");
  ASSERT_EQ(WaitFor("jobs/1", v1::SUCCEEDED, 180s).state(), v1::SUCCEEDED);
  ASSERT_EQ(WaitFor(plain, v1::SUCCEEDED, 180s).state(), v1::SUCCEEDED);
  ASSERT_TRUE(WaitForFirstEpoch("jobs/2"));
  ASSERT_EQ(Get("jobs/2").state(), v1::RUNNING);
  // The plain job's end ran retention with jobs/1 beyond the newest one.
  EXPECT_EQ(Client("get jobs/1").code, 0);
  EXPECT_TRUE(fs::exists(JobDir("1")));
  r = Client("--output json get sweeps/1");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["state"], "SWEEP_RUNNING");

  r = Client("cancel sweeps/1");
  ASSERT_EQ(r.code, 0) << r.output;
  ASSERT_EQ(WaitFor("jobs/2", v1::CANCELLED, 60s).state(), v1::CANCELLED);
  // The sweep has ended: only the newest ended job (trial 2) stays.
  EXPECT_TRUE(testing::WaitUntil([&] { return !fs::exists(JobDir("1")); }, 10s, 50ms));
  EXPECT_EQ(Client("get jobs/1").code, 4);
  EXPECT_EQ(Client("get " + plain).code, 4);
  EXPECT_EQ(Client("get jobs/2").code, 0);
}

}  // namespace
}  // namespace edbp
