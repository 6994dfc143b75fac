// Issue 18: the data-parallel pieces that need no second process: how a batch is split,
// what a slice holds, what a rank other than 0 resumes with, a run of one, and the
// broadcast of a checkpoint's contents against a transport that delivers garbage.
#include "core/train/data_parallel.h"

#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/status_macros.h"

namespace edbp::train {
namespace {

TEST(SliceOf, SplitsEvenlyInRankOrderWithTheRemainderFirst) {
  EXPECT_EQ(SliceOf(50, 0, 2).begin, 0);
  EXPECT_EQ(SliceOf(50, 0, 2).end, 25);
  EXPECT_EQ(SliceOf(50, 1, 2).begin, 25);
  EXPECT_EQ(SliceOf(50, 1, 2).end, 50);
  // 7 over 3: 3, 2, 2.
  EXPECT_EQ(SliceOf(7, 0, 3).end, 3);
  EXPECT_EQ(SliceOf(7, 1, 3).begin, 3);
  EXPECT_EQ(SliceOf(7, 1, 3).end, 5);
  EXPECT_EQ(SliceOf(7, 2, 3).begin, 5);
  EXPECT_EQ(SliceOf(7, 2, 3).end, 7);
  // A short last batch of 1 over 2 ranks leaves rank 1 none.
  EXPECT_EQ(SliceOf(1, 0, 2).size(), 1);
  EXPECT_EQ(SliceOf(1, 1, 2).size(), 0);
  EXPECT_EQ(SliceOf(1, 1, 2).begin, 1);
  EXPECT_EQ(SliceOf(0, 0, 1).size(), 0);
  // The slices tile the batch for every split.
  for (int64_t n = 0; n < 40; ++n) {
    for (int ranks = 1; ranks <= 8; ++ranks) {
      int64_t at = 0;
      for (int r = 0; r < ranks; ++r) {
        const BatchSlice s = SliceOf(n, r, ranks);
        EXPECT_EQ(s.begin, at) << n << " " << r << "/" << ranks;
        EXPECT_GE(s.size(), n / ranks);
        EXPECT_LE(s.size(), n / ranks + 1);
        at = s.end;
      }
      EXPECT_EQ(at, n);
    }
  }
}

TEST(TakeSlice, KeepsTheSlicesImagesLabelsAndIndices) {
  data::Batch batch;
  batch.size = 4;
  batch.frames = 0;
  batch.images = {0, 0, 1, 1, 2, 2, 3, 3};  // two values per sample
  batch.labels = {7, 8, 9, 6};
  batch.indices = {40, 41, 42, 43};
  const data::Batch s = TakeSlice(batch, {1, 3});
  EXPECT_EQ(s.size, 2);
  EXPECT_EQ(s.images, (std::vector<float>{1, 1, 2, 2}));
  EXPECT_EQ(s.labels, (std::vector<int32_t>{8, 9}));
  EXPECT_EQ(s.indices, (std::vector<int64_t>{41, 42}));
  const data::Batch none = TakeSlice(batch, {4, 4});
  EXPECT_EQ(none.size, 0);
  EXPECT_TRUE(none.images.empty());
  EXPECT_TRUE(none.labels.empty());
}

TEST(ZeroSampleSums, ZeroesOnlyTheSumsOverSamples) {
  LayerAccumulators a;
  a.spike_counts = {3, 4};
  a.spikes_seen_steps = 10;
  a.grad_sum_in = 1;
  a.grad_sum_out = 2;
  a.backward_batches = 5;
  a.grad_norm = 6;
  a.grad_mean = 7;
  a.grad_max_abs = 8;
  a.grad_batches = 5;
  a.update_ratio = 0.5;
  a.updates = 5;
  const LayerAccumulators z = ZeroSampleSums({a})[0];
  EXPECT_EQ(z.spike_counts, (std::vector<float>{0, 0}));
  EXPECT_EQ(z.spikes_seen_steps, 0);
  EXPECT_EQ(z.grad_sum_in, 0);
  EXPECT_EQ(z.grad_sum_out, 0);
  EXPECT_EQ(z.backward_batches, 5);
  EXPECT_EQ(z.grad_norm, 6);
  EXPECT_EQ(z.grad_mean, 7);
  EXPECT_EQ(z.grad_max_abs, 8);
  EXPECT_EQ(z.grad_batches, 5);
  EXPECT_EQ(z.update_ratio, 0.5);
  EXPECT_EQ(z.updates, 5);
}

TEST(LocalCommunicator, ARunOfOneChangesNothing) {
  dist::LocalCommunicator one;
  EXPECT_EQ(one.rank(), 0);
  EXPECT_EQ(one.size(), 1);
  std::vector<LayerAccumulators> layers(1);
  layers[0].spike_counts = {1.5f};
  layers[0].grad_norm = 2;
  ASSERT_OK(ReduceLayerSums(one, layers));
  EXPECT_EQ(layers[0].spike_counts[0], 1.5f);
  EXPECT_EQ(layers[0].grad_norm, 2);
  SafeTensors file;
  file.metadata["k"] = "v";
  ASSERT_OK(BroadcastContents(one, file, 0));
  EXPECT_EQ(file.metadata.at("k"), "v");
  float f[2] = {1, 2};
  ASSERT_OK(one.AllReduceSum(f, 2));
  EXPECT_EQ(f[1], 2);
}

// Rank 1 of 2 whose broadcasts deliver what the test queued, in order.
class ScriptedReceiver final : public dist::Communicator {
 public:
  std::deque<std::string> arriving;
  int rank() const override { return 1; }
  int size() const override { return 2; }
  int local_rank() const override { return 1; }
  int local_size() const override { return 2; }
  std::string name() const override { return "scripted"; }
  absl::Status AllReduceSum(float*, int64_t) override { return absl::OkStatus(); }
  absl::Status AllReduceSum(double*, int64_t) override { return absl::OkStatus(); }
  absl::Status AllReduceMax(double*, int64_t) override { return absl::OkStatus(); }
  absl::Status AllReduceMin(double*, int64_t) override { return absl::OkStatus(); }
  absl::Status Broadcast(void* data, int64_t bytes, int) override {
    if (arriving.empty()) return absl::UnavailableError("the peer is gone");
    std::string next = std::move(arriving.front());
    arriving.pop_front();
    std::memcpy(data, next.data(), std::min<size_t>(next.size(), bytes));
    return absl::OkStatus();
  }
  absl::Status Barrier() override { return absl::OkStatus(); }
  [[noreturn]] void Abort(int) override { std::abort(); }
};

std::string U64(uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); }

void Deliver(ScriptedReceiver& comm, const std::string& bytes) {
  comm.arriving = {U64(bytes.size()), bytes};
}

TEST(BroadcastContents, ReadsWhatRankZeroSent) {
  ScriptedReceiver comm;
  // One metadata entry ("a" = "bc") and one tensor "t" of shape [2].
  const float values[2] = {1.5f, -2};
  const int64_t dim = 2;
  Deliver(comm, U64(1) + U64(1) + "a" + U64(2) + "bc" + U64(1) + U64(1) + "t" + U64(8) +
                    std::string(reinterpret_cast<const char*>(&dim), 8) + U64(8) +
                    std::string(reinterpret_cast<const char*>(values), 8));
  SafeTensors file;
  ASSERT_OK(BroadcastContents(comm, file, 0));
  EXPECT_EQ(file.metadata.at("a"), "bc");
  EXPECT_EQ(file.tensors.at("t").shape, (Shape{2}));
  EXPECT_EQ(file.tensors.at("t").data, (std::vector<float>{1.5f, -2}));
}

TEST(BroadcastContents, GarbageTruncationAndLyingLengthsAreDataLoss) {
  const float one = 1;
  const int64_t dim3 = 3;
  for (const std::string& bytes : {
           std::string(),                // nothing
           std::string("\x01\x02\x03"),  // shorter than a count
           U64(1) + U64(100) + "abc",    // a key longer than what follows
           U64(0) + U64(1000000),        // a million tensors, none there
           U64(~uint64_t{0}),            // 2^64 - 1 entries
           U64(0) + U64(1) + U64(1) + "t" + U64(8) +
               std::string(reinterpret_cast<const char*>(&dim3), 8) + U64(4) +
               std::string(reinterpret_cast<const char*>(&one), 4),  // 3 dims, 1 value
           U64(0) + U64(0) + "trailing",  // bytes after the end
       }) {
    ScriptedReceiver comm;
    Deliver(comm, bytes);
    SafeTensors file;
    const absl::Status s = BroadcastContents(comm, file, 0);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_NE(s.message().find("arrived broken"), std::string::npos) << s;
  }
  // The transport failing is its own error, not a crash.
  ScriptedReceiver gone;
  SafeTensors file;
  EXPECT_EQ(BroadcastContents(gone, file, 0).code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace edbp::train
