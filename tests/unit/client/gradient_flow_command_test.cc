// `edbp-client gradient-flow`'s command line (client/cli/gradient_flow_command.h):
// recognised with global flags around it, its own flags in both spellings, the global
// flags and JOB parsed as for every command, one-line usage errors naming the flag.
#include "client/cli/gradient_flow_command.h"

#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace edbp::cli {
namespace {

using ::testing::HasSubstr;

TEST(GradientFlowCommand, IsRecognisedAfterGlobalFlags) {
  EXPECT_TRUE(IsGradientFlowCommand({"gradient-flow", "3", "-o", "x"}));
  EXPECT_TRUE(IsGradientFlowCommand({"--server", "h:1", "gradient-flow", "3"}));
  EXPECT_TRUE(IsGradientFlowCommand({"--tls", "--", "gradient-flow"}));
  EXPECT_FALSE(IsGradientFlowCommand({"get", "gradient-flow"}));
  EXPECT_FALSE(IsGradientFlowCommand({"--server", "gradient-flow", "list"}));
  EXPECT_FALSE(IsGradientFlowCommand({}));
}

TEST(GradientFlowCommand, ParsesItsFlagsAndTheGlobalOnes) {
  absl::StatusOr<GradientFlowCommandLine> line =
      ParseGradientFlowArgs({"--server", "h:7", "gradient-flow", "jobs/12", "-o",
                             "out/flow", "--checkpoint=best", "--batch", "3", "--seed=9",
                             "--train-program", "/bin/true", "--timeout", "4"},
                            "default:1");
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->options.server, "h:7");
  EXPECT_EQ(line->options.job, "jobs/12");
  EXPECT_EQ(line->options.timeout, absl::Seconds(4));
  EXPECT_EQ(line->output, "out/flow");
  EXPECT_TRUE(line->best);
  EXPECT_EQ(line->batch, 3);
  EXPECT_EQ(line->seed, 9u);
  EXPECT_EQ(line->train_program, "/bin/true");

  line = ParseGradientFlowArgs({"gradient-flow", "-o=f", "5"}, "default:1");
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->options.server, "default:1");
  EXPECT_EQ(line->options.job, "jobs/5");
  EXPECT_FALSE(line->best) << "the last checkpoint by default";
  EXPECT_EQ(line->batch, 0);

  line = ParseGradientFlowArgs({"gradient-flow", "--help"}, "d:1");
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_TRUE(line->help);
}

TEST(GradientFlowCommand, UsageErrorsNameTheProblem) {
  const auto error = [](const std::vector<std::string>& args) {
    absl::StatusOr<GradientFlowCommandLine> line = ParseGradientFlowArgs(args, "d:1");
    EXPECT_FALSE(line.ok());
    EXPECT_EQ(line.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(line.status().message());
  };
  EXPECT_THAT(error({"gradient-flow", "3"}), HasSubstr("missing -o OUT"));
  EXPECT_THAT(error({"gradient-flow", "-o", "f"}),
              HasSubstr("gradient-flow: missing JOB"));
  EXPECT_THAT(error({"gradient-flow", "3", "-o", "f", "--checkpoint", "first"}),
              HasSubstr("--checkpoint must be best or last, not 'first'"));
  EXPECT_THAT(error({"gradient-flow", "3", "-o", "f", "--batch", "-2"}),
              HasSubstr("--batch must be an integer >= 0"));
  EXPECT_THAT(error({"gradient-flow", "3", "-o", "f", "--seed", "x"}),
              HasSubstr("--seed must be an integer"));
  EXPECT_THAT(error({"gradient-flow", "3", "-o"}), HasSubstr("-o needs a value"));
  EXPECT_THAT(error({"gradient-flow", "3", "-o", "f", "--best"}),
              HasSubstr("--best is not a flag of 'gradient-flow'"));
  EXPECT_THAT(error({"gradient-flow", "3", "4", "-o", "f"}),
              HasSubstr("gradient-flow: unexpected argument '4'"));
}

TEST(GradientFlowCommand, UsageErrorsExit2AndHelpExits0) {
  std::ostringstream out, err;
  EXPECT_EQ(RunGradientFlowCommand({"gradient-flow", "3"}, out, err, {}), 2);
  EXPECT_THAT(err.str(), HasSubstr("missing -o OUT"));
  EXPECT_THAT(err.str(),
              HasSubstr("usage: edbp-client [GLOBAL FLAGS] gradient-flow JOB"));
  std::ostringstream out2, err2;
  EXPECT_EQ(RunGradientFlowCommand({"gradient-flow", "3", "-o", "f", "--train-program",
                                    "/nonexistent/edbp-train"},
                                   out2, err2, {}),
            2);
  EXPECT_THAT(err2.str(), HasSubstr("--train-program /nonexistent/edbp-train"));
  std::ostringstream out3, err3;
  EXPECT_EQ(RunGradientFlowCommand({"gradient-flow", "-h"}, out3, err3, {}), 0);
  EXPECT_THAT(out3.str(), HasSubstr("--checkpoint best|last"));
  EXPECT_EQ(err3.str(), "");
}

}  // namespace
}  // namespace edbp::cli
