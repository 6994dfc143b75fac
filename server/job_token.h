// Job tokens (issue 18): each run of a job gets a fresh random 256-bit token, handed to
// its processes in the environment (kJobTokenEnv, never on a command line or in a
// file) and sent by WorkerReporter as call metadata (kJobTokenMetadata). The job store
// keeps only the token's SHA-256, so a leaked database does not let anyone report.
#ifndef EDBP_SERVER_JOB_TOKEN_H_
#define EDBP_SERVER_JOB_TOKEN_H_

#include <string>

#include "absl/strings/string_view.h"

namespace edbp::server {

inline constexpr char kJobTokenEnv[] = "EDBP_JOB_TOKEN";
inline constexpr char kJobTokenMetadata[] = "x-edbp-job-token";
// Environment variable naming the PEM CA file a job verifies the worker port's TLS
// certificate with.
inline constexpr char kWorkerCaEnv[] = "EDBP_WORKER_CA";

// 64 lowercase hex digits of 32 bytes from the OS's CSPRNG.
std::string NewJobToken();

// The raw 32-byte SHA-256 of `data`.
std::string Sha256(absl::string_view data);

// Lowercase hex of `bytes`.
std::string Hex(absl::string_view bytes);

}  // namespace edbp::server

#endif  // EDBP_SERVER_JOB_TOKEN_H_
