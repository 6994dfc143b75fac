// The deployment files, checked by structure: Dockerfile, scripts/collect-runtime.sh
// on the real build output (ldd), deploy/compose.yaml, deploy/k8s, shellcheck, yamllint.
// Runs from the source tree's root.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/process_util.h"
#include "yaml-cpp/yaml.h"

namespace edbp {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::HasSubstr;
using testing::ReadFile;

// The flags edbp-server defines (ABSL_FLAG in server_main.cc), plus Abseil's own.
std::set<std::string> FlagsOf(const std::string& args_source) {
  std::set<std::string> flags = {"flagfile", "help", "helpfull"};
  const std::string source = ReadFile(args_source);
  const std::regex flag(R"(ABSL_FLAG\(\s*[^,]+,\s*(\w+),)");
  for (auto it = std::sregex_iterator(source.begin(), source.end(), flag);
       it != std::sregex_iterator(); ++it) {
    flags.insert((*it)[1].str());
  }
  return flags;
}

std::set<std::string> ServerFlags() { return FlagsOf("server/server_args.cc"); }

// "--data-dir=/x" -> {"data_dir", "/x"}.
std::pair<std::string, std::string> SplitFlag(const std::string& arg) {
  EXPECT_TRUE(absl::StartsWith(arg, "--")) << arg;
  const size_t eq = arg.find('=');
  std::string name = arg.substr(2, eq == arg.npos ? arg.npos : eq - 2);
  std::replace(name.begin(), name.end(), '-', '_');
  return {name, eq == arg.npos ? "" : arg.substr(eq + 1)};
}

// ---- Dockerfile -------------------------------------------------------------------

struct Instruction {
  std::string keyword;  // upper case
  std::string args;
};
struct Stage {
  std::string from;  // the image expression
  std::string name;
  std::vector<Instruction> instructions;
};
struct Dockerfile {
  std::map<std::string, std::string> args;  // ARGs before the first FROM: defaults
  std::vector<Stage> stages;
};

Dockerfile ParseDockerfile(const std::string& text) {
  Dockerfile d;
  std::string logical;
  std::vector<std::string> lines;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    if (absl::ConsumeSuffix(&line, "\\")) {
      absl::StrAppend(&logical, line, " ");
      continue;
    }
    absl::StrAppend(&logical, line);
    lines.push_back(logical);
    logical.clear();
  }
  for (const std::string& line : lines) {
    const size_t space = line.find(' ');
    Instruction ins{line.substr(0, space),
                    space == line.npos ? "" : line.substr(space + 1)};
    if (ins.keyword == "FROM") {
      std::vector<std::string> parts = absl::StrSplit(ins.args, ' ', absl::SkipEmpty());
      Stage stage;
      stage.from = parts[0];
      if (parts.size() == 3 && parts[1] == "AS") stage.name = parts[2];
      d.stages.push_back(stage);
    } else if (d.stages.empty() && ins.keyword == "ARG") {
      const size_t eq = ins.args.find('=');
      d.args[ins.args.substr(0, eq)] = eq == ins.args.npos ? "" : ins.args.substr(eq + 1);
    } else {
      EXPECT_FALSE(d.stages.empty()) << "instruction before FROM: " << line;
      if (!d.stages.empty()) d.stages.back().instructions.push_back(ins);
    }
  }
  return d;
}

// Expands $NAME, ${NAME} and ${NAME:-word} (word expanded recursively), as Docker does.
std::string Expand(const std::string& s, const std::map<std::string, std::string>& vars) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] != '$') {
      out += s[i++];
      continue;
    }
    if (i + 1 < s.size() && s[i + 1] == '{') {
      int depth = 1;
      size_t j = i + 2;
      for (; j < s.size() && depth > 0; ++j) {
        if (s[j] == '{') ++depth;
        if (s[j] == '}') --depth;
      }
      const std::string inner = s.substr(i + 2, j - i - 3);
      const size_t dash = inner.find(":-");
      const std::string name = inner.substr(0, dash);
      auto it = vars.find(name);
      const std::string value = it == vars.end() ? "" : it->second;
      out += dash != inner.npos && value.empty() ? Expand(inner.substr(dash + 2), vars)
                                                 : value;
      i = j;
    } else {
      size_t j = i + 1;
      while (j < s.size() && (isalnum(s[j]) || s[j] == '_')) ++j;
      auto it = vars.find(s.substr(i + 1, j - i - 1));
      out += it == vars.end() ? "" : it->second;
      i = j;
    }
  }
  return out;
}

