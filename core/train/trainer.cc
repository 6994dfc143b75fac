#include "core/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "core/data/loader.h"
#include "core/data/synthetic.h"
#include "core/data/transform.h"
#include "core/encoding.h"
#include "core/optim/schedule.h"
#include "core/readout.h"

namespace edbp::train {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Independent streams from one --seed: splitmix64 of (seed, epoch, stream).
enum class Stream : uint64_t { kInit = 1, kTrain = 2 };
uint64_t MixSeed(uint64_t seed, int64_t epoch, Stream stream) {
  uint64_t z = seed ^ (static_cast<uint64_t>(epoch) * 0x9E3779B97F4A7C15ull) ^
               (static_cast<uint64_t>(stream) << 56);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Loss per sample: count and kernel sum over the batch, TET averages it (§8).
double PerSampleTotal(const Loss& loss, double value, int64_t batch) {
  return std::string_view(loss.name()) == "TET" ? value * static_cast<double>(batch)
                                                : value;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(config::Config config,
                                                         kernels::Backend* backend,
                                                         TrainerOptions options,
                                                         MetricsSink* sink) {
  EDBP_CHECK(backend != nullptr);
  if (options.epochs > 0) config.network.epochs = options.epochs;
  std::unique_ptr<Trainer> t(new Trainer(std::move(config), std::move(options), sink));
  t->backend_ = backend;
  if (t->options_.comm != nullptr) t->comm_ = t->options_.comm;
  const config::NetworkConfig& nc = t->config_.network;
  // Issue 18: batch_size is the global batch, split evenly over the ranks.
  if (const int ranks = t->comm_->size(); nc.batch_size % ranks != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Network.batch_size: ", nc.batch_size, " is not divisible by the ", ranks,
        " workers (ranks) of this run; the global batch is split evenly over them"));
  }
  const int64_t limit =
      t->options_.data_limit > 0 ? t->options_.data_limit : nc.data_limit;
  if (t->options_.synthetic_data || nc.dataset == "Synthetic") {
    t->data_ = data::MakeSyntheticSplits(
        nc.dataset, data::StoredShapeFor(nc.dataset, t->config_.input_shape), nc.n_class,
        limit > 0 ? limit : 1000, limit > 0 ? limit : 200, t->options_.seed,
        data::FramesPerSample(nc));
  } else {
    EDBP_ASSIGN_OR_RETURN(t->data_, data::LoadDataSplits(nc, limit));
  }
  // §0, §11: event frames are n_steps long in training too; fewer training steps need a
  // temporal deletion, which only DVS128 Gesture's training transform has.
  if (t->data_.train.frames > 0 && t->data_.train.frames != nc.t_train &&
      !(t->DeletesFrames() && nc.t_train < t->data_.train.frames)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Network.t_train: expected ", t->data_.train.frames, " (",
                     t->data_.train.name, " samples have ", t->data_.train.frames,
                     " frames and no temporal deletion), got ", nc.t_train));
  }
  // The shape the network sees: CIFAR10-DVS's frames resized (§11.1), else as stored.
  if (data::InputShapeOf(t->data_.train) != t->config_.input_shape) {
    return absl::InvalidArgumentError(
        absl::StrCat(t->data_.train.name, " has samples of shape ",
                     ShapeToString(data::InputShapeOf(t->data_.train)),
                     " but the config expects ", ShapeToString(t->config_.input_shape)));
  }
  if (t->data_.train.size == 0 || t->data_.test.size == 0) {
    return absl::InvalidArgumentError("the data set has no training or no test samples");
  }
  for (const data::Dataset* ds : {&t->data_.train, &t->data_.test}) {
    const int32_t max_label = *std::max_element(ds->labels.begin(), ds->labels.end());
    if (max_label >= nc.n_class) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Network.n_class: ", ds->name, " has label ", max_label, ", expected at most ",
          nc.n_class - 1, " (n_class ", nc.n_class, ")"));
    }
  }
  EDBP_ASSIGN_OR_RETURN(t->net_, Network::Create(t->config_, backend, t->options_.seed));
  EDBP_ASSIGN_OR_RETURN(t->loss_, Loss::Create(nc));
  EDBP_ASSIGN_OR_RETURN(t->optimizer_, Optimizer::Create(nc, t->net_->Parameters()));
  t->state_.seed = t->options_.seed;
  t->state_.config_text = t->config_.source_text;
  EDBP_RETURN_IF_ERROR(t->Initialize());
  if (t->comm_->size() > 1) {
    t->sync_ = std::make_unique<GradientSync>(t->comm_, t->net_->Parameters());
    // A mid-epoch checkpoint's sums over samples are the whole run's: rank 0 carries
    // them on, the others start from zero, and their sum stays the run's.
    if (t->state_.progress.has_value() && !t->is_root()) {
      t->state_.progress->layers = ZeroSampleSums(std::move(t->state_.progress->layers));
    }
  }
  t->state_.epochs = t->config_.network.epochs;
  EDBP_ASSIGN_OR_RETURN(t->stats_, LayerStatsCollector::Attach(*t->net_));
  if (const std::optional<EpochProgress>& p = t->state_.progress; p.has_value()) {
    // The loader regenerates the epoch from (seed, epoch): it must be the same epoch.
    const std::string& path = t->options_.resume_from;
    const int64_t batches = t->NumTrainBatches();
    if (p->batches != batches) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": metadata entry 'epoch_batches' is ", p->batches,
          ", this run's epochs have ", batches,
          " batches (resume with the interrupted run's data, --data-limit and "
          "--batch-size)"));
    }
    const int64_t seen = std::min(p->batch * nc.batch_size, t->data_.train.size);
    if (p->seen != seen) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": metadata entry 'epoch_seen' is ", p->seen, ", ", p->batch,
                       " batches of this run's data hold ", seen, " samples"));
    }
    absl::Status imported = t->stats_->Import(p->layers);
    if (!imported.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": metadata entry 'epoch_layer_sums': ", imported.message()));
    }
  }
  return t;
}

