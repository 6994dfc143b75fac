#include "core/data/nmnist.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/check.h"  // EDBP_ASSIGN_OR_RETURN
#include "core/data/regular_file.h"

namespace edbp::data {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kSide = 34;     // the ATIS sensor crop of N-MNIST
constexpr int64_t kChannels = 2;  // polarities
constexpr int kClasses = 10;
constexpr size_t kEventBytes = 5;  // 40 bits per event
// A frame count is 32-bit; more events than this could wrap one (real samples hold a
// few thousand).
constexpr uint64_t kMaxEvents = UINT32_MAX;

// The `.bin` files of one class folder, sorted by name (DatasetFolder order).
absl::StatusOr<std::vector<fs::path>> ClassFiles(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(
        absl::StrCat(dir.string(), ": N-MNIST class folder not found"));
  }
  std::vector<fs::path> files;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && e.path().extension() == ".bin") files.push_back(e.path());
  }
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat(dir.string(), ": cannot list: ", ec.message()));
  }
  std::sort(files.begin(), files.end());
  return files;
}

// What a frame cache that ReadFrameCache found consistent must also hold to be this
// split's N-MNIST frames; "" when it does. The file is a file like any other: a label
// of -1 passes the trainer's check (labels < n_class) and indexes before its arrays.
std::string CheckCachedFrames(const Dataset& ds, size_t files) {
  const config::SampleShape want = {kChannels, kSide, kSide};
  if (ds.shape != want) {
    return absl::StrCat("shape [", absl::StrJoin(ds.shape, ","), "], expected [",
                        absl::StrJoin(want, ","), "]");
  }
  if (static_cast<uint64_t>(ds.size) != files) {
    return absl::StrCat(ds.size, " samples, the split has ", files, " files");
  }
  for (size_t i = 0; i < ds.labels.size(); ++i) {
    if (ds.labels[i] < 0 || ds.labels[i] >= kClasses) {
      return absl::StrCat("sample ", i, ": label ", ds.labels[i], ", expected 0..",
                          kClasses - 1);
    }
  }
  return "";
}

}  // namespace

absl::StatusOr<std::vector<AtisEvent>> ReadAtisBin(const std::string& path) {
  EDBP_ASSIGN_OR_RETURN(OpenedFile file, OpenRegularFile(path));
  std::ifstream& in = file.in;
  // The size is checked before anything is allocated for it.
  const uint64_t size = file.size;
  if (size % kEventBytes != 0) {
    return absl::DataLossError(absl::StrCat(
        path, ": expected a multiple of 5 bytes (40-bit N-MNIST events), got ", size,
        ": the last event is cut after ", size % kEventBytes, " bytes"));
  }
  if (size / kEventBytes > kMaxEvents) {
    return absl::DataLossError(absl::StrCat(path, ": expected at most ", kMaxEvents,
                                            " events (", kMaxEvents * kEventBytes,
                                            " bytes), got ", size, " bytes"));
  }
  in.seekg(0);
  // Decoded piece by piece: the events (8 bytes each) and one piece, not the file's
  // bytes as well.
  std::vector<AtisEvent> events(size / kEventBytes);
  constexpr size_t kPieceEvents = 1 << 14;
  std::vector<uint8_t> piece(kPieceEvents * kEventBytes);
  for (size_t done = 0; done < events.size();) {
    const size_t n = std::min(kPieceEvents, events.size() - done);
    if (!in.read(reinterpret_cast<char*>(piece.data()),
                 static_cast<std::streamsize>(n * kEventBytes))) {
      return absl::DataLossError(absl::StrCat(
          path, ": read failed after ", done * kEventBytes, " of ", size, " bytes"));
    }
    const uint8_t* p = piece.data();
    for (size_t i = 0; i < n; ++i, p += kEventBytes) {
      AtisEvent& e = events[done + i];
      e.x = p[0];
      e.y = p[1];
      e.polarity = p[2] >> 7;
      e.timestamp = (uint32_t{p[2] & 0x7Fu} << 16) | (uint32_t{p[3]} << 8) | p[4];
    }
    done += n;
  }
  return events;
}

