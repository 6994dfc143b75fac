#include "core/data/cifar.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"  // EDBP_ASSIGN_OR_RETURN

namespace edbp::data {
namespace {

constexpr int64_t kPixels = 3 * 32 * 32;

struct Layout {
  const char* name;      // "CIFAR10"
  const char* subdir;    // the archive's folder
  int64_t label_bytes;   // bytes before the pixels
  int64_t label_offset;  // which of them is the label used
  int32_t classes;
};

Layout LayoutOf(CifarVariant variant) {
  return variant == CifarVariant::kCifar10
             ? Layout{"CIFAR10", "cifar-10-batches-bin", 1, 0, 10}
             : Layout{"CIFAR100", "cifar-100-binary", 2, 1, 100};
}

// Opens `path` for reading and returns its size. Only a regular file: /dev/zero would
// never end and a FIFO blocks the open until a writer comes.
absl::StatusOr<uint64_t> OpenRegular(const std::string& path, std::ifstream& in) {
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::is_directory(status)) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: is a directory"));
  }
  if (!ec && std::filesystem::exists(status) &&
      !std::filesystem::is_regular_file(status)) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: not a regular file"));
  }
  in.open(path, std::ios::binary | std::ios::ate);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  const std::streamoff end = in.tellg();
  if (end < 0) return absl::DataLossError(absl::StrCat(path, ": cannot seek"));
  in.seekg(0);
  return static_cast<uint64_t>(end);
}

// `<dir>/<base>`, else `<dir>/<subdir>/<base>`; NOT_FOUND listing both.
absl::StatusOr<std::string> FindCifarFile(const Layout& layout, const std::string& dir,
                                          const std::string& base) {
  const std::array<std::string, 2> candidates = {
      (std::filesystem::path(dir) / base).string(),
      (std::filesystem::path(dir) / layout.subdir / base).string()};
  for (const std::string& candidate : candidates) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate;
  }
  return absl::NotFoundError(absl::StrCat(layout.name, ": ", base, " not found; tried ",
                                          candidates[0], ", ", candidates[1]));
}

}  // namespace

absl::StatusOr<Dataset> ReadCifar(CifarVariant variant,
                                  const std::vector<std::string>& paths, int64_t limit) {
  const Layout layout = LayoutOf(variant);
  const int64_t record = layout.label_bytes + kPixels;
  Dataset ds;
  ds.name = paths.empty() ? layout.name : paths.front();
  ds.shape = {3, 32, 32};
  // Every file is opened and sized first, so that the pixels kept are allocated once,
  // at their size, and read straight into place (no copy of a file in memory).
  std::vector<std::ifstream> files(paths.size());
  int64_t total = 0;
  for (size_t f = 0; f < paths.size(); ++f) {
    EDBP_ASSIGN_OR_RETURN(const uint64_t size, OpenRegular(paths[f], files[f]));
    if (size == 0 || size % record != 0) {
      return absl::DataLossError(absl::StrCat(paths[f], ": expected a multiple of ",
                                              record, " bytes, got ", size));
    }
    total += static_cast<int64_t>(size) / record;  // < 2^63 / 3073 each
  }
  const int64_t kept = limit > 0 ? std::min(total, limit) : total;
  ds.labels.reserve(static_cast<size_t>(kept));
  ds.pixels.reserve(static_cast<size_t>(kept * kPixels));
  constexpr int64_t kPieceRecords = 1024;  // ~3 MB read at a time
  std::vector<uint8_t> piece;
  for (size_t f = 0; f < paths.size(); ++f) {
    const std::string& path = paths[f];
    std::ifstream& in = files[f];
    int64_t i = 0;  // the record in this file
    while (true) {
      piece.resize(static_cast<size_t>(kPieceRecords * record));
      in.read(reinterpret_cast<char*>(piece.data()),
              static_cast<std::streamsize>(piece.size()));
      piece.resize(static_cast<size_t>(in.gcount()));
      if (in.bad() || piece.size() % record != 0) {  // or it shrank since it was sized
        return absl::DataLossError(absl::StrCat(path, ": read failed at record ", i));
      }
      if (piece.empty()) break;
      for (size_t at = 0; at < piece.size(); at += record, ++i) {
        const uint8_t* rec = piece.data() + at;
        const int32_t label = rec[layout.label_offset];
        if (label >= layout.classes) {
          return absl::DataLossError(absl::StrCat(path, ": record ", i, ": label ", label,
                                                  " out of range (", layout.classes,
                                                  " classes)"));
        }
        if (limit > 0 && ds.size >= limit) continue;  // still checked
        ds.labels.push_back(label);
        ds.pixels.insert(ds.pixels.end(), rec + layout.label_bytes, rec + record);
        ++ds.size;
      }
    }
  }
  return ds;
}

absl::StatusOr<DataSplits> LoadCifarSplits(CifarVariant variant, const std::string& dir,
                                           int64_t limit) {
  const Layout layout = LayoutOf(variant);
  std::vector<std::string> train_bases, test_bases;
  if (variant == CifarVariant::kCifar10) {
    for (int i = 1; i <= 5; ++i) {
      train_bases.push_back(absl::StrCat("data_batch_", i, ".bin"));
    }
    test_bases = {"test_batch.bin"};
  } else {
    train_bases = {"train.bin"};
    test_bases = {"test.bin"};
  }
  DataSplits splits;
  for (auto [bases, split, out] : {std::tuple{&train_bases, "train", &splits.train},
                                   std::tuple{&test_bases, "test", &splits.test}}) {
    std::vector<std::string> paths;
    for (const std::string& base : *bases) {
      EDBP_ASSIGN_OR_RETURN(std::string path, FindCifarFile(layout, dir, base));
      paths.push_back(std::move(path));
    }
    EDBP_ASSIGN_OR_RETURN(*out, ReadCifar(variant, paths, limit));
    out->name = absl::StrCat(layout.name, "/", split);
  }
  return splits;
}

}  // namespace edbp::data
