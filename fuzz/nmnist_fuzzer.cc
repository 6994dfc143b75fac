// libFuzzer target: an N-MNIST event file (ReadAtisBin, core/data/nmnist.h) integrated
// into frames (IntegrateEventsByCount) on the 34x34 sensor.
// Input: [u8 n_steps - 1][the .bin file]. Invariants: the counts sum to the number of
// events, with indices increasing inside the n_steps x 2 x 34 x 34 block.
#include <cstdint>
#include <string>
#include <vector>

#include "core/data/nmnist.h"
#include "fuzz/frame_counts_check.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int64_t n_steps = int64_t{data[0]} + 1;
  constexpr int64_t kSide = 34;
  const std::string path =
      edbp::fuzz::WriteScratch("sample.bin", edbp::fuzz::AsText(data + 1, size - 1));
  const auto events = edbp::data::ReadAtisBin(path);
  if (!events.ok()) {
    EDBP_FUZZ_ASSERT(!events.status().message().empty(), "an error without a message");
    return 0;
  }
  EDBP_FUZZ_ASSERT(events->size() == (size - 1) / 5, "not one event per 5 bytes");
  const auto counts = edbp::data::IntegrateEventsByCount(*events, n_steps, kSide, kSide);
  if (!counts.ok()) {
    EDBP_FUZZ_ASSERT(!counts.status().message().empty(), "an error without a message");
    return 0;
  }
  edbp::fuzz::CheckFrameCounts(*counts, n_steps * 2 * kSide * kSide, events->size());
  return 0;
}
