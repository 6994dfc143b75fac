// N-MNIST (Orchard et al. 2015): ATIS event files turned into frames of event counts,
// as the reference does it (ALGORITHM.md §6: main.py loads NMNIST through
// spikingjelly's NMNIST(data_type='frame', frames_number=n_steps, split_by='number'),
// datasets/loadSpiking.py; the frame rule is spikingjelly's
// datasets/utils.py cal_fixed_frames_number_segment_index +
// integrate_events_segment_to_frame).
#ifndef EDBP_CORE_DATA_NMNIST_H_
#define EDBP_CORE_DATA_NMNIST_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/data/dataset.h"
#include "core/data/frame_cache.h"

namespace edbp::data {

// One ATIS event.
struct AtisEvent {
  uint8_t x = 0;
  uint8_t y = 0;
  uint8_t polarity = 0;    // 0 (OFF) or 1 (ON)
  uint32_t timestamp = 0;  // µs, 23 bits
};

// Reads an N-MNIST `.bin` file: 5 bytes per event, byte 0 = x, byte 1 = y, bit 7 of
// byte 2 = polarity, bits 6..0 of byte 2 then bytes 3, 4 = timestamp (big-endian).
// Events in file order (not re-sorted, as spikingjelly's load_ATIS_bin).
// Errors: NOT_FOUND naming the file when it cannot be opened or is not a regular file
// (a FIFO, a device); DATA_LOSS naming it when its length is not a multiple of 5
// ("expected a multiple of 5 bytes (40-bit events), got 12: the last event is cut
// after 2 bytes") or holds more than 2^32 - 1 events (a frame count is 32-bit), both
// checked before it is read.
absl::StatusOr<std::vector<AtisEvent>> ReadAtisBin(const std::string& path);

// The frame rule (§6, spikingjelly split_by='number'): with N events and M = n_steps
// frames, d = floor(N / M); frame j < M-1 integrates events [d·j, d·(j+1)) and the last
// frame events [d·(M-1), N) (so it takes the remainder; with N < M every frame but the
// last is empty). Integrating = counting events per (channel, y, x), channel 0 for
// polarity 0 and 1 for polarity 1. Counts are used as they are: no normalisation, no
// clipping (the reference feeds the float counts to the first layer).
// Returns the non-zero counts of the [M, 2, height, width] block, indices increasing.
// Errors: DATA_LOSS naming the event (its index) when x >= width or y >= height.
absl::StatusOr<std::vector<FrameCount>> IntegrateEventsByCount(
    std::span<const AtisEvent> events, int64_t n_steps, int64_t height, int64_t width);

// One split of N-MNIST: `split_dir` holds the class folders 0..9 of `.bin` files (the
// upstream Train/ or Test/). Samples are ordered by class, then by file name (as
// torchvision's DatasetFolder, which spikingjelly uses); label = the folder's digit.
// The result is named "NMNIST/<split>", has shape {2, 34, 34} and `n_steps` frames.
// `limit` > 0 reads only the first `limit` samples and bypasses the cache.
// With a non-empty `cache_dir` and no limit, the frames come from the cache file
// FrameCachePath(cache_dir, key) when it is valid for the key (split dir, split,
// n_steps, and every file's name, size and modification time); otherwise they are
// built and the cache (re)written. A cache that is not of shape {2, 34, 34}, holds
// another number of samples than the files, or a label outside 0..9 is kCorrupt.
// `report` (optional) tells which happened. Errors: NOT_FOUND when `split_dir` or a
// class folder is missing, or it holds no `.bin` file; as ReadAtisBin and
// IntegrateEventsByCount (prefixed with the file). A cache that cannot be written is
// not an error: report->write_error says why.
absl::StatusOr<Dataset> LoadNmnistSplit(const std::string& split_dir,
                                        const std::string& split, int64_t n_steps,
                                        const std::string& cache_dir, int64_t limit,
                                        FrameCacheReport* report = nullptr);

}  // namespace edbp::data

#endif  // EDBP_CORE_DATA_NMNIST_H_
