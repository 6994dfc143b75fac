// edbp-client's text renderings.
#include "client/cli/format.h"

#include <cstdint>
#include <limits>

#include "base/job_name.h"
#include "core/train/statistics.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace edbp::cli {
namespace {

using ::testing::HasSubstr;

TEST(FormatTest, SmallValues) {
  EXPECT_EQ(FormatPercent(-1), "-");
  EXPECT_EQ(FormatPercent(0.91234), "91.23%");
  EXPECT_EQ(FormatPercent(0), "0.00%");
  EXPECT_EQ(FormatTime(google::protobuf::Timestamp()), "-");
  EXPECT_EQ(ShortJobId("jobs/17"), "17");
  EXPECT_EQ(StateName(v1::CANCELLED), "CANCELLED");
}

TEST(FormatTest, PaddingCountsCodePoints) {
  EXPECT_EQ(PadLeft("Σin", 5), "  Σin");
  EXPECT_EQ(PadRight("Σin", 5), "Σin  ");
  EXPECT_EQ(PadLeft("toolong", 3), "toolong");
}

TEST(FormatTest, JobTableAlignsColumns) {
  v1::Job a;
  a.set_name("jobs/7");
  a.set_display_name("mnist");
  a.set_state(v1::RUNNING);
  a.set_last_epoch(3);
  a.set_epochs(10);
  a.set_best_test_accuracy(0.5);
  a.set_device("cuda:1");
  v1::Job b;
  b.set_name("jobs/12");
  b.set_state(v1::QUEUED);
  b.set_priority(-2);
  b.set_best_test_accuracy(-1);
  EXPECT_EQ(FormatJobTable({a, b}),
            "ID  NAME   STATE    PRIORITY  EPOCH  BEST_ACC  DEVICE  CREATED\n"
            " 7  mnist  RUNNING         0   3/10    50.00%  cuda:1  -\n"
            "12  -      QUEUED         -2    0/0         -  -       -\n");
}

TEST(FormatTest, EpochRowAndLayerTable) {
  v1::EpochMetrics m;
  m.set_epoch(3);
  m.set_epochs(10);
  m.set_train_loss(1.5);
  m.set_train_accuracy(0.5);
  m.set_test_loss(2);
  m.set_test_accuracy(0.25);
  m.set_learning_rate(0.01);
  m.set_seconds(3);
  m.set_train_samples_per_second(100);
  // edbp-train's console table, column for column (core/train/statistics.h).
  EXPECT_EQ(FormatEpochRow(m),
            "   3/10      1.5000     50.00%     2.0000     25.00%       0.01        3.0  "
            "          100.0\n");
  EXPECT_EQ(FormatEpochRow(m), train::EpochTableRow(ToTrainMetrics(m)));
  EXPECT_EQ(FormatLayerTable(m), "");
  v1::LayerGradientStats* l = m.add_layers();
  l->set_name("conv_10");
  l->set_grad_norm(1e-4);
  l->set_grad_sum_in(0.5);
  l->set_grad_sum_out(-0.25);
  l->set_firing_rate(0.03);
  l->set_silent_fraction(0.125);
  l->set_weight_norm(12);
  l->set_update_ratio(2e-5);
  EXPECT_EQ(
      FormatLayerTable(m),
      "    layer      ‖dL/dW‖  mean dL/dW  max |dL/dW|  Σ dL/dt in  Σ dL/dx out  rate  "
      "silent  ‖W‖   ‖ΔW‖/‖W‖\n"
      "    conv_10  1.000e-04   0.000e+00    0.000e+00         0.5        -0.25  0.03  "
      " 12.5%   12  2.000e-05\n");
  EXPECT_EQ(FormatEpochHeader(), train::EpochTableHeader());
  EXPECT_THAT(FormatEpochHeader(), HasSubstr("train loss"));
}

// The API's messages and edbp-train's records are one vocabulary: every statistic is a
// field of the message under its name, and every field of the messages is mapped.
TEST(FormatTest, TheApiNamesEveryStatisticAsTheVocabularyDoes) {
  const google::protobuf::Descriptor* epoch = v1::EpochMetrics::descriptor();
  for (const train::EpochStatistic& s : train::EpochStatistics()) {
    EXPECT_NE(epoch->FindFieldByName(std::string(s.name)), nullptr) << s.name;
  }
  const google::protobuf::Descriptor* layer = v1::LayerGradientStats::descriptor();
  for (const train::LayerStatistic& s : train::LayerStatistics()) {
    EXPECT_NE(layer->FindFieldByName(std::string(s.name)), nullptr) << s.name;
  }
  // Fields that are no statistics: n_class, confusion, layers, best; name and index.
  EXPECT_EQ(static_cast<size_t>(epoch->field_count()),
            train::EpochStatistics().size() + 4);
  EXPECT_EQ(static_cast<size_t>(layer->field_count()),
            train::LayerStatistics().size() + 2);
  // ToTrainMetrics maps each one: distinct values come back where they went in.
  v1::EpochMetrics m;
  const google::protobuf::Reflection* r = m.GetReflection();
  double next = 1;
  for (const train::EpochStatistic& s : train::EpochStatistics()) {
    const google::protobuf::FieldDescriptor* f =
        epoch->FindFieldByName(std::string(s.name));
    if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_INT64) {
      r->SetInt64(&m, f, static_cast<int64_t>(next));
    } else {
      r->SetDouble(&m, f, next + 0.5);
    }
    next += 1;
  }
  v1::LayerGradientStats* l = m.add_layers();
  for (const train::LayerStatistic& s : train::LayerStatistics()) {
    l->GetReflection()->SetDouble(l, layer->FindFieldByName(std::string(s.name)), next);
    next += 1;
  }
  const train::EpochMetrics t = ToTrainMetrics(m);
  for (const train::EpochStatistic& s : train::EpochStatistics()) {
    const google::protobuf::FieldDescriptor* f =
        epoch->FindFieldByName(std::string(s.name));
    const double want = f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_INT64
                            ? static_cast<double>(r->GetInt64(m, f))
                            : r->GetDouble(m, f);
    EXPECT_EQ(s.get(t), want) << s.name;
  }
  ASSERT_EQ(t.layers.size(), 1u);
  for (const train::LayerStatistic& s : train::LayerStatistics()) {
    EXPECT_EQ(s.get(t.layers[0]), l->GetReflection()->GetDouble(
                                      *l, layer->FindFieldByName(std::string(s.name))))
        << s.name;
  }
}

