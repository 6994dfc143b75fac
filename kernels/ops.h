// The op list: every computation a backend performs, with the arguments of each.
//
// One op = one entry in `Op` + one argument struct here + one implementation file per
// backend (kernels/cpu/<op>.cc, later kernels/cuda/<op>.cu). Every pointer in an
// argument struct points into memory of the backend that runs the op (host memory for
// the CPU backend, device memory for CUDA). All tensors are float32, dense, row-major
// (C order), time-major where a time axis exists: [T, B, ...].
//
// Shapes are checked by the backend entry points; a bad shape is a programmer error
// (abort), not a Status. Values that come from outside (LabelInject's labels) are
// checked in every backend alike and are a Status. Ops never allocate memory that
// outlives the call.
#ifndef EDBP_KERNELS_OPS_H_
#define EDBP_KERNELS_OPS_H_

#include <cstdint>

namespace edbp::kernels {

// The op list, written once: X(Name) per op, in this order. The op's arguments are the
// struct NameArgs below. Everything that enumerates the ops is generated from it: the
// enum Op (kName), OpName(), the Backend methods `absl::Status Name(const NameArgs&)`
// (backend.h), the backends' declarations (EDBP_KERNEL_OP_OVERRIDES) and the CPU
// backend's dispatch to kernels::cpu::Name. Adding an op: a line here, its NameArgs, its
// checks (op_checks.h), its CPU file (kernels/cpu/, declared in cpu_ops.h), its CUDA
// entry (kernels/cuda/cuda_backend.cc and its .cu) and the CPU-vs-CUDA test.
#define EDBP_KERNEL_OPS(X)                                                            \
  X(Fill)                 /* out[i] = value */                                        \
  X(Scale)                /* out[i] = alpha * x[i] */                                 \
  X(Mul)                  /* out[i] = (a[i] * b[i]) * alpha */                        \
  X(Axpy)                 /* y[i] += alpha * x[i] */                                  \
  X(SumSquares)           /* sum of x[i]^2, accumulated in double */                  \
  X(ReduceStats)          /* sum, sum of squares and max |x| (double, to the host) */ \
  X(SpikeCount)           /* counts[n] += Σ_{t,b} o[t,b,n] (per-neuron activity) */  \
  X(Gemm)                 /* C = alpha * op(A) op(B) + beta * C (row-major) */        \
  X(NeuronForward)        /* ALGORITHM.md §2 */                                      \
  X(NeuronBackward)       /* ALGORITHM.md §3 */                                      \
  X(Conv2dForward)        /* y = conv(x, w), no bias, groups 1 */                     \
  X(Conv2dBackwardData)   /* dx = conv_transpose(dy, w) */                            \
  X(Conv2dBackwardFilter) /* dw = correlation of x with dy */                         \
  X(Pool2dForward)        /* avg / max / adjusted_avg (§5), stride = kernel */       \
  X(Pool2dBackward)       /* the gradient of Pool2dForward */                         \
  X(WeightStdForward)     /* §4 standardisation */                                   \
  X(WeightStdBackward)    /* §4 reference (elementwise) or exact backward */         \
  X(DropoutApply)         /* out = x * mask, mask shared across time (§5) */         \
  X(LabelInject)          /* output-layer label injection (§5) */                    \
  X(CountLoss)            /* §8 count loss */                                        \
  X(KernelLoss)           /* §8 kernel loss */                                       \
  X(TetLoss)              /* §8 TET loss */                                          \
  X(SgdStep)              /* §10 SGD (PyTorch semantics) */                          \
  X(AdamStep)             /* §10 Adam / AdamW (PyTorch semantics) */

enum class Op {
#define EDBP_OP_ENUMERATOR(Name) k##Name,
  EDBP_KERNEL_OPS(EDBP_OP_ENUMERATOR)
#undef EDBP_OP_ENUMERATOR
      kNumOps,  // not an op: the number of ops
};

// Name of an op for logs and errors, e.g. "Conv2dForward".
const char* OpName(Op op);

// ---- elementwise -----------------------------------------------------------------
struct FillArgs {
  int64_t n = 0;
  float value = 0;
  float* out = nullptr;
};
struct ScaleArgs {
  int64_t n = 0;
  float alpha = 1;
  const float* x = nullptr;
  float* out = nullptr;  // may alias x
};
// out[i] = (a[i] * b[i]) * alpha, in that order (the reference multiplies by the
// input first and by 0.85 after, §5). out may alias a or b.
struct MulArgs {
  int64_t n = 0;
  float alpha = 1;
  const float* a = nullptr;
  const float* b = nullptr;
  float* out = nullptr;  // may alias a or b
};
struct AxpyArgs {
  int64_t n = 0;
  float alpha = 1;
  const float* x = nullptr;
  float* y = nullptr;
};
// Writes Σ x[i]² (accumulated in double) to *result, a host pointer.
struct SumSquaresArgs {
  int64_t n = 0;
  const float* x = nullptr;
  double* result = nullptr;  // host memory on every backend
};

// Writes Σx, Σx² and max|x| of x[0..n) (accumulated in double) to *result, a host
// pointer. Deterministic and independent of the thread count. n == 0 gives zeros.
struct ReduceStatsResult {
  double sum = 0;
  double sum_sq = 0;
  double max_abs = 0;
};
struct ReduceStatsArgs {
  int64_t n = 0;
  const float* x = nullptr;
  ReduceStatsResult* result = nullptr;  // host memory on every backend
};
// o: [rows, neurons]: spikes with time and batch folded, or per-sample spike counts
// (NeuronForwardArgs::spike_count); counts: [neurons] in backend memory, accumulated
// into: counts[i] += Σ_r o[r, i]. Whole numbers, so float32 counts are exact up to 2^24
// per neuron.
struct SpikeCountArgs {
  int64_t rows = 0, neurons = 0;
  const float* o = nullptr;
  float* counts = nullptr;
};

// ---- GEMM ------------------------------------------------------------------------
// Row-major: C[m,n] = alpha * op(A)[m,k] · op(B)[k,n] + beta * C[m,n].
// op(A) = A (lda >= k) or Aᵀ (A stored [k,m], lda >= m); likewise B.
struct GemmArgs {
  bool trans_a = false;
  bool trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1;
  const float* a = nullptr;
  int64_t lda = 0;
  const float* b = nullptr;
  int64_t ldb = 0;
  float beta = 0;
  float* c = nullptr;
  int64_t ldc = 0;
};

// ---- neuron (§2, §3) ---------------------------------------------------------------
struct NeuronParams {
  float theta_m = 0;        // float32(1/tau_m)
  float theta_s = 0;        // float32(1/tau_s)
  float theta_grad = 0;     // float32(1/tau_grad); unused for gradient_type original
  float threshold = 1;      // V
  bool leaky = true;        // forward_type leaky (else nonleaky)
  bool exponential = true;  // gradient_type exponential (else original)
};
// input: I[T, n], or [1, n] when static_input (the same current at every step: a
// static first-layer input); outputs du, du_t, o: [T, n]. n = neurons × batch. du and
// du_t are only needed by NeuronBackward and label injection: null skips writing them
// (both for a forward that no backward follows; du_t alone where no grad_in_ will be
// computed, the first layer). spike_count (optional, [n]) receives each neuron's
// number of spikes over the steps, Σ_t o[t, i] (exact in float32), so that activity
// statistics need not read the [T, n] spikes back.
struct NeuronForwardArgs {
  int64_t steps = 0;  // T
  int64_t n = 0;
  NeuronParams params;
  bool static_input = false;
  const float* input = nullptr;
  float* du = nullptr;
  float* du_t = nullptr;
  float* o = nullptr;
  float* spike_count = nullptr;
};
// e: incoming gradient already multiplied by o, [T, n]. syn_a, partial_a: kernel
// tables of length T+1 in backend memory (§1). Outputs grad_w_, grad_in_: [T, n].
// grad_in_ serves only the input gradient: null (the first layer) skips it, and du_t
// is then not read (may be null too). grad_w_sum (optional, [n]) receives
// Σ_t grad_w_[t, i], summed from t = T-1 down to 0 (the order the recurrence runs):
// all that the filter gradient of a layer with a static input needs (§5), so grad_w
// may then be null and the [T, n] tensor is neither written nor read back.
struct NeuronBackwardArgs {
  int64_t steps = 0;
  int64_t n = 0;
  float max_dudt_inv = 123456792.0f;
  const float* e = nullptr;
  const float* o = nullptr;
  const float* du = nullptr;
  const float* du_t = nullptr;
  const float* syn_a = nullptr;
  const float* partial_a = nullptr;
  float* grad_w = nullptr;
  float* grad_in = nullptr;
  float* grad_w_sum = nullptr;
};

// ---- convolution -----------------------------------------------------------------
// x: [n, c_in, h, w]; w: [c_out, c_in, kh, kw]; y: [n, c_out, out_h, out_w].
struct Conv2dShape {
  int64_t n = 0, c_in = 0, h = 0, w = 0;
  int64_t c_out = 0, kh = 0, kw = 0;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dil_h = 1, dil_w = 1;
  int64_t out_h() const { return (h + 2 * pad_h - dil_h * (kh - 1) - 1) / stride_h + 1; }
  int64_t out_w() const { return (w + 2 * pad_w - dil_w * (kw - 1) - 1) / stride_w + 1; }
};
struct Conv2dForwardArgs {
  Conv2dShape shape;
  const float* x = nullptr;
  const float* w = nullptr;
  float* y = nullptr;  // overwritten
};
struct Conv2dBackwardDataArgs {
  Conv2dShape shape;
  const float* dy = nullptr;
  const float* w = nullptr;
  float* dx = nullptr;  // overwritten
};
struct Conv2dBackwardFilterArgs {
  Conv2dShape shape;
  const float* x = nullptr;
  const float* dy = nullptr;
  float* dw = nullptr;  // overwritten
};

// ---- pooling (§5) ------------------------------------------------------------------
enum class PoolType {
  kAvg,          // average pooling, ordinary gradient
  kMax,          // max pooling, gradient to the first maximum of the window
  kAdjustedAvg,  // average forward, §5 adjusted backward
};
// x: [n, c, h, w] → y: [n, c, h/kh, w/kw] (floor; stride = kernel; no padding).
struct Pool2dShape {
  int64_t n = 0, c = 0, h = 0, w = 0;
  int64_t kh = 1, kw = 1;
  int64_t out_h() const { return h / kh; }
  int64_t out_w() const { return w / kw; }
};
struct Pool2dForwardArgs {
  Pool2dShape shape;
  PoolType type = PoolType::kAvg;
  const float* x = nullptr;
  float* y = nullptr;
};
// x and y are the forward's input and output (max uses x to find the argmax,
// adjusted_avg uses y). dx is overwritten.
struct Pool2dBackwardArgs {
  Pool2dShape shape;
  PoolType type = PoolType::kAvg;
  const float* x = nullptr;
  const float* y = nullptr;
  const float* dy = nullptr;
  float* dx = nullptr;
};

// ---- weight standardisation (§4) --------------------------------------------------
// w: [c_out, m] (m = fan-in); g, b: [c_out]. Writes w_hat [c_out, m] and the
// per-channel mean and variance (unbiased, as (std)², §4) used by the backward.
struct WeightStdForwardArgs {
  int64_t c_out = 0, m = 0;
  const float* w = nullptr;
  const float* g = nullptr;
  const float* b = nullptr;
  float* w_hat = nullptr;
  float* mean = nullptr;
  float* var = nullptr;
};
// From grad_w_hat = dL/dŴ. `exact` selects the true gradient instead of the
// reference's elementwise formulas (§4, config weight_norm_backward).
struct WeightStdBackwardArgs {
  int64_t c_out = 0, m = 0;
  bool exact = false;
  const float* grad_w_hat = nullptr;
  const float* w = nullptr;
  const float* g = nullptr;
  const float* b = nullptr;
  const float* mean = nullptr;
  const float* var = nullptr;
  float* grad_w = nullptr;  // overwritten; may alias grad_w_hat (each channel's sums
                            // are read before any of its grad_w is written)
  float* grad_g = nullptr;  // overwritten
  float* grad_b = nullptr;  // overwritten
};

// ---- dropout (§5) -------------------------------------------------------------------
// x, out: [steps, rows, inner]; mask: [rows] (already scaled by 1/(1-p)), shared by
// every step and every inner position. out[t,r,i] = x[t,r,i] * mask[r].
struct DropoutApplyArgs {
  int64_t steps = 0, rows = 0, inner = 0;
  const float* mask = nullptr;
  const float* x = nullptr;
  float* out = nullptr;  // may alias x
};

// ---- output layer (§5) ---------------------------------------------------------------
// du, o: [T, batch, classes]; labels: [batch] int32 in backend memory. Rewrites o in
// place: for each sample, o[t*, b, y] = (du[t*, b, y] != 0) with t* the last step
// where du > 0.05 (0 if none). A label outside [0, classes) is INVALID_ARGUMENT in
// every backend (the labels come from the data set, not from our own code).
struct LabelInjectArgs {
  int64_t steps = 0, batch = 0, classes = 0;
  const float* du = nullptr;
  const int32_t* labels = nullptr;
  float* o = nullptr;
};

// ---- losses (§8)
// ----------------------------------------------------------------------- Common: o [T,
// batch, classes] (after injection); labels [batch] int32 (a label outside [0, classes)
// matches no class; never an out-of-bounds access); grad [T, batch, classes] overwritten
// with dL/do (including the sign, §8); *loss (host pointer) receives the batch's loss as
// a double.
struct CountLossArgs {
  int64_t steps = 0, batch = 0, classes = 0;
  float desired = 0, undesired = 0;
  float sign = -1;  // -1 when loss_reverse (default)
  const float* o = nullptr;
  const int32_t* labels = nullptr;
  float* grad = nullptr;
  double* loss = nullptr;
};
// target: [T] spike train (§8, kernel loss) for the label class; other classes' target
// is all zero. tau_s from the network config, in double: the reference computes
// 1 - 1/tau_s in double and casts the result to float32.
struct KernelLossArgs {
  int64_t steps = 0, batch = 0, classes = 0;
  double tau_s = 1;
  float sign = -1;
  const float* target = nullptr;  // [T], backend memory like every other pointer
  const float* o = nullptr;
  const int32_t* labels = nullptr;
  float* grad = nullptr;
  double* loss = nullptr;
};
struct TetLossArgs {
  int64_t steps = 0, batch = 0, classes = 0;
  // The batch the mean runs over (0: `batch`). A data-parallel rank (issue 18) holds a
  // slice of `mean_batch` samples: its loss and gradient carry 1/(T·mean_batch), so the
  // ranks' sums are the whole batch's.
  int64_t mean_batch = 0;
  float sign = -1;
  const float* o = nullptr;
  const int32_t* labels = nullptr;
  float* grad = nullptr;
  double* loss = nullptr;
};

// ---- optimisers (§10, PyTorch semantics) ---------------------------------------------
// Scalars are double, like PyTorch's Python floats: derived scalars (1 - lr·wd, the
// bias corrections, lr / bias_correction1) are formed in double and cast to float32
// where PyTorch casts them; the elementwise math is float32.
//
// param -= lr * (grad + weight_decay * param)   (no momentum; coupled decay)
struct SgdStepArgs {
  int64_t n = 0;
  double lr = 0, weight_decay = 0;
  float* param = nullptr;
  const float* grad = nullptr;
};
// PyTorch Adam (decoupled = false: grad += wd·p) and AdamW (decoupled = true:
// p *= 1 - lr·wd). `step` is the 1-based step count after this update.
struct AdamStepArgs {
  int64_t n = 0;
  double lr = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled = false;
  int64_t step = 1;
  float* param = nullptr;
  const float* grad = nullptr;
  float* exp_avg = nullptr;
  float* exp_avg_sq = nullptr;
};

}  // namespace edbp::kernels

#endif  // EDBP_KERNELS_OPS_H_
