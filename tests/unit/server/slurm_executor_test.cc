// The Slurm executor's pure parts (issue 18): flag checks, job names, the batch script,
// scontrol's answer. The executor against a real cluster: tests/integration/slurm_test.
#include "server/slurm_executor.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace edbp::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

RunSpec Spec() {
  RunSpec spec;
  spec.job_id = "7";
  spec.attempt = 2;
  spec.workdir = "/shared/edbp/jobs/7";
  spec.program = "/opt/edbp/bin/edbp-train";
  spec.args = {"/shared/edbp/jobs/7/config.yaml", "--job-id", "7", "it's"};
  spec.env = {{"EDBP_JOB_TOKEN", "secret-token-value"}};
  spec.resources = JobResources{4, 1, 2};
  return spec;
}

TEST(SlurmExecutorTest, BatchScript) {
  SlurmOptions options;
  options.data_dir = "/shared/edbp";
  options.partition = "gpu";
  options.account = "lab1";
  options.time = "1-00:00:00";
  options.extra = {"--qos=high", "--exclusive"};
  auto script = SlurmBatchScript(options, Spec());
  ASSERT_TRUE(script.ok()) << script.status();
  const std::string name = SlurmJobName("/shared/edbp", "7", 2);
  EXPECT_THAT(name, ::testing::MatchesRegex("edbp-[0-9a-f]{8}-7-2"));
  EXPECT_EQ(*script,
            "#!/bin/bash\n# edbp job 7, attempt 2 (written by edbp-server)\n"
            "#SBATCH --job-name=" +
                name +
                "\n#SBATCH --ntasks=4\n#SBATCH --nodes=2\n"
                "#SBATCH --gpus-per-task=1\n"
                "#SBATCH --output=/shared/edbp/jobs/7/train.log\n"
                "#SBATCH --open-mode=append\n"
                "#SBATCH --chdir=/shared/edbp/jobs/7\n"
                "#SBATCH --partition=gpu\n#SBATCH --account=lab1\n"
                "#SBATCH --time=1-00:00:00\n#SBATCH --qos=high\n"
                "#SBATCH --exclusive\n"
                "exec srun --mpi=pmix -K1 '/opt/edbp/bin/edbp-train' "
                "'/shared/edbp/jobs/7/config.yaml' '--job-id' '7' 'it'\\''s'\n");
  // The token travels in sbatch's environment, never in the file.
  EXPECT_THAT(*script, Not(HasSubstr("secret")));
}

TEST(SlurmExecutorTest, JobNamesDifferByDataDirJobAndAttempt) {
  EXPECT_NE(SlurmJobName("/a", "1", 1), SlurmJobName("/b", "1", 1));
  EXPECT_NE(SlurmJobName("/a", "1", 1), SlurmJobName("/a", "1", 2));
  EXPECT_NE(SlurmJobName("/a", "1", 1), SlurmJobName("/a", "11", 1));
}

TEST(SlurmExecutorTest, HostileWorkdirIsRefused) {
  SlurmOptions options;
  for (const char* dir : {"/data dir/jobs/1", "/data\n#SBATCH --uid=0/jobs/1",
                          "/d'ir/jobs/1", "/d\"ir/jobs/1"}) {
    RunSpec spec = Spec();
    spec.workdir = dir;
    auto script = SlurmBatchScript(options, spec);
    ASSERT_FALSE(script.ok()) << dir;
    EXPECT_EQ(script.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(script.status().message(), HasSubstr("--data-dir"));
  }
}

TEST(SlurmExecutorTest, OptionChecks) {
  SlurmOptions ok;
  ok.partition = "debug";
  ok.time = "30";
  ok.extra = {"--qos=normal", "-x"};
  EXPECT_TRUE(CheckSlurmOptions(ok).ok());
  struct Case {
    SlurmOptions options;
    const char* expected;
  };
  std::vector<Case> cases;
  SlurmOptions o;
  o.partition = "debug\n#SBATCH --uid=0";
  cases.push_back({o, "--slurm-partition: only letters"});
  o = {};
  o.account = "a b";
  cases.push_back({o, "--slurm-account: only letters"});
  o = {};
  o.time = "tomorrow";
  cases.push_back({o, "--slurm-time: expected Slurm's time format"});
  o = {};
  o.time = std::string(300, '1');
  cases.push_back({o, "--slurm-time: 300 bytes"});
  o = {};
  o.extra = {"qos=high"};
  cases.push_back({o, "--slurm-extra: \"qos=high\" is not an sbatch option"});
  o = {};
  o.extra = {"--output=/etc/passwd"};
  cases.push_back({o, "--slurm-extra: --output is set by edbp-server itself"});
  o = {};
  o.extra = {"--export=NONE"};
  cases.push_back({o, "--slurm-extra: --export is set by edbp-server itself"});
  o = {};
  o.extra = {"--wrap=rm -rf /"};
  cases.push_back({o, "--slurm-extra: only letters"});
  o = {};
  o.extra = {"--comment=$(id)"};
  cases.push_back({o, "--slurm-extra: only letters"});
  o = {};
  o.extra.assign(33, "--exclusive");
  cases.push_back({o, "--slurm-extra: 33 options, more than 32"});
  for (const Case& c : cases) {
    const absl::Status s = CheckSlurmOptions(c.options);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.expected;
    EXPECT_THAT(s.message(), HasSubstr(c.expected));
  }
}

TEST(SlurmExecutorTest, ParseScontrol) {
  const SlurmJobEnd end = ParseScontrolJob(
      "JobId=12 JobName=edbp-0e5a-1-1 UserId=root(0) Priority=1 JobState=TIMEOUT "
      "Reason=TimeLimit Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 "
      "ExitCode=0:15 RunTime=00:01:00\n");
  EXPECT_EQ(end.state, "TIMEOUT");
  EXPECT_EQ(end.reason, "TimeLimit");
  EXPECT_EQ(end.exit_code, "0:15");
  const SlurmJobEnd none = ParseScontrolJob("slurm_load_jobs error: Invalid job id");
  EXPECT_EQ(none.state, "");
  EXPECT_TRUE(IsSlurmEndState("COMPLETED"));
  EXPECT_TRUE(IsSlurmEndState("OUT_OF_MEMORY"));
  EXPECT_FALSE(IsSlurmEndState("RUNNING"));
  EXPECT_FALSE(IsSlurmEndState("PENDING"));
  EXPECT_FALSE(IsSlurmEndState("COMPLETING"));
}

}  // namespace
}  // namespace edbp::server