TEST(FormatTest, EventLines) {
  v1::StateChange running;
  running.set_state(v1::RUNNING);
  running.set_device("cuda:0");
  EXPECT_EQ(FormatStateChange(running), "state: RUNNING on cuda:0\n");
  v1::StateChange failed;
  failed.set_state(v1::FAILED);
  failed.set_error("killed");
  EXPECT_EQ(FormatStateChange(failed), "state: FAILED: killed\n");
  v1::CheckpointSaved saved;
  saved.set_epoch(4);
  saved.set_kind("best");
  EXPECT_EQ(FormatCheckpoint(saved), "checkpoint: best saved after epoch 4\n");
  v1::LogLine log;
  log.set_level(v1::LogLine::ERROR);
  log.set_text("boom\n");
  EXPECT_EQ(FormatLogLine(google::protobuf::Timestamp(), log), "- ERROR boom\n");
  v1::Progress p;
  p.set_epoch(2);
  p.set_batch(25);
  p.set_batches(100);
  EXPECT_EQ(FormatProgress(p, /*bar=*/true),
            "epoch 2  [#####...............] batch 25/100  loss 0.0000  acc 0.00%  "
            "0 samples/s  eta 0s");
  // The test pass, with the job's time left.
  p.set_phase(v1::Progress::TEST);
  p.set_batch(3);
  p.set_batches(4);
  p.set_running_accuracy(0.5);
  p.set_eta_seconds(2.4);
  EXPECT_EQ(FormatProgress(p, /*bar=*/false, 185.2),
            "epoch 2  test batch 3/4  loss 0.0000  acc 50.00%  0 samples/s  eta 2s  "
            "job eta 3m 05s");
  saved.set_path("/data/jobs/3/checkpoint_best.safetensors");
  EXPECT_EQ(FormatCheckpoint(saved),
            "checkpoint: best saved after epoch 4: "
            "/data/jobs/3/checkpoint_best.safetensors\n");
}

