// The one mapping of edbp-train's records (core/train/metrics.h) to the API's messages
// (proto/edbp/v1/metrics.proto, job.proto). Every member of a record has its field
// (CheckpointRecord::path made absolute). A new member fails the build
// (metrics_proto.cc counts them) and a new proto field fails metrics_proto_test (it
// reads the descriptors).
#ifndef EDBP_WORKER_METRICS_PROTO_H_
#define EDBP_WORKER_METRICS_PROTO_H_

#include "core/train/metrics.h"
#include "edbp/v1/training_service.pb.h"

namespace edbp::worker {

v1::EpochMetrics ToProto(const train::EpochMetrics& m);
v1::Progress ToProto(const train::ProgressRecord& r);
v1::CheckpointSaved ToProto(const train::CheckpointRecord& r);

}  // namespace edbp::worker

#endif  // EDBP_WORKER_METRICS_PROTO_H_