absl::Status Trainer::Initialize() {
  const config::NetworkConfig& nc = config_.network;
  // Issue 18: rank 0 reads the file and the other ranks get its contents, so that
  // every rank starts from the same bits (a file rewritten meanwhile cannot split them).
  if (!options_.resume_from.empty()) {
    SafeTensors file;
    if (is_root()) {
      EDBP_ASSIGN_OR_RETURN(file, ReadSafeTensors(options_.resume_from));
    }
    EDBP_RETURN_IF_ERROR(BroadcastContents(*comm_, file, 0));
    EDBP_ASSIGN_OR_RETURN(
        state_, RestoreCheckpoint(options_.resume_from, file, *net_, optimizer_.get()));
    // A resume keeps the run's own epochs (an --epochs given then included), so that
    // its schedule (§10) and its end stay what they were; --epochs now changes them.
    if (options_.epochs == 0 && state_.epochs > 0) {
      config_.network.epochs = state_.epochs;
    }
  } else if (!options_.init_weights.empty()) {
    SafeTensors file;
    if (is_root()) {
      EDBP_ASSIGN_OR_RETURN(file, ReadSafeTensors(options_.init_weights));
    }
    EDBP_RETURN_IF_ERROR(BroadcastContents(*comm_, file, 0));
    EDBP_RETURN_IF_ERROR(RestoreWeights(options_.init_weights, file, *net_));
  } else {
    if (is_root()) {
      // §7: the first batch_size training samples in dataset order, with the random
      // training transform applied, as the reference.
      data::BatchLoader init(data_.train,
                             {.batch_size = nc.batch_size,
                              .shuffle = false,
                              .augment = true,
                              .seed = MixSeed(options_.seed, 0, Stream::kInit),
                              .frames_kept = TrainingFramesKept()});
      std::optional<data::Batch> batch = init.Next();
      EDBP_CHECK(batch.has_value());
      Tensor x, y;
      EDBP_ASSIGN_OR_RETURN(const bool repeats, MakeInputs(*batch, x, y));
      EDBP_RETURN_IF_ERROR(net_->InitializeByBisection(x, repeats).status());
      // The bisection's tensors have the shapes of single layers, never the training
      // step's: cached, they would only add to the peak.
      backend_->ReleaseCachedMemory();
    }
    std::vector<Parameter> params = net_->Parameters();
    EDBP_RETURN_IF_ERROR(BroadcastParameters(*comm_, params, 0));
  }
  return ParametersAgree(*comm_, net_->Parameters(), "after the initialisation");
}