TEST(DockerfileTest, CudaImagesByDefaultDebianSlimWithBase) {
  const Dockerfile d = ParseDockerfile(ReadFile("Dockerfile"));
  ASSERT_EQ(d.stages.size(), 2u);
  EXPECT_EQ(d.stages[0].name, "build");
  EXPECT_EQ(d.stages[1].name, "runtime");
  const std::regex cuda_devel(R"(nvidia/cuda:13\.0\.\d+-cudnn-devel-ubuntu24\.04)");
  const std::regex cuda_runtime(R"(nvidia/cuda:13\.0\.\d+-cudnn-runtime-ubuntu24\.04)");
  EXPECT_TRUE(std::regex_match(Expand(d.stages[0].from, d.args), cuda_devel))
      << Expand(d.stages[0].from, d.args);
  EXPECT_TRUE(std::regex_match(Expand(d.stages[1].from, d.args), cuda_runtime))
      << Expand(d.stages[1].from, d.args);
  std::map<std::string, std::string> cpu = d.args;
  cpu["BASE"] = "debian:12-slim";
  EXPECT_EQ(Expand(d.stages[0].from, cpu), "debian:12-slim");
  EXPECT_EQ(Expand(d.stages[1].from, cpu), "debian:12-slim");
}

TEST(DockerfileTest, BuildStageRunsWhatCiRuns) {
  const Dockerfile d = ParseDockerfile(ReadFile("Dockerfile"));
  ASSERT_GE(d.stages.size(), 1u);
  std::string runs;
  for (const Instruction& ins : d.stages[0].instructions) {
    if (ins.keyword == "RUN") absl::StrAppend(&runs, ins.args, "\n");
  }
  EXPECT_THAT(runs, HasSubstr("./scripts/install-deps.sh"));
  EXPECT_THAT(runs, HasSubstr("make build BUILD_DIR=/src/build"));
  // The build's packages only, in the RUN and in `make build`'s deps step (otherwise
  // make would install the test, lint and browser tools into the build stage).
  EXPECT_THAT(runs, HasSubstr("./scripts/install-deps.sh --build"));
  EXPECT_THAT(runs, HasSubstr("DEPS_ARGS=--build"));
  EXPECT_THAT(runs, HasSubstr("-DEDBP_BUILD_TESTS=OFF"));
  EXPECT_THAT(runs, HasSubstr("./scripts/collect-runtime.sh /src/build /stage"));
  // CI (.ci/run) runs `make test`, whose build goes through the same targets.
  EXPECT_THAT(ReadFile(".ci/run"), HasSubstr("make test"));
  const std::string makefile = ReadFile("Makefile");
  EXPECT_THAT(makefile, HasSubstr("deps:\n\t./scripts/install-deps.sh $(DEPS_ARGS)"));
  EXPECT_THAT(makefile,
              HasSubstr("configure: deps\n\tcmake -S . -B $(BUILD_DIR) -G Ninja"));
  EXPECT_THAT(makefile, HasSubstr("build: configure\n\tcmake --build $(BUILD_DIR)"));
  EXPECT_THAT(makefile, HasSubstr("unit: build"));
}

