// edbp-server's access control end to end: the real server on 127.0.0.1 with a random
// port and a temporary data dir, the real edbp-client, certificates made by
// deploy/gen-certs.sh in the test.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "edbp/v1/training_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/process_util.h"

namespace edbp {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;  // NOLINT(google-build-using-namespace)
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kToken[] = "test-token-0123456789abcdef";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// edbp-server with `flags`; its stdout lines ("listening on", "health on", "metrics
// on") are read until `lines` of them came or it exited.
class Server {
 public:
  Server(const fs::path& dir, std::vector<std::string> flags, int lines = 1) : dir_(dir) {
    int out[2];
    EXPECT_EQ(pipe(out), 0);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      const std::string log = (dir / "server.log").string();
      const int err = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(err, 2);
      unsetenv("EDBP_AUTH_TOKEN");
      flags.insert(flags.begin(), "--data-dir=" + (dir / "data").string());
      flags.insert(flags.begin(), EDBP_SERVER_BIN);
      std::vector<char*> argv;
      argv.reserve(flags.size() + 1);
      for (std::string& f : flags) argv.push_back(f.data());
      argv.push_back(nullptr);
      execv(EDBP_SERVER_BIN, argv.data());
      _exit(127);
    }
    close(out[1]);
    FILE* f = fdopen(out[0], "r");
    char line[256];
    for (int i = 0; i < lines && fgets(line, sizeof(line), f) != nullptr; ++i) {
      std::string text(line);
      text.erase(text.find_last_not_of('\n') + 1);
      const size_t on = text.find(" on ");
      if (on != std::string::npos) addresses_[text.substr(0, on)] = text.substr(on + 4);
    }
    fclose(f);
  }
  ~Server() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  // "listening", "health", "metrics" -> host:port ("" when not printed).
  std::string Address(const std::string& what) const {
    auto it = addresses_.find(what);
    return it == addresses_.end() ? "" : it->second;
  }
  // Waits for the process to end (it should have refused to start) and returns its
  // exit code; the log is in Log().
  int WaitExit() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string Log() const { return ReadFile(dir_ / "server.log"); }

 private:
  fs::path dir_;
  pid_t pid_ = -1;
  std::map<std::string, std::string> addresses_;
};

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/edbp-auth-it.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    token_file_ = dir_ / "token";
    std::ofstream(token_file_) << kToken << "\n";
    chmod(token_file_.c_str(), 0600);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Makes ca.pem, server.pem, server-key.pem, client.pem, client-key.pem in dir_/certs.
  void MakeCerts() {
    const testing::CommandResult r =
        testing::RunCommand("deploy/gen-certs.sh " + (dir_ / "certs").string());
    ASSERT_EQ(r.code, 0) << r.output;
  }
  fs::path Cert(const std::string& name) const { return dir_ / "certs" / name; }

  // edbp-client with `args`; EDBP_TOKEN set to `env_token` when not null.
  testing::CommandResult Client(const std::string& args,
                                const char* env_token = nullptr) {
    std::string env = "env -u EDBP_TOKEN -u EDBP_SERVER ";
    if (env_token != nullptr)
      env = absl::StrCat("env -u EDBP_SERVER EDBP_TOKEN=", env_token, " ");
    return testing::RunCommand(absl::StrCat(env, EDBP_CLIENT_BIN, " --timeout 5 ", args));
  }

  fs::path dir_;
  fs::path token_file_;
};

