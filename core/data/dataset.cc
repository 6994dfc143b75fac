#include "core/data/dataset.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/check.h"  // EDBP_ASSIGN_OR_RETURN, EDBP_RETURN_IF_ERROR
#include "core/data/cifar.h"
#include "core/data/dvs.h"
#include "core/data/nmnist.h"

namespace edbp::data {
namespace {

constexpr uint32_t kImagesMagic = 0x00000803;  // u8, 3 dimensions
constexpr uint32_t kLabelsMagic = 0x00000801;  // u8, 1 dimension
constexpr uint64_t kImagesHeaderBytes = 16;
constexpr uint64_t kLabelsHeaderBytes = 8;
// Larger counts or sides are a corrupt header, not a data set (and would overflow).
constexpr uint64_t kMaxCount = uint64_t{1} << 31;
constexpr uint64_t kMaxSide = uint64_t{1} << 16;
constexpr unsigned kMaxChunk = 1u << 30;  // gzread takes at most INT_MAX bytes

struct GzCloser {
  void operator()(gzFile_s* file) const { gzclose(file); }
};

// An IDX file read through zlib, which tells gzip from raw content by itself (the
// name plays no part).
class IdxFile {
 public:
  // Only a regular file: a FIFO would block and a device (/dev/zero) never end. Opened
  // without blocking, then checked on the descriptor, so what is checked is what is
  // read.
  static absl::StatusOr<IdxFile> Open(const std::string& path) {
    errno = 0;
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
      const int error_number = errno != 0 ? errno : ENOENT;
      return absl::NotFoundError(absl::StrCat(
          path, ": cannot open: ", std::generic_category().message(error_number)));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      const bool directory = S_ISDIR(st.st_mode);
      ::close(fd);
      return absl::NotFoundError(absl::StrCat(
          path, ": cannot open: ", directory ? "is a directory" : "not a regular file"));
    }
    gzFile file = gzdopen(fd, "rb");  // owns fd from here
    if (file == nullptr) {
      ::close(fd);
      return absl::NotFoundError(absl::StrCat(path, ": cannot open: out of memory"));
    }
    gzbuffer(file, 1 << 18);
    return IdxFile(path, file, static_cast<uint64_t>(st.st_size));
  }

  // Reads up to `n` bytes into `dst`; fewer only at the end of the data.
  absl::StatusOr<uint64_t> Read(uint8_t* dst, uint64_t n) {
    uint64_t done = 0;
    while (done < n) {
      const unsigned want =
          static_cast<unsigned>(std::min<uint64_t>(n - done, kMaxChunk));
      errno = 0;
      const int got = gzread(file_.get(), dst + done, want);
      if (got < 0) return ReadError();
      done += static_cast<uint64_t>(got);
      if (static_cast<unsigned>(got) < want) {
        int error_number = Z_OK;
        gzerror(file_.get(), &error_number);
        // zlib's "unexpected end of file": the compressed stream stops early.
        if (error_number == Z_BUF_ERROR) {
          stream_cut_ = true;
        } else if (error_number != Z_OK) {
          return ReadError();
        }
        break;
      }
    }
    return done;
  }

  // Reads the rest of the file and returns how many bytes it held.
  absl::StatusOr<uint64_t> CountRest() {
    std::vector<uint8_t> scratch(1 << 16);
    uint64_t total = 0;
    while (true) {
      EDBP_ASSIGN_OR_RETURN(const uint64_t got, Read(scratch.data(), scratch.size()));
      total += got;
      if (got < scratch.size()) return total;
    }
  }

  // " (the gzip stream ends early)" after a cut compressed stream, else "".
  std::string CutNote() const {
    return stream_cut_ ? " (the gzip stream ends early)" : "";
  }
  bool stream_cut() const { return stream_cut_; }
  const std::string& path() const { return path_; }
  // The size of the file on disk (compressed, for gzip).
  uint64_t file_bytes() const { return file_bytes_; }
  // Whether the content is read as it is (not gzip); known once something was read.
  bool raw() { return gzdirect(file_.get()) == 1; }

