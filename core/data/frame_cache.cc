#include "core/data/frame_cache.h"

#include <unistd.h>

#include <bit>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace edbp::data {
namespace {

constexpr char kMagic[8] = {'E', 'D', 'B', 'P', 'F', 'R', 'M', 'C'};

// Appends the bytes of trivially copyable values (the host is little-endian: checked
// below, the only hosts edbp builds for).
class Writer {
 public:
  template <typename T>
  void Put(const T& v) {
    Append(&v, sizeof(T));
  }
  void Append(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string& bytes() { return out_; }

 private:
  std::string out_;
};

// Reads values from a byte range; fails (returns false) instead of reading past it.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  template <typename T>
  bool Get(T* v) {
    return Copy(v, sizeof(T));
  }
  bool Copy(void* dst, size_t n) {
    if (n > bytes_.size() - pos_) return false;
    if (n == 0) return true;  // dst may be null (an empty vector's data()): no memcpy
    std::memcpy(dst, bytes_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  size_t left() const { return bytes_.size() - pos_; }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

static_assert(std::endian::native == std::endian::little,
              "the frame cache layout is little-endian");

}  // namespace

uint64_t Fnv1a64(const void* data, size_t n, uint64_t hash) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) {
    hash ^= p[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

std::string FrameCacheKey::Text() const {
  char listing_hex[17];
  std::snprintf(listing_hex, sizeof(listing_hex), "%016llx",
                static_cast<unsigned long long>(listing));
  return absl::StrCat(dataset, "|", source, "|", split, "|T=", n_steps,
                      "|files=", listing_hex);
}

std::string FrameCachePath(const std::string& cache_dir, const FrameCacheKey& key) {
  const std::string text = key.Text();
  char hash_hex[17];
  std::snprintf(hash_hex, sizeof(hash_hex), "%016llx",
                static_cast<unsigned long long>(Fnv1a64(text.data(), text.size())));
  return (std::filesystem::path(cache_dir) / absl::StrCat(key.dataset, "_", key.split,
                                                          "_T", key.n_steps, "_",
                                                          hash_hex, ".frames"))
      .string();
}

std::optional<Dataset> ReadFrameCache(const std::string& path, const FrameCacheKey& key,
                                      FrameCacheOutcome* outcome, std::string* reason) {
  auto corrupt = [&](std::string why) -> std::optional<Dataset> {
    *outcome = FrameCacheOutcome::kCorrupt;
    *reason = std::move(why);
    return std::nullopt;
  };
  // A FIFO would block the open forever and a link to a device never end: only a
  // regular file is read (a rebuilt cache is renamed over whatever is there).
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(status) &&
      !std::filesystem::is_regular_file(status)) {
    return corrupt("not a regular file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *outcome = FrameCacheOutcome::kMissing;
    *reason = "no cache file";
    return std::nullopt;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  auto stale = [&](std::string why) -> std::optional<Dataset> {
    *outcome = FrameCacheOutcome::kStale;
    *reason = std::move(why);
    return std::nullopt;
  };
  Reader r(bytes);
  char magic[8];
  uint32_t version = 0, key_length = 0;
  if (!r.Copy(magic, sizeof(magic)) || std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
    return corrupt("not a frame cache (bad magic)");
  }
  if (!r.Get(&version)) return corrupt("truncated header");
  if (version != kFrameCacheVersion) {
    return stale(absl::StrCat("version ", version, ", expected ", kFrameCacheVersion));
  }
  if (!r.Get(&key_length) || key_length > r.left()) return corrupt("truncated header");
  std::string stored_key(key_length, '\0');
  r.Copy(stored_key.data(), key_length);
  const std::string want_key = key.Text();
  if (stored_key != want_key) {
    return stale(absl::StrCat("key \"", stored_key, "\", expected \"", want_key, "\""));
  }
  // The checksum covers everything before its 8 bytes.
  if (bytes.size() < 8) return corrupt("truncated");
  uint64_t stored_sum = 0;
  std::memcpy(&stored_sum, bytes.data() + bytes.size() - 8, 8);
  if (Fnv1a64(bytes.data(), bytes.size() - 8) != stored_sum) {
    return corrupt("checksum mismatch (truncated or modified file)");
  }
  Dataset ds;
  int64_t c = 0, h = 0, w = 0;
  uint64_t counts = 0;
  if (!r.Get(&c) || !r.Get(&h) || !r.Get(&w) || !r.Get(&ds.frames) || !r.Get(&ds.size) ||
      !r.Get(&counts)) {
    return corrupt("truncated header");
  }
  if (c <= 0 || h <= 0 || w <= 0 || ds.frames <= 0 || ds.size < 0) {
    return corrupt(absl::StrCat("implausible header: C ", c, ", H ", h, ", W ", w,
                                ", frames ", ds.frames, ", size ", ds.size));
  }
  if (ds.frames != key.n_steps) {
    return corrupt(absl::StrCat("frames ", ds.frames, " (expected ", key.n_steps,
                                ", the key's n_steps)"));
  }
  // Every product and sum checked: in 64 bits 2^62 samples need 16 bytes (mod 2^64),
  // which a short file can match, and the arrays would then ask for 2^64 bytes.
  int64_t block = 0;  // values of one sample: frames x C x H x W
  if (__builtin_mul_overflow(c, h, &block) || __builtin_mul_overflow(block, w, &block) ||
      __builtin_mul_overflow(block, ds.frames, &block)) {
    return corrupt(absl::StrCat("a sample of ", ds.frames, " frames of ", c, "x", h, "x",
                                w, " overflows 64 bits"));
  }
  ds.shape = {c, h, w};
  const auto size = static_cast<uint64_t>(ds.size);
  uint64_t label_bytes = 0, offset_bytes = 0, count_bytes = 0, expected = 0;
  const bool overflow = __builtin_mul_overflow(size, uint64_t{4}, &label_bytes) ||
                        __builtin_mul_overflow(size + 1, uint64_t{8}, &offset_bytes) ||
                        __builtin_mul_overflow(counts, uint64_t{8}, &count_bytes) ||
                        __builtin_add_overflow(label_bytes, offset_bytes, &expected) ||
                        __builtin_add_overflow(expected, count_bytes, &expected) ||
                        __builtin_add_overflow(expected, uint64_t{8}, &expected);
  // What the header announces must be exactly what the file holds.
  if (overflow || r.left() != expected) {
    return corrupt(absl::StrCat(
        "the header claims ", ds.size, " samples and ", counts,
        " counts: ", overflow ? "more than 2^64 - 1" : absl::StrCat(expected),
        " bytes after the header, the file has ", r.left()));
  }
  ds.labels.resize(size);
  ds.frame_offsets.resize(size + 1);
  ds.frame_counts.resize(counts);
  r.Copy(ds.labels.data(), label_bytes);
  r.Copy(ds.frame_offsets.data(), offset_bytes);
  r.Copy(ds.frame_counts.data(), count_bytes);
  if (ds.frame_offsets.front() != 0) {
    return corrupt(
        absl::StrCat("frame_offsets[0] is ", ds.frame_offsets.front(), ", expected 0"));
  }
  if (ds.frame_offsets.back() != counts) {
    return corrupt(absl::StrCat("frame_offsets[", size, "] is ", ds.frame_offsets.back(),
                                ", expected the ", counts, " counts"));
  }
  for (uint64_t i = 0; i < size; ++i) {
    const uint64_t begin = ds.frame_offsets[i], end = ds.frame_offsets[i + 1];
    if (end > counts) {
      return corrupt(absl::StrCat("frame_offsets[", i + 1, "] is ", end, ", past the ",
                                  counts, " counts"));
    }
    if (end < begin) {
      return corrupt(absl::StrCat("frame_offsets[", i + 1, "] is ", end,
                                  ", below frame_offsets[", i, "] ", begin));
    }
  }
  for (uint64_t i = 0; i < size; ++i) {
    const uint64_t begin = ds.frame_offsets[i], end = ds.frame_offsets[i + 1];
    for (uint64_t k = begin; k < end; ++k) {
      const uint32_t index = ds.frame_counts[k].index;
      if (index >= static_cast<uint64_t>(block)) {
        return corrupt(absl::StrCat("sample ", i, ": count ", k, " has index ", index,
                                    ", outside the ", block, " values of ", ds.frames,
                                    " frames of ", c, "x", h, "x", w));
      }
      if (k > begin && index <= ds.frame_counts[k - 1].index) {
        return corrupt(absl::StrCat("sample ", i, ": count ", k, " has index ", index,
                                    ", not above count ", k - 1, "'s ",
                                    ds.frame_counts[k - 1].index));
      }
    }
  }
  *outcome = FrameCacheOutcome::kHit;
  reason->clear();
  return ds;
}

absl::Status WriteFrameCache(const std::string& path, const FrameCacheKey& key,
                             const Dataset& ds) {
  EDBP_CHECK(ds.is_events() && ds.shape.size() == 3 &&
             static_cast<int64_t>(ds.frame_offsets.size()) == ds.size + 1 &&
             static_cast<int64_t>(ds.labels.size()) == ds.size)
      << ds.name << ": not an event data set";
  Writer out;
  out.Append(kMagic, sizeof(kMagic));
  out.Put(kFrameCacheVersion);
  const std::string text = key.Text();
  out.Put(static_cast<uint32_t>(text.size()));
  out.Append(text.data(), text.size());
  for (int64_t v : {ds.shape[0], ds.shape[1], ds.shape[2], ds.frames, ds.size})
    out.Put(v);
  out.Put(static_cast<uint64_t>(ds.frame_counts.size()));
  out.Append(ds.labels.data(), ds.labels.size() * sizeof(int32_t));
  out.Append(ds.frame_offsets.data(), ds.frame_offsets.size() * sizeof(uint64_t));
  out.Append(ds.frame_counts.data(), ds.frame_counts.size() * sizeof(FrameCount));
  out.Put(Fnv1a64(out.bytes().data(), out.bytes().size()));

  const std::filesystem::path target(path);
  std::error_code ec;
  std::filesystem::create_directories(target.parent_path(), ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat(target.parent_path().string(),
                     ": cannot create the cache directory: ", ec.message()));
  }
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  {
    std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
    if (!file) {
      return absl::PermissionDeniedError(absl::StrCat(tmp, ": cannot write the cache"));
    }
    file.write(out.bytes().data(), static_cast<std::streamsize>(out.bytes().size()));
    file.close();
    if (!file) {
      std::filesystem::remove(tmp, ec);
      return absl::DataLossError(absl::StrCat(tmp, ": writing the cache failed"));
    }
  }
  std::filesystem::rename(tmp, target, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot move the cache into place: ", ec.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<Dataset> ThroughFrameCache(
    const std::string& cache_dir, const FrameCacheKey& key, int64_t limit,
    const std::string& name, FrameCacheReport* report,
    const std::function<std::string(const Dataset&)>& check,
    const std::function<absl::StatusOr<Dataset>()>& build) {
  FrameCacheReport local;
  if (report == nullptr) report = &local;
  *report = {};
  const bool use_cache = !cache_dir.empty() && limit <= 0;
  if (use_cache) {
    report->path = FrameCachePath(cache_dir, key);
    std::optional<Dataset> cached =
        ReadFrameCache(report->path, key, &report->outcome, &report->reason);
    if (cached.has_value()) {
      std::string why = check(*cached);
      if (why.empty()) {
        cached->name = name;
        return *std::move(cached);
      }
      report->outcome = FrameCacheOutcome::kCorrupt;
      report->reason = std::move(why);
    }
  }
  absl::StatusOr<Dataset> ds = build();
  if (!ds.ok()) return ds.status();
  if (use_cache) {
    const absl::Status written = WriteFrameCache(report->path, key, *ds);
    if (!written.ok()) report->write_error = std::string(written.message());
  }
  return ds;
}

}  // namespace edbp::data
