#include "core/data/loader.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "base/check.h"
#include "base/splitmix64.h"

namespace edbp::data {
namespace {

// Decorrelates the augmentation stream from the order stream that starts from the
// same seed.
uint64_t Mix(uint64_t x) { return SplitMix64(x); }

// Uniform in [0, bound) by rejection: unbiased, and the same on every standard library
// (std::uniform_int_distribution and std::shuffle are implementation-defined).
uint64_t UniformBelow(std::mt19937_64& rng, uint64_t bound) {
  const uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound
  while (true) {
    const uint64_t r = rng();
    if (r >= threshold) return r % bound;
  }
}

std::vector<int64_t> MakeOrder(int64_t size, bool shuffle, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(size));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (shuffle) {
    std::mt19937_64 rng(seed);
    for (int64_t i = size - 1; i > 0; --i) {  // Fisher–Yates
      const auto j =
          static_cast<int64_t>(UniformBelow(rng, static_cast<uint64_t>(i) + 1));
      std::swap(order[i], order[j]);
    }
  }
  return order;
}

}  // namespace

struct BatchLoader::State {
  State(const Dataset& ds, LoaderOptions opts)
      : dataset(ds),
        options(opts),
        maker(ds, NormalizationFor(ds.name), opts.augment ? opts.frames_kept : 0),
        order(MakeOrder(ds.size, opts.shuffle, opts.seed)),
        num_batches((ds.size + opts.batch_size - 1) / opts.batch_size),
        augment_rng(Mix(opts.seed)) {}

  // Producer thread: batches in order, each built outside the lock once the queue has
  // room, so at most `prefetch` batches exist ahead of the consumer.
  void Produce() {
    for (int64_t b = 0; b < num_batches; ++b) {
      {
        std::unique_lock<std::mutex> lock(mu);
        has_room.wait(lock, [&] {
          return stop || static_cast<int64_t>(ready.size()) < options.prefetch;
        });
        if (stop) return;
      }
      Batch batch = MakeBatch(b);
      {
        std::lock_guard<std::mutex> lock(mu);
        ready.push_back(std::move(batch));
      }
      has_batch.notify_one();
    }
  }

  // Only the producer thread touches augment_rng, batch after batch in order: the draws
  // do not depend on timing.
  Batch MakeBatch(int64_t b) {
    const int64_t begin = b * options.batch_size;
    const int64_t end = std::min(begin + options.batch_size, dataset.size);
    Batch batch;
    batch.size = end - begin;
    batch.frames = maker.output_frames(options.augment);
    const int64_t numel = maker.output_numel() * std::max<int64_t>(batch.frames, 1);
    batch.images.resize(static_cast<size_t>(batch.size * numel));
    batch.labels.resize(static_cast<size_t>(batch.size));
    batch.indices.assign(order.begin() + begin, order.begin() + end);
    for (int64_t i = 0; i < batch.size; ++i) {
      const int64_t index = batch.indices[i];
      maker.Make(index, options.augment, augment_rng, batch.images.data() + i * numel);
      batch.labels[i] = dataset.labels[index];
    }
    return batch;
  }

  // Fixed at construction.
  const Dataset& dataset;
  const LoaderOptions options;
  const SampleMaker maker;  // normalisation table and training transform
  const std::vector<int64_t> order;
  const int64_t num_batches;

  std::mt19937_64 augment_rng;  // producer thread only
  int64_t consumed = 0;         // consumer thread only

  std::mutex mu;
  std::condition_variable has_room;   // the producer waits on it
  std::condition_variable has_batch;  // the consumer waits on it
  std::deque<Batch> ready ABSL_GUARDED_BY(mu);
  bool stop ABSL_GUARDED_BY(mu) = false;

  std::thread producer;  // started last, joined by ~BatchLoader
};

BatchLoader::BatchLoader(const Dataset& dataset, LoaderOptions options) {
  EDBP_CHECK(options.batch_size >= 1) << "batch_size " << options.batch_size;
  EDBP_CHECK(options.prefetch >= 1) << "prefetch " << options.prefetch;
  EDBP_CHECK(
      static_cast<int64_t>(dataset.labels.size()) == dataset.size &&
      (dataset.is_events()
           ? dataset.frames > 0 && dataset.pixels.empty() &&
                 static_cast<int64_t>(dataset.frame_offsets.size()) == dataset.size + 1
           : static_cast<int64_t>(dataset.pixels.size()) ==
                 dataset.size * dataset.sample_floats()))
      << dataset.name << ": inconsistent sizes";
  state_ = std::make_unique<State>(dataset, options);
  state_->producer = std::thread([s = state_.get()] { s->Produce(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stop = true;
  }
  state_->has_room.notify_all();
  state_->producer.join();
}

std::optional<Batch> BatchLoader::Next() {
  State& s = *state_;
  if (s.consumed == s.num_batches) return std::nullopt;
  Batch batch;
  {
    std::unique_lock<std::mutex> lock(s.mu);
    s.has_batch.wait(lock, [&] { return !s.ready.empty(); });
    batch = std::move(s.ready.front());
    s.ready.pop_front();
  }
  s.has_room.notify_one();
  ++s.consumed;
  return batch;
}

int64_t BatchLoader::num_batches() const { return state_->num_batches; }

}  // namespace edbp::data
