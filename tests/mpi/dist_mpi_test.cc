// Issue 18: the MPI communicator and one data-parallel training step, run as two ranks
// under mpiexec (label mpi; tests/mpi/CMakeLists.txt). Every rank runs every test, in
// the same order, so that their collectives meet; a test asserts before its collectives
// only what holds on every rank alike.
//
// The step: the small config with fixed initial weights (Network::Create's seed) on one
// batch of 50 samples. Each rank computes the one-process step (W=1) itself, then its
// slice of the W=2 step; the W=2 spikes of its samples are the W=1 spikes bit for bit,
// the summed loss is W=1's to rounding, and every summed gradient is within 1e-5 of its
// tensor's largest W=1 value. Count loss as the config has it, and TET with a dropout
// layer (the slices' dropout masks are the whole batch's, the mean is the whole batch's).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/check.h"
#include "core/config/config.h"
#include "core/data/loader.h"
#include "core/data/synthetic.h"
#include "core/dist/communicator.h"
#include "core/loss/loss.h"
#include "core/network.h"
#include "core/train/data_parallel.h"
#include "dist/launch.h"
#include "gtest/gtest.h"
#include "kernels/registry.h"
#include "tests/status_macros.h"

namespace edbp {
namespace {

dist::Communicator* g_comm = nullptr;

void CheckOk(const absl::Status& s) { EDBP_CHECK(s.ok()) << s; }

TEST(MpiCommunicator, RanksComeFromMpi) {
  EXPECT_EQ(g_comm->name(), "mpi");
  EXPECT_EQ(g_comm->size(), 2);
  EXPECT_EQ(g_comm->local_size(), 2);  // both on this machine
  EXPECT_EQ(g_comm->local_rank(), g_comm->rank());
  double ranks[1] = {static_cast<double>(g_comm->rank())};
  ASSERT_OK(g_comm->AllReduceSum(ranks, 1));
  EXPECT_EQ(ranks[0], 1.0);  // 0 + 1: two distinct ranks
}

TEST(MpiCommunicator, SumsMaximaMinimaAndBroadcasts) {
  const int r = g_comm->rank();
  // Integers: exact in float, so the sums are exact.
  std::vector<float> f(3'000'001);
  for (size_t i = 0; i < f.size(); ++i) f[i] = static_cast<float>((i % 1000) * (r + 1));
  ASSERT_OK(g_comm->AllReduceSum(f.data(), static_cast<int64_t>(f.size())));
  for (size_t i = 0; i < f.size(); i += 9973) {
    ASSERT_EQ(f[i], static_cast<float>((i % 1000) * 3)) << i;
  }
  double d[3] = {0.5 + r, -1.0 * r, 1e300 * r};
  ASSERT_OK(g_comm->AllReduceSum(d, 3));
  EXPECT_EQ(d[0], 2.0);
  EXPECT_EQ(d[1], -1.0);
  EXPECT_EQ(d[2], 1e300);
  double hi[2] = {static_cast<double>(r), -static_cast<double>(r)};
  double lo[2] = {hi[0], hi[1]};
  ASSERT_OK(g_comm->AllReduceMax(hi, 2));
  ASSERT_OK(g_comm->AllReduceMin(lo, 2));
  EXPECT_EQ(hi[0], 1.0);
  EXPECT_EQ(hi[1], 0.0);
  EXPECT_EQ(lo[0], 0.0);
  EXPECT_EQ(lo[1], -1.0);
  for (int root = 0; root < 2; ++root) {
    std::string bytes(100'000, static_cast<char>('a' + r));
    ASSERT_OK(g_comm->Broadcast(bytes.data(), static_cast<int64_t>(bytes.size()), root));
    EXPECT_EQ(bytes, std::string(100'000, static_cast<char>('a' + root)));
  }
  ASSERT_OK(g_comm->Barrier());
}

TEST(DataParallel, BroadcastContentsGivesEveryRankRankZerosFile) {
  SafeTensors file;
  if (g_comm->rank() == 0) {
    file.metadata = {{"config", "Network: {}"}, {"epoch", "3"}, {"", ""}};
    file.tensors["net.0.weight"] = {{2, 3}, {1, 2, 3, 4, 5, 6}};
    file.tensors["empty"] = {{0}, {}};
  } else {
    file.metadata = {{"stale", "x"}};
  }
  ASSERT_OK(train::BroadcastContents(*g_comm, file, 0));
  EXPECT_EQ(file.metadata.size(), 3u);
  EXPECT_EQ(file.metadata["epoch"], "3");
  EXPECT_EQ(file.metadata.count("stale"), 0u);
  ASSERT_EQ(file.tensors.size(), 2u);
  EXPECT_EQ(file.tensors["net.0.weight"].shape, (Shape{2, 3}));
  EXPECT_EQ(file.tensors["net.0.weight"].data, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(file.tensors["empty"].data.empty());
}

TEST(DataParallel, LayerSumsAddOverRanksAndCountsTakeTheMaximum) {
  const int r = g_comm->rank();
  std::vector<train::LayerAccumulators> layers(2);
  for (train::LayerAccumulators& a : layers) {
    a.spike_counts = {1.0f + r, 10.0f * r};
    a.spikes_seen_steps = 100 + r;
    a.grad_sum_in = 0.25 * (r + 1);
    a.grad_sum_out = -1;
    a.backward_batches = 5 - r;  // rank 1 had no samples in one batch
    a.grad_norm = 7;             // the same on every rank: kept
    a.grad_mean = 0.5;
    a.grad_max_abs = 2;
    a.grad_batches = 5;
    a.update_ratio = 0.125;
    a.updates = 5;
  }
  ASSERT_OK(train::ReduceLayerSums(*g_comm, layers));
  for (const train::LayerAccumulators& a : layers) {
    EXPECT_EQ(a.spike_counts, (std::vector<float>{3, 10}));
    EXPECT_EQ(a.spikes_seen_steps, 201);
    EXPECT_EQ(a.grad_sum_in, 0.75);
    EXPECT_EQ(a.grad_sum_out, -2);
    EXPECT_EQ(a.backward_batches, 5);
    EXPECT_EQ(a.grad_norm, 7);
    EXPECT_EQ(a.grad_mean, 0.5);
    EXPECT_EQ(a.grad_max_abs, 2);
    EXPECT_EQ(a.grad_batches, 5);
    EXPECT_EQ(a.update_ratio, 0.125);
    EXPECT_EQ(a.updates, 5);
  }
}

config::Config SmallConfig(bool tet_with_dropout) {
  absl::StatusOr<config::Config> small = config::LoadConfigFile("configs/small.yaml");
  EDBP_CHECK(small.ok()) << small.status();
  if (!tet_with_dropout) return *small;
  std::string text = small->source_text;
  text.replace(text.find("loss: \"count\""), 13, "loss: \"TET\"");
  const size_t out = text.find("  output:");
  text.insert(out, "  dropout_1:\n    type: \"dropout\"\n    p: 0.3\n\n");
  absl::StatusOr<config::Config> tet = config::ParseConfig(text, "small+TET+dropout");
  EDBP_CHECK(tet.ok()) << tet.status();
  return *tet;
}

// x [T, B, C, H, W]: the batch's static images repeated t_train times (§6).
Tensor Inputs(kernels::Backend* backend, const config::Config& config,
              const data::Batch& batch) {
  const int64_t steps = config.network.t_train;
  Shape shape = {steps, batch.size};
  for (int64_t d : config.input_shape) shape.push_back(d);
  std::vector<float> x;
  for (int64_t t = 0; t < steps; ++t)
    x.insert(x.end(), batch.images.begin(), batch.images.end());
  absl::StatusOr<Tensor> out = Tensor::FromHost(backend, shape, x);
  EDBP_CHECK(out.ok()) << out.status();
  return *out;
}

struct Step {
  std::vector<float> output;  // [T, B, C]
  double loss = 0;
  std::vector<std::vector<float>> grads;  // per parameter
};

// One training step (dropout on, labels injected) of a network made with seed 11 on
// `batch`, as the slice [begin, begin + batch.size) of a batch of `global` (0: whole).
Step RunStep(const config::Config& config, const data::Batch& batch, int64_t begin,
             int64_t global) {
  absl::StatusOr<kernels::Backend*> backend = kernels::GetBackend({});
  EDBP_CHECK(backend.ok());
  absl::StatusOr<std::unique_ptr<Network>> net = Network::Create(config, *backend, 11);
  EDBP_CHECK(net.ok()) << net.status();
  absl::StatusOr<std::unique_ptr<Loss>> loss = Loss::Create(config.network);
  EDBP_CHECK(loss.ok());
  (*net)->set_batch_slice(begin, global);
  (*loss)->set_mean_batch(global);
  const Tensor x = Inputs(*backend, config, batch);
  absl::StatusOr<Tensor> y = Tensor::FromHostI32(*backend, {batch.size}, batch.labels);
  EDBP_CHECK(y.ok());
  absl::StatusOr<NetworkForward> fwd = (*net)->Forward(x, &*y, true, true, true);
  EDBP_CHECK(fwd.ok()) << fwd.status();
  Tensor grad;
  absl::StatusOr<double> value = (*loss)->Compute(fwd->output, *y, &grad);
  EDBP_CHECK(value.ok());
  Step step;
  step.output = *fwd->output.ToHost();
  step.loss = *value;
  CheckOk((*net)->Backward(grad, *fwd));
  if (global > 0) {
    train::GradientSync sync(g_comm, (*net)->Parameters());
    double scalars[1] = {step.loss};
    CheckOk(sync.AllReduce(scalars));
    step.loss = scalars[0];
    EDBP_CHECK(sync.bytes_per_step() > 0);
  }
  for (const Parameter& p : (*net)->Parameters()) step.grads.push_back(*p.grad.ToHost());
  return step;
}

void ExpectTwoRanksComputeOneProcessStep(bool tet_with_dropout) {
  const config::Config config = SmallConfig(tet_with_dropout);
  constexpr int64_t kBatch = 50;
  const data::DataSplits data = data::MakeSyntheticSplits(
      config.network.dataset, config.input_shape, config.network.n_class, kBatch, 10, 5);
  data::BatchLoader loader(data.train, {.batch_size = kBatch});
  const data::Batch batch = *loader.Next();
  const Step one = RunStep(config, batch, 0, 0);
  const train::BatchSlice slice = train::SliceOf(kBatch, g_comm->rank(), 2);
  EXPECT_EQ(slice.size(), 25);
  const Step two = RunStep(config, train::TakeSlice(batch, slice), slice.begin, kBatch);

  // Spikes of this rank's samples: bit for bit.
  const int64_t steps = config.network.t_train, classes = config.network.n_class;
  int64_t spikes = 0;
  for (int64_t t = 0; t < steps; ++t) {
    for (int64_t b = 0; b < slice.size(); ++b) {
      for (int64_t c = 0; c < classes; ++c) {
        const float want = one.output[(t * kBatch + slice.begin + b) * classes + c];
        ASSERT_EQ(two.output[(t * slice.size() + b) * classes + c], want)
            << "t " << t << " sample " << slice.begin + b << " class " << c;
        spikes += want != 0;
      }
    }
  }
  EXPECT_GT(spikes, 0);  // the outputs compared are not all silent
  EXPECT_NEAR(two.loss, one.loss, 1e-12 * std::abs(one.loss));
  EXPECT_NE(one.loss, 0);
  ASSERT_EQ(two.grads.size(), one.grads.size());
  for (size_t i = 0; i < one.grads.size(); ++i) {
    float largest = 0;
    for (float g : one.grads[i]) largest = std::max(largest, std::abs(g));
    EXPECT_GT(largest, 0) << "parameter " << i << " has no gradient to compare";
    for (size_t j = 0; j < one.grads[i].size(); ++j) {
      ASSERT_NEAR(two.grads[i][j], one.grads[i][j], 1e-5 * largest)
          << "parameter " << i << " element " << j;
    }
  }
}

TEST(DataParallelStep, TwoRanksComputeTheOneProcessStepWithTheCountLoss) {
  ExpectTwoRanksComputeOneProcessStep(false);
}

TEST(DataParallelStep, TwoRanksComputeTheOneProcessStepWithTetAndDropout) {
  ExpectTwoRanksComputeOneProcessStep(true);
}

TEST(DataParallel, ParametersAgreeOnlyWhenEveryRankHoldsTheSame) {
  absl::StatusOr<kernels::Backend*> backend = kernels::GetBackend({});
  ASSERT_OK(backend.status());
  const config::Config config = SmallConfig(false);
  // Rank 1 starts from other weights (another seed): the check says so on both ranks.
  absl::StatusOr<std::unique_ptr<Network>> net =
      Network::Create(config, *backend, 11 + g_comm->rank());
  ASSERT_OK(net.status());
  std::vector<Parameter> params = (*net)->Parameters();
  const absl::Status apart = train::ParametersAgree(*g_comm, params, "in the test");
  EXPECT_EQ(apart.code(), absl::StatusCode::kInternal);
  EXPECT_NE(apart.message().find("the 2 ranks disagree on the parameters in the test"),
            std::string::npos)
      << apart;
  ASSERT_OK(train::BroadcastParameters(*g_comm, params, 0));
  EXPECT_OK(train::ParametersAgree(*g_comm, params, "after the broadcast"));
  absl::StatusOr<uint64_t> mine = train::ParameterChecksum(params);
  ASSERT_OK(mine.status());
  absl::StatusOr<std::unique_ptr<Network>> seed11 = Network::Create(config, *backend, 11);
  ASSERT_OK(seed11.status());
  EXPECT_EQ(*mine, *train::ParameterChecksum((*seed11)->Parameters()));
}

}  // namespace
}  // namespace edbp

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  absl::StatusOr<std::unique_ptr<edbp::dist::Communicator>> comm =
      edbp::dist::CommunicatorForThisProcess();
  if (!comm.ok() || (*comm)->size() != 2) {
    std::fprintf(
        stderr, "dist_mpi_test must run as 2 ranks under mpiexec: %s\n",
        comm.ok() ? "not 2 ranks" : std::string(comm.status().message()).c_str());
    return 1;
  }
  edbp::g_comm = comm->get();
  // Only rank 0 prints gtest's report; both ranks' failures count.
  if ((*comm)->rank() != 0) {
    delete testing::UnitTest::GetInstance()->listeners().Release(
        testing::UnitTest::GetInstance()->listeners().default_result_printer());
  }
  const int failed = RUN_ALL_TESTS();
  double any[1] = {static_cast<double>(failed)};
  if (!(*comm)->AllReduceMax(any, 1).ok()) return 1;
  return any[0] != 0 ? 1 : 0;
}
