#include "dist/device_communicator.h"

#include <cstdlib>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "kernels/device_collective.h"
#include "kernels/registry.h"

namespace edbp::dist {
namespace {

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(Communicator* host, kernels::Backend* backend,
                   std::unique_ptr<kernels::DeviceCollective> device)
      : host_(host), backend_(backend), device_(std::move(device)) {}

  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }
  int local_rank() const override { return host_->local_rank(); }
  int local_size() const override { return host_->local_size(); }
  std::string name() const override { return "nccl over " + host_->name(); }
  absl::Status AllReduceSum(float* data, int64_t n) override {
    return host_->AllReduceSum(data, n);
  }
  absl::Status AllReduceSum(double* data, int64_t n) override {
    return host_->AllReduceSum(data, n);
  }
  absl::Status AllReduceMax(double* data, int64_t n) override {
    return host_->AllReduceMax(data, n);
  }
  absl::Status AllReduceMin(double* data, int64_t n) override {
    return host_->AllReduceMin(data, n);
  }
  absl::Status AllReduceSumOnDevice(kernels::Backend* backend, float* data,
                                    int64_t n) override {
    if (backend != backend_) return Communicator::AllReduceSumOnDevice(backend, data, n);
    return device_->AllReduceSum(data, n);
  }
  absl::Status Broadcast(void* data, int64_t bytes, int root) override {
    return host_->Broadcast(data, bytes, root);
  }
  absl::Status Barrier() override { return host_->Barrier(); }
  [[noreturn]] void Abort(int code) override {
    host_->Abort(code);
    std::abort();  // the host's Abort does not return
  }

 private:
  Communicator* const host_;
  kernels::Backend* const backend_;
  std::unique_ptr<kernels::DeviceCollective> device_;
};

}  // namespace

bool CanUseNccl(const Communicator& host, const kernels::Backend& backend,
                std::string* why_not) {
  const auto no = [why_not](std::string reason) {
    *why_not = std::move(reason);
    return false;
  };
  if (host.size() < 2) return no("one rank");
  if (backend.device().type != kernels::DeviceType::kCuda) return no("not on a GPU");
  if (const char* env = std::getenv("EDBP_COLLECTIVES");
      env != nullptr && std::string_view(env) == "mpi") {
    return no("EDBP_COLLECTIVES=mpi");
  }
  if (!kernels::NcclCompiledIn()) return no("this build has no NCCL");
  if (const int devices = kernels::CudaDeviceCount(); host.local_size() > devices) {
    return no(absl::StrCat(host.local_size(), " ranks on this node share ", devices,
                           " GPU(s); NCCL needs one each"));
  }
  why_not->clear();
  return true;
}

absl::StatusOr<std::unique_ptr<Communicator>> WithNccl(Communicator* host,
                                                       kernels::Backend* backend) {
  EDBP_CHECK(host != nullptr && backend != nullptr);
  // Rank 0 makes the id; whether it could is sent first, so that a failure there fails
  // every rank alike instead of leaving them waiting for an id.
  std::string id;
  std::string error;
  if (host->rank() == 0) {
    absl::StatusOr<std::string> made = kernels::NcclGroupId();
    if (made.ok()) {
      id = *std::move(made);
    } else {
      error = std::string(made.status().message());
    }
  }
  uint64_t sizes[2] = {id.size(), error.size()};
  EDBP_RETURN_IF_ERROR(host->Broadcast(sizes, sizeof(sizes), 0));
  id.resize(sizes[0]);
  error.resize(sizes[1]);
  EDBP_RETURN_IF_ERROR(host->Broadcast(id.data(), static_cast<int64_t>(id.size()), 0));
  EDBP_RETURN_IF_ERROR(
      host->Broadcast(error.data(), static_cast<int64_t>(error.size()), 0));
  if (!error.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("rank 0 could not make an NCCL group: ", error));
  }
  EDBP_ASSIGN_OR_RETURN(std::unique_ptr<kernels::DeviceCollective> device,
                        kernels::NcclJoin(id, host->size(), host->rank(), backend));
  return std::unique_ptr<Communicator>(
      std::make_unique<NcclCommunicator>(host, backend, std::move(device)));
}

}  // namespace edbp::dist
