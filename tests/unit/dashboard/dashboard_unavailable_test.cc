// edbp-client built without the dashboard (client/cli/dashboard_command.cc compiled
// here without EDBP_WITH_DASHBOARD): the command says so instead of serving.
#include <sstream>

#include "client/cli/dashboard_command.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace edbp::cli {
namespace {

using ::testing::HasSubstr;

TEST(DashboardUnavailableTest, SaysItWasBuiltWithoutTheDashboard) {
  std::ostringstream out, err;
  const int code = RunDashboardCommand({"dashboard", "--listen", "127.0.0.1:0"}, out, err,
                                       CliEnvironment{});
  EXPECT_EQ(code, 1);
  EXPECT_EQ(out.str(), "");
  EXPECT_THAT(err.str(), HasSubstr("this edbp-client was built without the dashboard"));
  EXPECT_THAT(err.str(), HasSubstr("scripts/install-deps.sh"));
}

TEST(DashboardUnavailableTest, UsageErrorsAndHelpStillWork) {
  std::ostringstream out, err;
  EXPECT_EQ(RunDashboardCommand({"dashboard", "extra"}, out, err, CliEnvironment{}), 2);
  EXPECT_THAT(err.str(), HasSubstr("dashboard: unexpected argument 'extra'"));
  std::ostringstream help_out, help_err;
  EXPECT_EQ(
      RunDashboardCommand({"dashboard", "--help"}, help_out, help_err, CliEnvironment{}),
      0);
  EXPECT_EQ(help_out.str(), DashboardHelpText());
}

}  // namespace
}  // namespace edbp::cli