absl::StatusOr<bool> Trainer::StopRequested() {
  double stop = stop_.load() ? 1 : 0;
  EDBP_RETURN_IF_ERROR(comm_->AllReduceMax(&stop, 1));
  return stop > 0;
}

absl::Status Trainer::SyncRng() {
  std::string state;
  if (is_root()) {
    std::ostringstream out;
    out << net_->rng();
    state = out.str();
  }
  uint64_t size = state.size();
  EDBP_RETURN_IF_ERROR(comm_->Broadcast(&size, sizeof(size), 0));
  state.resize(size);
  EDBP_RETURN_IF_ERROR(comm_->Broadcast(state.data(), static_cast<int64_t>(size), 0));
  if (!is_root()) {
    std::istringstream in(state);
    in >> net_->rng();
    if (!in)
      return absl::DataLossError(
          "the dropout generator broadcast by rank 0 arrived broken");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<LayerAccumulators>> Trainer::ExportLayerSums() {
  EDBP_ASSIGN_OR_RETURN(std::vector<LayerAccumulators> sums, stats_->Export());
  EDBP_RETURN_IF_ERROR(ReduceLayerSums(*comm_, sums));
  return sums;
}

bool Trainer::DeletesFrames() const {
  return config::DatasetDeletesFrames(config_.network.dataset) && data_.train.frames > 0;
}

int64_t Trainer::TrainingFramesKept() const {
  return DeletesFrames() ? config_.network.t_train : 0;
}

int64_t Trainer::NumTrainBatches() const {
  const int64_t batch_size = config_.network.batch_size;
  return (data_.train.size + batch_size - 1) / batch_size;
}

absl::StatusOr<bool> Trainer::MakeInputs(const data::Batch& batch, Tensor& x, Tensor& y) {
  const std::vector<float>& images = batch.images;
  const std::vector<int32_t>& labels = batch.labels;
  const int64_t size = batch.size;
  // Frame sequences bring their own time steps; static images are repeated t_train times.
  const int64_t steps = batch.frames > 0 ? batch.frames : config_.network.t_train;
  Shape shape = {steps, size};
  for (int64_t d : config_.input_shape) shape.push_back(d);
  EDBP_ASSIGN_OR_RETURN(x, Tensor::Empty(backend_, shape));
  // Static images are one step's worth, frame sequences all steps'.
  const size_t step_bytes =
      images.size() * sizeof(float) / (batch.frames > 0 ? steps : 1);
  EDBP_CHECK(static_cast<int64_t>(step_bytes) == static_cast<int64_t>(x.bytes()) / steps);
  if (batch.frames > 0) {
    // §6: [B, T, C, H, W] frames transposed to time-major [T, B, C, H, W].
    const int64_t numel = x.numel() / (steps * size);
    std::vector<float> frames(static_cast<size_t>(x.numel()));
    for (int64_t b = 0; b < size; ++b) {
      for (int64_t t = 0; t < steps; ++t) {
        std::copy_n(images.data() + (b * steps + t) * numel, numel,
                    frames.data() + (t * size + b) * numel);
      }
    }
    EDBP_RETURN_IF_ERROR(backend_->CopyHostToDevice(x.f32(), frames.data(), x.bytes()));
  } else if (config_.network.encoding == config::Encoding::kTtfs) {
    // §6: one spike per pixel at its time to first spike.
    std::vector<float> spikes(static_cast<size_t>(x.numel()));
    EDBP_RETURN_IF_ERROR(EncodeTtfs(images, size, steps, spikes));
    EDBP_RETURN_IF_ERROR(backend_->CopyHostToDevice(x.f32(), spikes.data(), x.bytes()));
  } else {
    // §6: static images are repeated t_train times as the input current.
    EDBP_RETURN_IF_ERROR(backend_->CopyHostToDevice(x.f32(), images.data(), step_bytes));
    const int64_t step_elems = x.numel() / steps;
    for (int64_t t = 1; t < steps; ++t) {
      EDBP_RETURN_IF_ERROR(
          backend_->CopyDeviceToDevice(x.f32() + t * step_elems, x.f32(), step_bytes));
    }
  }
  EDBP_ASSIGN_OR_RETURN(y, Tensor::FromHostI32(backend_, {size}, labels));
  return batch.frames == 0 && config_.network.encoding != config::Encoding::kTtfs;
}

absl::Status Trainer::TrainEpoch(int64_t epoch, double lr, EpochMetrics& m,
                                 EpochProgress& p) {
  const config::NetworkConfig& nc = config_.network;
  EDBP_RETURN_IF_ERROR(stats_->StartEpoch());
  if (std::optional<EpochProgress> resumed = std::exchange(state_.progress, std::nullopt);
      resumed.has_value()) {
    // Issue 17: continue after the checkpoint's last batch, with its running sums.
    p = *std::move(resumed);
    EDBP_RETURN_IF_ERROR(stats_->Import(p.layers));
    p.layers.clear();
  } else {
    p = EpochProgress();
    p.batches = NumTrainBatches();
  }
  const int64_t first_batch = p.batch, first_seen = p.seen;
  const auto t0 = Clock::now();
  if (p.batch < p.batches) {
    data::BatchLoader loader(data_.train,
                             {.batch_size = nc.batch_size,
                              .shuffle = true,
                              .augment = true,
                              .seed = MixSeed(state_.seed, epoch, Stream::kTrain),
                              .frames_kept = TrainingFramesKept()});
    EDBP_CHECK(loader.num_batches() == p.batches);
    // The order and the augmentation draws of a batch depend on the batches before it
    // (one generator drawn sample after sample): those done are made again and dropped.
    for (int64_t b = 0; b < p.batch; ++b) {
      const std::optional<data::Batch> done = loader.Next();
      EDBP_CHECK(done.has_value());
    }
    const bool many = comm_->size() > 1;
    // Whether a rank was asked to stop: agreed before the first batch, then carried by
    // each step's all-reduce (no collective of its own per batch, issue 18).
    EDBP_ASSIGN_OR_RETURN(bool stop, StopRequested());
    while (std::optional<data::Batch> batch = loader.Next()) {
      if (!many) stop = stop_.load();
      if (stop) return absl::CancelledError("training stopped on request");
      // Issue 18: this rank's slice of the global batch (all of it for one process).
      const BatchSlice slice = SliceOf(batch->size, comm_->rank(), comm_->size());
      const data::Batch mine = many ? TakeSlice(*batch, slice) : data::Batch();
      const data::Batch& local = many ? mine : *batch;
      net_->set_batch_slice(many ? slice.begin : 0, many ? batch->size : 0);
      loss_->set_mean_batch(many ? batch->size : 0);
      // Σ per-sample loss and correct predictions of this rank's samples.
      double step[3] = {0, 0, 0};
      if (local.size > 0) {
        Tensor x, y;
        EDBP_ASSIGN_OR_RETURN(const bool repeats, MakeInputs(local, x, y));
        EDBP_ASSIGN_OR_RETURN(NetworkForward fwd,
                              net_->Forward(x, &y, /*training=*/true,
                                            /*keep_context=*/true, repeats));
        Tensor grad;
        EDBP_ASSIGN_OR_RETURN(const double loss, loss_->Compute(fwd.output, y, &grad));
        // §9: training accuracy from the raw (pre-injection) outputs.
        EDBP_ASSIGN_OR_RETURN(const std::vector<float> raw, fwd.raw_output.ToHost());
        const std::vector<int32_t> predicted =
            Predict(raw, fwd.raw_output.dim(0), local.size, nc.n_class);
        int64_t correct = 0;
        for (int64_t b = 0; b < local.size; ++b)
          correct += predicted[b] == local.labels[b];
        EDBP_RETURN_IF_ERROR(net_->Backward(grad, fwd));
        step[0] = PerSampleTotal(*loss_, loss, batch->size);
        step[1] = static_cast<double>(correct);
      } else {
        // A short last batch left this rank no sample: it adds nothing.
        EDBP_RETURN_IF_ERROR(sync_->ZeroGradients());
      }
      if (many) {
        // The batch's gradient and counts on every rank, before clipping (§10), and
        // whether any rank was asked to stop (it stops after this step).
        step[2] = stop_.load() ? 1 : 0;
        EDBP_RETURN_IF_ERROR(sync_->AllReduce(step));
        stop = step[2] > 0;
        if (batch->size < comm_->size()) {
          // The ranks without samples drew no dropout masks: rank 0's generator, which
          // drew the whole batch's, goes to all.
          EDBP_RETURN_IF_ERROR(SyncRng());
        }
      }
      EDBP_RETURN_IF_ERROR(stats_->BeforeStep());
      EDBP_RETURN_IF_ERROR(ClipGradNorm(optimizer_->params(), 1.0).status());  // §10
      EDBP_RETURN_IF_ERROR(optimizer_->Step(lr));
      EDBP_RETURN_IF_ERROR(stats_->AfterStep());
      ++steps_;
      if (many && options_.sync_check_every > 0 &&
          steps_ % options_.sync_check_every == 0) {
        EDBP_RETURN_IF_ERROR(
            ParametersAgree(*comm_, net_->Parameters(),
                            absl::StrCat("after epoch ", epoch, " batch ", p.batch + 1)));
      }
      // The batch is done: only now does it count (a stop before here repeats it).
      p.correct += static_cast<int64_t>(step[1]);
      p.seen += batch->size;
      p.loss_total += step[0];
      ++p.batch;
      if (options_.progress_every > 0 &&
          (p.batch % options_.progress_every == 0 || p.batch == p.batches)) {
        const double elapsed = SecondsSince(t0);
        const ProgressRecord r{
            .record = ++state_.records,
            .epoch = epoch,
            .batch = p.batch,
            .batches = p.batches,
            .running_loss = p.loss_total / p.seen,
            .running_accuracy = static_cast<double>(p.correct) / p.seen,
            .samples_per_second = (p.seen - first_seen) / elapsed,
            .eta_seconds = elapsed / (p.batch - first_batch) * (p.batches - p.batch),
            .phase = Phase::kTrain,
            .epochs = nc.epochs};
        if (sink_ != nullptr) sink_->OnProgress(r);
      }
      if (options_.checkpoint_every > 0 && p.batch % options_.checkpoint_every == 0) {
        EDBP_RETURN_IF_ERROR(SaveResumeCheckpoint(p));
      }
    }
  }
  const double seconds = SecondsSince(t0);
  net_->set_batch_slice(0, 0);
  loss_->set_mean_batch(0);
  if (comm_->size() > 1) {
    // The epoch's statistics over every rank's samples.
    EDBP_ASSIGN_OR_RETURN(const std::vector<LayerAccumulators> sums, ExportLayerSums());
    EDBP_RETURN_IF_ERROR(stats_->Import(sums));
    EDBP_RETURN_IF_ERROR(ParametersAgree(*comm_, net_->Parameters(),
                                         absl::StrCat("at the end of epoch ", epoch)));
  }
  m.train_loss = p.loss_total / p.seen;
  m.train_accuracy = static_cast<double>(p.correct) / p.seen;
  m.train_samples = p.seen;
  m.train_samples_per_second = seconds > 0 ? (p.seen - first_seen) / seconds : 0;
  EDBP_ASSIGN_OR_RETURN(m.layers, stats_->EndEpoch());
  return absl::OkStatus();
}

absl::StatusOr<EvalResult> Trainer::Evaluate() { return TestPass(0); }

absl::StatusOr<EvalResult> Trainer::TestPass(int64_t epoch) {
  const config::NetworkConfig& nc = config_.network;
  data::BatchLoader loader(data_.test, {.batch_size = nc.batch_size});
  const int64_t batches = loader.num_batches();
  const bool report = epoch > 0 && options_.progress_every > 0;
  int64_t seen = 0;  // of this rank's samples, for the progress records
  EvalResult r;
  r.n_class = nc.n_class;
  r.confusion.assign(nc.n_class * nc.n_class, 0);
  const auto t0 = Clock::now();
  double loss_total = 0;
  int64_t correct = 0;
  Tensor grad;
  const bool many = comm_->size() > 1;
  // Ranks agree on a stop every kStopCheckBatches test batches (a collective per batch
  // would hold every rank to the slowest one at each of them; a stopped test pass is run
  // again whole at the resume, so where it stops does not matter).
  constexpr int64_t kStopCheckBatches = 8;
  for (int64_t b = 0;; ++b) {
    std::optional<data::Batch> batch = loader.Next();
    if (!batch.has_value()) break;
    if (!many || b % kStopCheckBatches == 0) {
      EDBP_ASSIGN_OR_RETURN(const bool stop, StopRequested());
      if (stop) return absl::CancelledError("test pass stopped on request");
    }
    // Issue 18: each rank tests its slice; the sums are added up below.
    const BatchSlice slice = SliceOf(batch->size, comm_->rank(), comm_->size());
    const data::Batch mine = many ? TakeSlice(*batch, slice) : data::Batch();
    const data::Batch& local = many ? mine : *batch;
    r.samples += batch->size;
    // A rank whose slice is empty computes nothing, but counts the records as rank 0.
    if (local.size > 0) {
      loss_->set_mean_batch(many ? batch->size : 0);
      Tensor x, y;
      EDBP_ASSIGN_OR_RETURN(const bool repeats, MakeInputs(local, x, y));
      // Test runs without labels: no injection (§9), no dropout.
      EDBP_ASSIGN_OR_RETURN(NetworkForward fwd,
                            net_->Forward(x, nullptr, false, false, repeats));
      EDBP_ASSIGN_OR_RETURN(const double loss, loss_->Compute(fwd.output, y, &grad));
      loss_total += PerSampleTotal(*loss_, loss, batch->size);
      EDBP_ASSIGN_OR_RETURN(const std::vector<float> out, fwd.output.ToHost());
      const std::vector<int32_t> predicted =
          Predict(out, fwd.output.dim(0), local.size, nc.n_class);
      for (int64_t b = 0; b < local.size; ++b) {
        correct += predicted[b] == local.labels[b];
        ++r.confusion[local.labels[b] * nc.n_class + predicted[b]];
      }
      seen += local.size;
    }
    const int64_t done = b + 1;
    if (report && (done % options_.progress_every == 0 || done == batches)) {
      // Every rank's sums so far (each rank reaches every report point: collective).
      double so_far[3] = {loss_total, static_cast<double>(correct),
                          static_cast<double>(seen)};
      if (many) EDBP_RETURN_IF_ERROR(comm_->AllReduceSum(so_far, 3));
      const double elapsed = SecondsSince(t0);
      const ProgressRecord p{.record = ++state_.records,
                             .epoch = epoch,
                             .batch = done,
                             .batches = batches,
                             .running_loss = so_far[0] / so_far[2],
                             .running_accuracy = so_far[1] / so_far[2],
                             .samples_per_second = r.samples / elapsed,
                             .eta_seconds = elapsed / done * (batches - done),
                             .phase = Phase::kTest,
                             .epochs = config_.network.epochs};
      if (sink_ != nullptr) sink_->OnProgress(p);
    }
  }
  loss_->set_mean_batch(0);
  if (many) {
    // Every count is an integer far below 2^53: exact in doubles.
    std::vector<double> sums = {loss_total, static_cast<double>(correct)};
    for (int64_t c : r.confusion) sums.push_back(static_cast<double>(c));
    EDBP_RETURN_IF_ERROR(
        comm_->AllReduceSum(sums.data(), static_cast<int64_t>(sums.size())));
    loss_total = sums[0];
    correct = static_cast<int64_t>(sums[1]);
    for (size_t i = 0; i < r.confusion.size(); ++i) {
      r.confusion[i] = static_cast<int64_t>(sums[i + 2]);
    }
  }
  r.loss = loss_total / r.samples;
  r.accuracy = static_cast<double>(correct) / r.samples;
  r.samples_per_second = r.samples / SecondsSince(t0);
  return r;
}

namespace {

absl::StatusOr<std::string> CheckpointPath(const std::string& dir, const char* name) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat(dir, ": cannot create the output directory: ", ec.message()));
  }
  return (std::filesystem::path(dir) / name).string();
}

}  // namespace