// Every RPC of the public API, through `stub`: its status codes in order.
std::vector<grpc::StatusCode> CallEveryRpc(
    v1::TrainingService::Stub& stub, const std::shared_ptr<grpc::Channel>& channel) {
  std::vector<grpc::StatusCode> codes;
  auto deadline = [](grpc::ClientContext& c) {
    c.set_deadline(std::chrono::system_clock::now() + 5s);
  };
  {
    grpc::ClientContext c;
    deadline(c);
    v1::CreateJobRequest req;
    req.set_config_yaml("Network: {}");
    v1::Job job;
    codes.push_back(stub.CreateJob(&c, req, &job).error_code());
  }
  {
    grpc::ClientContext c;
    deadline(c);
    v1::GetJobRequest req;
    req.set_name("jobs/1");
    v1::Job job;
    codes.push_back(stub.GetJob(&c, req, &job).error_code());
  }
  {
    grpc::ClientContext c;
    deadline(c);
    v1::ListJobsResponse resp;
    codes.push_back(stub.ListJobs(&c, v1::ListJobsRequest(), &resp).error_code());
  }
  {
    grpc::ClientContext c;
    deadline(c);
    v1::CancelJobRequest req;
    req.set_name("jobs/1");
    v1::Job job;
    codes.push_back(stub.CancelJob(&c, req, &job).error_code());
  }
  {
    grpc::ClientContext c;
    deadline(c);
    v1::WatchJobRequest req;
    req.set_name("jobs/1");
    auto reader = stub.WatchJob(&c, req);
    v1::Event event;
    while (reader->Read(&event)) {
    }
    codes.push_back(reader->Finish().error_code());
  }
  {
    grpc::ClientContext c;
    deadline(c);
    v1::DownloadCheckpointRequest req;
    req.set_name("jobs/1");
    auto reader = stub.DownloadCheckpoint(&c, req);
    v1::CheckpointChunk chunk;
    while (reader->Read(&chunk)) {
    }
    codes.push_back(reader->Finish().error_code());
  }
  {
    // Server reflection (a bidirectional stream): listing the services.
    grpc::GenericStub generic(channel);
    grpc::ClientContext c;
    deadline(c);
    grpc::CompletionQueue cq;
    auto call = generic.PrepareCall(&c,
                                    "/grpc.reflection.v1alpha.ServerReflection/"
                                    "ServerReflectionInfo",
                                    &cq);
    void* tag;
    bool ok;
    call->StartCall(reinterpret_cast<void*>(1));
    cq.Next(&tag, &ok);
    grpc::Status status;
    call->Finish(&status, reinterpret_cast<void*>(2));
    while (cq.Next(&tag, &ok) && tag != reinterpret_cast<void*>(2)) {
    }
    codes.push_back(status.error_code());
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
  }
  return codes;
}

std::shared_ptr<grpc::Channel> LocalChannel(const std::string& address,
                                            const std::string& token) {
  std::shared_ptr<grpc::ChannelCredentials> creds =
      grpc::experimental::LocalCredentials(LOCAL_TCP);
  if (!token.empty()) {
    creds = grpc::CompositeChannelCredentials(creds, grpc::AccessTokenCredentials(token));
  }
  return grpc::CreateChannel(address, creds);
}

