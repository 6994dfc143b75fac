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

// Writes, per epoch (step = epoch): train/loss, train/accuracy, test/loss,
// test/accuracy, lr, epoch_seconds and grad_norm/<layer> for every conv/linear layer;
// per progress record of the training pass (step = batches trained since the start of
// the run): progress/loss and progress/accuracy; of the test pass (step = test batches
// since the start): progress/test_loss and progress/test_accuracy. A failed write is
// reported once on stderr and ends the writing (training goes on).
class TensorBoardSink final : public MetricsSink {
 public:
  explicit TensorBoardSink(std::unique_ptr<TensorBoardWriter> writer)
      : writer_(std::move(writer)) {}
  void OnProgress(const ProgressRecord& r) override;
  void OnEpoch(const EpochMetrics& m) override;

 private:
  void Write(int64_t step, const std::vector<std::pair<std::string, float>>& scalars);
  std::unique_ptr<TensorBoardWriter> writer_;  // null after a failed write
};

}  // namespace edbp::train

#endif  // EDBP_CORE_TRAIN_TENSORBOARD_H_
