// Parts of the executors (issue 18): RunCommand, job tokens and their hashes in the
// store, the local executor's command line for W > 1.
#include <unistd.h>

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/command.h"
#include "server/job_store.h"
#include "server/job_token.h"
#include "server/local_executor.h"
#include "tests/status_macros.h"
#include "tests/temp_dir.h"

namespace edbp::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(RunCommandTest, OutputErrorsAndExitCode) {
  ASSERT_OK_AND_ASSIGN(CommandResult r,
                       RunCommand({"sh", "-c", "echo out; echo err >&2; exit 3"}, {},
                                  std::chrono::seconds(10)));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  ASSERT_OK_AND_ASSIGN(r, RunCommand({"sh", "-c", "printf %s \"$EDBP_X\""},
                                     {{"EDBP_X", "from env"}}, std::chrono::seconds(10)));
  EXPECT_EQ(r.out, "from env");
}

TEST(RunCommandTest, MissingProgramAndDeadline) {
  auto missing = RunCommand({"edbp-no-such-program"}, {}, std::chrono::seconds(5));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(missing.status().message(), HasSubstr("cannot run edbp-no-such-program"));
  const auto start = std::chrono::steady_clock::now();
  auto slow = RunCommand({"sleep", "30"}, {}, std::chrono::milliseconds(200));
  EXPECT_EQ(slow.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(JobTokenTest, FreshHexTokensAndTheirHash) {
  const std::string a = NewJobToken();
  const std::string b = NewJobToken();
  EXPECT_THAT(a, ::testing::MatchesRegex("[0-9a-f]{64}"));
  EXPECT_NE(a, b);
  EXPECT_EQ(Hex(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(JobTokenTest, StoreKeepsOnlyHashes) {
  testing::TempDir dir("job_token");
  ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open((dir / "edbp.sqlite").string()));
  v1::Job job;
  job.set_state(v1::QUEUED);
  ASSERT_OK_AND_ASSIGN(auto created, store->CreateJob(job, ""));
  const std::string token = NewJobToken();
  ASSERT_TRUE(store->AddJobToken("1", 2, Sha256(token)).ok());
  ASSERT_OK_AND_ASSIGN(auto owner, store->FindJobToken(Sha256(token)));
  EXPECT_EQ(owner.first, "1");
  EXPECT_EQ(owner.second, 2);
  EXPECT_EQ(store->FindJobToken(Sha256(NewJobToken())).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store->AddJobToken("1", 3, "short").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(store->AddJobToken("x", 3, Sha256(token)).ok());
  // Reopened: the hash is still there (a re-attached Slurm run keeps reporting).
  store.reset();
  ASSERT_OK_AND_ASSIGN(store, JobStore::Open((dir / "edbp.sqlite").string()));
  EXPECT_TRUE(store->FindJobToken(Sha256(token)).ok());
}

TEST(LocalExecutorTest, LaunchSpecs) {
  Launcher launcher;
  LocalExecutor executor(&launcher);
  RunSpec spec;
  spec.job_id = "3";
  spec.workdir = "/d/jobs/3";
  spec.program = "/bin/edbp-train";
  spec.args = {"config.yaml", "--job-id", "3"};
  spec.env = {{"EDBP_JOB_TOKEN", "t"}};
  spec.resources = JobResources{1, 0, 1};
  spec.slots = {"cpu:0"};
  LaunchSpec one = executor.MakeLaunchSpec(spec);
  EXPECT_EQ(one.program, "/bin/edbp-train");
  EXPECT_THAT(one.args, ElementsAre("config.yaml", "--job-id", "3"));
  EXPECT_EQ(one.env.count("CUDA_VISIBLE_DEVICES"), 0u);

  spec.resources.workers = 2;
  spec.slots = {"cuda:1", "cuda:3"};
  LaunchSpec two = executor.MakeLaunchSpec(spec);
  EXPECT_EQ(two.program, "mpirun");
  const bool oversubscribe = std::thread::hardware_concurrency() < 2;
  std::vector<std::string> expected = {"-np", "2"};
  if (oversubscribe) expected.push_back("--oversubscribe");
  expected.insert(expected.end(), {"/bin/edbp-train", "config.yaml", "--job-id", "3"});
  EXPECT_EQ(two.args, expected);
  EXPECT_EQ(two.env.at("CUDA_VISIBLE_DEVICES"), "1,3");
  EXPECT_EQ(two.env.at("EDBP_JOB_TOKEN"), "t");
  EXPECT_EQ(two.env.count("OMPI_ALLOW_RUN_AS_ROOT"), geteuid() == 0 ? 1u : 0u);

  spec.resources.workers = static_cast<int>(std::thread::hardware_concurrency()) + 1;
  EXPECT_THAT(executor.MakeLaunchSpec(spec).args, ::testing::Contains("--oversubscribe"));
}

}  // namespace
}  // namespace edbp::server
