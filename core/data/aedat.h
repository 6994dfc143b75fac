// The event-camera files of DVS128 Gesture (AEDAT 3.1) and CIFAR10-DVS (AEDAT 2.0), and
// DVS128 Gesture's label files (issue 20; ALGORITHM.md §6 for what becomes of events).
//
// Both formats open with text header lines that start with '#'. Decoding follows the
// loaders the later SNN papers train with (spikingjelly's load_aedat_v3 and CIFAR10-DVS
// reader); where a file breaks the format, the reader says where and how instead of
// guessing. Every size is checked against the file before anything is allocated for
// it, and only regular files are opened (a FIFO or a device never).
#ifndef EDBP_CORE_DATA_AEDAT_H_
#define EDBP_CORE_DATA_AEDAT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace edbp::data {

// One event of a 128x128 DVS sensor.
struct DvsEvent {
  uint16_t x = 0;
  uint16_t y = 0;
  uint8_t polarity = 0;  // 0 (OFF) or 1 (ON)
  int64_t t = 0;         // µs
  bool operator==(const DvsEvent&) const = default;
};

// AEDAT 3.1: header lines up to and including "#!END-HEADER" (CR LF or LF), then
// packets: a 28-byte little-endian header (eventType i16, eventSource i16, eventSize
// i32, eventTSOffset i32, eventTSOverflow i32, eventCapacity i32, eventNumber i32,
// eventValid i32) and eventCapacity x eventSize bytes of events. Packets of type 1
// (polarity) hold 8-byte events: u32 data (x = bits 17..31 & 0x7FFF, y = bits 2..16
// & 0x7FFF, polarity = bit 1) and an i32 timestamp, extended to
// t = timestamp | (eventTSOverflow << 31). Other packet types are skipped; of a
// polarity packet the first eventCapacity events are taken, as the common loaders do.
// Errors (DATA_LOSS naming the file and the byte offset): no "#!END-HEADER" line, a
// packet header or its events cut by the end of the file, a polarity packet whose
// eventSize is not 8, a negative size or capacity, more than 2^31 events in all;
// NOT_FOUND when the file cannot be opened or is not a regular file.
absl::StatusOr<std::vector<DvsEvent>> ReadAedat31(const std::string& path);

// AEDAT 2.0: '#' header lines (each ending in LF), then 8-byte events: big-endian u32
// address and u32 timestamp; x = (address & 0xFE) >> 1, y = (address & 0x7F00) >> 8,
// polarity = address & 1, as recorded. CIFAR10-DVS's loaders then flip the sensor's
// image (LoadCifar10Dvs does). Errors: DATA_LOSS when the data is not a whole number of
// events ("the last event is cut after 5 bytes"); NOT_FOUND as ReadAedat31.
absl::StatusOr<std::vector<DvsEvent>> ReadAedat20(const std::string& path);

// One row of a DVS128 Gesture `userNN_<lighting>_labels.csv`: a gesture (class 1-11 in
// the file, `label` 0-10 here) and the time interval [start, end) of its events, µs.
struct GestureInterval {
  int32_t label = 0;
  int64_t start = 0;
  int64_t end = 0;
};

// The rows of a labels file: a header line "class,startTime_usec,endTime_usec", then one
// row per gesture, in file order; blank lines are skipped. Repeated classes and
// overlapping intervals are kept as they are (both occur in the upstream files).
// Errors: DATA_LOSS naming the file and line for a row that is not three integers, a
// class outside 1-11, or an end before its start; NOT_FOUND as ReadAedat31.
absl::StatusOr<std::vector<GestureInterval>> ReadGestureLabels(const std::string& path);

}  // namespace edbp::data

#endif  // EDBP_CORE_DATA_AEDAT_H_
