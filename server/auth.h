// Access control of edbp-server's public API: the bearer token, and the directories a
// job's config may read data from.
//
// The token comes from --auth-token-file (or $EDBP_AUTH_TOKEN). Every call of the
// public API must carry "authorization: Bearer TOKEN" except grpc.health.v1, which
// stays open for probes. The check is a grpc::AuthMetadataProcessor, so it runs before
// any service code and applies to reflection too. The worker API (edbp-train's
// reports) is a separate server on a Unix socket that only the server's user can open
// (mode 0600); it needs no token.
#ifndef EDBP_SERVER_AUTH_H_
#define EDBP_SERVER_AUTH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/security/auth_metadata_processor.h"

namespace edbp::server {

// Tokens shorter than this are refused: a guessable token is no protection.
inline constexpr size_t kMinTokenLength = 16;

// The token in `path`: its content without surrounding whitespace. Errors
// (INVALID_ARGUMENT / PERMISSION_DENIED / NOT_FOUND, each naming --auth-token-file and
// the path): missing or unreadable, not a regular file, readable or writable by
// others (mode & 007; chmod 600 or 640), empty, containing whitespace inside, or
// shorter than kMinTokenLength.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// The same rules for a token given directly (`source` names it in errors, e.g.
// "$EDBP_AUTH_TOKEN").
absl::StatusOr<std::string> CheckToken(absl::string_view token, absl::string_view source);

// Compares in time that depends only on the lengths, never on where they differ.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

// Accepts calls whose metadata holds "authorization: Bearer <token>" and calls of
// grpc.health.v1.Health; rejects the others with UNAUTHENTICATED. Thread-safe.
class TokenAuthProcessor final : public grpc::AuthMetadataProcessor {
 public:
  explicit TokenAuthProcessor(std::string token) : token_(std::move(token)) {}

  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  const std::string token_;
};

// `data_path` of a config must be empty (synthetic data) or an absolute path inside
// one of `roots` once "..", "." and symbolic links are resolved. INVALID_ARGUMENT
// naming Network.data_path, the path and the roots otherwise.
absl::Status CheckDataPath(const std::string& data_path,
                           const std::vector<std::string>& roots);
// The same rule for any path a config names (Network.cache_path: the event frame cache
// writes there), the errors naming `field`.
absl::Status CheckConfigPath(absl::string_view field, const std::string& path,
                             const std::vector<std::string>& roots);

}  // namespace edbp::server

#endif  // EDBP_SERVER_AUTH_H_