 private:
  IdxFile(std::string path, gzFile file, uint64_t file_bytes)
      : path_(std::move(path)), file_(file), file_bytes_(file_bytes) {}

  absl::Status ReadError() {
    int error_number = Z_OK;
    const char* message = gzerror(file_.get(), &error_number);
    if (error_number == Z_ERRNO) {
      return absl::DataLossError(
          absl::StrCat(path_, ": read failed: ", std::generic_category().message(errno)));
    }
    absl::string_view what = message;  // zlib prefixes the path: drop it
    absl::ConsumePrefix(&what, absl::StrCat(path_, ": "));
    return absl::DataLossError(absl::StrCat(path_, ": corrupt gzip data: ", what));
  }

  std::string path_;
  std::unique_ptr<gzFile_s, GzCloser> file_;
  uint64_t file_bytes_ = 0;
  bool stream_cut_ = false;
};

uint32_t BigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

std::string Hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

// Reads the header (`header.size()` bytes) and checks the magic number.
absl::Status ReadHeader(IdxFile& file, uint32_t magic, const char* kind,
                        std::span<uint8_t> header) {
  EDBP_ASSIGN_OR_RETURN(const uint64_t got, file.Read(header.data(), header.size()));
  if (got >= 4 && BigEndian32(header.data()) != magic) {
    return absl::DataLossError(
        absl::StrCat(file.path(), ": not an IDX ", kind, " file: magic ",
                     Hex(BigEndian32(header.data())), ", expected ", Hex(magic)));
  }
  if (got < header.size()) {
    return absl::DataLossError(absl::StrCat(file.path(), ": expected at least ",
                                            header.size(), " bytes (the IDX ", kind,
                                            " header), got ", got, file.CutNote()));
  }
  return absl::OkStatus();
}

// Deflate inflates at most 1032:1 (zlib's documented limit): a gzip file of S bytes
// cannot hold 1032 (S + 1) bytes or more.
constexpr uint64_t kMaxInflateRatio = 1032;

// The payload of a raw file is allocated once, at its size, after the file's size was
// checked against the header. A gzip file's is read in pieces of this size into a
// buffer that grows with what arrives (its content size is known only at its end): a
// header that claims more than the file holds costs one piece of memory before its
// DATA_LOSS, never the claimed size.
constexpr uint64_t kReadPiece = uint64_t{16} << 20;

// Reads the payload after the header: keeps its first `keep` bytes in `dst` (resized
// to what was read) and checks that the file holds exactly `header_bytes + payload`
// bytes.
absl::Status ReadPayload(IdxFile& file, uint64_t header_bytes, uint64_t payload,
                         uint64_t keep, std::vector<uint8_t>* dst,
                         const std::string& what) {
  const uint64_t expected = header_bytes + payload;  // < 2^63: dimensions are bounded
  dst->clear();
  if (file.raw()) {
    if (file.file_bytes() != expected) {
      return absl::DataLossError(absl::StrCat(file.path(), ": expected ", expected,
                                              " bytes (", what, "), got ",
                                              file.file_bytes()));
    }
    dst->reserve(keep);
  } else if (file.file_bytes() < expected / kMaxInflateRatio) {
    return absl::DataLossError(absl::StrCat(
        file.path(), ": expected ", expected, " bytes (", what, "), but a gzip file of ",
        file.file_bytes(), " bytes cannot hold them (deflate inflates at most ",
        kMaxInflateRatio, ":1)"));
  }
  uint64_t got = 0;
  while (got < keep) {
    const uint64_t want = std::min(kReadPiece, keep - got);
    dst->resize(got + want);
    EDBP_ASSIGN_OR_RETURN(const uint64_t n, file.Read(dst->data() + got, want));
    got += n;
    if (n < want) break;  // the file ended
  }
  dst->resize(got);
  if (got == keep) {
    EDBP_ASSIGN_OR_RETURN(const uint64_t rest, file.CountRest());
    got += rest;
  }
  if (got != payload) {
    return absl::DataLossError(absl::StrCat(file.path(), ": expected ", expected,
                                            " bytes (", what, "), got ",
                                            header_bytes + got, file.CutNote()));
  }
  if (file.stream_cut()) {
    return absl::DataLossError(absl::StrCat(
        file.path(), ": corrupt gzip data: the stream ends before its trailer"));
  }
  return absl::OkStatus();
}

// Default directories per data set (TOOLCHAIN.md: Debian's dataset packages).
std::string DefaultDir(const std::string& dataset) {
  if (dataset == "NMNIST") return "/usr/share/datasets/n-mnist";
  if (dataset == "DVS128Gesture") return "/usr/share/datasets/dvs128-gesture/DvsGesture";
  if (dataset == "CIFAR10DVS") return "/usr/share/datasets/cifar10-dvs";
  return dataset == "MNIST" || dataset == "SMNIST" ? "/usr/share/datasets/mnist"
                                                   : "/usr/share/datasets/fashion-mnist";
}

// NMNIST: the upstream Train/ and Test/ folders, through the frame cache (§6).
absl::StatusOr<DataSplits> LoadNmnistSplits(const config::NetworkConfig& network,
                                            const std::string& dir, int64_t limit) {
  if (network.n_steps < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("NMNIST: n_steps must be >= 1, got ", network.n_steps));
  }
  const std::string cache_dir =
      !network.cache_path.empty()
          ? network.cache_path
          : (std::filesystem::path(dir) / "edbp_frame_cache").string();
  DataSplits splits;
  for (const auto& [folder, split, out] : {std::tuple("Train", "train", &splits.train),
                                           std::tuple("Test", "test", &splits.test)}) {
    FrameCacheReport report;
    EDBP_ASSIGN_OR_RETURN(
        *out, LoadNmnistSplit((std::filesystem::path(dir) / folder).string(), split,
                              network.n_steps, cache_dir, limit, &report));
    if (!report.write_error.empty()) {
      // Not fatal (a read-only data directory): the frames are rebuilt next time.
      std::fprintf(stderr,
                   "edbp: warning: frame cache not written (%s); set Network.cache_path "
                   "to a writable directory to build the frames only once\n",
                   report.write_error.c_str());
    }
  }
  return splits;
}

