// How edbp-server's public listener is secured: the rules that pick TLS, mTLS, the
// bearer token and the loopback-only default, and the gRPC credentials they give.
//
// Rules (checked before anything listens; each error names the flags):
//   - --tls-cert and --tls-key go together; --client-ca needs them (mTLS: clients
//     must present a certificate signed by that CA, else the handshake fails).
//   - A bearer token on a non-loopback address needs TLS: it never crosses a network
//     in clear. On a loopback address without TLS the listener uses gRPC's local
//     credentials (plaintext on the wire, the peer must be on this machine), which is
//     what lets the token be checked there.
//   - A non-loopback address needs authentication (a token or --client-ca) unless
//     --insecure says that anyone who can reach it may use the API.
#ifndef EDBP_SERVER_CREDENTIALS_H_
#define EDBP_SERVER_CREDENTIALS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"

namespace edbp::server {

struct ListenSecurity {
  std::string listen;     // --listen host:port
  std::string token;      // the bearer token ("" = no token auth); see auth.h
  std::string tls_cert;   // --tls-cert: PEM certificate chain of the server
  std::string tls_key;    // --tls-key: its PEM private key
  std::string client_ca;  // --client-ca: PEM CA that signs accepted client certificates
  bool insecure = false;  // --insecure: allow a non-loopback address without auth
};

// Whether a listen address is on this machine only: 127.0.0.0/8, [::1], localhost,
// unix:. ("0.0.0.0", "[::]", every other host, and unix-abstract:, which no file
// permission protects, are not: they need authentication.)
bool IsLoopbackAddress(const std::string& address);

struct ServerSecurity {
  std::shared_ptr<grpc::ServerCredentials> credentials;
  std::string description;  // e.g. "TLS, client certificates required, bearer token"
};

// Applies the rules above and reads the PEM files. Errors: INVALID_ARGUMENT naming the
// flags; NOT_FOUND / PERMISSION_DENIED naming the flag and file that cannot be read.
absl::StatusOr<ServerSecurity> MakeServerSecurity(const ListenSecurity& options);

}  // namespace edbp::server

#endif  // EDBP_SERVER_CREDENTIALS_H_
