// Job resources (issue 18): defaults, ranges, divisibility, what the executor can run.
#include "server/resources.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace edbp::server {
namespace {

using ::testing::HasSubstr;

v1::CreateJobRequest Request(int workers, int nodes) {
  v1::CreateJobRequest r;
  r.set_workers(workers);
  r.set_nodes(nodes);
  return r;
}

ServerCapacity Cpu(int slots) {
  return ServerCapacity{ExecutorKind::kLocal, false, slots};
}
ServerCapacity Gpu(int gpus) { return ServerCapacity{ExecutorKind::kLocal, true, gpus}; }
ServerCapacity Slurm() { return ServerCapacity{ExecutorKind::kSlurm, false, 1}; }

TEST(ResourcesTest, DefaultsOnCpuGpuAndSlurm) {
  auto cpu = ResolveResources(v1::CreateJobRequest(), 50, Cpu(1));
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_EQ(cpu->workers, 1);
  EXPECT_EQ(cpu->gpus_per_worker, 0);
  EXPECT_EQ(cpu->nodes, 1);
  auto gpu = ResolveResources(v1::CreateJobRequest(), 50, Gpu(2));
  ASSERT_TRUE(gpu.ok());
  EXPECT_EQ(gpu->gpus_per_worker, 1);
  auto slurm = ResolveResources(Request(4, 2), 64, Slurm());
  ASSERT_TRUE(slurm.ok()) << slurm.status();
  EXPECT_EQ(slurm->workers, 4);
  EXPECT_EQ(slurm->nodes, 2);
  EXPECT_EQ(slurm->gpus_per_worker, 0);
}

TEST(ResourcesTest, WorkersOutOfRange) {
  for (int w : {-1, kMaxWorkers + 1, 2147483647, -2147483647 - 1}) {
    auto r = ResolveResources(Request(w, 0), 50, Slurm());
    ASSERT_FALSE(r.ok()) << w;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr("workers: expected 1 to 1024"));
  }
}

TEST(ResourcesTest, BatchSizeMustDivide) {
  auto r = ResolveResources(Request(3, 0), 50, Slurm());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "Network.batch_size: 50 is not divisible by 3 workers (the batch is the "
            "global one, split evenly over the ranks)");
  EXPECT_TRUE(ResolveResources(Request(5, 0), 50, Slurm()).ok());
}

TEST(ResourcesTest, NodesAtMostWorkers) {
  auto r = ResolveResources(Request(2, 3), 50, Slurm());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("nodes: 3 nodes for 2 worker(s)"));
  EXPECT_FALSE(ResolveResources(Request(2, -1), 50, Slurm()).ok());
}

TEST(ResourcesTest, GpusPerWorker) {
  v1::CreateJobRequest r;
  r.set_gpus_per_worker(17);
  EXPECT_THAT(ResolveResources(r, 50, Slurm()).status().message(),
              HasSubstr("gpus_per_worker: expected 0 to 16, got 17"));
  r.set_gpus_per_worker(-1);
  EXPECT_FALSE(ResolveResources(r, 50, Slurm()).ok());
  r.set_gpus_per_worker(1);
  EXPECT_THAT(ResolveResources(r, 50, Cpu(4)).status().message(),
              HasSubstr("gpus_per_worker: 1, but this server has no GPUs"));
  auto slurm = ResolveResources(r, 50, Slurm());  // the cluster's nodes have them
  ASSERT_TRUE(slurm.ok());
  EXPECT_EQ(slurm->gpus_per_worker, 1);
  r.set_gpus_per_worker(0);
  auto cpu_on_gpu = ResolveResources(r, 50, Gpu(1));
  ASSERT_TRUE(cpu_on_gpu.ok());
  EXPECT_EQ(cpu_on_gpu->gpus_per_worker, 0);
}

TEST(ResourcesTest, LocalExecutorLimits) {
  EXPECT_THAT(ResolveResources(Request(2, 2), 50, Cpu(4)).status().message(),
              HasSubstr("nodes: 2 nodes, but this server's local executor"));
  EXPECT_EQ(ResolveResources(Request(2, 0), 50, Cpu(1)).status().message(),
            "workers: the job needs 2 CPU slots at once, this server has 1 "
            "(edbp-server --cpu-slots)");
  EXPECT_TRUE(ResolveResources(Request(2, 0), 50, Cpu(2)).ok());
  v1::CreateJobRequest two_gpus = Request(2, 0);
  two_gpus.set_gpus_per_worker(2);
  EXPECT_THAT(ResolveResources(two_gpus, 50, Gpu(3)).status().message(),
              HasSubstr("needs 4 GPU slots at once, this server has 3"));
}

TEST(ResourcesTest, SlotsNeeded) {
  EXPECT_EQ(SlotsNeeded(JobResources{3, 0, 1}, false), 3);
  EXPECT_EQ(SlotsNeeded(JobResources{3, 0, 1}, true), 3);
  EXPECT_EQ(SlotsNeeded(JobResources{3, 2, 1}, true), 6);
}

}  // namespace
}  // namespace edbp::server
