// The spool of a job's undelivered reports: a file in the run directory where
// edbp-train keeps, in order, every event edbp-server did not acknowledge (the server
// away, paused or restarted, or this process fenced off as a stale attempt). The
// reports are delivered from it in order once a server answers: by the same process,
// by the job's next attempt when it starts, or by the server when the process has
// ended. Together with Event.record (the server stores each training record once) the
// job's history ends up as an uninterrupted server would have recorded it.
//
// Layout (little-endian): the magic "EDBPSPL1", a u64 `delivered` (the byte offset of
// the first entry not yet delivered, from 16), then entries of a u32 length (1 to
// kMaxSpoolEntryBytes) and that many bytes of a serialized edbp.v1.ReportRequest.
// A write cut short by a crash leaves a torn tail: Open cuts the file back to the last
// whole entry. Appends are written with write(2) and not synced: a spool survives
// kill -9 of any process, not a power cut.
//
// Not thread-safe: one owner at a time (the run directory's lock, worker/run_lock.h,
// says which process that is).
#ifndef EDBP_WORKER_REPORT_SPOOL_H_
#define EDBP_WORKER_REPORT_SPOOL_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "edbp/v1/worker.pb.h"

namespace edbp::worker {

// Its name in a run directory.
inline constexpr char kSpoolFile[] = "events.spool";
// An entry larger than this is corrupt (reports are a few KiB).
inline constexpr uint32_t kMaxSpoolEntryBytes = 4u << 20;

class ReportSpool {
 public:
  // Opens `path`, creating an empty spool when it does not exist. Errors name the
  // path: FAILED_PRECONDITION for something that is not a regular file (a link, a
  // FIFO, a directory), DATA_LOSS for a file that is not a spool (wrong magic, a
  // header cut short), the errno text for I/O failures. A `delivered` offset outside
  // the file, an entry length of 0 or over the limit, or a torn tail are repaired
  // (delivered from the first entry again; the file cut at the last whole entry) and
  // described in repair_note().
  static absl::StatusOr<ReportSpool> Open(const std::filesystem::path& path);

  ReportSpool(ReportSpool&& other) noexcept;
  ReportSpool& operator=(ReportSpool&& other) noexcept;
  ReportSpool(const ReportSpool&) = delete;
  ReportSpool& operator=(const ReportSpool&) = delete;
  ~ReportSpool();

  // Appends one report after the others. Errors: the errno text (e.g. ENOSPC); the
  // file is then cut back to its previous end.
  absl::Status Append(const v1::ReportRequest& request);

  struct Entry {
    v1::ReportRequest request;
    uint64_t end = 0;  // offset just past the entry: MarkDelivered(end) consumes it
  };
  // Up to `limit` undelivered entries in order (fewer only at the end). An entry whose
  // bytes do not parse as a ReportRequest is skipped: consumed with the entry before it,
  // or at once when none precedes it, so an empty result means empty().
  absl::StatusOr<std::vector<Entry>> ReadPending(size_t limit);

  // Hands every undelivered report, in order, to `deliver`, and marks each delivered
  // once `deliver` returns OK; stops at the first report it refuses (which stays) and
  // returns that status, or the spool's own read/write error. OK: the spool is empty.
  absl::Status DeliverInOrder(
      const std::function<absl::Status(v1::ReportRequest&)>& deliver);

  // Everything before `end` (an Entry::end) has been delivered. When that is the
  // whole file, the file is cut back to its header.
  absl::Status MarkDelivered(uint64_t end);

  bool empty() const { return delivered_ == size_; }
  uint64_t pending_bytes() const { return size_ - delivered_; }
  const std::string& repair_note() const { return repair_note_; }

 private:
  ReportSpool(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  absl::Status Load();
  absl::Status WriteDelivered(uint64_t delivered);

  int fd_ = -1;
  std::string path_;
  uint64_t delivered_ = 0;  // offset of the first undelivered entry
  uint64_t size_ = 0;       // end of the last whole entry (the file's size)
  std::string repair_note_;
};

}  // namespace edbp::worker

#endif  // EDBP_WORKER_REPORT_SPOOL_H_
