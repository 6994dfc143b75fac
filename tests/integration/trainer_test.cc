// The trainer loop on a Fashion-MNIST subset: same seed → identical metrics; a run
// stopped after epoch 1 and resumed gives the metrics of an uninterrupted run; the
// per-layer statistics are consistent (the gradient-sum invariant through adjusted
// pooling, confusion totals, rates in range).
#include "core/train/trainer.h"

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/io/safetensors.h"
#include "gtest/gtest.h"
#include "kernels/registry.h"
#include "tests/integration/epoch_compare.h"

namespace edbp::train {
namespace {

namespace fs = std::filesystem;

// Records every epoch; optionally asks the trainer to stop after epoch `stop_after`.
class Recorder : public MetricsSink {
 public:
  void OnEpoch(const EpochMetrics& m) override {
    epochs.push_back(m);
    if (trainer != nullptr && m.epoch == stop_after) trainer->RequestStop();
  }
  void OnCheckpoint(const CheckpointRecord& r) override { checkpoints.push_back(r); }
  std::vector<EpochMetrics> epochs;
  std::vector<CheckpointRecord> checkpoints;
  Trainer* trainer = nullptr;
  int64_t stop_after = -1;
};

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
      GTEST_SKIP() << "Fashion-MNIST is not installed (scripts/install-deps.sh)";
    }
    auto c = config::LoadConfigFile("configs/small.yaml");
    ASSERT_TRUE(c.ok()) << c.status();
    config_ = *c;
    dir_ = fs::temp_directory_path() / "edbp_trainer_test";
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  TrainerOptions Options(uint64_t seed, const std::string& sub) {
    TrainerOptions o;
    o.out_dir = (dir_ / sub).string();
    o.epochs = 2;
    o.seed = seed;
    o.data_limit = 600;
    o.progress_every = 0;
    return o;
  }

  std::vector<EpochMetrics> Train(TrainerOptions options, absl::StatusCode expect,
                                  int64_t stop_after = -1) {
    Recorder rec;
    auto cpu = kernels::GetBackend({});
    auto t = Trainer::Create(config_, *cpu, std::move(options), &rec);
    EXPECT_TRUE(t.ok()) << t.status();
    if (!t.ok()) return {};
    rec.trainer = t->get();
    rec.stop_after = stop_after;
    EXPECT_EQ((*t)->Run().code(), expect);
    return rec.epochs;
  }

  config::Config config_;
  fs::path dir_;
};

TEST_F(TrainerTest, SameSeedSameMetricsAndResumeMatchesAnUninterruptedRun) {
  const auto a = Train(Options(5, "a"), absl::StatusCode::kOk);
  ASSERT_EQ(a.size(), 2u);
  const auto same = Train(Options(5, "same"), absl::StatusCode::kOk);
  ASSERT_EQ(same.size(), 2u);
  ExpectSameLearning(a[0], same[0]);
  ExpectSameLearning(a[1], same[1]);
  const auto other = Train(Options(6, "other"), absl::StatusCode::kOk);
  ASSERT_EQ(other.size(), 2u);
  EXPECT_NE(a[0].train_loss, other[0].train_loss);

  // Stopped at the first batch boundary after epoch 1, then resumed.
  const auto first =
      Train(Options(5, "b"), absl::StatusCode::kCancelled, /*stop_after=*/1);
  ASSERT_EQ(first.size(), 1u);
  ExpectSameLearning(a[0], first[0]);
  TrainerOptions resume = Options(5, "b");
  resume.resume_from = (dir_ / "b" / kLastCheckpoint).string();
  const auto rest = Train(resume, absl::StatusCode::kOk);
  ASSERT_EQ(rest.size(), 1u);
  ExpectSameLearning(a[1], rest[0]);
  // Cosine schedule over 2 epochs (§10): lr, then lr·½(1+cos(π/2)).
  EXPECT_DOUBLE_EQ(a[0].learning_rate, 0.0005);
  EXPECT_NEAR(a[1].learning_rate, 0.00025, 1e-12);
}

// Issue 17: an --epochs override was not kept, so a resume ran the config's schedule.
// A 1-epoch run keeps its 1 epoch when resumed (nothing left to do); resumed with
// epochs 2 it continues under the 2-epoch schedule and learns what the uninterrupted
// 2-epoch run learned in its second epoch (the first epoch's lr is the same for both).
TEST_F(TrainerTest, TheRunsEpochsAreKeptAcrossAResume) {
  const auto a = Train(Options(5, "a"), absl::StatusCode::kOk);
  ASSERT_EQ(a.size(), 2u);
  TrainerOptions one = Options(5, "one");
  one.epochs = 1;
  const auto first = Train(one, absl::StatusCode::kOk);
  ASSERT_EQ(first.size(), 1u);
  ExpectSameLearning(a[0], first[0]);
  const std::string last = (dir_ / "one" / kLastCheckpoint).string();

  TrainerOptions again = Options(5, "one");
  again.epochs = 0;  // none given: the run's own
  again.resume_from = last;
  auto cpu = kernels::GetBackend({});
  Recorder rec;
  auto t = Trainer::Create(config_, *cpu, again, &rec);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)->state().epoch, 1);
  EXPECT_EQ((*t)->state().epochs, 1);
  EXPECT_EQ((*t)->config().network.epochs, 1);  // not the config's 2
  ASSERT_TRUE((*t)->Run().ok());
  EXPECT_TRUE(rec.epochs.empty());

  TrainerOptions more = again;
  more.epochs = 2;
  const auto rest = Train(more, absl::StatusCode::kOk);
  ASSERT_EQ(rest.size(), 1u);
  ExpectSameLearning(a[1], rest[0]);
  auto stored = ReadSafeTensors(last);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->metadata.at("epochs"), "2");
  EXPECT_EQ(stored->metadata.at("epoch"), "2");
}

