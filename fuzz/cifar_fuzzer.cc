// libFuzzer target: the CIFAR-10 / CIFAR-100 binary reader (ReadCifar,
// core/data/cifar.h).
// Input: [u8 flags: bit 0 CIFAR-100, bits 1-2 limit][the batch file]. Invariants: a
// data set read holds size images of 3x32x32 and size labels below the class count.
#include <cstdint>
#include <string>

#include "core/data/cifar.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool hundred = (data[0] & 1) != 0;
  const int64_t limit = (data[0] >> 1) & 3;  // 0: all records
  const std::string path =
      edbp::fuzz::WriteScratch("batch.bin", edbp::fuzz::AsText(data + 1, size - 1));
  const absl::StatusOr<edbp::data::Dataset> ds = edbp::data::ReadCifar(
      hundred ? edbp::data::CifarVariant::kCifar100 : edbp::data::CifarVariant::kCifar10,
      {path}, limit);
  if (!ds.ok()) {
    EDBP_FUZZ_ASSERT(!ds.status().message().empty(), "an error without a message");
    return 0;
  }
  EDBP_FUZZ_ASSERT(ds->size > 0 && (limit == 0 || ds->size <= limit),
                   "sample count outside [1, limit]");
  EDBP_FUZZ_ASSERT(ds->pixels.size() == static_cast<size_t>(ds->size) * 3072,
                   "pixels do not match size x 3x32x32");
  EDBP_FUZZ_ASSERT(ds->labels.size() == static_cast<size_t>(ds->size),
                   "labels do not match size");
  for (const int32_t label : ds->labels) {
    EDBP_FUZZ_ASSERT(label >= 0 && label < (hundred ? 100 : 10), "label out of range");
  }
  return 0;
}
