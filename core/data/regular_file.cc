#include "core/data/regular_file.h"

#include <cerrno>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"

namespace edbp::data {

absl::StatusOr<OpenedFile> OpenRegularFile(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!ec && fs::is_directory(status)) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: is a directory"));
  }
  if (!ec && fs::exists(status) && !fs::is_regular_file(status)) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: not a regular file"));
  }
  errno = 0;
  OpenedFile file;
  file.in.open(path, std::ios::binary | std::ios::ate);
  if (!file.in) {
    const int error_number = errno != 0 ? errno : ENOENT;
    return absl::NotFoundError(absl::StrCat(
        path, ": cannot open: ", std::generic_category().message(error_number)));
  }
  const std::streamoff end = file.in.tellg();
  if (end < 0) return absl::DataLossError(absl::StrCat(path, ": cannot seek"));
  file.size = static_cast<uint64_t>(end);
  file.in.seekg(0);
  return file;
}

}  // namespace edbp::data
