// The invariants of event frames (core/data/dataset.h FrameCount) that the event-file
// fuzzers assert after integrating a file's events.
#ifndef EDBP_FUZZ_FRAME_COUNTS_CHECK_H_
#define EDBP_FUZZ_FRAME_COUNTS_CHECK_H_

#include <cstdint>
#include <vector>

#include "core/data/dataset.h"
#include "fuzz/fuzz_util.h"

namespace edbp::fuzz {

// Counts are positive, inside the `block` numbers of a sample's frames, with indices
// increasing, and sum to `events`.
inline void CheckFrameCounts(const std::vector<data::FrameCount>& counts, int64_t block,
                             uint64_t events) {
  uint64_t total = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    const data::FrameCount& c = counts[i];
    EDBP_FUZZ_ASSERT(c.count > 0, "a zero count stored");
    EDBP_FUZZ_ASSERT(c.index < block, "index outside the frames");
    EDBP_FUZZ_ASSERT(i == 0 || c.index > counts[i - 1].index, "indices not increasing");
    total += c.count;
  }
  EDBP_FUZZ_ASSERT(total == events, "counts do not sum to the events");
}

}  // namespace edbp::fuzz

#endif  // EDBP_FUZZ_FRAME_COUNTS_CHECK_H_
