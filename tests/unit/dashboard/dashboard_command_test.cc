// `edbp-client dashboard`'s command line, through RunCli as the binary runs it.
#include "client/cli/dashboard_command.h"

#include <sstream>
#include <string>
#include <vector>

#include "client/cli/cli.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/dashboard/dashboard_test_util.h"

namespace edbp::cli {
namespace {

using ::testing::HasSubstr;

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

Result RunCommand(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  Result r;
  r.code = RunCli(args, out, err, CliEnvironment{});
  r.out = out.str();
  r.err = err.str();
  return r;
}

TEST(DashboardCommandTest, RecognisesTheCommandAfterGlobalFlags) {
  EXPECT_TRUE(IsDashboardCommand({"dashboard"}));
  EXPECT_TRUE(IsDashboardCommand({"--server", "h:1", "dashboard", "--listen", "x"}));
  EXPECT_TRUE(IsDashboardCommand({"--server=h:1", "--tls", "dashboard"}));
  EXPECT_TRUE(IsDashboardCommand({"--", "dashboard"}));
  EXPECT_FALSE(IsDashboardCommand({}));
  EXPECT_FALSE(IsDashboardCommand({"list"}));
  EXPECT_FALSE(IsDashboardCommand({"--server", "dashboard", "list"}));  // a value
  EXPECT_FALSE(IsDashboardCommand({"submit", "dashboard"}));            // an argument
}

TEST(DashboardCommandTest, ParsesListenAndTheGlobalFlags) {
  absl::StatusOr<DashboardCommandLine> line = ParseDashboardArgs(
      {"--server", "h:1", "dashboard", "--listen=0.0.0.0:9000", "--timeout", "3"}, "d:2");
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->listen, "0.0.0.0:9000");
  EXPECT_EQ(line->options.server, "h:1");
  EXPECT_EQ(line->options.timeout, absl::Seconds(3));
  EXPECT_FALSE(line->help);

  line = ParseDashboardArgs({"dashboard"}, "d:2");
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->listen, kDashboardDefaultListen);
  EXPECT_EQ(line->options.server, "d:2");
}

TEST(DashboardCommandTest, UsageErrorsExit2) {
  struct Case {
    std::vector<std::string> args;
    const char* message;
  };
  const std::vector<Case> cases = {
      {{"dashboard", "extra"}, "dashboard: unexpected argument 'extra'"},
      {{"dashboard", "--state", "running"}, "--state is not a flag of 'dashboard'"},
      {{"dashboard", "--follow"}, "--follow is not a flag of 'dashboard'"},
      {{"dashboard", "--listen"}, "--listen needs a value (HOST:PORT)"},
      {{"dashboard", "--listen", "a:1", "--listen", "b:2"}, "--listen given twice"},
      {{"dashboard", "--bogus"}, "unknown flag --bogus"},
      {{"dashboard", "--listen", "example.com:80"},
       "invalid --listen 'example.com:80': the host must be an IP address or localhost"},
      {{"dashboard", "--listen", "127.0.0.1:99999"}, "the port must be a number"},
  };
  for (const Case& c : cases) {
    const Result r = RunCommand(c.args);
    EXPECT_EQ(r.code, 2) << c.args.back();
    EXPECT_THAT(r.err, HasSubstr(c.message)) << c.args.back();
    EXPECT_EQ(r.out, "");
  }
}

TEST(DashboardCommandTest, APortInUseExits1WithTheReason) {
  dashboard::testing::BusyPort busy;
  const std::string listen = "127.0.0.1:" + std::to_string(busy.port());
  const Result r =
      RunCommand({"--server", "127.0.0.1:1", "dashboard", "--listen", listen});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "edbp-client: cannot listen on " + listen + ": Address already in use\n");
  EXPECT_EQ(r.out, "");
}

TEST(DashboardCommandTest, HelpDescribesTheCommand) {
  const Result r = RunCommand({"dashboard", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, DashboardHelpText());
  EXPECT_THAT(r.out, HasSubstr("--listen HOST:PORT"));
  EXPECT_THAT(r.out, HasSubstr("server unreachable"));
  const Result all = RunCommand({"--help"});
  EXPECT_EQ(all.code, 0);
  EXPECT_THAT(all.out, HasSubstr("  dashboard  "));
  EXPECT_THAT(all.out, HasSubstr(DashboardHelpEntry()));
}

}  // namespace
}  // namespace edbp::cli
