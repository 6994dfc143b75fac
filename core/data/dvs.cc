#include "core/data/dvs.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/check.h"
#include "core/data/nmnist.h"

namespace edbp::data {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kChannels = 2;

Dataset EmptyEventDataset(std::string name, int64_t n_steps) {
  Dataset ds;
  ds.name = std::move(name);
  ds.shape = {kChannels, kDvsSide, kDvsSide};
  ds.frames = n_steps;
  ds.frame_offsets.push_back(0);
  return ds;
}

// Appends one sample's frames and label.
absl::Status AddSample(Dataset& ds, const std::string& file,
                       std::span<const DvsEvent> events, int32_t label) {
  absl::StatusOr<std::vector<FrameCount>> counts = DvsFrames(events, ds.frames);
  if (!counts.ok()) {
    return absl::Status(counts.status().code(),
                        absl::StrCat(file, ": ", counts.status().message()));
  }
  ds.frame_counts.insert(ds.frame_counts.end(), counts->begin(), counts->end());
  ds.frame_offsets.push_back(ds.frame_counts.size());
  ds.labels.push_back(label);
  ++ds.size;
  return absl::OkStatus();
}

// Folds a source file's name, size and modification time into a cache key's listing.
uint64_t AddToListing(uint64_t listing, const fs::path& file, const std::string& name) {
  std::error_code ec;
  listing = Fnv1a64(name.data(), name.size() + 1, listing);  // with the NUL
  const uint64_t bytes = fs::file_size(file, ec);
  listing = Fnv1a64(&bytes, sizeof(bytes), listing);
  const int64_t modified = fs::last_write_time(file, ec).time_since_epoch().count();
  return Fnv1a64(&modified, sizeof(modified), listing);
}

// The split through the frame cache; a cached split must hold 2x128x128 frames,
// n_steps of them, and labels below `classes`.
absl::StatusOr<Dataset> ThroughCache(
    const std::string& cache_dir, const FrameCacheKey& key, int64_t limit,
    int32_t classes, const std::string& name, FrameCacheReport* report,
    const std::function<absl::StatusOr<Dataset>()>& build) {
  const auto check = [&key, classes](const Dataset& cached) -> std::string {
    const config::SampleShape want = {kChannels, kDvsSide, kDvsSide};
    const bool labels_ok =
        std::all_of(cached.labels.begin(), cached.labels.end(),
                    [classes](int32_t l) { return l >= 0 && l < classes; });
    if (cached.shape == want && cached.frames == key.n_steps && labels_ok) return "";
    return "shape, frames or labels are not this data set's";
  };
  return ThroughFrameCache(cache_dir, key, limit, name, report, check, build);
}

// userNN_<lighting>.aedat -> userNN_<lighting>_labels.csv
fs::path LabelsOf(const fs::path& aedat) {
  fs::path labels = aedat;
  labels.replace_filename(aedat.stem().string() + "_labels.csv");
  return labels;
}

// CIFAR10-DVS's loaders turn the sensor's image: x' = 127 - y, y' = 127 - x, and swap
// the polarities.
void FlipAsTheLoadersDo(std::vector<DvsEvent>& events) {
  for (DvsEvent& e : events) {
    if (e.x >= kDvsSide || e.y >= kDvsSide) continue;  // DvsFrames names it
    const uint16_t x = e.x;
    e.x = static_cast<uint16_t>(kDvsSide - 1 - e.y);
    e.y = static_cast<uint16_t>(kDvsSide - 1 - x);
    e.polarity = static_cast<uint8_t>(1 - e.polarity);
  }
}

std::string AbsoluteDir(const std::string& dir) {
  std::error_code ec;
  return fs::absolute(dir, ec).lexically_normal().string();
}

}  // namespace

absl::StatusOr<std::vector<FrameCount>> DvsFrames(std::span<const DvsEvent> events,
                                                  int64_t n_steps) {
  std::vector<AtisEvent> atis(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    const DvsEvent& e = events[i];
    if (e.x >= kDvsSide || e.y >= kDvsSide) {
      return absl::DataLossError(absl::StrCat("event ", i, " at (", e.x, ", ", e.y,
                                              ") is outside the 128x128 sensor"));
    }
    atis[i] = {.x = static_cast<uint8_t>(e.x),
               .y = static_cast<uint8_t>(e.y),
               .polarity = e.polarity,
               .timestamp = 0};  // the count rule looks at the order only
  }
  return IntegrateEventsByCount(atis, n_steps, kDvsSide, kDvsSide);
}

std::vector<DvsEvent> EventsIn(std::span<const DvsEvent> all, int64_t start,
                               int64_t end) {
  std::vector<DvsEvent> out;
  for (const DvsEvent& e : all) {
    if (e.t >= start && e.t < end) out.push_back(e);
  }
  return out;
}

