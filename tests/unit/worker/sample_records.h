// Sample records of edbp-train (core/train/metrics.h) and the messages they map to,
// written out field by field, for the tests of worker/metrics_proto.h and of the
// reporter. Every top-level member is non-zero, so an unmapped one shows.
#ifndef EDBP_TESTS_UNIT_WORKER_SAMPLE_RECORDS_H_
#define EDBP_TESTS_UNIT_WORKER_SAMPLE_RECORDS_H_

#include <cstdint>

#include "core/train/metrics.h"
#include "edbp/v1/metrics.pb.h"
#include "edbp/v1/training_service.pb.h"

namespace edbp::worker::testing {

// Two layers: "conv_1" (index 0) and "linear_2" (index 3), values differing by layer.
inline train::EpochMetrics SampleEpoch() {
  train::EpochMetrics m;
  m.epoch = 2;
  m.epochs = 7;
  m.train_loss = 0.5;
  m.train_accuracy = 0.75;
  m.test_loss = 0.625;
  m.test_accuracy = 0.8125;
  m.learning_rate = 0.001;
  m.seconds = 12.5;
  m.train_samples_per_second = 480.25;
  m.test_samples_per_second = 960.5;
  m.train_samples = 6000;
  m.test_samples = 1000;
  m.n_class = 2;
  m.confusion = {400, 100, 87, 413};
  for (int i = 0; i < 2; ++i) {
    train::LayerStats l;
    l.name = i == 0 ? "conv_1" : "linear_2";
    l.index = 3 * i;
    l.grad_norm = 1.5 + i;
    l.grad_mean = -0.25 + i;
    l.grad_max_abs = 2.5 + i;
    l.grad_sum_in = 3.5 + i;
    l.grad_sum_out = 4.5 + i;
    l.firing_rate = 0.125 + i;
    l.silent_fraction = 0.0625 + i;
    l.weight_norm = 5.5 + i;
    l.update_ratio = 0.001 + i;
    m.layers.push_back(l);
  }
  m.best = true;
  return m;
}

// SampleEpoch() written out as the proto, field by field.
inline v1::EpochMetrics SampleEpochProto() {
  v1::EpochMetrics p;
  p.set_epoch(2);
  p.set_epochs(7);
  p.set_train_loss(0.5);
  p.set_train_accuracy(0.75);
  p.set_test_loss(0.625);
  p.set_test_accuracy(0.8125);
  p.set_learning_rate(0.001);
  p.set_seconds(12.5);
  p.set_train_samples_per_second(480.25);
  p.set_test_samples_per_second(960.5);
  p.set_train_samples(6000);
  p.set_test_samples(1000);
  p.set_n_class(2);
  for (int64_t c : {400, 100, 87, 413}) p.add_confusion(c);
  for (int i = 0; i < 2; ++i) {
    v1::LayerGradientStats* l = p.add_layers();
    l->set_name(i == 0 ? "conv_1" : "linear_2");
    l->set_index(3 * i);
    l->set_grad_norm(1.5 + i);
    l->set_grad_mean(-0.25 + i);
    l->set_grad_max_abs(2.5 + i);
    l->set_grad_sum_in(3.5 + i);
    l->set_grad_sum_out(4.5 + i);
    l->set_firing_rate(0.125 + i);
    l->set_silent_fraction(0.0625 + i);
    l->set_weight_norm(5.5 + i);
    l->set_update_ratio(0.001 + i);
  }
  p.set_best(true);
  return p;
}

inline train::ProgressRecord SampleProgress() {
  return {.epoch = 2,
          .batch = 5,
          .batches = 40,
          .running_loss = 0.875,
          .running_accuracy = 0.625,
          .samples_per_second = 1234.5,
          .eta_seconds = 17.25,
          .phase = train::Phase::kTest,
          .epochs = 3};
}

// SampleProgress() written out as the proto.
inline v1::Progress SampleProgressProto() {
  v1::Progress p;
  p.set_epoch(2);
  p.set_batch(5);
  p.set_batches(40);
  p.set_running_loss(0.875);
  p.set_running_accuracy(0.625);
  p.set_samples_per_second(1234.5);
  p.set_eta_seconds(17.25);
  p.set_phase(v1::Progress::TEST);
  p.set_epochs(3);
  return p;
}

inline train::CheckpointRecord SampleCheckpoint() {
  return {.epoch = 2, .kind = "best", .path = "/x/best"};
}

// SampleCheckpoint() as the proto (its path already absolute).
inline v1::CheckpointSaved SampleCheckpointProto() {
  v1::CheckpointSaved p;
  p.set_epoch(2);
  p.set_kind("best");
  p.set_path("/x/best");
  return p;
}

}  // namespace edbp::worker::testing

#endif  // EDBP_TESTS_UNIT_WORKER_SAMPLE_RECORDS_H_
