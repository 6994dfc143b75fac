// worker/metrics_proto.h against the API's descriptors: every field of every message
// the records map to is set from a record whose members are all non-zero, so a field
// added to metrics.proto without a mapping fails here. (The values, field by field,
// are sample_records.h's, checked by reporter_test's ToProtoMapsEpochMetrics.)
#include "worker/metrics_proto.h"

#include <algorithm>
#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "gtest/gtest.h"
#include "tests/unit/worker/sample_records.h"

namespace edbp::worker {
namespace {

using testing::SampleCheckpoint;
using testing::SampleEpoch;
using testing::SampleProgress;

// The fields of `message` (and of its sub-messages, each element of repeated ones) that
// are unset: proto3 scalars at their default, empty repeated fields.
void CollectUnset(const google::protobuf::Message& message, const std::string& prefix,
                  std::vector<std::string>* unset) {
  const google::protobuf::Descriptor* d = message.GetDescriptor();
  const google::protobuf::Reflection* r = message.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    const std::string path = prefix + f->name();
    if (f->is_repeated()) {
      const int n = r->FieldSize(message, f);
      if (n == 0) unset->push_back(path);
      if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
        for (int k = 0; k < n; ++k) {
          CollectUnset(r->GetRepeatedMessage(message, f, k),
                       path + "[" + std::to_string(k) + "].", unset);
        }
      }
    } else if (!r->HasField(message, f)) {
      unset->push_back(path);
    } else if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      CollectUnset(r->GetMessage(message, f), path + ".", unset);
    }
  }
}

std::vector<std::string> Unset(const google::protobuf::Message& message) {
  std::vector<std::string> unset;
  CollectUnset(message, message.GetDescriptor()->full_name() + ".", &unset);
  return unset;
}

train::LayerStats FullLayer(int i) {
  return {.name = "conv_" + std::to_string(i),
          .index = 3 + i,
          .grad_norm = 1.5,
          .grad_mean = -0.25,
          .grad_max_abs = 2.5,
          .grad_sum_in = 3.5,
          .grad_sum_out = 4.5,
          .firing_rate = 0.125,
          .silent_fraction = 0.0625,
          .weight_norm = 5.5,
          .update_ratio = 0.001};
}

TEST(MetricsProtoTest, EveryEpochMetricsFieldIsMapped) {
  train::EpochMetrics m = SampleEpoch();
  // SampleEpoch's first layer has index 0, which proto3 cannot tell from unset.
  m.layers = {FullLayer(0), FullLayer(1)};
  EXPECT_EQ(Unset(ToProto(m)), std::vector<std::string>{});
}

TEST(MetricsProtoTest, EveryProgressFieldIsMapped) {
  EXPECT_EQ(Unset(ToProto(SampleProgress())), std::vector<std::string>{});
}

TEST(MetricsProtoTest, EveryCheckpointSavedFieldIsMapped) {
  EXPECT_EQ(Unset(ToProto(SampleCheckpoint())), std::vector<std::string>{});
}

// The check itself: a message with one field left out is reported by that field.
TEST(MetricsProtoTest, AnUnsetFieldIsNamed) {
  train::EpochMetrics m;
  m.epoch = 1;
  m.layers = {FullLayer(0)};
  m.layers[0].update_ratio = 0;
  const std::vector<std::string> unset = Unset(ToProto(m));
  EXPECT_NE(std::find(unset.begin(), unset.end(), "edbp.v1.EpochMetrics.learning_rate"),
            unset.end());
  EXPECT_NE(std::find(unset.begin(), unset.end(),
                      "edbp.v1.EpochMetrics.layers[0].update_ratio"),
            unset.end());
  EXPECT_EQ(std::find(unset.begin(), unset.end(), "edbp.v1.EpochMetrics.epoch"),
            unset.end());
}

}  // namespace
}  // namespace edbp::worker
