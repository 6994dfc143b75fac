// CheckDataFiles: the files each data set reads are there, checked without reading them
// (edbp-server's check at submit, issue 19 item 8).
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace edbp::data {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class DataFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("edbp_data_files_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
            "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // An empty file (only names are checked) at `relative` under the directory.
  void Touch(const std::string& relative) const {
    fs::create_directories((dir_ / relative).parent_path());
    std::ofstream(dir_ / relative) << "";
  }
  void Folder(const std::string& relative) const {
    fs::create_directories(dir_ / relative);
  }

  // CheckDataFiles' message for `dataset` in `path` (default: the directory); "" when OK.
  std::string Check(const std::string& dataset, const std::string& path = "") const {
    config::NetworkConfig network;
    network.dataset = dataset;
    network.data_path = path.empty() ? dir_.string() : path;
    const absl::Status status = CheckDataFiles(network);
    if (status.ok()) return "";
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    return std::string(status.message());
  }

  fs::path dir_;
};

TEST_F(DataFilesTest, AMissingDirectoryOrAFileIsNamed) {
  const std::string missing = (dir_ / "missing").string();
  EXPECT_EQ(Check("MNIST", missing),
            "Network.data_path: \"" + missing + "\" does not exist");
  Touch("file");
  const std::string file = (dir_ / "file").string();
  EXPECT_EQ(Check("FashionMNIST", file),
            "Network.data_path: \"" + file + "\" is not a directory");
  // Bytes that are no path anyone has: the same answer, no crash.
  const std::string garbage = dir_.string() + "/\xff\xfe\x01\x1b[2J";
  EXPECT_EQ(Check("CIFAR10", garbage),
            "Network.data_path: \"" + garbage + "\" does not exist");
}

TEST_F(DataFilesTest, IdxDataSetsNeedTheirFourFilesRawOrGzip) {
  const std::string reads =
      " (MNIST reads train-images-idx3-ubyte, train-labels-idx1-ubyte, "
      "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each raw or .gz)";
  EXPECT_EQ(Check("MNIST"), "Network.data_path: \"" + dir_.string() +
                                "\" holds no train-images-idx3-ubyte[.gz]" + reads);
  Touch("train-images-idx3-ubyte.gz");
  Touch("train-labels-idx1-ubyte");
  Touch("t10k-images-idx3-ubyte.gz");
  Folder("t10k-labels-idx1-ubyte");  // a folder of that name is no file
  EXPECT_EQ(Check("MNIST"), "Network.data_path: \"" + dir_.string() +
                                "\" holds no t10k-labels-idx1-ubyte[.gz]" + reads);
  Touch("t10k-labels-idx1-ubyte.gz");
  EXPECT_EQ(Check("MNIST"), "");
  EXPECT_EQ(Check("FashionMNIST"), "");
  EXPECT_EQ(Check("SMNIST"), "");  // the MNIST files
}

TEST_F(DataFilesTest, CifarBatchesThereOrInTheArchivesFolder) {
  for (int i = 1; i <= 5; ++i) {
    if (i != 3) Touch("cifar-10-batches-bin/data_batch_" + std::to_string(i) + ".bin");
  }
  Touch("test_batch.bin");
  EXPECT_EQ(
      Check("CIFAR10"),
      "Network.data_path: \"" + dir_.string() +
          "\" holds no data_batch_3.bin (CIFAR10 reads data_batch_1.bin .. "
          "data_batch_5.bin and test_batch.bin, there or in cifar-10-batches-bin/)");
  Touch("data_batch_3.bin");
  EXPECT_EQ(Check("CIFAR10"), "");
  Touch("cifar-100-binary/train.bin");
  EXPECT_THAT(Check("CIFAR100"), HasSubstr("\" holds no test.bin (CIFAR100 reads "
                                           "train.bin and test.bin, there or in "
                                           "cifar-100-binary/)"));
  Touch("test.bin");
  EXPECT_EQ(Check("CIFAR100"), "");
}

TEST_F(DataFilesTest, EventDataSetsNeedTheirFolders) {
  EXPECT_THAT(Check("NMNIST"),
              HasSubstr("holds no Train/ (NMNIST reads Train/ and Test/, "
                        "each with the class folders 0..9"));
  for (int label = 0; label < 10; ++label) {
    Folder("Train/" + std::to_string(label));
    if (label != 9) Folder("Test/" + std::to_string(label));
  }
  EXPECT_THAT(Check("NMNIST"), HasSubstr("holds no Test/9/"));
  Folder("Test/9");
  EXPECT_EQ(Check("NMNIST"), "");

  Touch("trials_to_train.txt");
  EXPECT_THAT(Check("DVS128Gesture"),
              HasSubstr("holds no trials_to_test.txt (DVS128Gesture reads "
                        "trials_to_train.txt, trials_to_test.txt"));
  Touch("trials_to_test.txt");
  EXPECT_EQ(Check("DVS128Gesture"), "");

  for (const char* folder : {"airplane", "automobile", "bird", "cat", "deer", "dog",
                             "frog", "horse", "ship"}) {
    Folder(folder);
  }
  EXPECT_THAT(Check("CIFAR10DVS"), HasSubstr("holds no truck/ (CIFAR10DVS reads the ten "
                                             "class folders airplane/ .. truck/"));
  Folder("truck");
  EXPECT_EQ(Check("CIFAR10DVS"), "");
}

TEST_F(DataFilesTest, SyntheticReadsNothing) {
  EXPECT_EQ(Check("Synthetic", (dir_ / "missing").string()), "");
}

// An empty data_path is the data set's default directory, named in the message.
TEST_F(DataFilesTest, AnEmptyPathIsTheDefaultDirectory) {
  config::NetworkConfig network;
  network.dataset = "CIFAR100";
  const absl::Status status = CheckDataFiles(network);
  if (fs::exists("/usr/share/datasets/cifar100")) {
    GTEST_SKIP() << "/usr/share/datasets/cifar100 exists here";
  }
  EXPECT_EQ(status.message(),
            "Network.data_path: \"\" (CIFAR100's default, /usr/share/datasets/cifar100) "
            "does not exist");
}

}  // namespace
}  // namespace edbp::data
