// libFuzzer target: an N-MNIST frame cache file (ReadFrameCache,
// core/data/frame_cache.h) for a fixed key (kKey below; the corpus holds files written
// for it).
// Input: [u8 mode][the cache file]. An odd mode replaces the file's last 8 bytes by the
// checksum of the bytes before them, so that mutations reach the checks behind the
// checksum; an even mode keeps the file as it is. Invariants: a hit is an event data
// set whose offsets are monotonic and end at the counts, every index inside a sample.
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "core/data/frame_cache.h"
#include "fuzz/fuzz_util.h"

namespace {

const edbp::data::FrameCacheKey& Key() {
  static const edbp::data::FrameCacheKey key{"NMNIST", "/fuzz/Train", "train", 3,
                                             0x0123456789abcdefull};
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string bytes(edbp::fuzz::AsText(data + 1, size - 1));
  if ((data[0] & 1) != 0 && bytes.size() >= 8) {
    const uint64_t sum = edbp::data::Fnv1a64(bytes.data(), bytes.size() - 8);
    std::memcpy(bytes.data() + bytes.size() - 8, &sum, 8);
  }
  const std::string path = edbp::fuzz::WriteScratch("cache.frames", bytes);
  edbp::data::FrameCacheOutcome outcome = edbp::data::FrameCacheOutcome::kNotUsed;
  std::string reason;
  const std::optional<edbp::data::Dataset> ds =
      edbp::data::ReadFrameCache(path, Key(), &outcome, &reason);
  if (!ds.has_value()) {
    EDBP_FUZZ_ASSERT(outcome != edbp::data::FrameCacheOutcome::kHit, "no data on a hit");
    EDBP_FUZZ_ASSERT(!reason.empty(), "refused without a reason");
    return 0;
  }
  EDBP_FUZZ_ASSERT(outcome == edbp::data::FrameCacheOutcome::kHit, "data but no hit");
  EDBP_FUZZ_ASSERT(ds->frames == Key().n_steps, "frames differ from the key");
  EDBP_FUZZ_ASSERT(ds->frame_offsets.size() == static_cast<size_t>(ds->size) + 1 &&
                       ds->labels.size() == static_cast<size_t>(ds->size),
                   "arrays do not match size");
  EDBP_FUZZ_ASSERT(ds->frame_offsets.front() == 0 &&
                       ds->frame_offsets.back() == ds->frame_counts.size(),
                   "offsets do not span the counts");
  const uint64_t block = static_cast<uint64_t>(ds->sample_floats());
  for (int64_t i = 0; i < ds->size; ++i) {
    EDBP_FUZZ_ASSERT(ds->frame_offsets[i] <= ds->frame_offsets[i + 1],
                     "offsets decrease");
    for (uint64_t k = ds->frame_offsets[i]; k < ds->frame_offsets[i + 1]; ++k) {
      EDBP_FUZZ_ASSERT(ds->frame_counts[k].index < block, "index outside its sample");
    }
  }
  return 0;
}
