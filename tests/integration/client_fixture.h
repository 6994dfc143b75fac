// ServerTest with edbp-client driven against the test's own server: the helpers that
// workflow_test and live_view_test share. Needs EDBP_CLIENT_BIN defined by the target.
#ifndef EDBP_TESTS_INTEGRATION_CLIENT_FIXTURE_H_
#define EDBP_TESTS_INTEGRATION_CLIENT_FIXTURE_H_

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/server_fixture.h"
#include "tests/process_util.h"

namespace edbp::testing {

class ClientServerTest : public ServerTest {
 protected:
  // edbp-client against this test's server; `args` as typed after the program name.
  // A deadline of 60 s, not the default 10: on a loaded 2-core machine (CI runs tests
  // in parallel) a first connection has been seen to take longer than 10 s.
  CommandResult Client(const std::string& args) {
    return RunCommand(absl::StrCat(EDBP_CLIENT_BIN, " --server ", server_->address(),
                                   " --timeout 60 ", args));
  }
  // Writes `yaml` to a config file in the test's directory; returns its path.
  std::string WriteConfig(const std::string& name, const std::string& yaml) {
    const std::filesystem::path path = dir_ / (name + ".yaml");
    std::ofstream(path) << yaml;
    return path.string();
  }
  // `submit` that must succeed; returns the job's name ("jobs/N").
  std::string Submit(const std::string& config, const std::string& flags = "") {
    const CommandResult r =
        Client(absl::StrCat("--output json submit ", config, " ", flags));
    EXPECT_EQ(r.code, 0) << r.output;
    return nlohmann::json::parse(r.output, nullptr, false).value("name", "");
  }
};

}  // namespace edbp::testing

#endif  // EDBP_TESTS_INTEGRATION_CLIENT_FIXTURE_H_