TEST(DockerfileTest, RuntimeStageCopiesOnlyTheStagingDirAndRunsAsNonRoot) {
  const Dockerfile d = ParseDockerfile(ReadFile("Dockerfile"));
  ASSERT_EQ(d.stages.size(), 2u);
  int copies = 0;
  std::map<std::string, std::string> seen;
  for (const Instruction& ins : d.stages[1].instructions) {
    EXPECT_NE(ins.keyword, "ADD") << "ADD in the runtime stage: " << ins.args;
    if (ins.keyword == "COPY") {
      ++copies;
      EXPECT_EQ(ins.args, "--from=build /stage /opt/edbp");
    }
    seen[ins.keyword] = ins.args;
  }
  EXPECT_EQ(copies, 1);
  ASSERT_TRUE(seen.count("USER"));
  EXPECT_EQ(seen["USER"], "10001:10001");
  EXPECT_THAT(seen["VOLUME"], HasSubstr("\"/data\""));
  EXPECT_THAT(seen["ENTRYPOINT"], HasSubstr("\"edbp-server\""));
  // The health check asks grpc.health.v1 on the port CMD gives --health-listen.
  const std::regex health_port(R"(--health-listen=[0-9.]+:(\d+))");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(seen["CMD"], m, health_port)) << seen["CMD"];
  EXPECT_THAT(seen["HEALTHCHECK"], HasSubstr("\"edbp-client\""));
  EXPECT_THAT(seen["HEALTHCHECK"],
              HasSubstr("\"--server=127.0.0.1:" + m[1].str() + "\""));
  EXPECT_THAT(seen["HEALTHCHECK"], HasSubstr("\"health\""));
  // Every CMD flag is one of edbp-server's.
  const std::set<std::string> flags = ServerFlags();
  const std::regex arg(R"re("(--[^"]+)")re");
  for (auto it = std::sregex_iterator(seen["CMD"].begin(), seen["CMD"].end(), arg);
       it != std::sregex_iterator(); ++it) {
    EXPECT_THAT(flags, Contains(SplitFlag((*it)[1].str()).first)) << (*it)[1].str();
  }
  const std::string ignore = ReadFile(".dockerignore");
  for (const char* excluded : {"\n.git\n", "\nbuild-*\n", "\ntests\n", "\ndeploy\n"}) {
    EXPECT_THAT(ignore, HasSubstr(excluded));
  }
  // --build-arg MPI=1 adds mpirun and sshd (deploy/k8s/mpijob); the default has neither.
  std::string mpi_run;
  for (const Instruction& ins : d.stages[1].instructions) {
    if (ins.keyword == "ARG" && absl::StartsWith(ins.args, "MPI")) {
      EXPECT_EQ(ins.args, "MPI=0");
    }
    if (ins.keyword == "RUN" && absl::StrContains(ins.args, "openmpi-bin")) {
      mpi_run = ins.args;
    }
  }
  EXPECT_THAT(mpi_run, HasSubstr("if [ \"$MPI\" = 1 ]"));
  EXPECT_THAT(mpi_run, HasSubstr("openssh-server"));
}

// ---- the staged runtime -----------------------------------------------------------

// Globs of runtime-base-libs.txt as regexes.
std::vector<std::regex> BaseLibraries() {
  std::vector<std::regex> out;
  for (absl::string_view line :
       absl::StrSplit(ReadFile("scripts/runtime-base-libs.txt"), '\n')) {
    line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    std::string re;
    for (char c : line) {
      if (c == '*') {
        re += ".*";
      } else if (c == '.' || c == '+') {
        re += std::string("\\") + c;
      } else {
        re += c;
      }
    }
    out.emplace_back(re);
  }
  return out;
}

bool InBase(const std::string& soname, const std::vector<std::regex>& base) {
  for (const std::regex& re : base) {
    if (std::regex_match(soname, re)) return true;
  }
  return false;
}

// What ldd reports wrong for `binary` with only `lib` added: dependencies that resolve
// neither into `lib` nor to a base library, or not at all. "" when all is well.
std::string CheckLdd(const fs::path& binary, const fs::path& lib) {
  const testing::CommandResult ldd = testing::RunCommand(
      absl::StrCat("env -i LD_LIBRARY_PATH=", lib.string(), " ldd ", binary.string()));
  if (ldd.code != 0) return "ldd failed: " + ldd.output;
  const std::vector<std::regex> base = BaseLibraries();
  std::string problems;
  for (absl::string_view line : absl::StrSplit(ldd.output, '\n', absl::SkipEmpty())) {
    std::vector<std::string> parts =
        absl::StrSplit(absl::StripAsciiWhitespace(line), ' ');
    if (parts.size() < 3 || parts[1] != "=>") continue;
    const std::string& soname = parts[0];
    const std::string& path = parts[2];
    if (path == "not") {
      absl::StrAppend(&problems, soname, " not found; ");
    } else if (!absl::StartsWith(path, lib.string() + "/") && !InBase(soname, base)) {
      absl::StrAppend(&problems, soname, " resolves outside the staged set to ", path,
                      "; ");
    } else if (absl::StartsWith(path, lib.string() + "/") && InBase(soname, base)) {
      absl::StrAppend(&problems, soname, " is staged but the base image has it; ");
    }
  }
  return problems;
}

class StagedRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/edbp-stage-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(StagedRuntimeTest, EveryDependencyResolvesAgainstTheStagedSet) {
  const fs::path stage = dir_ / "stage";
  const testing::CommandResult collect = testing::RunCommand(
      absl::StrCat("scripts/collect-runtime.sh ", EDBP_BUILD_DIR, " ", stage.string()));
  ASSERT_EQ(collect.code, 0) << collect.output;
  EXPECT_THAT(collect.output, HasSubstr("staged 3 binaries"));
  // The CUDA modules, where this build has them (kernels/cuda_modules.h).
  std::set<std::string> built_modules;
  if (fs::exists(fs::path(EDBP_BUILD_DIR) / "lib" / "edbp")) {
    for (const auto& e :
         fs::directory_iterator(fs::path(EDBP_BUILD_DIR) / "lib" / "edbp"))
      built_modules.insert(e.path().filename());
  }

  // Only bin/ with the three binaries and lib/ with regular .so files.
  std::set<std::string> top, bins;
  for (const auto& e : fs::directory_iterator(stage)) top.insert(e.path().filename());
  EXPECT_EQ(top, (std::set<std::string>{"bin", "lib"}));
  for (const auto& e : fs::directory_iterator(stage / "bin"))
    bins.insert(e.path().filename());
  EXPECT_EQ(bins, (std::set<std::string>{"edbp-client", "edbp-server", "edbp-train"}));
  int libs = 0;
  for (const auto& e : fs::directory_iterator(stage / "lib")) {
    if (e.path().filename() == "edbp" && !built_modules.empty()) continue;  // the modules
    ++libs;
    EXPECT_TRUE(e.is_regular_file() && !e.is_symlink()) << e.path();
    EXPECT_THAT(e.path().filename().string(), HasSubstr(".so")) << e.path();
  }
  EXPECT_GT(libs, 5);  // gRPC, protobuf, Abseil, OpenBLAS, SQLite at the least
  EXPECT_TRUE(fs::exists(stage / "lib" / "libprotobuf.so.32"));
  EXPECT_FALSE(fs::exists(stage / "lib" / "libc.so.6"));

  for (const std::string b : {"edbp-server", "edbp-train", "edbp-client"}) {
    EXPECT_EQ(CheckLdd(stage / "bin" / b, stage / "lib"), "") << b;
  }
  // Each CUDA module is staged in lib/edbp, and what it needs resolves too.
  std::set<std::string> staged_modules;
  if (fs::exists(stage / "lib" / "edbp")) {
    for (const auto& e : fs::directory_iterator(stage / "lib" / "edbp")) {
      staged_modules.insert(e.path().filename());
      EXPECT_EQ(CheckLdd(e.path(), stage / "lib"), "") << e.path();
    }
  }
  EXPECT_EQ(staged_modules, built_modules);
  EXPECT_THAT(collect.output,
              HasSubstr(absl::StrCat(built_modules.size(), " CUDA modules")));
  // Nothing comes from the build tree: the staged binaries find no library there.
  const testing::CommandResult ldd = testing::RunCommand(
      absl::StrCat("env -i LD_LIBRARY_PATH=", (stage / "lib").string(), " ldd ",
                   (stage / "bin" / "edbp-server").string()));
  EXPECT_THAT(ldd.output, ::testing::Not(HasSubstr(EDBP_BUILD_DIR)));

  // The staged binaries run, and their --help lists the new flags.
  const std::string env =
      absl::StrCat("env -i LD_LIBRARY_PATH=", (stage / "lib").string(), " ");
  const testing::CommandResult server =
      testing::RunCommand(env + (stage / "bin" / "edbp-server").string() + " --help");
  for (const char* flag :
       {"--auth_token_file", "--tls_cert", "--tls_key", "--client_ca", "--insecure",
        "--metrics_listen", "--health_listen", "--data_roots"}) {
    EXPECT_THAT(server.output, HasSubstr(flag));
  }
  const testing::CommandResult client =
      testing::RunCommand(env + (stage / "bin" / "edbp-client").string() + " --help");
  EXPECT_EQ(client.code, 0) << client.output;
  for (const char* flag : {"--token-file", "--ca-cert", "--cert FILE", "--key FILE",
                           "--tls", "EDBP_TOKEN", "health"}) {
    EXPECT_THAT(client.output, HasSubstr(flag));
  }
  const testing::CommandResult train =
      testing::RunCommand(env + (stage / "bin" / "edbp-train").string() + " --help");
  EXPECT_THAT(train.output, HasSubstr("--tensorboard_dir"));
  if (!built_modules.empty()) {
    // The staged edbp-train finds its CUDA modules in ../lib/edbp (no build tree, no
    // EDBP_CUDA_MODULE_DIR): asked for CUDA it gets as far as looking for a device.
    std::string config = ReadFile("configs/small.yaml");
    const size_t at = config.find("backend: \"auto\"");
    ASSERT_NE(at, std::string::npos);
    config.replace(at, 15, "backend: \"cuda\"");
    const fs::path cuda_config = dir_ / "cuda.yaml";
    std::ofstream(cuda_config) << config;
    const testing::CommandResult cuda = testing::RunCommand(
        env + (stage / "bin" / "edbp-train").string() + " " + cuda_config.string() +
        " --epochs 1 --data_limit 50 --notensorboard --out_dir " +
        (dir_ / "run").string());
    EXPECT_THAT(cuda.output, ::testing::Not(HasSubstr("cannot load the CUDA module")));
    EXPECT_THAT(cuda.output, ::testing::Not(HasSubstr("built without CUDA")));
    if (cuda.code != 0) {
      EXPECT_THAT(cuda.output, HasSubstr("no CUDA device is visible"));
    }
  }

  // The check itself fails when a staged library is taken away.
  fs::remove(stage / "lib" / "libprotobuf.so.32");
  EXPECT_THAT(CheckLdd(stage / "bin" / "edbp-server", stage / "lib"),
              HasSubstr("libprotobuf.so.32"));
}

TEST_F(StagedRuntimeTest, ScriptErrors) {
  const testing::CommandResult usage = testing::RunCommand("scripts/collect-runtime.sh");
  EXPECT_EQ(usage.code, 2);
  EXPECT_THAT(usage.output, HasSubstr("usage:"));
  const testing::CommandResult missing =
      testing::RunCommand("scripts/collect-runtime.sh " + (dir_ / "nothing").string() +
                          " " + (dir_ / "stage").string());
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.output,
              HasSubstr((dir_ / "nothing").string() + "/bin/edbp-server is "
                                                      "missing: build first"));
}

