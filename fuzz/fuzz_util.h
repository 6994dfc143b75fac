// What the libFuzzer targets in fuzz/ share: a file that holds the current input (the
// readers take paths) and the invariant check that turns a broken contract into a
// crash libFuzzer keeps.
#ifndef EDBP_FUZZ_FUZZ_UTIL_H_
#define EDBP_FUZZ_FUZZ_UTIL_H_

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace edbp::fuzz {

// Aborts with `what` when `cond` is false: a reader returned OK with a result that
// breaks its header's contract.
#define EDBP_FUZZ_ASSERT(cond, what)                                                 \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "%s:%d: invariant broken: %s (%s)\n", __FILE__, __LINE__, \
                   #cond, what);                                                     \
      std::abort();                                                                  \
    }                                                                                \
  } while (0)

// A scratch directory of this process on tmpfs (/dev/shm, else $TMPDIR or /tmp), made
// on first use and removed when the process exits normally (after a crash libFuzzer's
// saved input is the reproducer, not the copy here). A target's files live there and
// are rewritten per input.
inline const std::filesystem::path& ScratchDir() {
  static const std::filesystem::path dir = [] {
    std::error_code ec;
    std::filesystem::path base = "/dev/shm";
    if (!std::filesystem::is_directory(base, ec)) {
      const char* tmp = std::getenv("TMPDIR");
      base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
    }
    std::filesystem::path d = base / ("edbp-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d, ec);
    return d;
  }();
  // Registered after `dir` is built, so it runs before `dir` is destroyed.
  static const bool removed_at_exit =
      std::atexit([] {
        std::error_code ignored;
        std::filesystem::remove_all(ScratchDir(), ignored);
      }) == 0;
  (void)removed_at_exit;
  return dir;
}

// Writes `bytes` to <ScratchDir()>/<name> (replacing it) and returns the path.
inline std::string WriteScratch(const std::string& name, std::string_view bytes) {
  const std::string path = (ScratchDir() / name).string();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  EDBP_FUZZ_ASSERT(f != nullptr, path.c_str());
  EDBP_FUZZ_ASSERT(
      bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size(),
      path.c_str());
  EDBP_FUZZ_ASSERT(std::fclose(f) == 0, path.c_str());
  return path;
}

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace edbp::fuzz

#endif  // EDBP_FUZZ_FUZZ_UTIL_H_
