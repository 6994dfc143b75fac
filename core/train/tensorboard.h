// TensorBoard event files: a MetricsSink that writes scalars a TensorBoard reads
// (`tensorboard --logdir <out_dir>/tensorboard`).
//
// File format (TFRecord): each record is
//   uint64 length (little endian) | uint32 masked_crc32c(length bytes) |
//   data[length]                  | uint32 masked_crc32c(data)
// where masked_crc32c(x) = ((c >> 15) | (c << 17)) + 0xa282ead8 with c = CRC-32C(x).
// Each data is a serialized tensorflow.Event (core/util/event.proto): wall_time = 1
// (double), step = 2 (int64), file_version = 3 (string), summary = 5 (Summary:
// repeated Value value = 1; Value: tag = 1 (string), simple_value = 2 (float)). The
// first record holds file_version "brain.Event:2". The protobuf encoding is written
// by hand here: core/ does not depend on protobuf.
#ifndef EDBP_CORE_TRAIN_TENSORBOARD_H_
#define EDBP_CORE_TRAIN_TENSORBOARD_H_

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/train/metrics.h"

namespace edbp::train {

// CRC-32C (Castagnoli) of `data`, and its TFRecord mask.
uint32_t Crc32c(absl::string_view data);
uint32_t MaskedCrc32c(absl::string_view data);

// One event file. Not thread-safe.
class TensorBoardWriter {
 public:
  // Creates `dir` (and parents) and the file events.out.tfevents.<unix seconds>.<host>
  // in it, and writes the file_version record. Errors name the path (PERMISSION_DENIED,
  // NOT_FOUND, INTERNAL).
  static absl::StatusOr<std::unique_ptr<TensorBoardWriter>> Open(const std::string& dir);
  ~TensorBoardWriter();

  // One Event at `step` with a simple_value per (tag, value); flushed to the file.
  absl::Status WriteScalars(int64_t step,
                            const std::vector<std::pair<std::string, float>>& scalars);

  const std::string& path() const { return path_; }

 private:
  TensorBoardWriter(std::FILE* file, std::string path)
      : file_(file), path_(std::move(path)) {}
  absl::Status WriteRecord(absl::string_view data);

  std::FILE* file_;
  const std::string path_;
};

// One simple value of an event file: its event's step, tag and value.
struct TensorBoardScalar {
  int64_t step = 0;
  std::string tag;
  float value = 0;
};

// The simple values of the event file at `path`, in file order, read up to its first
// malformed record (a bad CRC, a length past the end, a torn last record); nothing for
// a file that cannot be read. Never an error: what is readable is returned.
std::vector<TensorBoardScalar> ReadTensorBoardScalars(const std::string& path);

// The largest step written per tag by the event files events.out.tfevents.* directly in
// `dir` (none: an empty map, also when `dir` does not exist). A file's records are read
// up to its first malformed one (a run killed mid-write leaves a torn last record);
// unreadable files are skipped. Nothing is an error: this serves a resumed run
// (TensorBoardSink), which writes its new file all the same.
std::map<std::string, int64_t> LastWrittenSteps(const std::string& dir);

// Writes the statistics of statistics.h under their names: per epoch (step = epoch)
// every epoch statistic but the counts (train_loss, train_accuracy, test_loss,
// test_accuracy, learning_rate, seconds, train_samples_per_second,
// test_samples_per_second) and, per conv/linear layer, every layer statistic as
// "<name>/<layer>" (grad_norm/conv_1, firing_rate/conv_1, silent_fraction/conv_1, ...);
// per progress record of the training pass (step = batches trained since the start
// of the run): progress/running_loss and progress/running_accuracy; of the test pass
// (step = test batches since the start): progress/test_running_loss and
// progress/test_running_accuracy.
//
// A resumed run repeats the records after its checkpoint (metrics.h): a scalar whose
// step is at most `written[tag]` (LastWrittenSteps of the directory before the run's
// file was opened) is left out, so that TensorBoard shows each step once, as the
// first run wrote it. A fresh run gets an empty `written` and writes every step.
// A failed write is reported once on stderr and ends the writing (training goes on).
class TensorBoardSink final : public MetricsSink {
 public:
  explicit TensorBoardSink(std::unique_ptr<TensorBoardWriter> writer,
                           std::map<std::string, int64_t> written = {})
      : writer_(std::move(writer)), written_(std::move(written)) {}
  void OnProgress(const ProgressRecord& r) override;
  void OnEpoch(const EpochMetrics& m) override;

 private:
  void Write(int64_t step, std::vector<std::pair<std::string, float>> scalars);
  std::unique_ptr<TensorBoardWriter> writer_;  // null after a failed write
  const std::map<std::string, int64_t> written_;
};

}  // namespace edbp::train

#endif  // EDBP_CORE_TRAIN_TENSORBOARD_H_