// Issue 19: the batches between a job's progress records; none stored before then.
TEST(FormatTest, JobDetailsShowProgressEvery) {
  v1::Job job;
  job.set_name("jobs/1");
  EXPECT_THAT(FormatJobDetails(job),
              HasSubstr("\nprogress:       - (edbp-train's default)\n"));
  job.set_progress_every(4);
  EXPECT_THAT(FormatJobDetails(job), HasSubstr("\nprogress:       every 4 batches\n"));
  job.set_progress_every(0);
  EXPECT_THAT(FormatJobDetails(job),
              HasSubstr("\nprogress:       none (progress every 0 batches)\n"));
}

TEST(FormatTest, DurationsInSecondsMinutesOrHours) {
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(42.4), "42s");
  EXPECT_EQ(FormatDuration(59.6), "1m 00s");
  EXPECT_EQ(FormatDuration(185), "3m 05s");
  EXPECT_EQ(FormatDuration(7620), "2h 07m");
  EXPECT_EQ(FormatDuration(-1), "-");
  EXPECT_EQ(FormatDuration(std::numeric_limits<double>::quiet_NaN()), "-");
  EXPECT_EQ(FormatDuration(std::numeric_limits<double>::infinity()), "-");
}

TEST(FormatTest, JsonUsesProtoFieldNames) {
  v1::Job job;
  job.set_name("jobs/1");
  job.set_last_epoch(2);
  const std::string json = ToJson(job);
  EXPECT_THAT(json, HasSubstr("\"name\":\"jobs/1\""));
  EXPECT_THAT(json, HasSubstr("\"last_epoch\":2"));  // 64-bit integers as numbers
  EXPECT_THAT(json, HasSubstr("\"priority\":0"));    // defaults are printed too
  EXPECT_EQ(json.find('\n'), std::string::npos);
  // Fields keep the message's order.
  EXPECT_LT(json.find("\"name\""), json.find("\"last_epoch\""));
}

// The numbers of every JSON view (--output json, the dashboard): 64-bit integers as JSON
// numbers at any depth, exact to 2^63 - 1; "no best accuracy yet" (-1) as null.
TEST(FormatTest, JsonWritesIntegersAsNumbersAndNoBestAsNull) {
  v1::Job job;
  job.set_name("jobs/9");
  job.set_last_sequence(std::numeric_limits<int64_t>::max());
  job.set_seed(18446744073709551615u);
  job.set_best_test_accuracy(-1);
  nlohmann::json doc = nlohmann::json::parse(ToJson(job));
  EXPECT_EQ(doc["last_sequence"], std::numeric_limits<int64_t>::max());
  EXPECT_EQ(doc["seed"].get<uint64_t>(), 18446744073709551615u);
  EXPECT_TRUE(doc["best_test_accuracy"].is_null());
  job.set_best_test_accuracy(0.75);
  EXPECT_EQ(nlohmann::json::parse(ToJson(job))["best_test_accuracy"], 0.75);
  job.set_best_test_accuracy(0);  // a real 0 % is no "none"
  EXPECT_EQ(nlohmann::json::parse(ToJson(job))["best_test_accuracy"], 0);

  v1::Event event;
  event.set_sequence(12);
  v1::EpochMetrics* m = event.mutable_epoch_metrics();
  m->set_epoch(3);
  m->add_confusion(5);
  m->add_confusion(7);
  m->add_layers()->set_index(4);
  doc = nlohmann::json::parse(ToJson(event));
  EXPECT_EQ(doc["sequence"], 12);
  EXPECT_EQ(doc["epoch_metrics"]["epoch"], 3);
  EXPECT_EQ(doc["epoch_metrics"]["confusion"], nlohmann::json({5, 7}));
  EXPECT_EQ(doc["epoch_metrics"]["layers"][0]["index"], 4);
  EXPECT_EQ(doc["epoch_metrics"]["learning_rate"], 0);  // the vocabulary's name
  // Timestamps stay RFC 3339 strings.
  event.mutable_time()->set_seconds(1);
  EXPECT_EQ(nlohmann::json::parse(ToJson(event))["time"], "1970-01-01T00:00:01Z");
}

}  // namespace
}  // namespace edbp::cli
