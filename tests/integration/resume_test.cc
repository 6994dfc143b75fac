// Issue 17, crash-exact resume: a run stopped between two batches (of the training
// pass or of the test pass) and resumed computes what the uninterrupted run computes,
// bit for bit: the same records with the same numbers (wall times aside) and, at the
// end, byte-identical checkpoint files; periodic checkpoints change nothing and a
// resume from one replays the lost records under their old numbers; hostile values
// of the new checkpoint entries are a Status naming the entry.
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/config/config.h"
#include "core/io/safetensors.h"
#include "core/train/trainer.h"
#include "gtest/gtest.h"
#include "kernels/registry.h"
#include "tests/integration/epoch_compare.h"
#include "tests/process_util.h"

namespace edbp::train {
namespace {

namespace fs = std::filesystem;

// Every record of a run in order, flattened to what must match between runs.
struct Rec {
  std::string kind = {};  // "progress" (training pass), "progress:test", "epoch", ...
  int64_t record = 0;
  int64_t epoch = 0;
  int64_t batch = 0;  // progress only
  double loss = 0;    // progress: running; epoch: train
  double accuracy = 0;
  EpochMetrics metrics = {};  // epoch only
};

// Records every record; asks the trainer to stop after the progress (epoch, batch) of
// the training pass (of the test pass with stop_in_test), and calls `on_progress` (if
// set) with each progress record.
class Recorder : public MetricsSink {
 public:
  void OnProgress(const ProgressRecord& r) override {
    recs.push_back({.kind = r.phase == Phase::kTest ? "progress:test" : "progress",
                    .record = r.record,
                    .epoch = r.epoch,
                    .batch = r.batch,
                    .loss = r.running_loss,
                    .accuracy = r.running_accuracy});
    if (on_progress) on_progress(r);
    if (trainer != nullptr && (r.phase == Phase::kTest) == stop_in_test &&
        r.epoch == stop_epoch && r.batch == stop_batch) {
      trainer->RequestStop();
    }
  }
  void OnEpoch(const EpochMetrics& m) override {
    recs.push_back({.kind = "epoch",
                    .record = m.record,
                    .epoch = m.epoch,
                    .loss = m.train_loss,
                    .accuracy = m.train_accuracy,
                    .metrics = m});
  }
  void OnCheckpoint(const CheckpointRecord& r) override {
    recs.push_back(
        {.kind = "checkpoint:" + r.kind, .record = r.record, .epoch = r.epoch});
  }
  std::vector<Rec> recs;
  Trainer* trainer = nullptr;
  int64_t stop_epoch = -1, stop_batch = -1;
  bool stop_in_test = false;
  std::function<void(const ProgressRecord&)> on_progress;
};

// `got` is `want` record for record (numbers, kinds, values; wall times aside).
void ExpectSameRecords(const std::vector<Rec>& want, const std::vector<Rec>& got) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "record " << want[i].record);
    EXPECT_EQ(want[i].record, static_cast<int64_t>(i) + 1);
    EXPECT_EQ(got[i].record, want[i].record);
    EXPECT_EQ(got[i].kind, want[i].kind);
    EXPECT_EQ(got[i].epoch, want[i].epoch);
    EXPECT_EQ(got[i].batch, want[i].batch);
    EXPECT_EQ(got[i].loss, want[i].loss);
    EXPECT_EQ(got[i].accuracy, want[i].accuracy);
    if (want[i].kind == "epoch") ExpectSameEpoch(want[i].metrics, got[i].metrics);
  }
}

class ResumeTest : public ::testing::Test {
 protected:
  static constexpr int64_t kBatches = 6;  // 300 samples, batch 50