// ---- compose ------------------------------------------------------------------------

TEST(ComposeTest, GpuReservationVolumePortAndToken) {
  const YAML::Node compose = YAML::LoadFile("deploy/compose.yaml");
  const YAML::Node server = compose["services"]["server"];
  ASSERT_TRUE(server.IsMap());
  const YAML::Node device = server["deploy"]["resources"]["reservations"]["devices"][0];
  EXPECT_EQ(device["driver"].as<std::string>(), "nvidia");
  EXPECT_EQ(device["capabilities"][0].as<std::string>(), "gpu");
  EXPECT_TRUE(compose["volumes"]["edbp-data"]);
  std::vector<std::string> volumes = server["volumes"].as<std::vector<std::string>>();
  EXPECT_THAT(volumes, Contains("edbp-data:/data"));
  EXPECT_THAT(server["ports"].as<std::vector<std::string>>(),
              Contains("127.0.0.1:50051:50051"));
  EXPECT_THAT(server["environment"]["EDBP_AUTH_TOKEN"].as<std::string>(),
              HasSubstr("${EDBP_TOKEN:?"));
  const std::set<std::string> flags = ServerFlags();
  std::map<std::string, std::string> given;
  for (const std::string& arg : server["command"].as<std::vector<std::string>>()) {
    auto [name, value] = SplitFlag(arg);
    EXPECT_THAT(flags, Contains(name)) << arg;
    given[name] = value;
  }
  EXPECT_EQ(given["data_dir"], "/data");
  EXPECT_EQ(given["listen"], "0.0.0.0:50051");
  // A token on 0.0.0.0 needs TLS: the certificates come from the mounted ./certs.
  EXPECT_THAT(given["tls_cert"], HasSubstr("/certs/"));
  EXPECT_THAT(given["tls_key"], HasSubstr("/certs/"));
  EXPECT_THAT(volumes, Contains("./certs:/certs:ro"));
}

