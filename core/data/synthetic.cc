#include "core/data/synthetic.h"

#include <random>

#include "absl/strings/str_cat.h"

namespace edbp::data {
namespace {

Dataset MakeSplit(const std::string& name, const config::SampleShape& shape,
                  int64_t n_class, int64_t size, std::mt19937_64& rng) {
  Dataset ds;
  ds.name = name;
  ds.shape = shape;
  ds.size = size;
  ds.pixels.resize(static_cast<size_t>(size * ds.sample_numel()));
  for (uint8_t& p : ds.pixels) p = static_cast<uint8_t>(rng() >> 56);
  ds.labels.resize(static_cast<size_t>(size));
  for (int32_t& l : ds.labels) {
    l = static_cast<int32_t>(rng() % static_cast<uint64_t>(n_class));
  }
  return ds;
}

}  // namespace

DataSplits MakeSyntheticSplits(const std::string& dataset, const config::SampleShape& shape,
                               int64_t n_class, int64_t train_size, int64_t test_size,
                               uint64_t seed) {
  std::mt19937_64 rng(seed ^ 0x5EEDDA7Aull);
  DataSplits splits;
  splits.train = MakeSplit(absl::StrCat(dataset, "/train"), shape, n_class, train_size, rng);
  splits.test = MakeSplit(absl::StrCat(dataset, "/test"), shape, n_class, test_size, rng);
  return splits;
}

}  // namespace edbp::data