  void SetUp() override {
    if (!fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
      GTEST_SKIP() << "Fashion-MNIST is not installed (scripts/install-deps.sh)";
    }
    auto c = config::LoadConfigFile("configs/small.yaml");
    ASSERT_TRUE(c.ok()) << c.status();
    config_ = *c;
    dir_ = fs::temp_directory_path() /
           ("edbp_resume_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  TrainerOptions Options(const std::string& sub) const {
    TrainerOptions o;
    o.out_dir = Dir(sub).string();
    o.epochs = 2;
    o.seed = 7;
    o.data_limit = 300;
    o.progress_every = 2;
    return o;
  }
  // The reference run lives in its own directory, shared by the tests.
  fs::path Dir(const std::string& sub) const {
    return sub == "reference" ? fs::temp_directory_path() / "edbp_resume_reference"
                              : dir_ / sub;
  }
  std::string Last(const std::string& sub) const {
    return (Dir(sub) / kLastCheckpoint).string();
  }
  std::string Best(const std::string& sub) const {
    return (Dir(sub) / kBestCheckpoint).string();
  }

  // Runs to the end or to the stop; appends the records to `rec`.
  absl::Status Train(TrainerOptions options, Recorder& rec) {
    auto cpu = kernels::GetBackend({});
    auto t = Trainer::Create(config_, *cpu, std::move(options), &rec);
    if (!t.ok()) return t.status();
    rec.trainer = t->get();
    absl::Status s = (*t)->Run();
    rec.trainer = nullptr;
    return s;
  }
  absl::StatusOr<std::unique_ptr<Trainer>> Resume(const std::string& file) {
    TrainerOptions o = Options("resumed");
    o.resume_from = file;
    return Trainer::Create(config_, *kernels::GetBackend({}), o, nullptr);
  }

  // The uninterrupted 2-epoch run, once for all the tests.
  const Recorder& Reference() {
    static Recorder reference;
    static bool done = false;
    if (!done) {
      done = true;
      fs::remove_all(Dir("reference"));
      EXPECT_TRUE(Train(Options("reference"), reference).ok());
    }
    return reference;
  }
  static void TearDownTestSuite() {
    fs::remove_all(fs::temp_directory_path() / "edbp_resume_reference");
  }

  // Stops the run in `sub` after progress (epoch, batch) of each stop in turn, resuming
  // after each; returns every record of the pieces in order.
  std::vector<Rec> StopAndResume(const std::string& sub,
                                 const std::vector<std::pair<int64_t, int64_t>>& stops) {
    Recorder rec;
    TrainerOptions o = Options(sub);
    for (const auto& [epoch, batch] : stops) {
      rec.stop_epoch = epoch;
      rec.stop_batch = batch;
      EXPECT_EQ(Train(o, rec).code(), absl::StatusCode::kCancelled);
      auto file = ReadSafeTensors(Last(sub));
      EXPECT_TRUE(file.ok()) << file.status();
      if (file.ok()) {
        // The state after the stop's batch (the test pass's stop: after the last).
        EXPECT_EQ(file->metadata["epoch"], std::to_string(epoch - 1));
        EXPECT_EQ(file->metadata["epoch_batch"], std::to_string(batch));
        EXPECT_EQ(file->metadata["epoch_batches"], std::to_string(kBatches));
      }
      o.resume_from = Last(sub);
    }
    rec.stop_epoch = -1;
    EXPECT_TRUE(Train(o, rec).ok());
    return rec.recs;
  }

  void ExpectSameFiles(const std::string& sub) {
    EXPECT_TRUE(testing::ReadFile(Last(sub)) == testing::ReadFile(Last("reference")));
    EXPECT_TRUE(testing::ReadFile(Best(sub)) == testing::ReadFile(Best("reference")));
  }

  config::Config config_;
  fs::path dir_;
};

TEST_F(ResumeTest, TheReferenceRunNumbersItsRecords) {
  const std::vector<Rec>& r = Reference().recs;
  // Per epoch: progress after training batches 2, 4, 6, after test batches 2, 4, 6
  // (300 test samples), the epoch, the last checkpoint and the best one (epoch 2 may
  // not be the best).
  ASSERT_GE(r.size(), 17u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(r[i].kind, i < 3 ? "progress" : "progress:test") << i;
    EXPECT_EQ(r[i].epoch, 1) << i;
    EXPECT_EQ(r[i].batch, static_cast<int64_t>(2 * (i % 3) + 2)) << i;
  }
  EXPECT_EQ(r[6].kind, "epoch");
  EXPECT_EQ(r[7].kind, "checkpoint:last");
  EXPECT_EQ(r[8].kind, "checkpoint:best");  // the first test is the best so far
  // The test pass's last record holds the epoch's test loss and accuracy.
  EXPECT_EQ(r[5].loss, r[6].metrics.test_loss);
  EXPECT_EQ(r[5].accuracy, r[6].metrics.test_accuracy);
  for (size_t i = 0; i < r.size(); ++i)
    EXPECT_EQ(r[i].record, static_cast<int64_t>(i) + 1);
  auto last = ReadSafeTensors(Last("reference"));
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->metadata.at("records"), std::to_string(r.size()));
  EXPECT_FALSE(last->metadata.contains("epoch_batch"));  // an epoch's end
}

