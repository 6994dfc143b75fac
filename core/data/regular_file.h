// Opening a data file that is read whole or in pieces (event files, labels): only a
// regular file is opened (a FIFO would block the open forever, a device such as
// /dev/zero never end), and its size is known before anything is allocated for it.
#ifndef EDBP_CORE_DATA_REGULAR_FILE_H_
#define EDBP_CORE_DATA_REGULAR_FILE_H_

#include <cstdint>
#include <fstream>
#include <string>

#include "absl/status/statusor.h"

namespace edbp::data {

struct OpenedFile {
  std::ifstream in;   // binary, at the file's start
  uint64_t size = 0;  // bytes
};

// Errors: NOT_FOUND naming the path ("cannot open: is a directory", "cannot open: not a
// regular file", or the system's reason); DATA_LOSS when its size cannot be read.
absl::StatusOr<OpenedFile> OpenRegularFile(const std::string& path);

}  // namespace edbp::data

#endif  // EDBP_CORE_DATA_REGULAR_FILE_H_