// The first of `<dir>/<base>.gz`, `<dir>/<base>` that is a file; NOT_FOUND listing
// both otherwise.
absl::StatusOr<std::string> FindFile(const std::string& dataset, const std::string& dir,
                                     const std::string& base) {
  const std::array<std::string, 2> candidates = {
      (std::filesystem::path(dir) / (base + ".gz")).string(),
      (std::filesystem::path(dir) / base).string()};
  for (const std::string& candidate : candidates) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate;
  }
  return absl::NotFoundError(absl::StrCat(dataset, ": ", base, " not found; tried ",
                                          absl::StrJoin(candidates, ", ")));
}

absl::StatusOr<Dataset> LoadSplit(const std::string& dataset, const std::string& dir,
                                  const std::string& prefix, const char* split,
                                  int64_t limit) {
  EDBP_ASSIGN_OR_RETURN(const std::string images,
                        FindFile(dataset, dir, prefix + "-images-idx3-ubyte"));
  EDBP_ASSIGN_OR_RETURN(const std::string labels,
                        FindFile(dataset, dir, prefix + "-labels-idx1-ubyte"));
  EDBP_ASSIGN_OR_RETURN(Dataset ds, ReadIdx(images, labels, limit));
  const config::SampleShape want = config::DatasetSampleShape(dataset);
  if (!want.empty() && ds.shape != want) {
    return absl::DataLossError(absl::StrCat(images, ": images of ", ds.shape[1], "x",
                                            ds.shape[2], ", but ", dataset, " has ",
                                            want[1], "x", want[2]));
  }
  ds.name = absl::StrCat(dataset, "/", split);
  return ds;
}

}  // namespace

int64_t Dataset::sample_numel() const {
  int64_t n = 1;
  for (const int64_t d : shape) n *= d;
  return n;
}

