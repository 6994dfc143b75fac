// The client's connection: credential flags, the token from a file or $EDBP_TOKEN,
// loopback detection, MakeChannel's refusals, and the health command.
#include "client/cli/channel.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "client/cli/args.h"
#include "client/cli/cli.h"
#include "gmock/gmock.h"
#include "grpcpp/health_check_service_interface.h"
#include "gtest/gtest.h"
#include "tests/unit/client/fake_training_service.h"

namespace edbp::cli {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

class ChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/edbp-channel-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  fs::path dir_;
};

TEST(LoopbackTargetTest, Targets) {
  EXPECT_TRUE(IsLoopbackTarget("127.0.0.1:50051"));
  EXPECT_TRUE(IsLoopbackTarget("127.9.9.9:1"));
  EXPECT_TRUE(IsLoopbackTarget("localhost:50051"));
  EXPECT_TRUE(IsLoopbackTarget("LOCALHOST:50051"));
  EXPECT_TRUE(IsLoopbackTarget("[::1]:50051"));
  EXPECT_TRUE(IsLoopbackTarget("dns:///localhost:50051"));
  EXPECT_TRUE(IsLoopbackTarget("ipv4:127.0.0.1:50051"));
  EXPECT_TRUE(IsLoopbackTarget("unix:/tmp/edbp.sock"));
  EXPECT_FALSE(IsLoopbackTarget("10.1.2.3:50051"));
  EXPECT_FALSE(IsLoopbackTarget("edbp.example.org:50051"));
  EXPECT_FALSE(IsLoopbackTarget("[2001:db8::1]:50051"));
  EXPECT_FALSE(IsLoopbackTarget("localhost.example.org:1"));
}

TEST_F(ChannelTest, TokenFromFileWinsOverTheEnvironment) {
  ConnectionOptions o;
  o.token = "  from-env\n";
  EXPECT_EQ(*ResolveToken(o), "from-env");
  o.token_file = Write("token", "from-file\n");
  EXPECT_EQ(*ResolveToken(o), "from-file");
}

TEST_F(ChannelTest, TokenFileErrorsNameTheFlagAndFile) {
  ConnectionOptions o;
  o.token_file = (dir_ / "absent").string();
  auto missing = ResolveToken(o);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.status().message(),
              AllOf(HasSubstr("--token-file " + o.token_file), HasSubstr("cannot read")));
  o.token_file = Write("empty", "\n\n");
  EXPECT_THAT(ResolveToken(o).status().message(), HasSubstr("the file is empty"));
  o.token_file = Write("two", "a b\n");
  EXPECT_THAT(ResolveToken(o).status().message(), HasSubstr("one token without spaces"));
}

