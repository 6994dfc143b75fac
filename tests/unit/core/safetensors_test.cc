// safetensors reading/writing: round trip, atomic replace, and every corruption
// reported with the file name and what was expected.
#include "core/io/safetensors.h"

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/process_util.h"

namespace edbp {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class SafeTensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "edbp_st_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << pattern;
    dir_ = pattern;
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

// ---- hostile files (issue 17, bounded inputs): DATA_LOSS naming the file and the
// field, never an abort nor an allocation that the file's bytes do not back ----

// 8-byte little-endian `len` then `rest`: a header length that may lie.
std::string WithLength(uint64_t len, const std::string& rest) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((len >> (8 * i)) & 0xff);
  return out + rest;
}

// A file of the header `json` and `data_bytes` zero bytes of data.
std::string File(const std::string& json, size_t data_bytes) {
  return WithLength(json.size(), json) + std::string(data_bytes, '\0');
}

// One F32 tensor "w" of `shape` (JSON text) at `offsets` (JSON text).
std::string OneTensor(const std::string& shape, const std::string& offsets) {
  return R"({"w":{"dtype":"F32","shape":)" + shape + R"(,"data_offsets":)" + offsets +
         "}}";
}

// Expects DATA_LOSS whose message names `path` and holds `what`.
void ExpectDataLoss(const absl::StatusOr<SafeTensors>& st, const std::string& path,
                    const std::string& what) {
  ASSERT_FALSE(st.ok()) << "read a hostile file as valid; expected " << what;
  EXPECT_EQ(st.status().code(), absl::StatusCode::kDataLoss) << st.status();
  EXPECT_THAT(std::string(st.status().message()), HasSubstr(path));
  EXPECT_THAT(std::string(st.status().message()), HasSubstr(what));
}

// Element counts were multiplied in int64 without a check: [2^62, 4] wrapped to 0
// elements and was read as a valid empty tensor; [2^62, 2] (2^63, signed overflow) and
// [2^61, 2] (2^62 floats, 2^64 bytes = 0) passed the byte check and aborted the process
// in the std::vector resize (std::length_error).
TEST_F(SafeTensorsTest, ElementCountsThatOverflowAreDataLoss) {
  const std::string path = Path("overflow.safetensors");
  for (const char* shape :
       {"[4611686018427387904,4]", "[4611686018427387904,2]", "[2305843009213693952,2]",
        "[4294967296,4294967296]", "[2,3,4611686018427387904]"}) {
    WriteRaw(path, File(OneTensor(shape, "[0,0]"), 0));
    ExpectDataLoss(ReadSafeTensors(path), path,
                   absl::StrCat("tensor w ", shape,
                                ": its byte size overflows 64 bits, the file has 0 data "
                                "bytes"));
  }
}

// Dimensions above 2^63 - 1 were cast to negative int64: [2^64 - 1, 2^64 - 4] read as
// a valid tensor of shape [-1,-4] holding 4 floats.
TEST_F(SafeTensorsTest, DimensionsAbove2To63Minus1AreDataLoss) {
  const std::string path = Path("huge_dim.safetensors");
  WriteRaw(path,
           File(OneTensor("[18446744073709551615,18446744073709551612]", "[0,16]"), 16));
  ExpectDataLoss(ReadSafeTensors(path), path,
                 "tensor w: shape[0] is 18446744073709551615, more than 2^63 - 1");
  WriteRaw(path, File(OneTensor("[1,9223372036854775808]", "[0,0]"), 0));
  ExpectDataLoss(ReadSafeTensors(path), path,
                 "tensor w: shape[1] is 9223372036854775808, more than 2^63 - 1");
}

TEST_F(SafeTensorsTest, NegativeOrNonIntegerDimensionsAreDataLoss) {
  const std::string path = Path("neg_dim.safetensors");
  for (const char* shape : {"[2,-1]", "[2,-9223372036854775808]", "[2,2.5]", R"([2,"2"])",
                            "[2,[2]]", "[2,null]", "[2,{}]"}) {
    WriteRaw(path, File(OneTensor(shape, "[0,0]"), 0));
    ExpectDataLoss(ReadSafeTensors(path), path,
                   "tensor w: shape[1] is not an integer >= 0");
  }
}

