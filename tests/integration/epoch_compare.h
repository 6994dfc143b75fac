// Comparisons of two runs' epoch records for the trainer tests (trainer_test,
// resume_test): what the learning produced, field by field, exactly (a run and its
// resumed or repeated twin compute the same floats).
#ifndef EDBP_TESTS_INTEGRATION_EPOCH_COMPARE_H_
#define EDBP_TESTS_INTEGRATION_EPOCH_COMPARE_H_

#include <cstddef>

#include "core/train/metrics.h"
#include "gtest/gtest.h"

namespace edbp::train {

// The learning: losses, accuracies, learning rate, confusion, and per layer the
// gradient norm, firing rate and weight norm.
inline void ExpectSameLearning(const EpochMetrics& a, const EpochMetrics& b) {
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.train_loss, b.train_loss);
  EXPECT_EQ(a.train_accuracy, b.train_accuracy);
  EXPECT_EQ(a.test_loss, b.test_loss);
  EXPECT_EQ(a.test_accuracy, b.test_accuracy);
  EXPECT_EQ(a.learning_rate, b.learning_rate);
  EXPECT_EQ(a.confusion, b.confusion);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    EXPECT_EQ(a.layers[i].grad_norm, b.layers[i].grad_norm) << a.layers[i].name;
    EXPECT_EQ(a.layers[i].firing_rate, b.layers[i].firing_rate) << a.layers[i].name;
    EXPECT_EQ(a.layers[i].weight_norm, b.layers[i].weight_norm) << a.layers[i].name;
  }
}

// Everything of an epoch record but its wall times.
inline void ExpectSameEpoch(const EpochMetrics& a, const EpochMetrics& b) {
  ExpectSameLearning(a, b);
  EXPECT_EQ(a.record, b.record);
  EXPECT_EQ(a.epochs, b.epochs);
  EXPECT_EQ(a.train_samples, b.train_samples);
  EXPECT_EQ(a.test_samples, b.test_samples);
  EXPECT_EQ(a.n_class, b.n_class);
  EXPECT_EQ(a.best, b.best);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const LayerStats &x = a.layers[i], &y = b.layers[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.grad_mean, y.grad_mean) << x.name;
    EXPECT_EQ(x.grad_max_abs, y.grad_max_abs) << x.name;
    EXPECT_EQ(x.grad_sum_in, y.grad_sum_in) << x.name;
    EXPECT_EQ(x.grad_sum_out, y.grad_sum_out) << x.name;
    EXPECT_EQ(x.silent_fraction, y.silent_fraction) << x.name;
    EXPECT_EQ(x.update_ratio, y.update_ratio) << x.name;
  }
}

}  // namespace edbp::train

#endif  // EDBP_TESTS_INTEGRATION_EPOCH_COMPARE_H_