TEST_F(ResumeTest, AStopMidEpochResumesWithTheNextBatchBitForBit) {
  const std::vector<Rec> want = Reference().recs;
  // Batch 3 of epoch 1 (between two progress records), batch 4 of epoch 2.
  ExpectSameRecords(want, StopAndResume("mid", {{1, 2}, {2, 4}}));
  ExpectSameFiles("mid");
}

TEST_F(ResumeTest, AStopDuringTheTestPassResumesWithTheTestPass) {
  const std::vector<Rec> want = Reference().recs;
  // A stop after the last training batch lands in the test pass.
  ExpectSameRecords(want, StopAndResume("test", {{1, kBatches}}));
  ExpectSameFiles("test");
}

// Issue 19: a stop between two batches of the test pass saves the state of the training
// pass's end with its record count (the test pass's records not counted); the resume
// runs the test pass again whole and sends its records again under their numbers,
// which a consumer keeping the first record of each number reads as the uninterrupted
// run's.
TEST_F(ResumeTest, AStopInsideTheTestPassSendsItsRecordsAgainUnderTheirNumbers) {
  const std::vector<Rec> want = Reference().recs;
  Recorder rec;
  TrainerOptions o = Options("intest");
  rec.stop_epoch = 1;
  rec.stop_batch = 2;
  rec.stop_in_test = true;
  ASSERT_EQ(Train(o, rec).code(), absl::StatusCode::kCancelled);
  ASSERT_EQ(rec.recs.size(), 4u);  // training progress 2, 4, 6; test progress 2
  EXPECT_EQ(rec.recs[3].kind, "progress:test");
  EXPECT_EQ(rec.recs[3].record, 4);
  auto file = ReadSafeTensors(Last("intest"));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->metadata.at("records"), "3");
  EXPECT_EQ(file->metadata.at("epoch"), "0");
  EXPECT_EQ(file->metadata.at("epoch_batch"), std::to_string(kBatches));
  rec.stop_epoch = -1;
  o.resume_from = Last("intest");
  ASSERT_TRUE(Train(o, rec).ok());
  ASSERT_EQ(rec.recs.size(), want.size() + 1);
  // Record 4 twice, the same both times; without the repeat, the reference's records.
  EXPECT_EQ(rec.recs[4].record, 4);
  EXPECT_EQ(rec.recs[4].kind, "progress:test");
  EXPECT_EQ(rec.recs[4].loss, rec.recs[3].loss);
  EXPECT_EQ(rec.recs[4].accuracy, rec.recs[3].accuracy);
  std::vector<Rec> kept = rec.recs;
  kept.erase(kept.begin() + 4);
  ExpectSameRecords(want, kept);
  ExpectSameFiles("intest");
}