absl::Status Trainer::SaveCheckpoints(const EpochMetrics& m) {
  if (!options_.keep_checkpoints) return absl::OkStatus();
  EDBP_ASSIGN_OR_RETURN(const std::string last,
                        CheckpointPath(options_.out_dir, kLastCheckpoint));
  // The files count their own records, so that a resume from either continues after
  // them (metrics.h).
  const int64_t last_record = ++state_.records;
  const int64_t best_record = m.best ? ++state_.records : 0;
  if (!is_root()) return absl::OkStatus();  // rank 0 writes the run's files
  EDBP_RETURN_IF_ERROR(SaveCheckpoint(last, *net_, optimizer_.get(), state_));
  if (sink_ != nullptr) {
    sink_->OnCheckpoint(
        {.record = last_record, .epoch = m.epoch, .kind = "last", .path = last});
  }
  if (m.best) {
    const std::string best =
        (std::filesystem::path(options_.out_dir) / kBestCheckpoint).string();
    EDBP_RETURN_IF_ERROR(SaveCheckpoint(best, *net_, optimizer_.get(), state_));
    if (sink_ != nullptr) {
      sink_->OnCheckpoint(
          {.record = best_record, .epoch = m.epoch, .kind = "best", .path = best});
    }
  }
  return absl::OkStatus();
}

