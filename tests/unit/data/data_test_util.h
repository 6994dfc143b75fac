// Helpers for the data tests: IDX files written raw or gzipped, small in-memory data
// sets, and a per-test temporary directory.
#ifndef EDBP_TESTS_UNIT_DATA_DATA_TEST_UTIL_H_
#define EDBP_TESTS_UNIT_DATA_DATA_TEST_UTIL_H_

#include <zlib.h>

#include <cstdint>
#include <cstdlib>  // mkdtemp
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "gtest/gtest.h"

namespace edbp::data::testing {

inline void PutBigEndian32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>(v >> shift));
}

// IDX image file bytes: magic 0x803, n×h×w, then `pixels` (whatever their count).
inline std::string IdxImages(uint32_t n, uint32_t h, uint32_t w,
                             const std::vector<uint8_t>& pixels) {
  std::string out;
  PutBigEndian32(out, 0x803);
  PutBigEndian32(out, n);
  PutBigEndian32(out, h);
  PutBigEndian32(out, w);
  out.append(pixels.begin(), pixels.end());
  return out;
}

// IDX label file bytes: magic 0x801, n, then `labels`.
inline std::string IdxLabels(uint32_t n, const std::vector<uint8_t>& labels) {
  std::string out;
  PutBigEndian32(out, 0x801);
  PutBigEndian32(out, n);
  out.append(labels.begin(), labels.end());
  return out;
}

inline void WriteRaw(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

inline void WriteGzip(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// `n` samples of `c`×`h`×`w` with pixel (i, k) = (7·i + k) mod 256 and label i mod 10.
inline Dataset MakeDataset(const std::string& name, int64_t n, int64_t c, int64_t h,
                           int64_t w) {
  Dataset ds;
  ds.name = name;
  ds.shape = {c, h, w};
  ds.size = n;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < c * h * w; ++k) {
      ds.pixels.push_back(static_cast<uint8_t>((7 * i + k) % 256));
    }
    ds.labels.push_back(static_cast<int32_t>(i % 10));
  }
  return ds;
}

// A fresh directory per test (mkdtemp: never one left by an earlier run), removed
// afterwards.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string pattern = (std::filesystem::temp_directory_path() /
                           (std::string("edbp_data_") + info->test_suite_name() + "_" +
                            info->name() + "_XXXXXX"))
                              .string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << pattern;
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;
};

}  // namespace edbp::data::testing

#endif  // EDBP_TESTS_UNIT_DATA_DATA_TEST_UTIL_H_
