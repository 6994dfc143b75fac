#include "client/cli/channel.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace edbp::cli {
namespace {

constexpr int kMaxMessageBytes = 64 << 20;  // epoch metrics with big confusion matrices

// The whole file named by `flag`; INVALID_ARGUMENT naming both when it cannot be read
// or is empty.
absl::StatusOr<std::string> ReadFlagFile(absl::string_view flag,
                                         const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": cannot read: ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": cannot read: ", std::strerror(errno)));
  }
  if (absl::StripAsciiWhitespace(text.str()).empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": the file is empty"));
  }
  return text.str();
}

// The host part of a target: "h:p" -> "h", "[::1]:p" -> "::1", "dns:///h:p" -> "h".
std::string TargetHost(absl::string_view target) {
  for (absl::string_view scheme : {"dns:///", "dns:", "ipv4:", "ipv6:"}) {
    if (absl::StartsWith(target, scheme)) {
      target.remove_prefix(scheme.size());
      break;
    }
  }
  if (absl::StartsWith(target, "[")) {
    const size_t close = target.find(']');
    return std::string(target.substr(1, close == target.npos ? target.npos : close - 1));
  }
  const size_t colon = target.rfind(':');
  // More than one ':' without brackets: a bare IPv6 address without a port.
  if (colon != target.npos && target.find(':') == colon) target = target.substr(0, colon);
  return std::string(target);
}

}  // namespace

bool IsLoopbackTarget(const std::string& target) {
  if (absl::StartsWith(target, "unix:") || absl::StartsWith(target, "unix-abstract:")) {
    return true;
  }
  const std::string host = absl::AsciiStrToLower(TargetHost(target));
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

absl::StatusOr<std::string> ResolveToken(const ConnectionOptions& options) {
  if (options.token_file.empty()) {
    return std::string(absl::StripAsciiWhitespace(options.token));
  }
  absl::StatusOr<std::string> text = ReadFlagFile("--token-file", options.token_file);
  if (!text.ok()) return text.status();
  absl::string_view token = absl::StripAsciiWhitespace(*text);
  if (token.find_first_of(" \t\r\n") != token.npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--token-file ", options.token_file, ": expected one token without spaces"));
  }
  return std::string(token);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const ConnectionOptions& options) {
  if (options.server.empty()) {
    return absl::InvalidArgumentError("--server needs an address (host:port)");
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError(
        "--cert and --key go together: a client certificate needs its private key");
  }
  absl::StatusOr<std::string> token = ResolveToken(options);
  if (!token.ok()) return token.status();
  const bool tls =
      options.tls || !options.ca_cert_file.empty() || !options.cert_file.empty();

  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options.ca_cert_file.empty()) {
      absl::StatusOr<std::string> roots = ReadFlagFile("--ca-cert", options.ca_cert_file);
      if (!roots.ok()) return roots.status();
      ssl.pem_root_certs = *std::move(roots);
    }
    if (!options.cert_file.empty()) {
      absl::StatusOr<std::string> cert = ReadFlagFile("--cert", options.cert_file);
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key = ReadFlagFile("--key", options.key_file);
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *std::move(cert);
      ssl.pem_private_key = *std::move(key);
    }
    credentials = grpc::SslCredentials(ssl);
  } else if (!token->empty()) {
    if (!IsLoopbackTarget(options.server)) {
      return absl::InvalidArgumentError(
          absl::StrCat("refusing to send the token in clear to ", options.server,
                       ": use TLS (--ca-cert FILE or --tls) or a loopback address"));
    }
    const bool uds = absl::StartsWith(options.server, "unix");
    credentials = grpc::experimental::LocalCredentials(uds ? UDS : LOCAL_TCP);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  if (!token->empty()) {
    credentials = grpc::CompositeChannelCredentials(credentials,
                                                    grpc::AccessTokenCredentials(*token));
  }

  grpc::ChannelArguments args;
  // Retries of unary calls should find a fresh connection attempt, not the backoff
  // of the previous one (gRPC's default waits 1 s and more).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  return grpc::CreateCustomChannel(options.server, credentials, args);
}

}  // namespace edbp::cli