absl::Status Trainer::SaveResumeCheckpoint(const EpochProgress& progress) {
  if (!options_.keep_checkpoints) return absl::OkStatus();
  EDBP_ASSIGN_OR_RETURN(const std::string last,
                        CheckpointPath(options_.out_dir, kLastCheckpoint));
  TrainingState state = state_;
  state.progress = progress;
  EDBP_ASSIGN_OR_RETURN(state.progress->layers, ExportLayerSums());
  if (!is_root()) return absl::OkStatus();  // rank 0 writes the run's files
  EDBP_RETURN_IF_ERROR(SaveCheckpoint(last, *net_, optimizer_.get(), state));
  const std::string line =
      absl::StrCat("checkpoint at epoch ", state_.epoch + 1, " batch ", progress.batch,
                   " saved for a resume\n");
  std::fputs(line.c_str(), stderr);
  return absl::OkStatus();
}

absl::Status Trainer::Run() {
  const config::NetworkConfig& nc = config_.network;
  for (int64_t epoch = state_.epoch + 1; epoch <= nc.epochs; ++epoch) {
    const auto t0 = Clock::now();
    EpochMetrics m;
    m.epoch = epoch;
    m.epochs = nc.epochs;
    m.n_class = nc.n_class;
    m.learning_rate = CosineAnnealingLr(nc.lr, epoch, nc.epochs);  // §10
    EpochProgress progress;
    absl::Status trained = TrainEpoch(epoch, m.learning_rate, m, progress);
    if (absl::IsCancelled(trained)) {
      // Issue 17: the state after the last finished batch; a resume continues with the
      // next one.
      EDBP_RETURN_IF_ERROR(SaveResumeCheckpoint(progress));
      return trained;
    }
    EDBP_RETURN_IF_ERROR(trained);
    // Each phase allocates its own shapes (no gradients in the test pass; another batch
    // size where the data does not divide): blocks cached by one are dead weight in the
    // other, so they go back to the system between phases (once per phase, not per
    // step: the cache still serves every step).
    backend_->ReleaseCachedMemory();
    const int64_t records_before_test = state_.records;
    absl::StatusOr<EvalResult> tested = TestPass(epoch);
    backend_->ReleaseCachedMemory();
    if (absl::IsCancelled(tested.status())) {
      // Training done, test pending: the resume runs the (deterministic) test pass
      // again whole, and sends its progress records again with their numbers.
      state_.records = records_before_test;
      EDBP_RETURN_IF_ERROR(SaveResumeCheckpoint(progress));
      return tested.status();
    }
    EDBP_RETURN_IF_ERROR(tested.status());
    const EvalResult& test = *tested;
    m.test_loss = test.loss;
    m.test_accuracy = test.accuracy;
    m.test_samples = test.samples;
    m.test_samples_per_second = test.samples_per_second;
    m.confusion = test.confusion;
    m.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    state_.epoch = epoch;
    if (test.accuracy > state_.best_test_accuracy) {
      state_.best_test_accuracy = test.accuracy;
      state_.best_epoch = epoch;
      m.best = true;
    }
    m.record = ++state_.records;
    if (sink_ != nullptr) sink_->OnEpoch(m);
    EDBP_RETURN_IF_ERROR(SaveCheckpoints(m));
  }
  return absl::OkStatus();
}

