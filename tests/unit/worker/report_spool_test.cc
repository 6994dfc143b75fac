// worker/report_spool.h: reports kept in order across processes, delivered once, and a
// damaged file repaired or refused with its name, never an abort or a giant allocation.
#include "worker/report_spool.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/process_util.h"
#include "tests/temp_dir.h"

namespace edbp::worker {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

v1::ReportRequest Report(int n) {
  v1::ReportRequest r;
  r.set_job_id("7");
  r.set_attempt(2);
  r.mutable_event()->set_record(n);
  r.mutable_event()->mutable_log()->set_text("line " + std::to_string(n));
  return r;
}

std::vector<int64_t> Records(const std::vector<ReportSpool::Entry>& entries) {
  std::vector<int64_t> out;
  out.reserve(entries.size());
  for (const auto& e : entries) out.push_back(e.request.event().record());
  return out;
}

void AppendBytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::app) << bytes;
}

std::string U32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

TEST(ReportSpoolTest, KeepsReportsInOrderAcrossReopensUntilDelivered) {
  const testing::TempDir dir("spool");
  const fs::path path = dir / kSpoolFile;
  {
    absl::StatusOr<ReportSpool> spool = ReportSpool::Open(path);
    ASSERT_TRUE(spool.ok()) << spool.status();
    EXPECT_TRUE(spool->empty());
    EXPECT_EQ(fs::file_size(path), 16u);
    for (int n = 1; n <= 5; ++n) ASSERT_TRUE(spool->Append(Report(n)).ok());
    EXPECT_FALSE(spool->empty());
  }
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  absl::StatusOr<ReportSpool> spool = ReportSpool::Open(path);
  ASSERT_TRUE(spool.ok()) << spool.status();
  EXPECT_TRUE(spool->repair_note().empty());
  absl::StatusOr<std::vector<ReportSpool::Entry>> two = spool->ReadPending(2);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(Records(*two), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(two->at(1).request.attempt(), 2);
  EXPECT_EQ(two->at(1).request.event().log().text(), "line 2");
  ASSERT_TRUE(spool->MarkDelivered(two->at(1).end).ok());
  // A new process sees only what is left, then what it adds.
  spool = ReportSpool::Open(path);
  ASSERT_TRUE(spool.ok());
  ASSERT_TRUE(spool->Append(Report(6)).ok());
  absl::StatusOr<std::vector<ReportSpool::Entry>> rest = spool->ReadPending(100);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(Records(*rest), (std::vector<int64_t>{3, 4, 5, 6}));
  ASSERT_TRUE(spool->MarkDelivered(rest->back().end).ok());
  EXPECT_TRUE(spool->empty());
  EXPECT_EQ(fs::file_size(path), 16u);  // cut back to its header
  EXPECT_TRUE(ReportSpool::Open(path)->empty());
  EXPECT_TRUE(absl::IsInvalidArgument(spool->MarkDelivered(1000)));
}

TEST(ReportSpoolTest, DeliverInOrderStopsAtTheFirstRefusalWhichStays) {
  const testing::TempDir dir("spool");
  absl::StatusOr<ReportSpool> spool = ReportSpool::Open(dir / kSpoolFile);
  ASSERT_TRUE(spool.ok());
  for (int n = 1; n <= 4; ++n) ASSERT_TRUE(spool->Append(Report(n)).ok());
  std::vector<int64_t> seen;
  const absl::Status refused = spool->DeliverInOrder([&](v1::ReportRequest& r) {
    seen.push_back(r.event().record());
    return r.event().record() == 3 ? absl::UnavailableError("away") : absl::OkStatus();
  });
  EXPECT_TRUE(absl::IsUnavailable(refused)) << refused;
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(Records(*spool->ReadPending(10)), (std::vector<int64_t>{3, 4}));
  seen.clear();
  EXPECT_TRUE(spool
                  ->DeliverInOrder([&](v1::ReportRequest& r) {
                    seen.push_back(r.event().record());
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(seen, (std::vector<int64_t>{3, 4}));
  EXPECT_TRUE(spool->empty());
}

TEST(ReportSpoolTest, ATornTailIsCutAndAppendsFollowTheLastWholeEntry) {
  const testing::TempDir dir("spool");
  const fs::path path = dir / kSpoolFile;
  ASSERT_TRUE(ReportSpool::Open(path)->Append(Report(1)).ok());
  const std::string whole = Report(2).SerializeAsString();
  // Every cut of a second entry, from its length's first byte to its last byte but one.
  const uintmax_t base = fs::file_size(path);
  for (size_t cut = 1; cut < 4 + whole.size(); ++cut) {
    SCOPED_TRACE(cut);
    fs::resize_file(path, base);
    AppendBytes(path, (U32(static_cast<uint32_t>(whole.size())) + whole).substr(0, cut));
    absl::StatusOr<ReportSpool> spool = ReportSpool::Open(path);
    ASSERT_TRUE(spool.ok()) << spool.status();
    EXPECT_THAT(spool->repair_note(), HasSubstr("a write cut short"));
    EXPECT_EQ(fs::file_size(path), base);
    ASSERT_TRUE(spool->Append(Report(3)).ok());
    EXPECT_EQ(Records(*spool->ReadPending(10)), (std::vector<int64_t>{1, 3}));
  }
}

TEST(ReportSpoolTest, LengthsThatLieAndGarbageAreRepairedWithoutAllocating) {
  const testing::TempDir dir("spool");
  const fs::path path = dir / kSpoolFile;
  ASSERT_TRUE(ReportSpool::Open(path)->Append(Report(1)).ok());
  const uintmax_t base = fs::file_size(path);
  const int64_t peak_before = testing::PeakResidentKiB();
  for (const uint32_t lie : {0u, kMaxSpoolEntryBytes + 1, 0xffffffffu}) {
    SCOPED_TRACE(lie);
    fs::resize_file(path, base);
    AppendBytes(path, U32(lie) + "xyz");
    absl::StatusOr<ReportSpool> spool = ReportSpool::Open(path);
    ASSERT_TRUE(spool.ok()) << spool.status();
    EXPECT_THAT(spool->repair_note(), HasSubstr("entry length"));
    EXPECT_EQ(Records(*spool->ReadPending(10)), (std::vector<int64_t>{1}));
  }
  EXPECT_LT(testing::PeakResidentKiB() - peak_before, 64 * 1024);
  // An entry of bytes that are no ReportRequest is skipped, in front or behind.
  fs::resize_file(path, 16);
  AppendBytes(path, U32(3) + "\xff\xff\xff");
  {
    absl::StatusOr<ReportSpool> spool = ReportSpool::Open(path);
    ASSERT_TRUE(spool.ok());
    ASSERT_TRUE(spool->Append(Report(4)).ok());
    AppendBytes(path, "");  // no change
    absl::StatusOr<std::vector<ReportSpool::Entry>> got = spool->ReadPending(10);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(Records(*got), (std::vector<int64_t>{4}));
    ASSERT_TRUE(spool->MarkDelivered(got->back().end).ok());
    EXPECT_TRUE(spool->empty());
  }
  // A delivered offset outside the file: everything is delivered again.
  {
    absl::StatusOr<ReportSpool> spool = ReportSpool::Open(path);
    ASSERT_TRUE(spool->Append(Report(5)).ok());
  }
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8);
    f.write("\xff\xff\xff\xff\xff\xff\xff\x7f", 8);
  }
  absl::StatusOr<ReportSpool> spool = ReportSpool::Open(path);
  ASSERT_TRUE(spool.ok());
  EXPECT_THAT(spool->repair_note(), HasSubstr("outside the file"));
  EXPECT_EQ(Records(*spool->ReadPending(10)), (std::vector<int64_t>{5}));
}

TEST(ReportSpoolTest, WhatIsNoSpoolIsRefusedByName) {
  const testing::TempDir dir("spool");
  std::ofstream(dir / "short") << "EDBP";
  std::ofstream(dir / "magic") << "NOTASPOOL-------entries";
  for (const char* name : {"short", "magic"}) {
    absl::StatusOr<ReportSpool> spool = ReportSpool::Open(dir / name);
    EXPECT_TRUE(absl::IsDataLoss(spool.status())) << name << ": " << spool.status();
    EXPECT_THAT(spool.status().message(), HasSubstr(name));
  }
  ASSERT_EQ(mkfifo((dir / "fifo").c_str(), 0600), 0);
  EXPECT_TRUE(absl::IsFailedPrecondition(ReportSpool::Open(dir / "fifo").status()));
  fs::create_directory(dir / "adir");
  EXPECT_FALSE(ReportSpool::Open(dir / "adir").ok());
  fs::create_symlink("/dev/zero", dir / "link");
  absl::StatusOr<ReportSpool> link = ReportSpool::Open(dir / "link");
  EXPECT_TRUE(absl::IsFailedPrecondition(link.status())) << link.status();
  EXPECT_THAT(link.status().message(), HasSubstr("symbolic link"));
}

}  // namespace
}  // namespace edbp::worker
