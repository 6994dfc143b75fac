// The collectives a data-parallel run needs (issue 18): W processes ("ranks") train one
// job, each on its slice of every global batch, and agree on everything else through
// these calls. core/ sees only this interface; the MPI implementation lives in dist/
// (the only files that include mpi.h), NCCL's device all-reduce in kernels/cuda, and a
// single process uses LocalCommunicator.
//
// Every call is collective: all ranks make the same calls in the same order with the
// same sizes, or the run hangs or fails. Buffers are host memory, but those of
// AllReduceSumOnDevice. A failed call is a broken run: the caller reports the error and
// ends the process, which ends the other ranks (MPI: mpirun / srun -K1 tear the job
// down when one rank exits with an error).
//
// Ranks that start equal must stay equal: every rank has to get the same bits from an
// AllReduce. LocalCommunicator trivially does; MPI_Allreduce does in Open MPI's
// algorithms for commutative sums (each element is combined in one order, then
// distributed), which the standard recommends but does not promise, so the trainer
// compares a checksum of the parameters across ranks (data_parallel.h) and fails the
// run when they drift.
#ifndef EDBP_CORE_DIST_COMMUNICATOR_H_
#define EDBP_CORE_DIST_COMMUNICATOR_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "kernels/backend.h"

namespace edbp::dist {

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;  // in [0, size)
  virtual int size() const = 0;  // W >= 1
  // Rank among the processes of this node, and their count: a rank on a GPU node takes
  // device local_rank % visible devices.
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;
  // "local" or "mpi": what carries the collectives.
  virtual std::string name() const = 0;

  // data[i] ← Σ_ranks data[i], for i in [0, n), on every rank.
  virtual absl::Status AllReduceSum(float* data, int64_t n) = 0;
  virtual absl::Status AllReduceSum(double* data, int64_t n) = 0;
  // data[i] ← max over ranks of data[i], and min.
  virtual absl::Status AllReduceMax(double* data, int64_t n) = 0;
  virtual absl::Status AllReduceMin(double* data, int64_t n) = 0;
  // AllReduceSum on `n` floats in `backend`'s memory. This default sums a CPU
  // backend's (host) memory in place and a GPU's through a host copy; a communicator
  // with a device collective (NCCL, dist/device_communicator.h) sums on the device.
  virtual absl::Status AllReduceSumOnDevice(kernels::Backend* backend, float* data,
                                            int64_t n);
  // `bytes` bytes of rank `root`'s `data` into every rank's `data`.
  virtual absl::Status Broadcast(void* data, int64_t bytes, int root) = 0;
  virtual absl::Status Barrier() = 0;
  // Ends every rank of the run at once with `code` (after the caller printed why).
  [[noreturn]] virtual void Abort(int code) = 0;
};

// W = 1: every collective is the identity.
class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  std::string name() const override { return "local"; }
  absl::Status AllReduceSum(float*, int64_t) override { return absl::OkStatus(); }
  absl::Status AllReduceSum(double*, int64_t) override { return absl::OkStatus(); }
  absl::Status AllReduceMax(double*, int64_t) override { return absl::OkStatus(); }
  absl::Status AllReduceMin(double*, int64_t) override { return absl::OkStatus(); }
  absl::Status Broadcast(void*, int64_t, int) override { return absl::OkStatus(); }
  absl::Status Barrier() override { return absl::OkStatus(); }
  [[noreturn]] void Abort(int code) override;
};

}  // namespace edbp::dist

#endif  // EDBP_CORE_DIST_COMMUNICATOR_H_
