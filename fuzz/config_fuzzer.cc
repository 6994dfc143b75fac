// libFuzzer target: a job's config as CreateJob takes it (server/service.cc): the
// request's limits, ParseConfig with every validation, the data-root checks of the paths
// it names, and the memory estimate a server with --max-job-memory-gib compares.
// Input: the YAML text. Invariants: an error has a message; a parsed config has a
// layer list within kMaxLayers, every layer shaped, and an estimate that is a number
// >= 0 (NaN would pass the server's `need > limit` test).
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/config/memory_estimate.h"
#include "edbp/v1/training_service.pb.h"
#include "fuzz/fuzz_util.h"
#include "server/auth.h"
#include "server/request_limits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using edbp::fuzz::AsText;
  namespace config = edbp::config;
  namespace server = edbp::server;
  edbp::v1::CreateJobRequest request;
  request.set_config_yaml(std::string(AsText(data, size)));
  if (!server::CheckCreateJobRequest(request).ok()) return 0;  // refused before parsing

  const absl::StatusOr<config::Config> parsed =
      config::ParseConfig(request.config_yaml(), "config.yaml");
  if (!parsed.ok()) {
    EDBP_FUZZ_ASSERT(!parsed.status().message().empty(), "an error without a message");
    return 0;
  }
  const config::Config& c = *parsed;
  EDBP_FUZZ_ASSERT(static_cast<int64_t>(c.layers.size()) <= config::kMaxLayers,
                   "more layers than kMaxLayers");
  EDBP_FUZZ_ASSERT(!c.input_shape.empty(), "a valid config without an input shape");
  for (const config::LayerConfig& layer : c.layers) {
    EDBP_FUZZ_ASSERT(!layer.out_shape.empty(), layer.name.c_str());
  }
  // A root that exists, so that the checks resolve paths as on a server.
  const std::vector<std::string> roots = {edbp::fuzz::ScratchDir().string()};
  (void)server::CheckDataPath(c.network.data_path, roots);
  (void)server::CheckConfigPath("Network.cache_path", c.network.cache_path, roots);

  const config::MemoryEstimate need = config::EstimateTrainingMemory(c);
  EDBP_FUZZ_ASSERT(need.total_bytes() >= 0, "memory estimate NaN or negative");
  EDBP_FUZZ_ASSERT(!need.ToString(c).empty(), "empty memory estimate text");
  return 0;
}
