#include "core/data/dvs.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
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
                                            int64_t limit) {
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
  Dataset ds = EmptyEventDataset(absl::StrCat("DVS128Gesture/", split), n_steps);
  for (absl::string_view line : absl::StrSplit(text.str(), '\n')) {
    const std::string name(absl::StripAsciiWhitespace(line));
    if (name.empty()) continue;
    if (limit > 0 && ds.size >= limit) break;
    const fs::path aedat = fs::path(dir) / name;
    fs::path labels = aedat;
    labels.replace_filename(aedat.stem().string() + "_labels.csv");
    EDBP_ASSIGN_OR_RETURN(const std::vector<GestureInterval> rows,
                          ReadGestureLabels(labels.string()));
    EDBP_ASSIGN_OR_RETURN(const std::vector<DvsEvent> events,
                          ReadAedat31(aedat.string()));
    for (const GestureInterval& row : rows) {
      if (limit > 0 && ds.size >= limit) break;
      EDBP_RETURN_IF_ERROR(
          AddSample(ds, aedat.string(), EventsIn(events, row.start, row.end), row.label));
    }
  }
  if (ds.size == 0) {
    return absl::NotFoundError(absl::StrCat(list.string(), ": lists no recording"));
  }
  return ds;
}

absl::StatusOr<DataSplits> LoadCifar10Dvs(const std::string& dir, int64_t n_steps,
                                          int64_t limit) {
  EDBP_CHECK(n_steps >= 1) << "n_steps " << n_steps;
  static constexpr const char* kClasses[] = {"airplane", "automobile", "bird", "cat",
                                             "deer",     "dog",        "frog", "horse",
                                             "ship",     "truck"};
  DataSplits splits{EmptyEventDataset("CIFAR10DVS/train", n_steps),
                    EmptyEventDataset("CIFAR10DVS/test", n_steps)};
  std::error_code ec;
  for (int32_t label = 0; label < 10; ++label) {
    const fs::path folder = fs::path(dir) / kClasses[label];
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(folder, ec)) {
      if (entry.path().extension() == ".aedat") files.push_back(entry.path());
    }
    if (ec || files.empty()) {
      return absl::NotFoundError(absl::StrCat(
          folder.string(), ": ", ec ? ec.message() : "no .aedat files",
          " (expected the ten class folders of CIFAR10-DVS: airplane ... truck)"));
    }
    std::sort(files.begin(), files.end());
    const size_t train = files.size() * 9 / 10;
    for (size_t i = 0; i < files.size(); ++i) {
      Dataset& ds = i < train ? splits.train : splits.test;
      if (limit > 0 && ds.size >= limit) continue;
      const std::string path = files[i].string();
      EDBP_ASSIGN_OR_RETURN(std::vector<DvsEvent> events, ReadAedat20(path));
      for (DvsEvent& e : events) {
        if (e.x >= kDvsSide || e.y >= kDvsSide) continue;  // DvsFrames says which
        const uint16_t x = e.x;
        e.x = static_cast<uint16_t>(kDvsSide - 1 - e.y);
        e.y = static_cast<uint16_t>(kDvsSide - 1 - x);
        e.polarity = static_cast<uint8_t>(1 - e.polarity);
      }
      EDBP_RETURN_IF_ERROR(AddSample(ds, path, events, label));
    }
  }
  return splits;
}

}  // namespace edbp::data
