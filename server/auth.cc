#include "server/auth.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace edbp::server {
namespace {

namespace fs = std::filesystem;

constexpr absl::string_view kHealthPrefix = "/grpc.health.v1.Health/";
constexpr absl::string_view kBearer = "Bearer ";

absl::string_view View(const grpc::string_ref& s) { return {s.data(), s.size()}; }

}  // namespace

absl::StatusOr<std::string> CheckToken(absl::string_view token,
                                       absl::string_view source) {
  token = absl::StripAsciiWhitespace(token);
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": the token is empty"));
  }
  if (token.find_first_of(" \t\r\n") != token.npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": expected one token without spaces or line breaks"));
  }
  if (token.size() < kMinTokenLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": the token has ", token.size(), " characters; at least ",
                     kMinTokenLength, " are needed (e.g. openssl rand -hex 32)"));
  }
  return std::string(token);
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  const std::string source = absl::StrCat("--auth-token-file ", path);
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    const int err = errno;
    const std::string message = absl::StrCat(source, ": ", std::strerror(err));
    return err == ENOENT ? absl::NotFoundError(message)
                         : absl::PermissionDeniedError(message);
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not a regular file"));
  }
  if ((st.st_mode & 0007) != 0) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "%s: readable or writable by others (mode %04o); chmod 600 (or 640) it", source,
        st.st_mode & 07777));
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    return absl::PermissionDeniedError(
        absl::StrCat(source, ": cannot read: ", std::strerror(errno)));
  }
  return CheckToken(text.str(), source);
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  // Visits max(|a|, |b|) bytes whatever the contents; a length difference is folded
  // into the same accumulator.
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

grpc::Status TokenAuthProcessor::Process(const InputMetadata& auth_metadata,
                                         grpc::AuthContext* /*context*/,
                                         OutputMetadata* consumed_auth_metadata,
                                         OutputMetadata* /*response_metadata*/) {
  auto path = auth_metadata.find(":path");
  if (path != auth_metadata.end() &&
      absl::StartsWith(View(path->second), kHealthPrefix)) {
    return grpc::Status::OK;
  }
  auto auth = auth_metadata.find("authorization");
  if (auth == auth_metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "this server requires a bearer token");
  }
  const absl::string_view value = View(auth->second);
  if (!absl::StartsWith(value, kBearer) ||
      !ConstantTimeEquals(value.substr(kBearer.size()), token_)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid bearer token");
  }
  // Consumed: the token is not passed on to the service code.
  consumed_auth_metadata->insert(std::make_pair(
      std::string(auth->first.data(), auth->first.size()), std::string(value)));
  return grpc::Status::OK;
}

absl::Status CheckDataPath(const std::string& data_path,
                           const std::vector<std::string>& roots) {
  return CheckConfigPath("Network.data_path", data_path, roots);
}

absl::Status CheckConfigPath(absl::string_view field, const std::string& data_path,
                             const std::vector<std::string>& roots) {
  if (data_path.empty()) return absl::OkStatus();
  const std::string allowed = roots.empty()
                                  ? "none are configured"
                                  : absl::StrCat("allowed: ", absl::StrJoin(roots, ", "));
  const fs::path path(data_path);
  if (!path.is_absolute()) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": expected an absolute path inside the server's data roots (", allowed,
        "), got \"", data_path, "\""));
  }
  std::error_code ec;
  const fs::path resolved = fs::weakly_canonical(path, ec);
  if (!ec) {
    for (const std::string& root : roots) {
      const fs::path canonical_root = fs::weakly_canonical(fs::path(root), ec);
      if (ec) continue;
      // Inside: the root's components are a prefix of the path's.
      auto [root_end, path_it] = std::mismatch(
          canonical_root.begin(), canonical_root.end(), resolved.begin(), resolved.end());
      // A trailing "/" of the root leaves an empty last component.
      if (root_end == canonical_root.end() ||
          (std::next(root_end) == canonical_root.end() && root_end->empty())) {
        return absl::OkStatus();
      }
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": \"", data_path, "\" is outside the server's data roots (",
                   allowed, "; edbp-server --data-roots)"));
}

}  // namespace edbp::server