TEST_F(ChannelTest, MakeChannelRefusals) {
  ConnectionOptions o;
  EXPECT_THAT(MakeChannel(o).status().message(), HasSubstr("--server needs an address"));
  o.server = "10.0.0.1:50051";
  o.token = "secret-token";
  auto clear = MakeChannel(o);
  EXPECT_EQ(clear.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(clear.status().message(),
              AllOf(HasSubstr("refusing to send the token in clear to 10.0.0.1:50051"),
                    HasSubstr("--ca-cert")));
  o.cert_file = Write("c.pem", "-----BEGIN CERTIFICATE-----\n");
  EXPECT_THAT(MakeChannel(o).status().message(),
              HasSubstr("--cert and --key go together"));
  o.cert_file.clear();
  o.ca_cert_file = (dir_ / "ca.pem").string();
  EXPECT_THAT(MakeChannel(o).status().message(),
              AllOf(HasSubstr("--ca-cert " + o.ca_cert_file), HasSubstr("cannot read")));
}

TEST_F(ChannelTest, MakeChannelAccepts) {
  ConnectionOptions o;
  o.server = "127.0.0.1:50051";
  EXPECT_TRUE(MakeChannel(o).ok());
  o.token = "secret-token";
  EXPECT_TRUE(MakeChannel(o).ok());  // loopback: local credentials carry it
  o.server = "10.0.0.1:50051";
  o.ca_cert_file = Write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  EXPECT_TRUE(MakeChannel(o).ok());  // TLS: the token may go anywhere
  o.ca_cert_file.clear();
  o.tls = true;
  EXPECT_TRUE(MakeChannel(o).ok());
}

TEST(CredentialFlagsTest, ParsedAsGlobalFlags) {
  auto o = ParseArgs({"list", "--token-file", "/t", "--ca-cert=/ca.pem", "--cert",
                      "/c.pem", "--key", "/k.pem", "--tls"},
                     "127.0.0.1:50051");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->token_file, "/t");
  EXPECT_EQ(o->ca_cert, "/ca.pem");
  EXPECT_EQ(o->cert, "/c.pem");
  EXPECT_EQ(o->key, "/k.pem");
  EXPECT_TRUE(o->tls);
  auto health = ParseArgs({"--token-file=/t", "health"}, "h:1");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->command, Command::kHealth);
  EXPECT_THAT(ParseArgs({"list", "--cert", "/c.pem"}, "h:1").status().message(),
              HasSubstr("--cert and --key go together"));
  EXPECT_THAT(ParseArgs({"list", "--token-file="}, "h:1").status().message(),
              HasSubstr("--token-file needs a file name"));
  EXPECT_THAT(ParseArgs({"list", "--tls=yes"}, "h:1").status().message(),
              HasSubstr("--tls takes no value"));
  EXPECT_THAT(ParseArgs({"health", "x"}, "h:1").status().message(),
              HasSubstr("health: unexpected argument 'x'"));
  EXPECT_THAT(HelpText(),
              AllOf(HasSubstr("--token-file FILE"), HasSubstr("$EDBP_TOKEN"),
                    HasSubstr("--ca-cert FILE"), HasSubstr("--cert FILE, --key FILE"),
                    HasSubstr("6  not authenticated")));
}

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

Result RunWith(const std::vector<std::string>& args, const std::string& token = "") {
  std::ostringstream out, err;
  CliEnvironment environment;
  environment.token = token;
  Result r;
  r.code = RunCli(args, out, err, environment);
  r.out = out.str();
  r.err = err.str();
  return r;
}

TEST(ClientCredentialsTest, TokenFromTheEnvironmentIsSentAsBearer) {
  testing::FakeServer server;
  EXPECT_EQ(RunWith({"--server", server.address(), "list"}).code, 0);
  EXPECT_EQ(server.service().last_authorization(), "");
  EXPECT_EQ(RunWith({"--server", server.address(), "list"}, "env-token").code, 0);
  EXPECT_EQ(server.service().last_authorization(), "Bearer env-token");
  const Result to_remote = RunWith({"--server", "192.0.2.1:1", "list"}, "env-token");
  EXPECT_EQ(to_remote.code, 2);
  EXPECT_THAT(to_remote.err, HasSubstr("refusing to send the token in clear"));
}

TEST(ClientCredentialsTest, HealthCommand) {
  grpc::EnableDefaultHealthCheckService(true);
  testing::FakeServer server;
  const Result serving = RunWith({"--server", server.address(), "health"});
  EXPECT_EQ(serving.code, 0) << serving.err;
  EXPECT_EQ(serving.out, "SERVING\n");
  const Result json =
      RunWith({"--server", server.address(), "--output", "json", "health"});
  EXPECT_EQ(json.out, "{\"status\":\"SERVING\"}\n");
  const Result closed =
      RunWith({"--server", "127.0.0.1:" + std::to_string(testing::ClosedPort()),
               "--timeout", "2", "health"});
  EXPECT_EQ(closed.code, 3);
  EXPECT_THAT(closed.err, HasSubstr("cannot reach edbp-server"));
  grpc::EnableDefaultHealthCheckService(false);
}

}  // namespace
}  // namespace edbp::cli