absl::StatusOr<Dataset> LoadDvsGestureSplit(const std::string& dir,
                                            const std::string& split, int64_t n_steps,
                                            const std::string& cache_dir, int64_t limit,
                                            FrameCacheReport* report) {
  EDBP_CHECK(n_steps >= 1) << "n_steps " << n_steps;
  const fs::path list = fs::path(dir) / absl::StrCat("trials_to_", split, ".txt");
  std::ifstream in(list);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(list.string(),
                     ": cannot open (expected the upstream DvsGesture/ folder with "
                     "trials_to_train.txt, trials_to_test.txt and the .aedat files)"));
  }
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::string> recordings;
  uint64_t listing = AddToListing(kFnvOffset, list, list.filename().string());
  for (absl::string_view line : absl::StrSplit(text.str(), '\n')) {
    std::string name(absl::StripAsciiWhitespace(line));
    if (name.empty()) continue;
    const fs::path aedat = fs::path(dir) / name;
    listing = AddToListing(listing, aedat, name);
    listing = AddToListing(listing, LabelsOf(aedat), LabelsOf(aedat).filename().string());
    recordings.push_back(std::move(name));
  }
  if (recordings.empty()) {
    return absl::NotFoundError(absl::StrCat(list.string(), ": lists no recording"));
  }
  const std::string name = absl::StrCat("DVS128Gesture/", split);
  const FrameCacheKey key{.dataset = "DVS128Gesture",
                          .source = AbsoluteDir(dir),
                          .split = split,
                          .n_steps = n_steps,
                          .listing = listing};
  return ThroughCache(
      cache_dir, key, limit, 11, name, report, [&]() -> absl::StatusOr<Dataset> {
        Dataset ds = EmptyEventDataset(name, n_steps);
        for (const std::string& recording : recordings) {
          if (limit > 0 && ds.size >= limit) break;
          const fs::path aedat = fs::path(dir) / recording;
          EDBP_ASSIGN_OR_RETURN(const std::vector<GestureInterval> rows,
                                ReadGestureLabels(LabelsOf(aedat).string()));
          EDBP_ASSIGN_OR_RETURN(const std::vector<DvsEvent> events,
                                ReadAedat31(aedat.string()));
          for (const GestureInterval& row : rows) {
            if (limit > 0 && ds.size >= limit) break;
            EDBP_RETURN_IF_ERROR(AddSample(
                ds, aedat.string(), EventsIn(events, row.start, row.end), row.label));
          }
        }
        return ds;
      });
}

absl::StatusOr<DataSplits> LoadCifar10Dvs(const std::string& dir, int64_t n_steps,
                                          const std::string& cache_dir, int64_t limit,
                                          FrameCacheReport* report) {
  EDBP_CHECK(n_steps >= 1) << "n_steps " << n_steps;
  static constexpr const char* kClasses[] = {"airplane", "automobile", "bird", "cat",
                                             "deer",     "dog",        "frog", "horse",
                                             "ship",     "truck"};
  // (file, label) of each split, in sample order, and the listing that keys the cache.
  std::vector<std::pair<fs::path, int32_t>> files[2];
  uint64_t listing = kFnvOffset;
  std::error_code ec;
  for (int32_t label = 0; label < 10; ++label) {
    const fs::path folder = fs::path(dir) / kClasses[label];
    std::vector<fs::path> found;
    for (const auto& entry : fs::directory_iterator(folder, ec)) {
      if (entry.path().extension() == ".aedat") found.push_back(entry.path());
    }
    if (ec || found.empty()) {
      return absl::NotFoundError(absl::StrCat(
          folder.string(), ": ", ec ? ec.message() : "no .aedat files",
          " (expected the ten class folders of CIFAR10-DVS: airplane ... truck)"));
    }
    std::sort(found.begin(), found.end());
    // ceil(0.9 n), as spikingjelly's split_to_train_test_set.
    const size_t train = (found.size() * 9 + 9) / 10;
    for (size_t i = 0; i < found.size(); ++i) {
      listing =
          AddToListing(listing, found[i],
                       absl::StrCat(kClasses[label], "/", found[i].filename().string()));
      files[i < train ? 0 : 1].emplace_back(found[i], label);
    }
  }
  DataSplits splits;
  for (int s = 0; s < 2; ++s) {
    const std::string split = s == 0 ? "train" : "test";
    const std::string name = absl::StrCat("CIFAR10DVS/", split);
    const FrameCacheKey key{.dataset = "CIFAR10DVS",
                            .source = AbsoluteDir(dir),
                            .split = split,
                            .n_steps = n_steps,
                            .listing = listing};
    FrameCacheReport split_report;
    EDBP_ASSIGN_OR_RETURN(
        (s == 0 ? splits.train : splits.test),
        ThroughCache(cache_dir, key, limit, 10, name, &split_report,
                     [&]() -> absl::StatusOr<Dataset> {
                       Dataset ds = EmptyEventDataset(name, n_steps);
                       for (const auto& [file, label] : files[s]) {
                         if (limit > 0 && ds.size >= limit) break;
                         EDBP_ASSIGN_OR_RETURN(std::vector<DvsEvent> events,
                                               ReadAedat20(file.string()));
                         FlipAsTheLoadersDo(events);
                         EDBP_RETURN_IF_ERROR(
                             AddSample(ds, file.string(), events, label));
                       }
                       return ds;
                     }));
    if (report != nullptr && (s == 0 || report->write_error.empty())) {
      *report = split_report;  // the training split's, or the first failure to write
    }
  }
  return splits;
}

}  // namespace edbp::data
