#include "worker/metrics_proto.h"

#include <cstddef>
#include <filesystem>
#include <system_error>

namespace edbp::worker {
namespace {

// The number of members of an aggregate: a new member of a record fails the build here
// until it is mapped below (and the count raised).
struct AnyField {
  template <typename T>
  operator T() const;  // NOLINT(google-explicit-constructor): only in unevaluated braces
};
template <typename T, typename... Fields>
constexpr std::size_t MemberCount() {
  if constexpr (requires { T{Fields{}..., AnyField{}}; }) {
    return MemberCount<T, Fields..., AnyField>();
  } else {
    return sizeof...(Fields);
  }
}
// `record` (issue 17) of EpochMetrics, ProgressRecord and CheckpointRecord is counted
// but not mapped yet: the worker protocol gets it with the server's side of the change.
static_assert(MemberCount<train::EpochMetrics>() == 17,
              "map the new member of EpochMetrics");
static_assert(MemberCount<train::LayerStats>() == 11, "map the new member of LayerStats");
static_assert(MemberCount<train::ProgressRecord>() == 10,
              "map the new member of ProgressRecord");
static_assert(MemberCount<train::CheckpointRecord>() == 4,
              "map the new member of CheckpointRecord");

}  // namespace

v1::EpochMetrics ToProto(const train::EpochMetrics& m) {
  v1::EpochMetrics p;
  p.set_epoch(m.epoch);
  p.set_epochs(m.epochs);
  p.set_train_loss(m.train_loss);
  p.set_train_accuracy(m.train_accuracy);
  p.set_test_loss(m.test_loss);
  p.set_test_accuracy(m.test_accuracy);
  p.set_learning_rate(m.learning_rate);
  p.set_seconds(m.seconds);
  p.set_train_samples_per_second(m.train_samples_per_second);
  p.set_test_samples_per_second(m.test_samples_per_second);
  p.set_train_samples(m.train_samples);
  p.set_test_samples(m.test_samples);
  p.set_n_class(m.n_class);
  p.mutable_confusion()->Add(m.confusion.begin(), m.confusion.end());
  for (const train::LayerStats& l : m.layers) {
    v1::LayerGradientStats* s = p.add_layers();
    s->set_name(l.name);
    s->set_index(l.index);
    s->set_grad_norm(l.grad_norm);
    s->set_grad_mean(l.grad_mean);
    s->set_grad_max_abs(l.grad_max_abs);
    s->set_grad_sum_in(l.grad_sum_in);
    s->set_grad_sum_out(l.grad_sum_out);
    s->set_firing_rate(l.firing_rate);
    s->set_silent_fraction(l.silent_fraction);
    s->set_weight_norm(l.weight_norm);
    s->set_update_ratio(l.update_ratio);
  }
  p.set_best(m.best);
  return p;
}

v1::Progress ToProto(const train::ProgressRecord& r) {
  v1::Progress p;
  p.set_epoch(r.epoch);
  p.set_batch(r.batch);
  p.set_batches(r.batches);
  p.set_running_loss(r.running_loss);
  p.set_running_accuracy(r.running_accuracy);
  p.set_samples_per_second(r.samples_per_second);
  p.set_eta_seconds(r.eta_seconds);
  p.set_phase(r.phase == train::Phase::kTest ? v1::Progress::TEST : v1::Progress::TRAIN);
  p.set_epochs(r.epochs);
  return p;
}

v1::CheckpointSaved ToProto(const train::CheckpointRecord& r) {
  v1::CheckpointSaved p;
  p.set_epoch(r.epoch);
  p.set_kind(r.kind);
  // Absolute, so that a reader elsewhere knows where it is (the process's directory is
  // its run directory, which the path may be relative to).
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(r.path, ec);
  p.set_path(ec ? r.path : absolute.lexically_normal().string());
  return p;
}

}  // namespace edbp::worker
