#include "server/credentials.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "server/auth.h"

namespace edbp::server {
namespace {

absl::StatusOr<std::string> ReadPem(absl::string_view flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    const std::string message = absl::StrCat(flag, " ", path, ": ", std::strerror(err));
    return err == ENOENT ? absl::NotFoundError(message)
                         : absl::PermissionDeniedError(message);
  }
  std::stringstream text;
  text << in.rdbuf();
  if (!absl::StrContains(text.str(), "-----BEGIN ")) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": expected a PEM file (-----BEGIN ...)"));
  }
  return text.str();
}

std::string Host(absl::string_view address) {
  if (absl::StartsWith(address, "[")) {
    const size_t close = address.find(']');
    return std::string(
        address.substr(1, close == address.npos ? address.npos : close - 1));
  }
  const size_t colon = address.rfind(':');
  if (colon != address.npos && address.find(':') == colon)
    address = address.substr(0, colon);
  return std::string(address);
}

}  // namespace

bool IsLoopbackAddress(const std::string& address) {
  // A unix: socket is a file the server makes 0600-reachable only by its user's rules;
  // an abstract one (unix-abstract:) has no file and no permissions at all: any process
  // in the network namespace may connect, so it needs authentication like a network
  // address.
  if (absl::StartsWith(address, "unix-abstract:")) return false;
  if (absl::StartsWith(address, "unix:")) return true;
  const std::string host = absl::AsciiStrToLower(Host(address));
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

absl::StatusOr<ServerSecurity> MakeServerSecurity(const ListenSecurity& options) {
  const bool tls = !options.tls_cert.empty() || !options.tls_key.empty();
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key go together (the server's certificate and its key)");
  }
  if (!options.client_ca.empty() && !tls) {
    return absl::InvalidArgumentError(
        "--client-ca needs --tls-cert and --tls-key (client certificates are checked "
        "in the TLS handshake)");
  }
  const bool token = !options.token.empty();
  const bool loopback = IsLoopbackAddress(options.listen);
  if (!loopback && token && !tls) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen ", options.listen,
        " is not a loopback address: a bearer token there needs TLS (--tls-cert and "
        "--tls-key), else it would cross the network in clear"));
  }
  if (!loopback && !token && options.client_ca.empty() && !options.insecure) {
    return absl::InvalidArgumentError(absl::StrCat(
        "refusing to listen on ", options.listen,
        " (not a loopback address) without authentication: give --auth-token-file with "
        "--tls-cert/--tls-key, or --client-ca, or --insecure to let anyone who can reach "
        "it use the API"));
  }

  ServerSecurity security;
  std::vector<std::string> parts;
  if (tls) {
    grpc::SslServerCredentialsOptions ssl(
        options.client_ca.empty()
            ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
            : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
    absl::StatusOr<std::string> cert = ReadPem("--tls-cert", options.tls_cert);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem("--tls-key", options.tls_key);
    if (!key.ok()) return key.status();
    pair.cert_chain = *std::move(cert);
    pair.private_key = *std::move(key);
    ssl.pem_key_cert_pairs.push_back(std::move(pair));
    if (!options.client_ca.empty()) {
      absl::StatusOr<std::string> ca = ReadPem("--client-ca", options.client_ca);
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *std::move(ca);
      parts.push_back("TLS, client certificates required");
    } else {
      parts.push_back("TLS");
    }
    security.credentials = grpc::SslServerCredentials(ssl);
  } else if (token) {
    const bool uds = absl::StartsWith(options.listen, "unix");
    security.credentials =
        grpc::experimental::LocalServerCredentials(uds ? UDS : LOCAL_TCP);
    parts.push_back("plaintext, local connections only");
  } else {
    security.credentials = grpc::InsecureServerCredentials();
    parts.push_back("plaintext");
  }
  if (token) {
    security.credentials->SetAuthMetadataProcessor(
        std::make_shared<TokenAuthProcessor>(options.token));
    parts.push_back("bearer token");
  } else if (options.client_ca.empty()) {
    parts.push_back(loopback ? "no authentication (loopback)"
                             : "no authentication (--insecure)");
  }
  security.description = absl::StrJoin(parts, ", ");
  return security;
}

}  // namespace edbp::server