// ---- Kubernetes ---------------------------------------------------------------------

std::map<std::string, YAML::Node> K8sResources() {
  std::map<std::string, YAML::Node> by_kind;
  const YAML::Node kustomization = YAML::LoadFile("deploy/k8s/kustomization.yaml");
  for (const YAML::Node& file : kustomization["resources"]) {
    const YAML::Node doc = YAML::LoadFile("deploy/k8s/" + file.as<std::string>());
    by_kind[doc["kind"].as<std::string>()] = doc;
  }
  return by_kind;
}

TEST(KubernetesTest, KindsAndKustomization) {
  const std::map<std::string, YAML::Node> r = K8sResources();
  std::set<std::string> kinds;
  for (const auto& [kind, doc] : r) kinds.insert(kind);
  EXPECT_EQ(kinds,
            (std::set<std::string>{"ConfigMap", "Namespace", "Service", "StatefulSet"}));
  const YAML::Node k = YAML::LoadFile("deploy/k8s/kustomization.yaml");
  EXPECT_EQ(k["kind"].as<std::string>(), "Kustomization");
  EXPECT_EQ(k["namespace"].as<std::string>(),
            r.at("Namespace")["metadata"]["name"].as<std::string>());
  std::set<std::string> secrets;
  for (const YAML::Node& s : k["secretGenerator"])
    secrets.insert(s["name"].as<std::string>());
  EXPECT_EQ(secrets, (std::set<std::string>{"edbp-tls", "edbp-token"}));
}