// Edbp's tensors have at most 5 dimensions; a shape of a million zeros was read (as an
// empty tensor) at 8 bytes per dimension, four times its text.
TEST_F(SafeTensorsTest, ShapesOfMoreThan64DimensionsAreDataLoss) {
  const std::string path = Path("rank.safetensors");
  std::string shape = "[1";
  for (int i = 1; i < 65; ++i) shape += ",1";
  WriteRaw(path, File(OneTensor(shape + "]", "[0,4]"), 4));
  ExpectDataLoss(ReadSafeTensors(path), path,
                 "tensor w: shape has more than 64 dimensions");
  shape = "[0";
  for (int i = 1; i < 1000000; ++i) shape += ",0";
  WriteRaw(path, File(OneTensor(shape + "]", "[0,0]"), 0));
  ExpectDataLoss(ReadSafeTensors(path), path,
                 "tensor w: shape has more than 64 dimensions");
  // 64 is still read.
  shape = "[1";
  for (int i = 1; i < 64; ++i) shape += ",1";
  WriteRaw(path, File(OneTensor(shape + "]", "[0,4]"), 4));
  auto st = ReadSafeTensors(path);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->tensors.at("w").shape.size(), 64u);
}

TEST_F(SafeTensorsTest, DataOffsetsThatLieAreDataLoss) {
  const std::string path = Path("offsets.safetensors");
  WriteRaw(path, File(OneTensor("[4]", "[0,18446744073709551615]"), 16));
  ExpectDataLoss(
      ReadSafeTensors(path), path,
      "tensor w [4] needs 16 bytes at [0,18446744073709551615) of 16 data bytes");
  WriteRaw(path, File(OneTensor("[4]", "[16,0]"), 16));
  ExpectDataLoss(ReadSafeTensors(path), path,
                 "tensor w [4] needs 16 bytes at [16,0) of 16 data bytes");
  WriteRaw(path, File(OneTensor("[4]", "[18446744073709551608,8]"), 16));
  ExpectDataLoss(ReadSafeTensors(path), path,
                 "needs 16 bytes at [18446744073709551608,8)");
  for (const char* offsets :
       {"[-16,0]", "[0,-16]", "[0,16.0]", R"(["0",16])", "[0,[16]]"}) {
    WriteRaw(path, File(OneTensor("[4]", offsets), 16));
    ExpectDataLoss(ReadSafeTensors(path), path, "tensor w: bad data_offsets");
  }
  for (const char* offsets : {"[0,16,32]", "[0]", "[]", "16", R"({"a":0})"}) {
    WriteRaw(path, File(OneTensor("[4]", offsets), 32));
    ExpectDataLoss(ReadSafeTensors(path), path,
                   "tensor w: expected {dtype, shape, data_offsets[2]}");
  }
}

// Overlapping ranges were read: ten thousand entries naming the same 1 MiB asked for
// 10 GB, from a file of 2 MB.
TEST_F(SafeTensorsTest, OverlappingTensorsAreDataLoss) {
  const std::string path = Path("overlap.safetensors");
  WriteRaw(path, File(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                      R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                      24));
  ExpectDataLoss(ReadSafeTensors(path), path,
                 "tensors a at [0,16) and b at [8,24) overlap");
  WriteRaw(path, File(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                      R"("b":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})",
                      16));
  ExpectDataLoss(ReadSafeTensors(path), path,
                 "tensors a at [0,16) and b at [0,16) overlap");
  // Touching ranges and empty tensors anywhere are fine.
  WriteRaw(path, File(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]},)"
                      R"("c":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}})",
                      24));
  auto st = ReadSafeTensors(path);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->tensors.size(), 3u);
}