// --checkpoint-every: the uninterrupted run is the same, its extra checkpoints are no
// records, and a crash after one (simulated by resuming from a copy of it) replays the
// lost records under the numbers they had.
TEST_F(ResumeTest, PeriodicCheckpointsChangeNothingAndReplayUnderTheSameNumbers) {
  const std::vector<Rec> want = Reference().recs;
  Recorder rec;
  TrainerOptions o = Options("periodic");
  o.checkpoint_every = 3;
  const std::string copy = (dir_ / "crash" / kLastCheckpoint).string();
  rec.on_progress = [&](const ProgressRecord& r) {
    // Epoch 2 after training batch 4: the checkpoint of batch 3 is the newest.
    if (r.phase == Phase::kTrain && r.epoch == 2 && r.batch == 4) {
      fs::create_directories(dir_ / "crash");
      fs::copy_file(Last("periodic"), copy);
    }
  };
  ASSERT_TRUE(Train(o, rec).ok());
  ExpectSameRecords(want, rec.recs);
  ExpectSameFiles("periodic");

  auto crashed = ReadSafeTensors(copy);
  ASSERT_TRUE(crashed.ok()) << crashed.status();
  EXPECT_EQ(crashed->metadata.at("epoch_batch"), "3");
  // Records up to the progress of epoch 2 batch 2: 3 training and 3 test progress,
  // epoch, last, best, progress 2 — the count depends on whether epoch 1 was best, so
  // read it.
  int64_t before = 0;
  for (const Rec& r : want) {
    if (r.kind == "progress" && r.epoch == 2 && r.batch == 2) before = r.record;
  }
  ASSERT_GT(before, 0);
  EXPECT_EQ(crashed->metadata.at("records"), std::to_string(before));
  Recorder replay;
  TrainerOptions again = Options("crash");
  again.checkpoint_every = 3;
  again.resume_from = copy;
  ASSERT_TRUE(Train(again, replay).ok());
  // Progress 4 of epoch 2 is sent again with its number, then the rest.
  ASSERT_EQ(replay.recs.size(), want.size() - before);
  for (size_t i = 0; i < replay.recs.size(); ++i) {
    EXPECT_EQ(replay.recs[i].record, want[before + i].record);
    EXPECT_EQ(replay.recs[i].kind, want[before + i].kind);
    EXPECT_EQ(replay.recs[i].loss, want[before + i].loss);
  }
  EXPECT_TRUE(testing::ReadFile(copy) == testing::ReadFile(Last("reference")));
}

// A checkpoint of an older version (no "records", no epoch progress) resumes as before:
// with the next epoch, numbering from 1.
TEST_F(ResumeTest, AnOldEpochEndCheckpointStillResumes) {
  const std::string old = (dir_ / "old.safetensors").string();
  {
    TrainerOptions one = Options("one");
    one.epochs = 1;
    Recorder rec;
    ASSERT_TRUE(Train(one, rec).ok());
    auto file = ReadSafeTensors(Last("one"));
    ASSERT_TRUE(file.ok()) << file.status();
    file->metadata.erase("records");
    file->metadata["epochs"] = "2";
    ASSERT_TRUE(WriteSafeTensors(old, *file).ok());
  }
  auto t = Resume(old);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)->state().epoch, 1);
  EXPECT_EQ((*t)->state().records, 0);
  EXPECT_FALSE((*t)->state().progress.has_value());
}

