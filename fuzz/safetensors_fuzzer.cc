// libFuzzer target: a safetensors file (core/io/safetensors.h) as --resume and
// --init-weights read it: ReadSafeTensors, then LoadCheckpoint (metadata, shapes, finite
// values, optimizer moments) and LoadWeights into a tiny network (tiny_network.h) with
// an AdamW optimizer.
// Input: the file's bytes. Invariants: every tensor read holds NumElements(shape)
// values, and all of them together no more bytes than the file.
// EDBP_FUZZ_WRITE_CHECKPOINT=FILE writes the tiny network's checkpoint (a seed,
// fuzz/make_corpus.py) to FILE and exits instead of fuzzing.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "base/check.h"
#include "core/config/config.h"
#include "core/io/safetensors.h"
#include "core/network.h"
#include "core/optim/optimizer.h"
#include "core/train/checkpoint.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/tiny_network.h"
#include "kernels/registry.h"

namespace {

struct Model {
  std::unique_ptr<edbp::Network> net;
  std::unique_ptr<edbp::Optimizer> optimizer;
};

Model& TheModel() {
  static Model* model = [] {
    auto config = edbp::config::ParseConfig(edbp::fuzz::kTinyNetworkYaml, "tiny.yaml");
    EDBP_CHECK(config.ok()) << config.status();
    auto cpu = edbp::kernels::GetBackend({edbp::kernels::DeviceType::kCpu, 0});
    EDBP_CHECK(cpu.ok()) << cpu.status();
    auto net = edbp::Network::Create(*config, *cpu, /*seed=*/1);
    EDBP_CHECK(net.ok()) << net.status();
    auto optimizer = edbp::Optimizer::Create(config->network, (*net)->Parameters());
    EDBP_CHECK(optimizer.ok()) << optimizer.status();
    return new Model{*std::move(net), *std::move(optimizer)};
  }();
  return *model;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  const char* seed_path = std::getenv("EDBP_FUZZ_WRITE_CHECKPOINT");
  if (seed_path == nullptr) return 0;
  Model& model = TheModel();
  edbp::train::TrainingState state;
  state.epoch = 1;
  state.epochs = 2;
  state.best_test_accuracy = 50;
  state.best_epoch = 1;
  state.seed = 1;
  state.config_text = edbp::fuzz::kTinyNetworkYaml;
  const absl::Status saved =
      edbp::train::SaveCheckpoint(seed_path, *model.net, model.optimizer.get(), state);
  if (!saved.ok()) std::fprintf(stderr, "%s\n", saved.ToString().c_str());
  std::exit(saved.ok() ? 0 : 1);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Model& model = TheModel();
  const std::string path =
      edbp::fuzz::WriteScratch("input.safetensors", edbp::fuzz::AsText(data, size));
  const absl::StatusOr<edbp::SafeTensors> read = edbp::ReadSafeTensors(path);
  if (!read.ok()) {
    EDBP_FUZZ_ASSERT(!read.status().message().empty(), "an error without a message");
    return 0;  // the loaders below fail the same way
  }
  uint64_t bytes = 0;
  for (const auto& [name, tensor] : read->tensors) {
    EDBP_FUZZ_ASSERT(
        static_cast<int64_t>(tensor.data.size()) == edbp::NumElements(tensor.shape),
        name.c_str());
    bytes += tensor.data.size() * 4;
  }
  EDBP_FUZZ_ASSERT(bytes <= size, "tensors hold more bytes than the file");
  (void)edbp::train::LoadCheckpoint(path, *model.net, model.optimizer.get());
  (void)edbp::train::LoadWeights(path, *model.net);
  return 0;
}
