// Access control of the public API: token files, the token check, the listener rules
// and the data roots.
#include "server/auth.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/credentials.h"

namespace edbp::server {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kToken[] = "0123456789abcdef0123";

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/edbp-auth-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text, mode_t mode) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << text;
    EXPECT_EQ(chmod(path.c_str(), mode), 0);
    return path.string();
  }

  fs::path dir_;
};

using TokenFileTest = TempDir;

TEST_F(TokenFileTest, ReadsTheTokenWithoutTheLineBreak) {
  auto token = ReadTokenFile(Write("token", std::string(kToken) + "\n", 0600));
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, kToken);
  // Group-readable is allowed (a Kubernetes secret mounted for fsGroup is 0440).
  EXPECT_TRUE(ReadTokenFile(Write("group", kToken, 0640)).ok());
}

TEST_F(TokenFileTest, MissingFileIsNotFoundNamingTheFlag) {
  auto token = ReadTokenFile((dir_ / "absent").string());
  EXPECT_EQ(token.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(token.status().message(),
              AllOf(HasSubstr("--auth-token-file"), HasSubstr("absent"),
                    HasSubstr("No such file")));
}

TEST_F(TokenFileTest, WorldReadableIsRefused) {
  const std::string path = Write("token", kToken, 0644);
  auto token = ReadTokenFile(path);
  EXPECT_EQ(token.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(token.status().message(),
              AllOf(HasSubstr(path), HasSubstr("readable or writable by others"),
                    HasSubstr("mode 0644"), HasSubstr("chmod 600")));
  EXPECT_EQ(ReadTokenFile(Write("w", kToken, 0602)).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(TokenFileTest, EmptyShortOrSpacedTokensAreRefused) {
  auto empty = ReadTokenFile(Write("empty", " \n", 0600));
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(empty.status().message(), HasSubstr("the token is empty"));
  auto short_token = ReadTokenFile(Write("short", "abc123", 0600));
  EXPECT_THAT(short_token.status().message(),
              AllOf(HasSubstr("6 characters"), HasSubstr("at least 16")));
  auto spaced = ReadTokenFile(Write("spaced", "0123456789 abcdef0123", 0600));
  EXPECT_THAT(spaced.status().message(), HasSubstr("one token without spaces"));
}

TEST_F(TokenFileTest, DirectoryIsNotARegularFile) {
  fs::create_directory(dir_ / "d");
  chmod((dir_ / "d").c_str(), 0700);
  EXPECT_THAT(ReadTokenFile((dir_ / "d").string()).status().message(),
              HasSubstr("not a regular file"));
}

TEST(CheckTokenTest, NamesTheSource) {
  EXPECT_THAT(CheckToken("", "$EDBP_AUTH_TOKEN").status().message(),
              HasSubstr("$EDBP_AUTH_TOKEN: the token is empty"));
  auto ok = CheckToken(std::string("  ") + kToken + "\n", "$X");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, kToken);
}

TEST(ConstantTimeEqualsTest, ComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("abcd", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  // A prefix padded with NULs is not equal either.
  EXPECT_FALSE(ConstantTimeEquals(std::string("ab\0", 3), "ab"));
}

// The processor sees the call's metadata, :path included.
grpc::Status Process(const std::multimap<std::string, std::string>& metadata,
                     std::multimap<std::string, std::string>* consumed = nullptr) {
  TokenAuthProcessor processor(kToken);
  grpc::AuthMetadataProcessor::InputMetadata input;
  for (const auto& [k, v] : metadata)
    input.emplace(grpc::string_ref(k), grpc::string_ref(v));
  grpc::AuthMetadataProcessor::OutputMetadata out, response;
  grpc::Status status = processor.Process(input, nullptr, &out, &response);
  if (consumed != nullptr) *consumed = out;
  return status;
}

TEST(TokenAuthProcessorTest, AcceptsTheBearerTokenAndConsumesIt) {
  std::multimap<std::string, std::string> consumed;
  const grpc::Status status =
      Process({{":path", "/edbp.v1.TrainingService/ListJobs"},
               {"authorization", std::string("Bearer ") + kToken}},
              &consumed);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(consumed.count("authorization"), 1u);
}

TEST(TokenAuthProcessorTest, RejectsMissingWrongAndMalformedTokens) {
  const std::string path = "/edbp.v1.TrainingService/ListJobs";
  grpc::Status missing = Process({{":path", path}});
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(missing.error_message(), "this server requires a bearer token");
  grpc::Status wrong =
      Process({{":path", path}, {"authorization", "Bearer 0123456789abcdef0124"}});
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(wrong.error_message(), "invalid bearer token");
  EXPECT_EQ(Process({{":path", path}, {"authorization", kToken}}).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Process({{":path", path}, {"authorization", std::string("Basic ") + kToken}})
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST(TokenAuthProcessorTest, HealthStaysOpen) {
  EXPECT_TRUE(Process({{":path", "/grpc.health.v1.Health/Check"}}).ok());
  EXPECT_TRUE(Process({{":path", "/grpc.health.v1.Health/Watch"}}).ok());
  // Only the health service: reflection needs the token.
  EXPECT_EQ(Process({{":path",
                      "/grpc.reflection.v1alpha.ServerReflection/"
                      "ServerReflectionInfo"}})
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

using DataPathTest = TempDir;

TEST_F(DataPathTest, InsideARootIsAllowed) {
  fs::create_directories(dir_ / "datasets" / "fashion");
  const std::vector<std::string> roots = {"/usr/share/datasets",
                                          (dir_ / "datasets").string()};
  EXPECT_TRUE(CheckDataPath("", roots).ok());
  EXPECT_TRUE(CheckDataPath("/usr/share/datasets/fashion-mnist", roots).ok());
  EXPECT_TRUE(CheckDataPath((dir_ / "datasets" / "fashion").string(), roots).ok());
  EXPECT_TRUE(CheckDataPath((dir_ / "datasets").string(), roots).ok());
  // A root given with a trailing slash.
  EXPECT_TRUE(CheckDataPath("/usr/share/datasets/x", {"/usr/share/datasets/"}).ok());
}

TEST_F(DataPathTest, OutsideRelativeDotDotAndSymlinkEscapesAreRefused) {
  fs::create_directories(dir_ / "datasets");
  fs::create_directories(dir_ / "secret");
  fs::create_directory_symlink(dir_ / "secret", dir_ / "datasets" / "link");
  const std::vector<std::string> roots = {(dir_ / "datasets").string()};
  auto outside = CheckDataPath("/etc", roots);
  EXPECT_EQ(outside.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(outside.message(),
              AllOf(HasSubstr("Network.data_path: \"/etc\" is outside"),
                    HasSubstr(roots[0]), HasSubstr("--data-roots")));
  EXPECT_FALSE(CheckDataPath((dir_ / "datasets" / ".." / "secret").string(), roots).ok());
  EXPECT_FALSE(CheckDataPath((dir_ / "datasets" / "link" / "x").string(), roots).ok());
  // A sibling sharing the prefix is not inside.
  EXPECT_FALSE(CheckDataPath((dir_ / "datasets-2").string(), roots).ok());
  auto relative = CheckDataPath("data/fashion", roots);
  EXPECT_THAT(relative.message(), HasSubstr("expected an absolute path"));
  EXPECT_THAT(CheckDataPath("/x", {}).message(), HasSubstr("none are configured"));
}

// Issue 17: Network.cache_path (where the frame cache is written) is held to the same
// roots, the errors naming it.
TEST_F(DataPathTest, TheCachePathIsHeldToTheRootsToo) {
  fs::create_directories(dir_ / "datasets");
  const std::vector<std::string> roots = {(dir_ / "datasets").string()};
  EXPECT_TRUE(CheckConfigPath("Network.cache_path", "", roots).ok());
  EXPECT_TRUE(
      CheckConfigPath("Network.cache_path", (dir_ / "datasets" / "cache").string(), roots)
          .ok());
  const absl::Status escape = CheckConfigPath(
      "Network.cache_path", (dir_ / "datasets" / ".." / "elsewhere").string(), roots);
  EXPECT_EQ(escape.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(escape.message(), HasSubstr("Network.cache_path: \""));
  EXPECT_THAT(escape.message(), HasSubstr("is outside the server's data roots"));
  EXPECT_THAT(CheckConfigPath("Network.cache_path", "/tmp/cache", roots).message(),
              HasSubstr("Network.cache_path: \"/tmp/cache\" is outside"));
  EXPECT_THAT(CheckConfigPath("Network.cache_path", "../cache", roots).message(),
              HasSubstr("Network.cache_path: expected an absolute path"));
}

TEST(LoopbackTest, Addresses) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:50051"));
  EXPECT_TRUE(IsLoopbackAddress("127.1.2.3:0"));
  EXPECT_TRUE(IsLoopbackAddress("localhost:50051"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]:50051"));
  EXPECT_TRUE(IsLoopbackAddress("unix:/tmp/x.sock"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0:50051"));
  EXPECT_FALSE(IsLoopbackAddress("[::]:50051"));
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.7:50051"));
  EXPECT_FALSE(IsLoopbackAddress("example.org:50051"));
  EXPECT_FALSE(IsLoopbackAddress("128.0.0.1:1"));
  // Issue 17: an abstract socket has no permissions; it needs authentication.
  EXPECT_FALSE(IsLoopbackAddress("unix-abstract:edbp"));
}

using SecurityTest = TempDir;

TEST_F(SecurityTest, AnAbstractSocketNeedsAuthentication) {
  ListenSecurity options;
  options.listen = "unix-abstract:edbp-test";
  const auto plain = MakeServerSecurity(options);
  ASSERT_FALSE(plain.ok());
  EXPECT_THAT(plain.status().message(),
              HasSubstr("refusing to listen on unix-abstract:edbp-test"));
  options.insecure = true;  // the operator's explicit choice
  EXPECT_TRUE(MakeServerSecurity(options).ok());
}

TEST_F(SecurityTest, LoopbackDefaults) {
  ListenSecurity options;
  options.listen = "127.0.0.1:0";
  auto plain = MakeServerSecurity(options);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->description, "plaintext, no authentication (loopback)");
  options.token = kToken;
  auto token = MakeServerSecurity(options);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->description, "plaintext, local connections only, bearer token");
}

TEST_F(SecurityTest, NonLoopbackNeedsAuthenticationOrInsecure) {
  ListenSecurity options;
  options.listen = "0.0.0.0:50051";
  auto refused = MakeServerSecurity(options);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(),
              AllOf(HasSubstr("refusing to listen on 0.0.0.0:50051"),
                    HasSubstr("--auth-token-file"), HasSubstr("--client-ca"),
                    HasSubstr("--insecure")));
  options.insecure = true;
  auto insecure = MakeServerSecurity(options);
  ASSERT_TRUE(insecure.ok()) << insecure.status();
  EXPECT_EQ(insecure->description, "plaintext, no authentication (--insecure)");
}

TEST_F(SecurityTest, TokenOffLoopbackNeedsTls) {
  ListenSecurity options;
  options.listen = "0.0.0.0:50051";
  options.token = kToken;
  options.insecure = true;  // does not make a token in clear acceptable
  auto refused = MakeServerSecurity(options);
  EXPECT_THAT(refused.status().message(),
              AllOf(HasSubstr("--listen 0.0.0.0:50051"), HasSubstr("needs TLS"),
                    HasSubstr("--tls-cert")));
}

TEST_F(SecurityTest, FlagCombinations) {
  ListenSecurity options;
  options.listen = "127.0.0.1:0";
  options.tls_cert = Write("cert.pem", "-----BEGIN CERTIFICATE-----\n", 0600);
  EXPECT_THAT(MakeServerSecurity(options).status().message(),
              HasSubstr("--tls-cert and --tls-key go together"));
  ListenSecurity ca_only;
  ca_only.listen = "127.0.0.1:0";
  ca_only.client_ca = options.tls_cert;
  EXPECT_THAT(MakeServerSecurity(ca_only).status().message(),
              HasSubstr("--client-ca needs --tls-cert and --tls-key"));
}

TEST_F(SecurityTest, UnreadableOrNonPemFilesNameTheFlag) {
  ListenSecurity options;
  options.listen = "127.0.0.1:0";
  options.tls_cert = (dir_ / "missing.pem").string();
  options.tls_key = Write("key.pem", "-----BEGIN PRIVATE KEY-----\n", 0600);
  auto missing = MakeServerSecurity(options);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(),
              AllOf(HasSubstr("--tls-cert"), HasSubstr("missing.pem")));
  options.tls_cert = Write("garbage.pem", "hello", 0600);
  auto garbage = MakeServerSecurity(options);
  EXPECT_EQ(garbage.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(garbage.status().message(),
              AllOf(HasSubstr("--tls-cert"), HasSubstr("expected a PEM file")));
}

}  // namespace
}  // namespace edbp::server