int64_t Dataset::sample_floats() const {
  return sample_numel() * std::max<int64_t>(frames, 1);
}

absl::Status CheckDataFiles(const config::NetworkConfig& network) {
  namespace fs = std::filesystem;
  const std::string& dataset = network.dataset;
  if (dataset == "Synthetic") return absl::OkStatus();
  std::string dir = network.data_path;
  std::string shown = absl::StrCat("\"", dir, "\"");
  if (dir.empty()) {
    dir = dataset == "CIFAR10"    ? "/usr/share/datasets/cifar10"
          : dataset == "CIFAR100" ? "/usr/share/datasets/cifar100"
                                  : DefaultDir(dataset);
    shown = absl::StrCat("\"\" (", dataset, "'s default, ", dir, ")");
  }
  const auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("Network.data_path: ", shown, " ", why));
  };
  std::error_code ec;
  const fs::file_status status = fs::status(dir, ec);
  if (!fs::exists(status)) {
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return refuse(absl::StrCat("cannot be read: ", ec.message()));
    }
    return refuse("does not exist");
  }
  if (!fs::is_directory(status)) return refuse("is not a directory");
  // A regular file (a folder when `folder`) at any of `names` under the directory.
  const auto has = [&](std::initializer_list<std::string> names, bool folder) {
    return std::any_of(names.begin(), names.end(), [&](const std::string& name) {
      const fs::path path = fs::path(dir) / name;
      return folder ? fs::is_directory(path, ec) : fs::is_regular_file(path, ec);
    });
  };
  const auto missing = [&](absl::string_view what, absl::string_view reads) {
    return refuse(absl::StrCat("holds no ", what, " (", dataset, " reads ", reads, ")"));
  };
  if (dataset == "MNIST" || dataset == "FashionMNIST" || dataset == "SMNIST") {
    for (const std::string base : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                   "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
      if (has({base + ".gz", base}, false)) continue;
      return missing(
          base + "[.gz]",
          "train-images-idx3-ubyte, train-labels-idx1-ubyte, "
          "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each raw or .gz");
    }
  } else if (dataset == "CIFAR10" || dataset == "CIFAR100") {
    const bool ten = dataset == "CIFAR10";
    const std::string folder = ten ? "cifar-10-batches-bin" : "cifar-100-binary";
    const std::vector<std::string> files =
        ten ? std::vector<std::string>{"data_batch_1.bin", "data_batch_2.bin",
                                       "data_batch_3.bin", "data_batch_4.bin",
                                       "data_batch_5.bin", "test_batch.bin"}
            : std::vector<std::string>{"train.bin", "test.bin"};
    for (const std::string& file : files) {
      if (has({file, absl::StrCat(folder, "/", file)}, false)) continue;
      return missing(file, absl::StrCat(ten ? "data_batch_1.bin .. data_batch_5.bin and "
                                              "test_batch.bin"
                                            : "train.bin and test.bin",
                                        ", there or in ", folder, "/"));
    }
  } else if (dataset == "NMNIST") {
    for (const std::string split : {"Train", "Test"}) {
      for (int label = -1; label < 10; ++label) {
        const std::string folder = label < 0 ? split : absl::StrCat(split, "/", label);
        if (has({folder}, true)) continue;
        return missing(
            folder + "/",
            "Train/ and Test/, each with the class folders 0..9 of .bin files");
      }
    }
  } else if (dataset == "DVS128Gesture") {
    for (const std::string list : {"trials_to_train.txt", "trials_to_test.txt"}) {
      if (has({list}, false)) continue;
      return missing(list,
                     "trials_to_train.txt, trials_to_test.txt and the .aedat and "
                     "_labels.csv files they list");
    }
  } else if (dataset == "CIFAR10DVS") {
    for (const std::string folder : {"airplane", "automobile", "bird", "cat", "deer",
                                     "dog", "frog", "horse", "ship", "truck"}) {
      if (has({folder}, true)) continue;
      return missing(folder + "/",
                     "the ten class folders airplane/ .. truck/ of .aedat files");
    }
  }
  return absl::OkStatus();  // an unknown name is the config's error (ParseConfig)
}