// Issue 17: the format requires the tensors to cover the data exactly; a gap between
// two tensors, bytes before the first or after the last were read as a valid file.
TEST_F(SafeTensorsTest, GapsAndTrailingBytesAreDataLoss) {
  const std::string path = Path("gap.safetensors");
  WriteRaw(path, File(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[20,28]}})",
                      28));
  ExpectDataLoss(ReadSafeTensors(path), path,
                 "the data bytes [16,20) between tensors a at [0,16) and b at [20,28) "
                 "belong to no tensor");
  WriteRaw(path, File(OneTensor("[2]", "[8,16]"), 16));
  ExpectDataLoss(ReadSafeTensors(path), path,
                 "the data bytes [0,8) before tensor w at [8,16) belong to no tensor");
  WriteRaw(path, File(OneTensor("[2]", "[0,8]"), 12));
  ExpectDataLoss(ReadSafeTensors(path), path,
                 "the data bytes [8,12) after tensor w at [0,8) belong to no tensor");
  WriteRaw(path, File(OneTensor("[0]", "[0,0]"), 4));
  ExpectDataLoss(ReadSafeTensors(path), path, "the data bytes [0,4) belong to no tensor");
  WriteRaw(path, File(R"({"__metadata__":{"k":"v"}})", 1));
  ExpectDataLoss(ReadSafeTensors(path), path, "the data bytes [0,1) belong to no tensor");

  // Out of name order, with an empty tensor between: contiguous, so valid.
  WriteRaw(path, File(R"({"z":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                      R"("e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                      12));
  auto st = ReadSafeTensors(path);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->tensors.at("a").data.size(), 2u);
}

// Every file edbp writes tiles its data: a checkpoint's tensors, empty ones among them,
// and the reference fixtures read back.
TEST_F(SafeTensorsTest, WhatEdbpWritesAndTheFixturesAreContiguous) {
  SafeTensors st;
  st.tensors["b"] = {{3}, {1, 2, 3}};
  st.tensors["a"] = {{0, 4}, {}};
  st.tensors["c"] = {{1, 1}, {9}};
  const std::string path = Path("written.safetensors");
  ASSERT_TRUE(WriteSafeTensors(path, st).ok());
  auto back = ReadSafeTensors(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->tensors.at("c").data, std::vector<float>{9});
  for (const char* fixture : {"tests/data/reference-small/init.safetensors",
                              "tests/data/reference-small/step.safetensors"}) {
    auto read = ReadSafeTensors(fixture);
    EXPECT_TRUE(read.ok()) << read.status();
  }
}

TEST_F(SafeTensorsTest, HeaderLengthsThatLieAreDataLoss) {
  const std::string path = Path("len.safetensors");
  const std::string json = OneTensor("[1]", "[0,4]");
  for (const uint64_t len :
       {uint64_t{18446744073709551615u}, uint64_t{1} << 63, uint64_t{100} << 20,
        uint64_t{(100 << 20) + 1}, uint64_t{json.size() + 5}}) {
    WriteRaw(path, WithLength(len, json + std::string(4, '\0')));
    ExpectDataLoss(ReadSafeTensors(path), path,
                   absl::StrCat("header length ", len, " but the file has ",
                                8 + json.size() + 4, " bytes"));
  }
}

TEST_F(SafeTensorsTest, EveryTruncationIsDataLoss) {
  SafeTensors st;
  st.tensors["a"] = {{2, 3}, {1, 2, 3, 4, 5, 6}};
  st.tensors["b"] = {{1}, {7}};
  st.metadata["epoch"] = "3";
  const std::string whole_path = Path("whole.safetensors");
  ASSERT_TRUE(WriteSafeTensors(whole_path, st).ok());
  std::ifstream in(whole_path, std::ios::binary);
  const std::string whole((std::istreambuf_iterator<char>(in)), {});
  const std::string path = Path("cut.safetensors");
  for (size_t keep = 0; keep < whole.size(); ++keep) {
    WriteRaw(path, whole.substr(0, keep));
    auto cut = ReadSafeTensors(path);
    ASSERT_FALSE(cut.ok()) << keep;
    EXPECT_EQ(cut.status().code(), absl::StatusCode::kDataLoss) << keep;
    EXPECT_THAT(std::string(cut.status().message()), HasSubstr(path)) << keep;
  }
}

TEST_F(SafeTensorsTest, GarbageIsDataLoss) {
  const std::string path = Path("garbage.safetensors");
  std::mt19937_64 rng(17);
  for (int round = 0; round < 200; ++round) {
    std::string bytes(1 + rng() % 512, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    // Half of them with a header length that fits, so the JSON parser sees garbage.
    if (round % 2 == 1 && bytes.size() >= 8) {
      bytes = WithLength(rng() % (bytes.size() - 7), bytes.substr(8));
    }
    WriteRaw(path, bytes);
    auto st = ReadSafeTensors(path);
    ASSERT_FALSE(st.ok()) << round;
    EXPECT_EQ(st.status().code(), absl::StatusCode::kDataLoss) << round << st.status();
    EXPECT_THAT(std::string(st.status().message()), HasSubstr(path));
  }
  for (const char* json :
       {"[]", "null", "7", R"("w")", R"({"w":7})", R"({"w":[]})",
        R"({"w":{"dtype":7,"shape":[],"data_offsets":[0,0]}})",
        R"({"w":{"shape":[],"data_offsets":[0,0]}})", "{\"w\":{}", "{} {}", "{}\x01"}) {
    WriteRaw(path, File(json, 0));
    auto st = ReadSafeTensors(path);
    ASSERT_FALSE(st.ok()) << json;
    EXPECT_EQ(st.status().code(), absl::StatusCode::kDataLoss) << json << st.status();
    EXPECT_THAT(std::string(st.status().message()), HasSubstr(path));
  }
}

TEST_F(SafeTensorsTest, MetadataThatIsNotStringsIsDataLoss) {
  const std::string path = Path("meta.safetensors");
  for (const char* meta : {R"({"epoch":3})", R"({"epoch":null})", R"({"epoch":["3"]})",
                           R"({"epoch":{"a":"b"}})", R"({"epoch":true})"}) {
    WriteRaw(path, File(absl::StrCat(R"({"__metadata__":)", meta, "}"), 0));
    ExpectDataLoss(ReadSafeTensors(path), path, "metadata epoch is not a string");
  }
  for (const char* meta : {"[]", R"("a")", "7"}) {
    WriteRaw(path, File(absl::StrCat(R"({"__metadata__":)", meta, "}"), 0));
    ExpectDataLoss(ReadSafeTensors(path), path, "__metadata__ is not an object");
  }
}

// A header of 16 MiB of nested arrays under a key edbp does not read took 36 times its
// size as a JSON tree (670 MB), and tiny metadata entries 11 times theirs before the
// copy kept. Now a header costs about what is kept: the skipped value nothing, the
// metadata entries past 65536 an error.
TEST_F(SafeTensorsTest, DeepOrWideHeadersCostAboutTheirSize) {
  const std::string path = Path("bomb.safetensors");
  const int64_t before = testing::PeakResidentKiB();
  const size_t depth = size_t{8} << 20;
  WriteRaw(path, File(R"({"w":{"dtype":"F32","shape":[],"data_offsets":[0,4],"x":)" +
                          std::string(depth, '[') + std::string(depth, ']') + "}}",
                      4));
  auto st = ReadSafeTensors(path);
  ASSERT_TRUE(st.ok()) << st.status();  // unknown keys were always ignored
  EXPECT_EQ(st->tensors.at("w").data.size(), 1u);

  std::string meta = R"({"__metadata__":{)";
  for (int i = 0; i <= 65536; ++i)
    absl::StrAppend(&meta, i ? "," : "", "\"", i, "\":\"\"");
  WriteRaw(path, File(meta + "}}", 0));
  ExpectDataLoss(ReadSafeTensors(path), path, "more than 65536 metadata entries");
  EXPECT_LT(testing::PeakResidentKiB() - before, 80 * 1024) << "KiB more at the peak";
}

// A file whose size cannot be known (a pipe: tellg() is -1) was taken as 2^64 - 1
// bytes long and aborted in the allocation of its data.
TEST_F(SafeTensorsTest, NotARegularFileIsNotFound) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const std::string bytes = File(OneTensor("[1]", "[0,4]"), 4);
  ASSERT_EQ(::write(fds[1], bytes.data(), bytes.size()),
            static_cast<ssize_t>(bytes.size()));
  ::close(fds[1]);
  const std::string pipe = "/proc/self/fd/" + std::to_string(fds[0]);
  auto st = ReadSafeTensors(pipe);
  ::close(fds[0]);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), absl::StatusCode::kNotFound) << st.status();
  EXPECT_THAT(std::string(st.status().message()),
              HasSubstr(pipe + ": cannot open: not a regular file"));

  st = ReadSafeTensors(dir_.string());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), absl::StatusCode::kNotFound) << st.status();
  EXPECT_THAT(std::string(st.status().message()),
              HasSubstr(dir_.string() + ": cannot open: not a regular file"));
}

// The names of WriteSafeTensors' temporary files, which edbp-train removes when a
// kill -9 left them (RemoveStaleCheckpointTemps): <target>.tmp. and mkstemp's six.
TEST(SafeTensorsTempNames, OnlyTheWritersOwnPattern) {
  EXPECT_TRUE(IsWriteTempOf("a.safetensors.tmp.Ab3xY9", "a.safetensors"));
  EXPECT_FALSE(IsWriteTempOf("a.safetensors", "a.safetensors"));
  EXPECT_FALSE(IsWriteTempOf("a.safetensors.tmp.Ab3xY", "a.safetensors"));    // 5
  EXPECT_FALSE(IsWriteTempOf("a.safetensors.tmp.Ab3xY9z", "a.safetensors"));  // 7
  EXPECT_FALSE(IsWriteTempOf("b.safetensors.tmp.Ab3xY9", "a.safetensors"));
  EXPECT_FALSE(IsWriteTempOf("a.safetensors.bak.Ab3xY9", "a.safetensors"));
  EXPECT_FALSE(IsWriteTempOf("", "a.safetensors"));
}

}  // namespace
}  // namespace edbp