TEST(KubernetesTest, StatefulSetProbesGpuVolumesAndFlags) {
  const std::map<std::string, YAML::Node> r = K8sResources();
  const YAML::Node sts = r.at("StatefulSet");
  const YAML::Node pod = sts["spec"]["template"]["spec"];
  ASSERT_EQ(pod["containers"].size(), 1u);
  const YAML::Node c = pod["containers"][0];
  EXPECT_GE(c["resources"]["limits"]["nvidia.com/gpu"].as<int>(), 1);
  EXPECT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>());
  EXPECT_EQ(pod["securityContext"]["runAsUser"].as<int>(), 10001);  // the image's user
  EXPECT_EQ(pod["affinity"]["podAntiAffinity"]
               ["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"]
                   .as<std::string>(),
            "kubernetes.io/hostname");

  // Flags: the ConfigMap is the --flagfile; every flag in it is edbp-server's.
  const YAML::Node cm = r.at("ConfigMap");
  std::map<std::string, std::string> flags;
  const std::set<std::string> known = ServerFlags();
  for (absl::string_view line :
       absl::StrSplit(cm["data"]["flags"].as<std::string>(), '\n', absl::SkipEmpty())) {
    auto [name, value] = SplitFlag(std::string(line));
    EXPECT_THAT(known, Contains(name)) << line;
    flags[name] = value;
  }
  std::map<std::string, std::string> mounts;  // volume name -> mount path
  for (const YAML::Node& m : c["volumeMounts"]) {
    mounts[m["name"].as<std::string>()] = m["mountPath"].as<std::string>();
  }
  std::map<std::string, YAML::Node> volumes;
  for (const YAML::Node& v : pod["volumes"]) volumes[v["name"].as<std::string>()] = v;
  for (const YAML::Node& t : sts["spec"]["volumeClaimTemplates"]) {
    volumes[t["metadata"]["name"].as<std::string>()] = t;
  }
  for (const auto& [name, path] : mounts) EXPECT_TRUE(volumes.count(name)) << name;
  EXPECT_EQ(c["args"][0].as<std::string>(),
            "--flagfile=" + mounts.at("flags") + "/flags");
  EXPECT_EQ(volumes.at("flags")["configMap"]["name"].as<std::string>(),
            cm["metadata"]["name"].as<std::string>());
  EXPECT_EQ(flags.at("data_dir"), mounts.at("data"));
  EXPECT_TRUE(volumes.at("data")["spec"]["resources"]["requests"]["storage"]);
  EXPECT_TRUE(absl::StartsWith(flags.at("auth_token_file"), mounts.at("token") + "/"));
  EXPECT_TRUE(absl::StartsWith(flags.at("tls_cert"), mounts.at("tls") + "/"));
  EXPECT_TRUE(absl::StartsWith(flags.at("tls_key"), mounts.at("tls") + "/"));
  // The token file must not be readable by others (edbp-server refuses it otherwise).
  EXPECT_EQ(volumes.at("token")["secret"]["defaultMode"].Scalar(), "0440");

  // Probes: grpc.health.v1 on the port --health_listen serves.
  const std::string health_port =
      flags.at("health_listen").substr(flags.at("health_listen").rfind(':') + 1);
  for (const char* probe : {"livenessProbe", "readinessProbe"}) {
    ASSERT_TRUE(c[probe]["grpc"]) << probe;
    EXPECT_EQ(c[probe]["grpc"]["port"].as<std::string>(), health_port) << probe;
  }
  std::map<std::string, int> ports;
  for (const YAML::Node& p : c["ports"]) {
    ports[p["name"].as<std::string>()] = p["containerPort"].as<int>();
  }
  EXPECT_EQ(std::to_string(ports.at("health")), health_port);
  EXPECT_EQ(flags.at("listen"), "0.0.0.0:" + std::to_string(ports.at("grpc")));
  EXPECT_EQ(flags.at("metrics_listen"), "0.0.0.0:" + std::to_string(ports.at("metrics")));

  // The Service selects the pods and targets ports they have.
  const YAML::Node svc = r.at("Service");
  EXPECT_EQ(sts["spec"]["serviceName"].as<std::string>(),
            svc["metadata"]["name"].as<std::string>());
  for (const auto& label : svc["spec"]["selector"]) {
    EXPECT_EQ(sts["spec"]["template"]["metadata"]["labels"][label.first.as<std::string>()]
                  .as<std::string>(),
              label.second.as<std::string>());
  }
  for (const YAML::Node& p : svc["spec"]["ports"]) {
    EXPECT_TRUE(ports.count(p["targetPort"].as<std::string>())) << p["targetPort"];
  }
}

