#include "server/job_token.h"

#include <openssl/evp.h>
#include <sys/random.h>

#include <cerrno>

#include "base/check.h"

namespace edbp::server {

std::string Hex(absl::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

std::string NewJobToken() {
  unsigned char raw[32];
  size_t got = 0;
  while (got < sizeof(raw)) {
    const ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
    if (n < 0 && errno == EINTR) continue;
    EDBP_CHECK(n > 0) << "getrandom failed";
    got += static_cast<size_t>(n);
  }
  return Hex(absl::string_view(reinterpret_cast<const char*>(raw), sizeof(raw)));
}

std::string Sha256(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EDBP_CHECK(EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr) ==
             1);
  return std::string(reinterpret_cast<const char*>(digest), size);
}

}  // namespace edbp::server
