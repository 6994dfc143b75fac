#include "dist/mpi_communicator.h"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace edbp::dist {
namespace {

absl::Status MpiError(const char* call, int code) {
  if (code == MPI_SUCCESS) return absl::OkStatus();
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  return absl::UnavailableError(
      absl::StrCat(call, " failed: ", std::string(text, static_cast<size_t>(length))));
}

// Calls fn(offset, count) over [0, n) in pieces MPI's int counts can hold.
template <typename Fn>
absl::Status InPieces(int64_t n, Fn fn) {
  for (int64_t at = 0; at < n; at += INT_MAX) {
    const int count = static_cast<int>(std::min<int64_t>(INT_MAX, n - at));
    if (absl::Status s = fn(at, count); !s.ok()) return s;
  }
  return absl::OkStatus();
}

class MpiCommunicator final : public Communicator {
 public:
  ~MpiCommunicator() override {
    if (node_ != MPI_COMM_NULL) MPI_Comm_free(&node_);
    if (initialized_) MPI_Finalize();
  }

  absl::Status Init() {
    int provided = 0;
    EDBP_RETURN_IF_ERROR(
        MpiError("MPI_Init_thread",
                 MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided)));
    initialized_ = true;
    // Errors come back as codes, not as an abort inside MPI.
    EDBP_RETURN_IF_ERROR(
        MpiError("MPI_Comm_set_errhandler",
                 MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN)));
    EDBP_RETURN_IF_ERROR(
        MpiError("MPI_Comm_rank", MPI_Comm_rank(MPI_COMM_WORLD, &rank_)));
    EDBP_RETURN_IF_ERROR(
        MpiError("MPI_Comm_size", MPI_Comm_size(MPI_COMM_WORLD, &size_)));
    EDBP_RETURN_IF_ERROR(MpiError(
        "MPI_Comm_split_type", MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED,
                                                   rank_, MPI_INFO_NULL, &node_)));
    EDBP_RETURN_IF_ERROR(MpiError("MPI_Comm_rank", MPI_Comm_rank(node_, &local_rank_)));
    EDBP_RETURN_IF_ERROR(MpiError("MPI_Comm_size", MPI_Comm_size(node_, &local_size_)));
    return absl::OkStatus();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  std::string name() const override { return "mpi"; }

  absl::Status AllReduceSum(float* data, int64_t n) override {
    return AllReduce(data, n, MPI_FLOAT, MPI_SUM);
  }
  absl::Status AllReduceSum(double* data, int64_t n) override {
    return AllReduce(data, n, MPI_DOUBLE, MPI_SUM);
  }
  absl::Status AllReduceMax(double* data, int64_t n) override {
    return AllReduce(data, n, MPI_DOUBLE, MPI_MAX);
  }
  absl::Status AllReduceMin(double* data, int64_t n) override {
    return AllReduce(data, n, MPI_DOUBLE, MPI_MIN);
  }
  absl::Status Broadcast(void* data, int64_t bytes, int root) override {
    return InPieces(bytes, [&](int64_t at, int count) {
      return MpiError("MPI_Bcast", MPI_Bcast(static_cast<char*>(data) + at, count,
                                             MPI_BYTE, root, MPI_COMM_WORLD));
    });
  }
  absl::Status Barrier() override {
    return MpiError("MPI_Barrier", MPI_Barrier(MPI_COMM_WORLD));
  }
  [[noreturn]] void Abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::abort();  // MPI_Abort does not return; if it did, end anyway
  }

 private:
  template <typename T>
  absl::Status AllReduce(T* data, int64_t n, MPI_Datatype type, MPI_Op op) {
    return InPieces(n, [&](int64_t at, int count) {
      return MpiError("MPI_Allreduce", MPI_Allreduce(MPI_IN_PLACE, data + at, count, type,
                                                     op, MPI_COMM_WORLD));
    });
  }

  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  MPI_Comm node_ = MPI_COMM_NULL;
  bool initialized_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Communicator>> CreateMpiCommunicator() {
  auto comm = std::make_unique<MpiCommunicator>();
  if (absl::Status s = comm->Init(); !s.ok()) return s;
  return comm;
}

}  // namespace edbp::dist
