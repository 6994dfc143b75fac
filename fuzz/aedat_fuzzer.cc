// libFuzzer target: the event-camera files of issue 20 (core/data/aedat.h), integrated
// into frames on the 128x128 sensor (core/data/dvs.h DvsFrames).
// Input: [u8 format][u8 n_steps - 1][the file]; format % 3 picks AEDAT 3.1, AEDAT 2.0 or
// a DVS128 Gesture labels file. Invariants: an error has a message; AEDAT 2.0 decodes one
// event per 8 bytes after its header; events are on the sensor; frame counts sum to the
// events, indices increasing; a labels row has a class 0-10 and start <= end.
#include <cstdint>
#include <string>
#include <vector>

#include "core/data/aedat.h"
#include "core/data/dvs.h"
#include "fuzz/frame_counts_check.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const int format = data[0] % 3;
  const int64_t n_steps = int64_t{data[1]} % 32 + 1;
  const std::string path =
      edbp::fuzz::WriteScratch("sample.aedat", edbp::fuzz::AsText(data + 2, size - 2));
  if (format == 2) {
    const auto rows = edbp::data::ReadGestureLabels(path);
    if (!rows.ok()) {
      EDBP_FUZZ_ASSERT(!rows.status().message().empty(), "an error without a message");
      return 0;
    }
    for (const edbp::data::GestureInterval& r : *rows) {
      EDBP_FUZZ_ASSERT(r.label >= 0 && r.label <= 10, "a class outside 1-11 accepted");
      EDBP_FUZZ_ASSERT(r.start <= r.end, "an interval that ends before it starts");
    }
    return 0;
  }
  const auto events =
      format == 0 ? edbp::data::ReadAedat31(path) : edbp::data::ReadAedat20(path);
  if (!events.ok()) {
    EDBP_FUZZ_ASSERT(!events.status().message().empty(), "an error without a message");
    return 0;
  }
  for (const edbp::data::DvsEvent& e : *events) {
    EDBP_FUZZ_ASSERT(e.polarity <= 1, "a polarity other than 0 and 1");
    if (format == 1) EDBP_FUZZ_ASSERT(e.x < 128 && e.y < 128, "AEDAT 2.0 off the sensor");
  }
  const auto counts = edbp::data::DvsFrames(*events, n_steps);
  if (!counts.ok()) {
    EDBP_FUZZ_ASSERT(!counts.status().message().empty(), "an error without a message");
    return 0;
  }
  edbp::fuzz::CheckFrameCounts(*counts, n_steps * 2 * 128 * 128, events->size());
  return 0;
}
