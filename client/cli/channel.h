// The gRPC channel of every edbp client (the CLI and the dashboard): target, TLS or
// mTLS, and the bearer token, from flags and the environment.
//
// Security of the channel:
//   - TLS when `tls` is set or any of ca_cert_file / cert_file / key_file is given:
//     the server's certificate is verified against ca_cert_file (default: the system
//     roots); cert_file + key_file (both or neither) present a client certificate (mTLS).
//   - Otherwise plaintext. With a token, plaintext is allowed only to a loopback
//     target (127.0.0.0/8, ::1, localhost): a token is never sent in clear over a
//     network. The loopback channel uses gRPC's local credentials, which carry call
//     credentials and talk to a plaintext server unchanged.
//   - The token (token_file wins over token) is sent as "authorization: Bearer TOKEN"
//     on every call.
#ifndef EDBP_CLIENT_CLI_CHANNEL_H_
#define EDBP_CLIENT_CLI_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"

namespace edbp::cli {

// The environment variable holding the bearer token (when --token-file is not given).
inline constexpr char kTokenEnv[] = "EDBP_TOKEN";

struct ConnectionOptions {
  std::string server;        // host:port of edbp-server
  std::string token_file;    // --token-file: first line is the token; wins over `token`
  std::string token;         // the token itself, e.g. from $EDBP_TOKEN ("" = none)
  bool tls = false;          // --tls: TLS with the system roots
  std::string ca_cert_file;  // --ca-cert: PEM roots that verify the server (implies TLS)
  std::string cert_file;     // --cert: client certificate chain, PEM (mTLS)
  std::string key_file;      // --key: its private key, PEM (mTLS)
};

// Builds the channel (it connects lazily). Errors are INVALID_ARGUMENT naming the flag
// and file: unreadable or empty files, --cert without --key (or the reverse), a token
// over plaintext to a non-loopback server, an empty server address.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const ConnectionOptions& options);

// The bearer token that MakeChannel would send ("" when none), or the error reading it.
absl::StatusOr<std::string> ResolveToken(const ConnectionOptions& options);

// Whether a gRPC target names this machine: 127.0.0.0/8, [::1], localhost, unix:.
bool IsLoopbackTarget(const std::string& target);

}  // namespace edbp::cli

#endif  // EDBP_CLIENT_CLI_CHANNEL_H_