int64_t FramesPerSample(const config::NetworkConfig& network) {
  return config::IsEventDataset(network.dataset) || network.dataset == "SMNIST"
             ? network.n_steps
             : 0;
}

Dataset SequenceOfColumns(const Dataset& images, const std::string& name) {
  EDBP_CHECK(images.frames == 0 && images.shape.size() == 3 && images.shape[0] == 1)
      << images.name << ": SMNIST needs static {1, H, W} images";
  const int64_t height = images.shape[1];
  const int64_t width = images.shape[2];
  Dataset seq;
  seq.name = name;
  seq.shape = {1, height, 1};
  seq.frames = width;  // one column per time step
  seq.size = images.size;
  seq.labels = images.labels;
  seq.pixels.resize(images.pixels.size());
  // loadSMNIST.py: [C, H, W] -> permute(2, 0, 1) -> [W, C, H, 1]: frame t, row y is
  // pixel (y, t).
  for (int64_t i = 0; i < images.size; ++i) {
    const uint8_t* src = images.pixels.data() + i * height * width;
    uint8_t* dst = seq.pixels.data() + i * height * width;
    for (int64_t t = 0; t < width; ++t) {
      for (int64_t y = 0; y < height; ++y) dst[t * height + y] = src[y * width + t];
    }
  }
  return seq;
}

absl::StatusOr<Dataset> ReadIdx(const std::string& images_path,
                                const std::string& labels_path, int64_t limit) {
  Dataset ds;
  ds.name = images_path;
  uint64_t image_count = 0;
  {
    EDBP_ASSIGN_OR_RETURN(IdxFile file, IdxFile::Open(images_path));
    std::array<uint8_t, kImagesHeaderBytes> header;
    EDBP_RETURN_IF_ERROR(ReadHeader(file, kImagesMagic, "image", header));
    const uint64_t count = BigEndian32(&header[4]);
    const uint64_t rows = BigEndian32(&header[8]);
    const uint64_t cols = BigEndian32(&header[12]);
    if (count > kMaxCount || rows == 0 || cols == 0 || rows > kMaxSide ||
        cols > kMaxSide) {
      return absl::DataLossError(absl::StrCat(
          images_path, ": implausible IDX dimensions ", count, "x", rows, "x", cols));
    }
    image_count = count;
    const uint64_t kept = limit > 0 ? std::min<uint64_t>(count, limit) : count;
    ds.shape = {1, static_cast<int64_t>(rows), static_cast<int64_t>(cols)};
    ds.size = static_cast<int64_t>(kept);
    EDBP_RETURN_IF_ERROR(ReadPayload(
        file, kImagesHeaderBytes, count * rows * cols, kept * rows * cols, &ds.pixels,
        absl::StrCat(count, " images of ", rows, "x", cols, " + ", kImagesHeaderBytes,
                     "-byte header")));
  }
  EDBP_ASSIGN_OR_RETURN(IdxFile file, IdxFile::Open(labels_path));
  std::array<uint8_t, kLabelsHeaderBytes> header;
  EDBP_RETURN_IF_ERROR(ReadHeader(file, kLabelsMagic, "label", header));
  const uint64_t count = BigEndian32(&header[4]);
  if (count > kMaxCount) {
    return absl::DataLossError(
        absl::StrCat(labels_path, ": implausible IDX label count ", count));
  }
  const uint64_t kept = limit > 0 ? std::min<uint64_t>(count, limit) : count;
  std::vector<uint8_t> raw;
  EDBP_RETURN_IF_ERROR(
      ReadPayload(file, kLabelsHeaderBytes, count, kept, &raw,
                  absl::StrCat(count, " labels + ", kLabelsHeaderBytes, "-byte header")));
  if (count != image_count) {
    return absl::DataLossError(absl::StrCat(labels_path, ": ", count, " labels, but ",
                                            images_path, " holds ", image_count,
                                            " images"));
  }
  // u8 labels are always < 256; whether they are < n_class is the trainer's check.
  ds.labels.assign(raw.begin(), raw.end());
  return ds;
}