TEST_F(AuthTest, NoTokenOrAWrongOneIsUnauthenticatedOnEveryRpcButHealth) {
  Server server(dir_,
                {"--listen=127.0.0.1:0", "--auth-token-file=" + token_file_.string()});
  const std::string address = server.Address("listening");
  ASSERT_NE(address, "") << server.Log();
  EXPECT_THAT(server.Log(), HasSubstr("plaintext, local connections only, bearer token"));
  const std::vector<grpc::StatusCode> unauthenticated(7,
                                                      grpc::StatusCode::UNAUTHENTICATED);

  auto plain = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto plain_stub = v1::TrainingService::NewStub(plain);
  EXPECT_EQ(CallEveryRpc(*plain_stub, plain), unauthenticated);

  auto wrong = LocalChannel(address, "test-token-0123456789abcdeX");
  auto wrong_stub = v1::TrainingService::NewStub(wrong);
  EXPECT_EQ(CallEveryRpc(*wrong_stub, wrong), unauthenticated);

  // The right token reaches the service: these answers come from it.
  auto right = LocalChannel(address, kToken);
  auto right_stub = v1::TrainingService::NewStub(right);
  const std::vector<grpc::StatusCode> served = CallEveryRpc(*right_stub, right);
  EXPECT_EQ(served[0], grpc::StatusCode::INVALID_ARGUMENT);  // the config is incomplete
  EXPECT_EQ(served[1], grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(served[2], grpc::StatusCode::OK);
  EXPECT_EQ(served[3], grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(served[4], grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(served[5], grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(served[6], grpc::StatusCode::UNAUTHENTICATED);

  // Health stays open, in plaintext and without a token.
  EXPECT_EQ(Client("--server " + address + " health").code, 0);
  const testing::CommandResult health = Client("--server " + address + " health");
  EXPECT_EQ(health.output, "SERVING\n");
}

TEST_F(AuthTest, ClientTokenFromFileOrEnvironment) {
  Server server(dir_,
                {"--listen=127.0.0.1:0", "--auth-token-file=" + token_file_.string()});
  const std::string address = server.Address("listening");
  ASSERT_NE(address, "") << server.Log();
  const testing::CommandResult none = Client("--server " + address + " list");
  EXPECT_EQ(none.code, 6) << none.output;
  EXPECT_THAT(none.output, AllOf(HasSubstr("UNAUTHENTICATED"),
                                 HasSubstr("this server requires a bearer token"),
                                 HasSubstr("--token-file")));
  const testing::CommandResult wrong =
      Client("--server " + address + " list", "test-token-0123456789abcdeX");
  EXPECT_EQ(wrong.code, 6);
  EXPECT_THAT(wrong.output, HasSubstr("invalid bearer token"));
  EXPECT_EQ(Client("--server " + address + " list", kToken).code, 0);
  const testing::CommandResult file =
      Client("--server " + address + " --token-file " + token_file_.string() + " list",
             "wrong-token-from-the-environment");
  EXPECT_EQ(file.code, 0) << file.output;  // --token-file wins over EDBP_TOKEN
  const testing::CommandResult missing = Client("--server " + address + " --token-file " +
                                                (dir_ / "absent").string() + " list");
  EXPECT_EQ(missing.code, 2);
  EXPECT_THAT(missing.output,
              HasSubstr("--token-file " + (dir_ / "absent").string() + ": cannot read"));
}

TEST_F(AuthTest, DataPathOutsideTheRootsIsRejected) {
  Server server(dir_, {"--listen=127.0.0.1:0", "--data-roots=" + (dir_ / "ds").string()});
  const std::string address = server.Address("listening");
  ASSERT_NE(address, "") << server.Log();
  const fs::path config = dir_ / "c.yaml";
  std::string yaml = ReadFile("configs/small.yaml");
  std::ofstream(config) << yaml;
  const testing::CommandResult r =
      Client("--server " + address + " submit " + config.string() + " --validate-only");
  EXPECT_EQ(r.code, 5) << r.output;
  EXPECT_THAT(r.output,
              AllOf(HasSubstr("Network.data_path: \"/usr/share/datasets/fashion-mnist\""
                              " is outside the server's data roots"),
                    HasSubstr((dir_ / "ds").string())));
}

TEST_F(AuthTest, WorkerSocketIsOwnerOnly) {
  Server server(dir_, {"--listen=127.0.0.1:0"});
  ASSERT_NE(server.Address("listening"), "") << server.Log();
  struct stat st;
  ASSERT_EQ(stat((dir_ / "data" / "worker.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(AuthTest, TlsRoundTripWithTheTestCa) {
  MakeCerts();
  Server server(dir_,
                {"--listen=127.0.0.1:0", "--auth-token-file=" + token_file_.string(),
                 "--tls-cert=" + Cert("server.pem").string(),
                 "--tls-key=" + Cert("server-key.pem").string()});
  const std::string address = server.Address("listening");
  ASSERT_NE(address, "") << server.Log();
  EXPECT_THAT(server.Log(), HasSubstr("TLS, bearer token"));
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(Cert("ca.pem"));
  auto channel = grpc::CreateChannel(
      address, grpc::CompositeChannelCredentials(grpc::SslCredentials(ssl),
                                                 grpc::AccessTokenCredentials(kToken)));
  auto stub = v1::TrainingService::NewStub(channel);
  grpc::ClientContext c;
  c.set_deadline(std::chrono::system_clock::now() + 10s);
  v1::ListJobsResponse resp;
  const grpc::Status s = stub->ListJobs(&c, v1::ListJobsRequest(), &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(channel->GetState(false), GRPC_CHANNEL_READY);

  const std::string ca = " --ca-cert " + Cert("ca.pem").string();
  EXPECT_EQ(Client("--server " + address + ca + " list", kToken).code, 0);
  EXPECT_EQ(Client("--server " + address + ca + " list").code, 6);  // TLS, but no token
  // Plaintext to a TLS port never connects.
  EXPECT_EQ(Client("--server " + address + " list", kToken).code, 3);
  // A CA that did not sign the server's certificate: the handshake fails.
  const testing::CommandResult other =
      testing::RunCommand("deploy/gen-certs.sh " + (dir_ / "other").string());
  ASSERT_EQ(other.code, 0);
  EXPECT_EQ(Client("--server " + address + " --ca-cert " +
                       (dir_ / "other" / "ca.pem").string() + " list",
                   kToken)
                .code,
            3);
}

TEST_F(AuthTest, MtlsRejectsAClientWithoutACertificate) {
  MakeCerts();
  Server server(dir_,
                {"--listen=127.0.0.1:0", "--tls-cert=" + Cert("server.pem").string(),
                 "--tls-key=" + Cert("server-key.pem").string(),
                 "--client-ca=" + Cert("ca.pem").string(), "--health-listen=127.0.0.1:0"},
                2);
  const std::string address = server.Address("listening");
  ASSERT_NE(address, "") << server.Log();
  EXPECT_THAT(server.Log(), HasSubstr("TLS, client certificates required"));
  const std::string ca = " --ca-cert " + Cert("ca.pem").string();
  const testing::CommandResult without = Client("--server " + address + ca + " list");
  EXPECT_EQ(without.code, 3) << without.output;
  const testing::CommandResult with =
      Client("--server " + address + ca + " --cert " + Cert("client.pem").string() +
             " --key " + Cert("client-key.pem").string() + " list");
  EXPECT_EQ(with.code, 0) << with.output;
  // The same with the C++ API: no certificate, no call.
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(Cert("ca.pem"));
  auto stub = v1::TrainingService::NewStub(
      grpc::CreateChannel(address, grpc::SslCredentials(ssl)));
  grpc::ClientContext c;
  c.set_deadline(std::chrono::system_clock::now() + 5s);
  v1::ListJobsResponse resp;
  EXPECT_FALSE(stub->ListJobs(&c, v1::ListJobsRequest(), &resp).ok());
  // Probes cannot present certificates: the health-only port stays plaintext and open.
  const std::string health = server.Address("health");
  ASSERT_NE(health, "");
  EXPECT_EQ(Client("--server " + health + " health").code, 0);
  EXPECT_EQ(Client("--server " + health + " list").code, 1);  // UNIMPLEMENTED there
}

TEST_F(AuthTest, NonLoopbackListenNeedsAuthenticationOrInsecure) {
  Server refused(dir_, {"--listen=0.0.0.0:0"});
  EXPECT_EQ(refused.WaitExit(), 1);
  EXPECT_THAT(refused.Log(), AllOf(HasSubstr("refusing to listen on 0.0.0.0:0"),
                                   HasSubstr("--insecure")));
  Server token_without_tls(
      dir_, {"--listen=0.0.0.0:0", "--auth-token-file=" + token_file_.string()});
  EXPECT_EQ(token_without_tls.WaitExit(), 1);
  EXPECT_THAT(token_without_tls.Log(), HasSubstr("needs TLS"));
  Server insecure(dir_, {"--listen=0.0.0.0:0", "--insecure"});
  EXPECT_THAT(insecure.Address("listening"), ::testing::StartsWith("0.0.0.0:"));
  EXPECT_THAT(insecure.Log(), HasSubstr("no authentication (--insecure)"));
}

TEST_F(AuthTest, BadTokenFilesStopTheServer) {
  chmod(token_file_.c_str(), 0644);
  Server readable(dir_,
                  {"--listen=127.0.0.1:0", "--auth-token-file=" + token_file_.string()});
  EXPECT_EQ(readable.WaitExit(), 1);
  EXPECT_THAT(readable.Log(),
              AllOf(HasSubstr("--auth-token-file " + token_file_.string()),
                    HasSubstr("readable or writable by others")));
  Server missing(
      dir_, {"--listen=127.0.0.1:0", "--auth-token-file=" + (dir_ / "absent").string()});
  EXPECT_EQ(missing.WaitExit(), 1);
  EXPECT_THAT(missing.Log(), HasSubstr("No such file"));
}

TEST_F(AuthTest, MetricsEndpoint) {
  Server server(
      dir_, {"--listen=127.0.0.1:0", "--metrics-listen=127.0.0.1:0", "--cpu-slots=2"}, 2);
  const std::string metrics = server.Address("metrics");
  ASSERT_NE(metrics, "") << server.Log();
  const std::string response = testing::HttpGet(metrics, "/metrics");
  EXPECT_THAT(
      response,
      AllOf(HasSubstr("200 OK"), HasSubstr("edbp_jobs{state=\"queued\"} 0"),
            HasSubstr("edbp_queue_depth 0"),
            HasSubstr("edbp_device_utilization{device=\"cpu:1\"} 0"),
            HasSubstr("edbp_watchers 0"), HasSubstr("edbp_events_streamed_total 0"),
            HasSubstr("edbp_epoch_seconds_count 0")));
}

// A real job through an authenticated server: `submit --follow` streams its events with
// the token, the job writes TensorBoard files, and /metrics counts it all.
TEST_F(AuthTest, AuthenticatedJobWritesTensorBoardAndIsCounted) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST is not installed (scripts/install-deps.sh)";
  }
  Server server(dir_,
                {"--listen=127.0.0.1:0", "--auth-token-file=" + token_file_.string(),
                 "--metrics-listen=127.0.0.1:0"},
                2);
  const std::string address = server.Address("listening");
  ASSERT_NE(address, "") << server.Log();
  std::string yaml = ReadFile("configs/small.yaml");
  yaml.replace(yaml.find("epochs: 100"), 11, "epochs: 1");
  yaml.replace(yaml.find("n_steps: 5"), 10, "n_steps: 5\n  data_limit: 200");
  const fs::path config = dir_ / "tiny.yaml";
  std::ofstream(config) << yaml;
  const testing::CommandResult run =
      Client("--server " + address + " submit " + config.string() + " --follow", kToken);
  ASSERT_EQ(run.code, 0) << run.output << server.Log();

  std::vector<fs::path> events;
  for (const auto& e :
       fs::directory_iterator(dir_ / "data" / "jobs" / "1" / "tensorboard")) {
    events.push_back(e.path());
  }
  ASSERT_EQ(events.size(), 1u);
  EXPECT_THAT(events[0].filename().string(),
              ::testing::StartsWith("events.out.tfevents."));
  EXPECT_GT(fs::file_size(events[0]), 100u);

  const std::string metrics = testing::HttpGet(server.Address("metrics"), "/metrics");
  EXPECT_THAT(metrics, AllOf(HasSubstr("edbp_jobs{state=\"succeeded\"} 1"),
                             HasSubstr("edbp_epoch_seconds_count 1"),
                             HasSubstr("edbp_watchers 0")));
  EXPECT_THAT(metrics, ::testing::Not(HasSubstr("edbp_events_streamed_total 0\n")));
}

}  // namespace
}  // namespace edbp