absl::StatusOr<std::vector<FrameCount>> IntegrateEventsByCount(
    std::span<const AtisEvent> events, int64_t n_steps, int64_t height, int64_t width) {
  EDBP_CHECK(n_steps >= 1 && height >= 1 && width >= 1);
  // Checked products: n_steps comes from the config, and 2^62 frames of 2x34x34 wrap
  // to 0 values in 64 bits.
  int64_t values = 0;
  if (__builtin_mul_overflow(n_steps, kChannels, &values) ||
      __builtin_mul_overflow(values, height, &values) ||
      __builtin_mul_overflow(values, width, &values) || values > int64_t{UINT32_MAX}) {
    return absl::InvalidArgumentError(absl::StrCat(n_steps, " frames of ", kChannels, "x",
                                                   height, "x", width, " are too many"));
  }
  const int64_t n = static_cast<int64_t>(events.size());
  const int64_t per_frame = n / n_steps;  // §6: equal event count, floor(N / M)
  std::vector<uint32_t> indices(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const AtisEvent& e = events[static_cast<size_t>(i)];
    if (e.x >= width || e.y >= height) {
      return absl::DataLossError(absl::StrCat("event ", i, " at (x ", int{e.x}, ", y ",
                                              int{e.y}, ") is outside the ", width, "x",
                                              height, " sensor"));
    }
    // Frame j holds events [d·j, d·(j+1)); the last one also the remainder.
    const int64_t frame =
        per_frame == 0 ? n_steps - 1 : std::min(i / per_frame, n_steps - 1);
    const int64_t channel = e.polarity != 0 ? 1 : 0;
    indices[static_cast<size_t>(i)] = static_cast<uint32_t>(
        ((frame * kChannels + channel) * height + e.y) * width + e.x);
  }
  // Counting = run lengths of the sorted indices.
  std::sort(indices.begin(), indices.end());
  std::vector<FrameCount> out;
  for (const uint32_t index : indices) {
    if (!out.empty() && out.back().index == index) {
      ++out.back().count;
    } else {
      out.push_back({index, 1});
    }
  }
  return out;
}

absl::StatusOr<Dataset> LoadNmnistSplit(const std::string& split_dir,
                                        const std::string& split, int64_t n_steps,
                                        const std::string& cache_dir, int64_t limit,
                                        FrameCacheReport* report) {
  EDBP_CHECK(n_steps >= 1) << "n_steps " << n_steps;
  FrameCacheReport local_report;
  if (report == nullptr) report = &local_report;
  *report = {};
  std::error_code ec;
  if (!fs::is_directory(split_dir, ec)) {
    return absl::NotFoundError(absl::StrCat(
        split_dir,
        ": N-MNIST split folder not found (expected the upstream layout "
        "<data_path>/Train and <data_path>/Test with folders 0..9 of .bin files)"));
  }
  // The listing (class, file) in sample order; its names, sizes and modification times
  // key the cache.
  std::vector<std::pair<fs::path, int32_t>> files;
  uint64_t listing = kFnvOffset;
  for (int label = 0; label < kClasses; ++label) {
    EDBP_ASSIGN_OR_RETURN(const std::vector<fs::path> class_files,
                          ClassFiles(fs::path(split_dir) / std::to_string(label)));
    for (const fs::path& f : class_files) {
      files.emplace_back(f, label);
      const std::string relative = absl::StrCat(label, "/", f.filename().string());
      listing = Fnv1a64(relative.data(), relative.size() + 1, listing);  // with the NUL
      const uint64_t bytes = fs::file_size(f, ec);
      listing = Fnv1a64(&bytes, sizeof(bytes), listing);
      const int64_t modified = fs::last_write_time(f, ec).time_since_epoch().count();
      listing = Fnv1a64(&modified, sizeof(modified), listing);
    }
  }
  if (files.empty()) {
    return absl::NotFoundError(
        absl::StrCat(split_dir, ": no .bin files in the class folders 0..9"));
  }
  const std::string name = absl::StrCat("NMNIST/", split);
  FrameCacheKey key{.dataset = "NMNIST",
                    .source = fs::absolute(split_dir, ec).lexically_normal().string(),
                    .split = split,
                    .n_steps = n_steps,
                    .listing = listing};
  const size_t kept = limit > 0
                          ? std::min<size_t>(files.size(), static_cast<size_t>(limit))
                          : files.size();
  return ThroughFrameCache(
      cache_dir, key, limit, name, report,
      [&files](const Dataset& cached) { return CheckCachedFrames(cached, files.size()); },
      [&]() -> absl::StatusOr<Dataset> {
        Dataset ds;
        ds.name = name;
        ds.shape = {kChannels, kSide, kSide};
        ds.frames = n_steps;
        ds.size = static_cast<int64_t>(kept);
        ds.labels.reserve(kept);
        ds.frame_offsets.reserve(kept + 1);
        ds.frame_offsets.push_back(0);
        for (size_t i = 0; i < kept; ++i) {
          const std::string path = files[i].first.string();
          EDBP_ASSIGN_OR_RETURN(const std::vector<AtisEvent> events, ReadAtisBin(path));
          absl::StatusOr<std::vector<FrameCount>> counts =
              IntegrateEventsByCount(events, n_steps, kSide, kSide);
          if (!counts.ok()) {
            return absl::Status(counts.status().code(),
                                absl::StrCat(path, ": ", counts.status().message()));
          }
          ds.frame_counts.insert(ds.frame_counts.end(), counts->begin(), counts->end());
          ds.frame_offsets.push_back(ds.frame_counts.size());
          ds.labels.push_back(files[i].second);
        }
        return ds;
      });
}

}  // namespace edbp::data
