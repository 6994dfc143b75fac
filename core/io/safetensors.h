// Reading and writing safetensors files (https://github.com/huggingface/safetensors):
// 8-byte little-endian header length, a JSON header {name: {dtype, shape,
// data_offsets}, "__metadata__": {str: str}}, then the raw little-endian data.
// edbp stores float32 tensors only ("F32"); other dtypes are reported as errors.
#ifndef EDBP_CORE_IO_SAFETENSORS_H_
#define EDBP_CORE_IO_SAFETENSORS_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tensor.h"

namespace edbp {

struct HostTensor {
  Shape shape;
  std::vector<float> data;  // NumElements(shape) values, row-major
};

struct SafeTensors {
  std::map<std::string, HostTensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Errors name the file: NOT_FOUND when it cannot be opened or is not a regular file,
// DATA_LOSS when it is truncated or its header is malformed (with what was expected:
// a shape whose byte size overflows 64 bits, of more than 64 dimensions, data_offsets
// outside the data or overlapping another tensor's, more than 65536 metadata entries),
// or its data is not exactly covered by the tensors, as the format requires: bytes
// between two tensors or after the last ("the data bytes [16,20) between tensors a at
// [0,16) and b at [20,28) belong to no tensor"; an empty tensor may sit anywhere),
// UNIMPLEMENTED for a dtype other than F32.
absl::StatusOr<SafeTensors> ReadSafeTensors(const std::string& path);

// Writes atomically: a temporary file in the same directory, fsync, rename, fsync of
// the directory. An existing file at `path` is replaced only when the write succeeded.
absl::Status WriteSafeTensors(const std::string& path, const SafeTensors& contents);

// Whether `file_name` is one of the temporary files WriteSafeTensors makes for a file
// named `target_name` in the same directory (<target_name>.tmp.XXXXXX, mkstemp's six
// characters): what a write interrupted by a kill -9 leaves behind.
bool IsWriteTempOf(std::string_view file_name, std::string_view target_name);

}  // namespace edbp

#endif  // EDBP_CORE_IO_SAFETENSORS_H_