absl::StatusOr<DataSplits> LoadDataSplits(const config::NetworkConfig& network,
                                          int64_t limit) {
  const std::string& dataset = network.dataset;
  if (dataset == "CIFAR10" || dataset == "CIFAR100") {
    const bool ten = dataset == "CIFAR10";
    const std::string dir = !network.data_path.empty() ? network.data_path
                            : ten                      ? "/usr/share/datasets/cifar10"
                                                       : "/usr/share/datasets/cifar100";
    return LoadCifarSplits(ten ? CifarVariant::kCifar10 : CifarVariant::kCifar100, dir,
                           limit);
  }
  if (dataset == "NMNIST") {
    return LoadNmnistSplits(
        network, network.data_path.empty() ? DefaultDir(dataset) : network.data_path,
        limit);
  }
  if (dataset == "DVS128Gesture" || dataset == "CIFAR10DVS") {
    // Issue 20 (dvs.h): event files, frames by equal event count as N-MNIST's.
    if (network.n_steps < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(dataset, ": n_steps must be >= 1, got ", network.n_steps));
    }
    const std::string dir =
        network.data_path.empty() ? DefaultDir(dataset) : network.data_path;
    const std::string cache_dir =
        !network.cache_path.empty()
            ? network.cache_path
            : (std::filesystem::path(dir) / "edbp_frame_cache").string();
    FrameCacheReport train_report, test_report;
    DataSplits splits;
    if (dataset == "CIFAR10DVS") {
      EDBP_ASSIGN_OR_RETURN(
          splits, LoadCifar10Dvs(dir, network.n_steps, cache_dir, limit, &train_report));
    } else {
      EDBP_ASSIGN_OR_RETURN(splits.train,
                            LoadDvsGestureSplit(dir, "train", network.n_steps, cache_dir,
                                                limit, &train_report));
      EDBP_ASSIGN_OR_RETURN(
          splits.test, LoadDvsGestureSplit(dir, "test", network.n_steps, cache_dir, limit,
                                           &test_report));
    }
    for (const FrameCacheReport* r : {&train_report, &test_report}) {
      if (r->write_error.empty()) continue;
      std::fprintf(stderr,
                   "edbp: warning: frame cache not written (%s); set Network.cache_path "
                   "to a writable directory to build the frames only once\n",
                   r->write_error.c_str());
    }
    return splits;
  }
  if (dataset == "SMNIST") {
    // The MNIST files, each image a sequence of its columns (loadSMNIST.py).
    const std::string dir =
        network.data_path.empty() ? DefaultDir(dataset) : network.data_path;
    DataSplits splits;
    EDBP_ASSIGN_OR_RETURN(const Dataset train,
                          LoadSplit("MNIST", dir, "train", "train", limit));
    EDBP_ASSIGN_OR_RETURN(const Dataset test,
                          LoadSplit("MNIST", dir, "t10k", "test", limit));
    splits.train = SequenceOfColumns(train, "SMNIST/train");
    splits.test = SequenceOfColumns(test, "SMNIST/test");
    return splits;
  }
  if (dataset != "MNIST" && dataset != "FashionMNIST") {
    if (config::DatasetSampleShape(dataset).empty() && dataset != "Synthetic") {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown data set \"", dataset, "\""));
    }
    return absl::UnimplementedError(
        absl::StrCat("data set ", dataset,
                     ": its loader is not written yet (edbp reads MNIST, "
                     "FashionMNIST, CIFAR10, CIFAR100, NMNIST, SMNIST, DVS128Gesture and "
                     "CIFAR10DVS)"));
  }
  const std::string dir =
      network.data_path.empty() ? DefaultDir(dataset) : network.data_path;
  DataSplits splits;
  EDBP_ASSIGN_OR_RETURN(splits.train, LoadSplit(dataset, dir, "train", "train", limit));
  EDBP_ASSIGN_OR_RETURN(splits.test, LoadSplit(dataset, dir, "t10k", "test", limit));
  return splits;
}

}  // namespace edbp::data
