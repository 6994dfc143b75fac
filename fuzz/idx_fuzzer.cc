// libFuzzer target: the IDX reader (ReadIdx, core/data/dataset.h) on an image file and a
// label file, raw or gzip.
// Input: [u8 limit][u32 big-endian n][n bytes: the image file][the label file]
// (n is cut to what follows). Invariants: a data set read holds size images of its
// shape and size labels, size being min(limit, the files' count) when limit > 0.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/data/dataset.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  const int64_t limit = data[0] % 4;  // 0: all samples
  const size_t n = std::min<size_t>((size_t{data[1]} << 24) | (size_t{data[2]} << 16) |
                                        (size_t{data[3]} << 8) | data[4],
                                    size - 5);
  const std::string_view rest = edbp::fuzz::AsText(data + 5, size - 5);
  const std::string images = edbp::fuzz::WriteScratch("images", rest.substr(0, n));
  const std::string labels = edbp::fuzz::WriteScratch("labels", rest.substr(n));
  const absl::StatusOr<edbp::data::Dataset> ds =
      edbp::data::ReadIdx(images, labels, limit);
  if (!ds.ok()) {
    EDBP_FUZZ_ASSERT(!ds.status().message().empty(), "an error without a message");
    return 0;
  }
  EDBP_FUZZ_ASSERT(ds->shape.size() == 3 && ds->shape[0] == 1, "shape not {1, H, W}");
  EDBP_FUZZ_ASSERT(limit == 0 || ds->size <= limit, "more samples than the limit");
  EDBP_FUZZ_ASSERT(
      ds->pixels.size() == static_cast<size_t>(ds->size * ds->sample_numel()),
      "pixels do not match size x H x W");
  EDBP_FUZZ_ASSERT(ds->labels.size() == static_cast<size_t>(ds->size),
                   "labels do not match size");
  return 0;
}
