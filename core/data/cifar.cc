#include "core/data/cifar.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>

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

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: is a directory"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read failed"));
  return bytes;
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
  for (const std::string& path : paths) {
    EDBP_ASSIGN_OR_RETURN(const std::string bytes, ReadWhole(path));
    const int64_t size = static_cast<int64_t>(bytes.size());
    if (size == 0 || size % record != 0) {
      return absl::DataLossError(
          absl::StrCat(path, ": expected a multiple of ", record, " bytes, got ", size));
    }
    const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
    for (int64_t i = 0; i < size / record; ++i) {
      const uint8_t* rec = data + i * record;
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