// A multi-node run (issue 18): the MPIJob's ranks, GPUs, shared volume and command.
TEST(KubernetesTest, MpiJobRanksGpusSharedVolumeAndCommand) {
  const YAML::Node k = YAML::LoadFile("deploy/k8s/mpijob/kustomization.yaml");
  std::map<std::string, YAML::Node> r;
  for (const YAML::Node& file : k["resources"]) {
    const YAML::Node doc = YAML::LoadFile("deploy/k8s/mpijob/" + file.as<std::string>());
    r[doc["kind"].as<std::string>()] = doc;
  }
  ASSERT_EQ(r.size(), 2u);
  const YAML::Node job = r.at("MPIJob");
  EXPECT_EQ(job["apiVersion"].as<std::string>(), "kubeflow.org/v2beta1");
  const YAML::Node specs = job["spec"]["mpiReplicaSpecs"];
  const int workers = specs["Worker"]["replicas"].as<int>();
  const int slots = job["spec"]["slotsPerWorker"].as<int>();
  EXPECT_GE(workers, 2) << "a multi-node job";
  const YAML::Node worker = specs["Worker"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(worker["resources"]["limits"]["nvidia.com/gpu"].as<int>(), slots)
      << "one GPU per rank";
  EXPECT_EQ(specs["Launcher"]["replicas"].as<int>(), 1);
  const YAML::Node launcher = specs["Launcher"]["template"]["spec"]["containers"][0];
  std::vector<std::string> command;
  for (const YAML::Node& c : launcher["command"]) command.push_back(c.as<std::string>());
  ASSERT_GE(command.size(), 5u);
  EXPECT_EQ(command[0], "mpirun");
  EXPECT_EQ(command[1], "-np");
  const int ranks = std::stoi(command[2]);
  EXPECT_EQ(ranks, workers * slots);
  const auto train = std::find(command.begin(), command.end(), "edbp-train");
  ASSERT_NE(train, command.end());
  // edbp-train CONFIG [--flag value]...: every flag is edbp-train's.
  const std::set<std::string> train_flags = FlagsOf("worker/train_args.cc");
  std::map<std::string, std::string> flags;
  for (auto it = train + 2; it != command.end(); ++it) {
    if (absl::StartsWith(*it, "--")) {
      flags[SplitFlag(*it).first] = it + 1 != command.end() ? *(it + 1) : "";
      EXPECT_THAT(train_flags, Contains(SplitFlag(*it).first)) << *it;
    }
  }
  // The run directory is on the ReadWriteMany claim every pod mounts at one path.
  const YAML::Node pvc = r.at("PersistentVolumeClaim");
  EXPECT_EQ(pvc["spec"]["accessModes"][0].as<std::string>(), "ReadWriteMany");
  for (const char* role : {"Launcher", "Worker"}) {
    const YAML::Node pod = specs[role]["template"]["spec"];
    std::map<std::string, std::string> mounts;
    for (const YAML::Node& m : pod["containers"][0]["volumeMounts"]) {
      mounts[m["name"].as<std::string>()] = m["mountPath"].as<std::string>();
    }
    std::string claim;
    for (const YAML::Node& v : pod["volumes"]) {
      if (v["name"].as<std::string>() == "runs") {
        claim = v["persistentVolumeClaim"]["claimName"].as<std::string>();
      }
    }
    EXPECT_EQ(claim, pvc["metadata"]["name"].as<std::string>()) << role;
    EXPECT_TRUE(absl::StartsWith(flags.at("out_dir"), mounts.at("runs") + "/")) << role;
    EXPECT_EQ(*(train + 1), mounts.at("config") + "/config.yaml") << role;
  }
  // The config: Network.batch_size (the global batch) divisible by the ranks.
  const YAML::Node config = YAML::LoadFile("deploy/k8s/mpijob/config.yaml");
  EXPECT_EQ(config["Network"]["batch_size"].as<int>() % ranks, 0);
  // Pods: non-root, no privilege escalation, no capabilities; the workers read the data
  // the config names from a read-only mount.
  for (const char* role : {"Launcher", "Worker"}) {
    const YAML::Node pod = specs[role]["template"]["spec"];
    EXPECT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>()) << role;
    EXPECT_EQ(pod["securityContext"]["runAsUser"].as<int>(), 10001) << role;
    const YAML::Node sc = pod["containers"][0]["securityContext"];
    EXPECT_FALSE(sc["allowPrivilegeEscalation"].as<bool>()) << role;
    EXPECT_EQ(sc["capabilities"]["drop"][0].as<std::string>(), "ALL") << role;
  }
  std::string data_mount;
  for (const YAML::Node& m : worker["volumeMounts"]) {
    if (m["name"].as<std::string>() == "datasets") {
      EXPECT_TRUE(m["readOnly"].as<bool>());
      data_mount = m["mountPath"].as<std::string>();
    }
  }
  ASSERT_FALSE(data_mount.empty()) << "the workers need the data set";
  EXPECT_TRUE(absl::StartsWith(config["Network"]["data_path"].as<std::string>(),
                               data_mount + "/"));
}

// ---- linters ------------------------------------------------------------------------

TEST(LintTest, ShellcheckClean) {
  const testing::CommandResult r =
      testing::RunCommand("shellcheck scripts/*.sh deploy/*.sh");
  EXPECT_EQ(r.code, 0) << r.output;
}

TEST(LintTest, YamllintClean) {
  const testing::CommandResult r =
      testing::RunCommand("yamllint -s -c deploy/.yamllint.yaml deploy");
  EXPECT_EQ(r.code, 0) << r.output;
}

}  // namespace
}  // namespace edbp
