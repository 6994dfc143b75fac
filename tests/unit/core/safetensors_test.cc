// safetensors reading/writing: round trip, atomic replace, and every corruption
// reported with the file name and what was expected.
#include "core/io/safetensors.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace edbp {
namespace {

namespace fs = std::filesystem;

class SafeTensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::temp_directory_path() /
        ("edbp_st_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
         "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) { return (dir_ / name).string(); }
  void WriteRaw(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
  }
  static std::string Header(const std::string& json) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i)
      out[i] = static_cast<char>((json.size() >> (8 * i)) & 0xff);
    return out + json;
  }
  fs::path dir_;
};

TEST_F(SafeTensorsTest, RoundTrip) {
  SafeTensors st;
  st.tensors["net.0.weight"] = {{2, 1, 1, 2}, {1.5f, -2.0f, 3.25f, 0.0f}};
  st.tensors["empty"] = {{0}, {}};
  st.metadata["epoch"] = "3";
  const std::string path = Path("a.safetensors");
  ASSERT_TRUE(WriteSafeTensors(path, st).ok());
  auto back = ReadSafeTensors(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->tensors.at("net.0.weight").shape, (Shape{2, 1, 1, 2}));
  EXPECT_EQ(back->tensors.at("net.0.weight").data,
            (std::vector<float>{1.5f, -2.0f, 3.25f, 0.0f}));
  EXPECT_TRUE(back->tensors.at("empty").data.empty());
  EXPECT_EQ(back->metadata.at("epoch"), "3");
  // The header is 8-byte aligned so the data of every tensor is too.
  EXPECT_EQ(fs::file_size(path) % 4, 0u);
  // No temporary file is left behind.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST_F(SafeTensorsTest, ReadsTheReferenceFixture) {
  auto st = ReadSafeTensors("tests/data/reference-small/init.safetensors");
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->tensors.at("net.0.weight").shape, (Shape{15, 1, 5, 5}));
  EXPECT_EQ(st->tensors.at("net.0.norm_weight").shape, (Shape{15, 1, 1, 1}));
  EXPECT_EQ(st->tensors.at("net.5.norm_bias").shape, (Shape{10, 1}));
}

TEST_F(SafeTensorsTest, MissingFile) {
  auto st = ReadSafeTensors(Path("nope.safetensors"));
  EXPECT_EQ(st.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(st.status().message().find("nope.safetensors"), std::string::npos);
}

TEST_F(SafeTensorsTest, TruncatedData) {
  const std::string path = Path("t.safetensors");
  WriteRaw(path, Header(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})") +
                     std::string(8, '\0'));
  auto st = ReadSafeTensors(path);
  EXPECT_EQ(st.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(st.status().message().find("tensor w [4] needs 16 bytes"), std::string::npos)
      << st.status();
  EXPECT_NE(st.status().message().find(path), std::string::npos);
}

TEST_F(SafeTensorsTest, HeaderLongerThanFile) {
  const std::string path = Path("h.safetensors");
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(200);
  WriteRaw(path, bytes + "{}");
  auto st = ReadSafeTensors(path);
  EXPECT_EQ(st.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(st.status().message().find("header length 200"), std::string::npos);
}

TEST_F(SafeTensorsTest, TooShortAndNotJson) {
  const std::string a = Path("short.safetensors");
  WriteRaw(a, "abc");
  EXPECT_NE(ReadSafeTensors(a).status().message().find("at least 8 bytes"),
            std::string::npos);
  const std::string b = Path("json.safetensors");
  WriteRaw(b, Header("{not json"));
  EXPECT_NE(ReadSafeTensors(b).status().message().find("not a JSON object"),
            std::string::npos);
}

TEST_F(SafeTensorsTest, OtherDtypeIsUnimplemented) {
  const std::string path = Path("f16.safetensors");
  WriteRaw(path, Header(R"({"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})") +
                     std::string(4, '\0'));
  auto st = ReadSafeTensors(path);
  EXPECT_EQ(st.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(st.status().message().find("dtype F16"), std::string::npos);
}

TEST_F(SafeTensorsTest, FailedWriteKeepsTheOldFile) {
  const std::string path = Path("keep.safetensors");
  SafeTensors st;
  st.tensors["w"] = {{1}, {7.0f}};
  ASSERT_TRUE(WriteSafeTensors(path, st).ok());
  // A write into a directory that does not exist fails and touches nothing else.
  EXPECT_FALSE(WriteSafeTensors(Path("missing_dir/x.safetensors"), st).ok());
  auto back = ReadSafeTensors(path);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->tensors.at("w").data[0], 7.0f);
}

}  // namespace
}  // namespace edbp