absl::StatusOr<SafeTensors> Trainer::InspectStep() {
  if (comm_->size() > 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--inspect-step runs as one process, not as one of ", comm_->size(), " ranks"));
  }
  const config::NetworkConfig& nc = config_.network;
  data::BatchLoader loader(data_.train, {.batch_size = nc.batch_size});
  std::optional<data::Batch> batch = loader.Next();
  EDBP_CHECK(batch.has_value());
  Tensor x, y;
  EDBP_ASSIGN_OR_RETURN(const bool repeats, MakeInputs(*batch, x, y));
  // Dropout off (training = false), labels injected.
  EDBP_ASSIGN_OR_RETURN(NetworkForward fwd, net_->Forward(x, &y, false, true, repeats));
  Tensor grad;
  EDBP_ASSIGN_OR_RETURN(const double loss, loss_->Compute(fwd.output, y, &grad));
  SafeTensors out;
  out.tensors["loss"] = {{1}, {static_cast<float>(loss)}};
  EDBP_ASSIGN_OR_RETURN(std::vector<float> inputs, x.ToHost());
  out.tensors["inputs"] = {x.shape(), std::move(inputs)};
  EDBP_ASSIGN_OR_RETURN(std::vector<float> o, fwd.output.ToHost());
  out.tensors["outputs"] = {fwd.output.shape(), std::move(o)};
  EDBP_ASSIGN_OR_RETURN(std::vector<float> raw, fwd.raw_output.ToHost());
  out.tensors["outputs_raw"] = {fwd.raw_output.shape(), std::move(raw)};
  EDBP_RETURN_IF_ERROR(net_->Backward(grad, fwd));
  for (const Parameter& p : net_->Parameters()) {
    EDBP_ASSIGN_OR_RETURN(std::vector<float> g, p.grad.ToHost());
    out.tensors[p.name + ".grad"] = {p.grad.shape(), std::move(g)};
  }
  out.metadata["config"] = config_.source_text;
  return out;
}

