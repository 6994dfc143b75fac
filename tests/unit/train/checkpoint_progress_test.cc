// Issue 17: the epoch progress of a mid-epoch checkpoint (epoch_progress.h) and the
// record counter round-trip exactly (doubles to the bit), an epoch-end checkpoint has
// none of the mid-epoch entries, and the same state gives the same bytes.
#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/io/safetensors.h"
#include "core/network.h"
#include "core/optim/optimizer.h"
#include "core/train/checkpoint.h"
#include "gtest/gtest.h"
#include "tests/process_util.h"
#include "tests/test_util.h"

namespace edbp::train {
namespace {

namespace fs = std::filesystem;

class CheckpointProgressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = config::LoadConfigFile("configs/small.yaml");
    ASSERT_TRUE(c.ok()) << c.status();
    config_ = *c;
    auto net = Network::Create(config_, edbp::testing::Cpu(), 3);
    ASSERT_TRUE(net.ok()) << net.status();
    net_ = std::move(*net);
    auto opt = Optimizer::Create(config_.network, net_->Parameters());
    ASSERT_TRUE(opt.ok()) << opt.status();
    opt_ = std::move(*opt);
    dir_ = fs::temp_directory_path() / "edbp_checkpoint_progress_test";
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  static TrainingState State() {
    TrainingState s;
    s.epoch = 1;
    s.epochs = 3;
    s.best_test_accuracy = 0.5;
    s.best_epoch = 1;
    s.seed = 9;
    s.config_text = "Network: {}";
    s.records = 17;
    EpochProgress p;
    p.batch = 5;
    p.batches = 12;
    p.loss_total = 0.1 + 0.2;  // 0.30000000000000004
    p.correct = 77;
    p.seen = 250;
    for (int k = 0; k < 2; ++k) {
      LayerAccumulators a;
      a.spike_counts = {0.0f, 1.5f, 3e7f, std::nextafter(1.0f, 2.0f)};
      a.spikes_seen_steps = 1250;
      a.grad_sum_in = -1.0 / 3;
      a.grad_sum_out = k == 0 ? 0.0 : -0.0;
      a.backward_batches = 5;
      a.grad_norm = std::numeric_limits<double>::denorm_min();
      a.grad_mean = 1e300;
      a.grad_max_abs = 2.5;
      a.grad_batches = 5;
      a.update_ratio = 0.0123456789012345678;
      a.updates = 4;
      p.layers.push_back(a);
    }
    s.progress = p;
    return s;
  }

  config::Config config_;
  std::unique_ptr<Network> net_;
  std::unique_ptr<Optimizer> opt_;
  fs::path dir_;
};

uint64_t Bits(double d) { return std::bit_cast<uint64_t>(d); }

TEST_F(CheckpointProgressTest, RoundTripsBitForBit) {
  const TrainingState want = State();
  ASSERT_TRUE(SaveCheckpoint(Path("a"), *net_, opt_.get(), want).ok());
  auto got = LoadCheckpoint(Path("a"), *net_, opt_.get());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->records, 17);
  ASSERT_TRUE(got->progress.has_value());
  const EpochProgress &p = *got->progress, &w = *want.progress;
  EXPECT_EQ(p.batch, 5);
  EXPECT_EQ(p.batches, 12);
  EXPECT_EQ(Bits(p.loss_total), Bits(w.loss_total));
  EXPECT_EQ(p.correct, 77);
  EXPECT_EQ(p.seen, 250);
  ASSERT_EQ(p.layers.size(), 2u);
  for (size_t k = 0; k < 2; ++k) {
    const LayerAccumulators &a = p.layers[k], &b = w.layers[k];
    EXPECT_EQ(a.spike_counts, b.spike_counts);
    for (const auto& [x, y] :
         {std::pair{a.spikes_seen_steps, b.spikes_seen_steps},
          std::pair{a.grad_sum_in, b.grad_sum_in},
          std::pair{a.grad_sum_out, b.grad_sum_out}, std::pair{a.grad_norm, b.grad_norm},
          std::pair{a.grad_mean, b.grad_mean}, std::pair{a.grad_max_abs, b.grad_max_abs},
          std::pair{a.update_ratio, b.update_ratio}}) {
      EXPECT_EQ(Bits(x), Bits(y)) << x << " vs " << y;
    }
    EXPECT_EQ(a.backward_batches, 5);
    EXPECT_EQ(a.grad_batches, 5);
    EXPECT_EQ(a.updates, 4);
  }
  // The same state, the same bytes.
  ASSERT_TRUE(SaveCheckpoint(Path("b"), *net_, opt_.get(), *got).ok());
  EXPECT_TRUE(edbp::testing::ReadFile(Path("a")) == edbp::testing::ReadFile(Path("b")));
}

TEST_F(CheckpointProgressTest, AnEpochEndCheckpointHasNoProgressEntries) {
  TrainingState s = State();
  s.progress.reset();
  ASSERT_TRUE(SaveCheckpoint(Path("end"), *net_, opt_.get(), s).ok());
  auto file = ReadSafeTensors(Path("end"));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->metadata.at("records"), "17");
  for (const auto& [key, value] : file->metadata) {
    EXPECT_NE(key.rfind("epoch_", 0), 0u) << key;
  }
  for (const auto& [key, tensor] : file->tensors) {
    EXPECT_NE(key.rfind("epoch_", 0), 0u) << key;
  }
  auto got = LoadCheckpoint(Path("end"), *net_, opt_.get());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(got->progress.has_value());
  EXPECT_EQ(got->records, 17);
}

// An epoch in progress beyond the run's epochs is no run's.
TEST_F(CheckpointProgressTest, AProgressPastTheRunsEpochsIsAClearError) {
  TrainingState s = State();
  s.epoch = 3;
  ASSERT_TRUE(SaveCheckpoint(Path("past"), *net_, opt_.get(), s).ok());
  auto got = LoadCheckpoint(Path("past"), *net_, opt_.get());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(got.status().message().find(
                "metadata entry 'epoch_batch' is for epoch 4 but the run has 3 epochs"),
            std::string::npos)
      << got.status();
}

}  // namespace
}  // namespace edbp::train