TEST_F(TrainerTest, EpochMetricsAreConsistent) {
  const auto epochs = Train(Options(1, "m"), absl::StatusCode::kOk);
  ASSERT_EQ(epochs.size(), 2u);
  for (const EpochMetrics& m : epochs) {
    EXPECT_EQ(m.train_samples, 600);
    EXPECT_EQ(m.test_samples, 600);
    int64_t total = 0, diagonal = 0;
    for (int64_t r = 0; r < m.n_class; ++r) {
      for (int64_t c = 0; c < m.n_class; ++c) total += m.confusion[r * m.n_class + c];
      diagonal += m.confusion[r * m.n_class + r];
    }
    EXPECT_EQ(total, 600);
    EXPECT_DOUBLE_EQ(m.test_accuracy, diagonal / 600.0);
    EXPECT_GT(m.train_accuracy, 0.2);  // well above chance after 12 batches
    ASSERT_EQ(m.layers.size(), 4u);
    EXPECT_EQ(m.layers[0].name, "conv_1");
    EXPECT_EQ(m.layers[1].index, 2);
    for (const LayerStats& l : m.layers) {
      EXPECT_GT(l.firing_rate, 0) << l.name;
      EXPECT_LT(l.firing_rate, 1) << l.name;
      EXPECT_GE(l.silent_fraction, 0) << l.name;
      EXPECT_LE(l.silent_fraction, 1) << l.name;
      EXPECT_GT(l.grad_norm, 0) << l.name;
      EXPECT_GE(l.grad_max_abs, std::fabs(l.grad_mean)) << l.name;
      EXPECT_GT(l.weight_norm, 0) << l.name;
      EXPECT_GT(l.update_ratio, 0) << l.name;
      EXPECT_LT(l.update_ratio, 0.5) << l.name;
    }
    EXPECT_EQ(m.layers[0].grad_sum_out, 0) << "the first layer passes nothing down";
    // The paper's invariant: what a layer passes down is exactly what enters the
    // neurons below, through adjusted-average pooling (§5, §13) and directly.
    for (size_t i = 1; i < m.layers.size(); ++i) {
      const double out = m.layers[i].grad_sum_out, in = m.layers[i - 1].grad_sum_in;
      EXPECT_NEAR(out, in, 1e-4 * std::max(1.0, std::fabs(in)))
          << m.layers[i].name << " -> " << m.layers[i - 1].name;
    }
  }
}

TEST_F(TrainerTest, BadDataPathIsAClearError) {
  config_.network.data_path = "/nonexistent/fashion";
  auto cpu = kernels::GetBackend({});
  auto t = Trainer::Create(config_, *cpu, Options(1, "x"), nullptr);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(t.status().message().find("/nonexistent/fashion"), std::string::npos)
      << t.status();
}

// encoding: TTFS (§6) feeds one spike per pixel instead of the analog image.
TEST_F(TrainerTest, TtfsEncodingTrains) {
  config_.network.encoding = config::Encoding::kTtfs;
  TrainerOptions o = Options(2, "ttfs");
  o.epochs = 1;
  const auto epochs = Train(o, absl::StatusCode::kOk);
  ASSERT_EQ(epochs.size(), 1u);
  EXPECT_TRUE(std::isfinite(epochs[0].train_loss));
  EXPECT_GT(epochs[0].layers[0].firing_rate, 0);
  EXPECT_EQ(epochs[0].test_samples, 600);
}

// The output layer must have a neuron for every label of the data (else injection
// would index past it).
TEST_F(TrainerTest, TooFewClassesForTheLabelsIsAClearError) {
  auto yaml = config_.source_text;
  yaml.replace(yaml.find("n_class: 10"), 11, "n_class: 5");
  yaml.replace(yaml.find("n_outputs: 10"), 13, "n_outputs: 5");
  auto c = config::ParseConfig(yaml, "five.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  auto cpu = kernels::GetBackend({});
  auto t = Trainer::Create(*c, *cpu, Options(1, "five"), nullptr);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(t.status().message().find("Network.n_class: FashionMNIST/train has label 9, "
                                      "expected at most 4"),
            std::string::npos)
      << t.status();
}

}  // namespace
}  // namespace edbp::train
