#include "core/data/synthetic.h"

#include <algorithm>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"

namespace edbp::data {
namespace {

// `events_per_frame` events at uniform random pixels in each of the sample's frames.
void AddEventSample(Dataset& ds, int64_t events_per_frame, std::mt19937_64& rng) {
  const auto numel = static_cast<uint64_t>(ds.sample_numel());
  std::vector<uint32_t> indices;
  indices.reserve(static_cast<size_t>(events_per_frame * ds.frames));
  for (int64_t f = 0; f < ds.frames; ++f) {
    for (int64_t e = 0; e < events_per_frame; ++e) {
      indices.push_back(
          static_cast<uint32_t>(static_cast<uint64_t>(f) * numel + rng() % numel));
    }
  }
  std::sort(indices.begin(), indices.end());
  for (const uint32_t index : indices) {
    if (ds.frame_counts.size() > ds.frame_offsets.back() &&
        ds.frame_counts.back().index == index) {
      ++ds.frame_counts.back().count;
    } else {
      ds.frame_counts.push_back({index, 1});
    }
  }
  ds.frame_offsets.push_back(ds.frame_counts.size());
}

Dataset MakeSplit(const std::string& name, const config::SampleShape& shape,
                  int64_t n_class, int64_t size, int64_t frames, bool events,
                  std::mt19937_64& rng) {
  Dataset ds;
  ds.name = name;
  ds.shape = shape;
  ds.size = size;
  ds.frames = frames;
  if (events) {
    const int64_t per_frame = std::max<int64_t>(1, ds.sample_numel() / 20);
    ds.frame_offsets.push_back(0);
    for (int64_t i = 0; i < size; ++i) AddEventSample(ds, per_frame, rng);
  } else {
    ds.pixels.resize(static_cast<size_t>(size * ds.sample_floats()));
    for (uint8_t& p : ds.pixels) p = static_cast<uint8_t>(rng() >> 56);
  }
  ds.labels.resize(static_cast<size_t>(size));
  for (int32_t& l : ds.labels) {
    l = static_cast<int32_t>(rng() % static_cast<uint64_t>(n_class));
  }
  return ds;
}

}  // namespace

DataSplits MakeSyntheticSplits(const std::string& dataset,
                               const config::SampleShape& shape, int64_t n_class,
                               int64_t train_size, int64_t test_size, uint64_t seed,
                               int64_t frames) {
  std::mt19937_64 rng(seed ^ 0x5EEDDA7Aull);
  const bool events = frames > 0 && config::IsEventDataset(dataset);
  DataSplits splits;
  splits.train = MakeSplit(absl::StrCat(dataset, "/train"), shape, n_class, train_size,
                           frames, events, rng);
  splits.test = MakeSplit(absl::StrCat(dataset, "/test"), shape, n_class, test_size,
                          frames, events, rng);
  return splits;
}

}  // namespace edbp::data