// Hostile values of the mid-epoch entries: INVALID_ARGUMENT naming the entry, never an
// abort or a giant allocation.
TEST_F(ResumeTest, HostileProgressEntriesAreAClearError) {
  Recorder rec;
  rec.stop_epoch = 1;
  rec.stop_batch = 4;
  ASSERT_EQ(Train(Options("stopped"), rec).code(), absl::StatusCode::kCancelled);
  auto good = ReadSafeTensors(Last("stopped"));
  ASSERT_TRUE(good.ok()) << good.status();
  ASSERT_TRUE(Resume(Last("stopped")).ok());
  auto net = Network::Create(config_, *kernels::GetBackend({}), 1);
  ASSERT_TRUE(net.ok()) << net.status();
  auto opt = Optimizer::Create(config_.network, (*net)->Parameters());
  ASSERT_TRUE(opt.ok()) << opt.status();
  const int64_t peak_before = testing::PeakResidentKiB();

  struct Case {
    std::string key;    // metadata entry; "tensor:NAME" for a tensor
    std::string value;  // new value; "<erase>" removes it
    std::string named;  // the message must contain this
  };
  const std::string huge_sums(1 << 20, ';');
  const std::vector<Case> cases = {
      {"epoch_batch", "-1", "'epoch_batch' is '-1', expected an integer in [0, 6]"},
      {"epoch_batch", "7", "'epoch_batch' is '7', expected an integer in [0, 6]"},
      {"epoch_batch", "99999999999999999999999", "'epoch_batch'"},
      {"epoch_batch", "four", "'epoch_batch' is 'four'"},
      {"epoch_batches", "0", "'epoch_batches' is '0', expected an integer in [1, "},
      {"epoch_batches", "-6", "'epoch_batches'"},
      {"epoch_batches", "9223372036854775807", "'epoch_batches'"},
      {"epoch_batches", "8", "'epoch_batches' is 8, this run's epochs have 6 batches"},
      {"epoch_seen", "199", "'epoch_seen' is 199, 4 batches of this run's data hold 200"},
      {"epoch_seen", "-200", "'epoch_seen'"},
      {"epoch_seen", "<erase>", "missing metadata entry 'epoch_seen'"},
      {"epoch_correct", "201",
       "'epoch_correct' is '201', expected an integer in [0, 200]"},
      {"epoch_loss_total", "lots", "'epoch_loss_total' is 'lots', expected a number"},
      {"epoch_layer_sums", "", "'epoch_layer_sums': layer statistics: 0 layers stored"},
      {"epoch_layer_sums", "1 2 3", "'epoch_layer_sums' layer 0 ('1 2 3') has 3 fields"},
      {"epoch_layer_sums", huge_sums, "at most 4096 ';'-separated layers"},
      {"epoch_layer_sums", "1 0 0 5 0 0 0 4 0 4;",
       "field 4 '5' is not an integer in [0, "
       "epoch_batch 4]"},
      {"epoch_layer_sums", "x 0 0 0 0 0 0 0 0 0", "field 1 'x' is not a number"},
      {"epoch_layer_sums", "-1 0 0 0 0 0 0 0 0 0", "field 1 '-1' is not a number >= 0"},
      {"records", "-3", "'records' is '-3'"},
      {"records", "18446744073709551616", "'records'"},
      {"tensor:epoch_spike_counts.1", "<erase>", "missing tensor 'epoch_spike_counts.1'"},
      {"tensor:epoch_spike_counts.0", "[5]",
       "conv_1: 5 spike counts stored, the layer "
       "has 8640 neurons"},
      {"tensor:epoch_spike_counts.0", "[2,2]", "'epoch_spike_counts.0' has shape [2,2]"},
  };
  for (const Case& c : cases) {
    SafeTensors file = *good;
    if (c.key.rfind("tensor:", 0) == 0) {
      const std::string name = c.key.substr(7);
      if (c.value == "<erase>") {
        file.tensors.erase(name);
      } else {
        file.tensors[name] = c.value == "[5]" ? HostTensor{{5}, std::vector<float>(5, 1)}
                                              : HostTensor{{2, 2}, {1, 2, 3, 4}};
      }
    } else if (c.value == "<erase>") {
      file.metadata.erase(c.key);
    } else {
      file.metadata[c.key] = c.value;
    }
    const std::string path = (dir_ / "hostile.safetensors").string();
    ASSERT_TRUE(WriteSafeTensors(path, file).ok());
    // What the file alone shows is LoadCheckpoint's; what needs the run's data and
    // network, the trainer's (which loads the data: only then).
    absl::Status status = LoadCheckpoint(path, **net, opt->get()).status();
    if (status.ok()) status = Resume(path).status();
    ASSERT_FALSE(status.ok()) << c.key << " = " << c.value.substr(0, 40);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_NE(status.message().find(c.named), std::string::npos)
        << c.key << ": " << status.message().substr(0, 300);
    EXPECT_NE(status.message().find(path), std::string::npos) << status;
  }
  // Nothing allocated in proportion to the lying values (the trainers' own memory
  // aside: the data and network are a few MiB).
  EXPECT_LT(testing::PeakResidentKiB() - peak_before, 64 * 1024);
}

}  // namespace
}  // namespace edbp::train
