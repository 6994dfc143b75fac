// `edbp-client gradient-flow` through the real edbp-server (issue 19 acceptance): a
// tiny job trains two epochs on data_limit samples, then the client fetches its config
// and checkpoint and runs the edbp-train next to itself; the report's gradient-sum
// invariant holds to 1e-5 on the trained weights, --checkpoint best works, the report
// repeats byte for byte, and an unknown job, a job without a checkpoint and a bad
// command line fail with their exit codes.
#include <cmath>
#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/server_fixture.h"
#include "tests/process_util.h"

namespace edbp::testing {
namespace {

using ::testing::HasSubstr;

class GradientFlowServerTest : public ServerTest {
 protected:
  // The client's temporary directories go under tmp() (TMPDIR), so that the test sees
  // only its own: other tests' clients (every test server starts at job 1) make theirs
  // in the system's.
  std::string tmp() const { return (dir_ / "tmp").string(); }
  CommandResult Client(const std::string& args) {
    fs::create_directories(tmp());
    return RunCommand("TMPDIR=" + tmp() + " " + std::string(EDBP_CLIENT_BIN) +
                      " --server " + server_->address() + " " + args);
  }
};

TEST_F(GradientFlowServerTest, ReportOfATrainedJob) {
  const v1::Job job = Create(TinyConfig(2, 200));
  ASSERT_EQ(WaitFor(job.name(), v1::SUCCEEDED, 240s).state(), v1::SUCCEEDED);
  const std::string id = job.name().substr(5);

  const std::string out = (dir_ / "flow").string();
  CommandResult r = Client("gradient-flow " + id + " -o " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("wrote " + out + ".json and " + out + ".html"));
  const nlohmann::json j = nlohmann::json::parse(ReadFile(out + ".json"));
  EXPECT_EQ(j["format"], "edbp-gradient-flow");
  EXPECT_EQ(j["config"], "job-" + id + ".yaml");
  EXPECT_EQ(j["weights"], "job-" + id + "-last.safetensors");
  EXPECT_EQ(j["batches"], 4);  // 200 samples in batches of 50
  ASSERT_EQ(j["layers"].size(), 4u);
  for (const auto& l : j["layers"]) {
    EXPECT_EQ(l["grad_in"].size(), 5u) << l["name"];
    EXPECT_GT(l["grad_norm"].get<double>(), 0) << l["name"];
  }
  // The acceptance's invariant, on trained weights: Σ out = Σ in to 1e-5.
  ASSERT_EQ(j["invariant"].size(), 3u);
  for (const auto& p : j["invariant"]) {
    const double down = p["passed_down"], in = p["entering"];
    ASSERT_NE(in, 0) << p["upper"];
    EXPECT_LE(std::fabs(down - in), 1e-5 * std::fabs(in)) << p["upper"];
    EXPECT_LE(p["max_step_relative_difference"].get<double>(), 1e-5) << p["upper"];
  }
  EXPECT_TRUE(fs::exists(out + ".html"));

  // The same again: the same bytes (the report names the files, not temporary paths).
  r = Client("gradient-flow jobs/" + id + " -o " + out + "2.json");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(ReadFile(out + ".json"), ReadFile(out + "2.json"));

  // The best checkpoint and another batch.
  r = Client("gradient-flow " + id + " --checkpoint best --batch 3 -o " + out + "best");
  ASSERT_EQ(r.code, 0) << r.output;
  const nlohmann::json best = nlohmann::json::parse(ReadFile(out + "best.json"));
  EXPECT_EQ(best["weights"], "job-" + id + "-best.safetensors");
  EXPECT_EQ(best["batch"], 3);

  // No temporary directory is left behind by any of them.
  for (const auto& entry : fs::directory_iterator(tmp())) {
    ADD_FAILURE() << "left behind: " << entry.path();
  }
}

TEST_F(GradientFlowServerTest, ErrorsHaveTheirExitCodes) {
  const std::string out = (dir_ / "flow").string();
  CommandResult r = Client("gradient-flow 999 -o " + out);
  EXPECT_EQ(r.code, 4) << r.output;
  r = Client("gradient-flow 1");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("missing -o OUT"));
  r = Client("gradient-flow 1 -o " + out + " --checkpoint newest");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("--checkpoint must be best or last"));
  r = Client("gradient-flow 1 -o " + out + " --train-program /nonexistent/edbp-train");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("/nonexistent/edbp-train"));
  r = Client("gradient-flow --help");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("--checkpoint best|last"));

  // A queued job has no checkpoint yet: NOT_FOUND, exit 4. (A long job keeps the one
  // device busy so that the second stays queued.)
  const v1::Job busy = Create(TinyConfig(100, 2000));
  const v1::Job queued = Create(TinyConfig(1, 100));
  r = Client("gradient-flow " + queued.name().substr(5) + " -o " + out);
  EXPECT_EQ(r.code, 4) << r.output;
  EXPECT_FALSE(fs::exists(out + ".json"));
  for (const v1::Job& j : {queued, busy}) {
    grpc::ClientContext ctx;
    v1::CancelJobRequest cancel;
    cancel.set_name(j.name());
    v1::Job ignored;
    EXPECT_TRUE(server_->stub().CancelJob(&ctx, cancel, &ignored).ok());
  }
  EXPECT_EQ(WaitFor(busy.name(), v1::CANCELLED, 60s).state(), v1::CANCELLED);
}

}  // namespace
}  // namespace edbp::testing