absl::StatusOr<GradientFlowReport> Trainer::GradientFlow(int64_t batch) {
  if (comm_->size() > 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--gradient-flow runs as one process, not as one of ", comm_->size(), " ranks"));
  }
  const config::NetworkConfig& nc = config_.network;
  data::BatchLoader loader(data_.train, {.batch_size = nc.batch_size});
  if (batch < 0 || batch >= loader.num_batches()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--gradient-flow-batch: expected 0 to ", loader.num_batches() - 1,
                     " (the training split has ", loader.num_batches(), " batches of ",
                     nc.batch_size, "), got ", batch));
  }
  for (int64_t b = 0; b < batch; ++b) {
    const std::optional<data::Batch> skipped = loader.Next();
    EDBP_CHECK(skipped.has_value());
  }
  std::optional<data::Batch> chosen = loader.Next();
  EDBP_CHECK(chosen.has_value());
  Tensor x, y;
  EDBP_ASSIGN_OR_RETURN(const bool repeats, MakeInputs(*chosen, x, y));
  // The collector replaces the epoch statistics' observer for this one step.
  EDBP_ASSIGN_OR_RETURN(std::unique_ptr<GradientFlowCollector> collector,
                        GradientFlowCollector::Attach(*net_));
  // §14: dropout off (training = false), labels injected, as InspectStep.
  EDBP_ASSIGN_OR_RETURN(NetworkForward fwd, net_->Forward(x, &y, false, true, repeats));
  Tensor grad;
  EDBP_ASSIGN_OR_RETURN(const double loss, loss_->Compute(fwd.output, y, &grad));
  EDBP_RETURN_IF_ERROR(net_->Backward(grad, fwd));
  EDBP_ASSIGN_OR_RETURN(GradientFlowReport report, collector->Report());
  report.config = config_.source_name;
  report.weights =
      !options_.resume_from.empty() ? options_.resume_from : options_.init_weights;
  report.seed = options_.seed;
  report.batch = batch;
  report.batches = loader.num_batches();
  report.batch_size = chosen->size;
  report.time_steps = x.dim(0);
  report.loss = loss;
  return report;
}

}  // namespace edbp::train
