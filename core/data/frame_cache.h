// A binary cache of event frames, so that turning event files into frames (nmnist.h)
// runs once per (source, split, n_steps).
//
// File layout (little-endian), version kFrameCacheVersion:
//   "EDBPFRMC"                      8 bytes magic
//   u32 version
//   u32 key length, key bytes       FrameCacheKey::Text()
//   i64 C, H, W, frames, size       the Dataset's shape, frames, size
//   u64 number of counts
//   i32 labels[size]
//   u64 frame_offsets[size + 1]
//   {u32 index, u32 count}[number of counts]
//   u64 FNV-1a 64 of every byte before it
// A file whose magic, version, key or checksum differ, that is shorter or longer than
// its header announces (its sizes checked for 64-bit overflow), whose offsets/indices
// are inconsistent, or that is not a regular file (a FIFO, a link to a device: never
// opened) is never used: the caller rebuilds the frames and rewrites the file.
#ifndef EDBP_CORE_DATA_FRAME_CACHE_H_
#define EDBP_CORE_DATA_FRAME_CACHE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/data/dataset.h"

namespace edbp::data {

inline constexpr uint32_t kFrameCacheVersion = 1;

// What the cached frames were made from. Two keys are equal iff every field is.
struct FrameCacheKey {
  std::string dataset;   // "NMNIST"
  std::string source;    // absolute path of the split's directory
  std::string split;     // "train" / "test"
  int64_t n_steps = 0;   // frames per sample
  uint64_t listing = 0;  // FNV-1a 64 of the source files' relative paths, sizes and
                         // modification times

  std::string Text() const;  // one line, e.g. "NMNIST|/data/Train|train|T=30|files=..."
};

// <cache_dir>/<dataset>_<split>_T<n_steps>_<16 hex digits of the key's hash>.frames:
// different sources never share a file.
std::string FrameCachePath(const std::string& cache_dir, const FrameCacheKey& key);

enum class FrameCacheOutcome {
  kNotUsed,  // no cache directory, or a limit was given
  kHit,      // frames read from a valid cache file
  kMissing,  // no cache file: frames built, file written (unless write_error)
  kStale,    // magic/version/key differ: rebuilt and rewritten
  kCorrupt,  // truncated, bad checksum or inconsistent: rebuilt and rewritten
};

struct FrameCacheReport {
  FrameCacheOutcome outcome = FrameCacheOutcome::kNotUsed;
  std::string path;         // the cache file, when one was looked for
  std::string reason;       // why a cache file was stale or corrupt
  std::string write_error;  // non-empty when the cache could not be written
};

// Reads `path` as a cache for `key`. nullopt (with `outcome` kMissing, kStale or
// kCorrupt and `reason` set, naming the field: "frame_offsets[2] is 9, past the 6
// counts") when it cannot be used. Memory: about twice the file's size. The Dataset's
// name is left empty; its shape and labels are the caller's to check.
std::optional<Dataset> ReadFrameCache(const std::string& path, const FrameCacheKey& key,
                                      FrameCacheOutcome* outcome, std::string* reason);

// Writes `ds` (event kind, checked) as the cache for `key`, through a temporary file
// renamed into place (a crash never leaves a half-written cache under `path`); creates
// the directory. Errors: PERMISSION_DENIED / DATA_LOSS naming the path.
absl::Status WriteFrameCache(const std::string& path, const FrameCacheKey& key,
                             const Dataset& ds);

// The frames of a split through the cache in `cache_dir` (no cache without a directory
// or with a limit, `limit` > 0): read from FrameCachePath(cache_dir, key) when that
// file is valid for `key` and `check` (the caller's own test of what it holds: "" when
// it is this split's, else why not) finds nothing wrong; else made by `build` and
// written there. The Dataset gets `name`. `report` (may be null) tells which happened;
// a cache that cannot be written is no error (report->write_error says why).
absl::StatusOr<Dataset> ThroughFrameCache(
    const std::string& cache_dir, const FrameCacheKey& key, int64_t limit,
    const std::string& name, FrameCacheReport* report,
    const std::function<std::string(const Dataset&)>& check,
    const std::function<absl::StatusOr<Dataset>()>& build);

// FNV-1a 64 over `n` bytes, continuing from `hash` (start: kFnvOffset).
inline constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
uint64_t Fnv1a64(const void* data, size_t n, uint64_t hash = kFnvOffset);

}  // namespace edbp::data

#endif  // EDBP_CORE_DATA_FRAME_CACHE_H_
