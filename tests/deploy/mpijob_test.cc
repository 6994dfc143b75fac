// Issue 18: deploy/k8s/mpijob, the manifests of one data-parallel run across nodes, by
// structure (no cluster here): an MPIJob whose mpirun starts as many ranks as the
// workers have slots, a number that divides the config's batch, one GPU per worker,
// non-root pods without privilege escalation, the run directory on a shared volume and
// the data read-only.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace edbp {
namespace {

YAML::Node MpiJob() { return YAML::LoadFile("deploy/k8s/mpijob/mpijob.yaml"); }

std::vector<std::string> LauncherCommand(const YAML::Node& job) {
  const YAML::Node c =
      job["spec"]["mpiReplicaSpecs"]["Launcher"]["template"]["spec"]["containers"][0];
  return c["command"].as<std::vector<std::string>>();
}

TEST(MpiJobTest, KustomizationListsTheMpiJob) {
  const YAML::Node k = YAML::LoadFile("deploy/k8s/mpijob/kustomization.yaml");
  EXPECT_EQ(k["kind"].as<std::string>(), "Kustomization");
  ASSERT_EQ(k["resources"].size(), 1u);
  EXPECT_EQ(k["resources"][0].as<std::string>(), "mpijob.yaml");
  const YAML::Node job = MpiJob();
  EXPECT_EQ(job["apiVersion"].as<std::string>(), "kubeflow.org/v2beta1");
  EXPECT_EQ(job["kind"].as<std::string>(), "MPIJob");
  EXPECT_EQ(job["spec"]["mpiImplementation"].as<std::string>(), "OpenMPI");
  EXPECT_EQ(job["spec"]["runPolicy"]["backoffLimit"].as<int>(), 0);
}

TEST(MpiJobTest, MpirunStartsOneRankPerWorkerSlotAndTheRanksDivideTheBatch) {
  const YAML::Node job = MpiJob();
  const std::vector<std::string> cmd = LauncherCommand(job);
  ASSERT_GE(cmd.size(), 4u);
  EXPECT_EQ(cmd[0], "mpirun");
  int np = 0;
  std::string config;
  for (size_t i = 0; i + 1 < cmd.size(); ++i) {
    if (cmd[i] == "-np") np = std::stoi(cmd[i + 1]);
    if (cmd[i] == "/opt/edbp/bin/edbp-train") config = cmd[i + 1];
  }
  const int workers = job["spec"]["mpiReplicaSpecs"]["Worker"]["replicas"].as<int>();
  const int slots = job["spec"]["slotsPerWorker"].as<int>();
  EXPECT_EQ(np, workers * slots);
  EXPECT_GE(np, 2);
  // The config the ConfigMap is made from (kustomization.yaml says how).
  ASSERT_EQ(config, "/etc/edbp/config/cifar10.yaml");
  const YAML::Node cifar = YAML::LoadFile("configs/cifar10.yaml");
  EXPECT_EQ(cifar["Network"]["batch_size"].as<int>() % np, 0)
      << "Network.batch_size must be a multiple of the " << np << " ranks";
  // A restarted job continues from the shared run directory's checkpoint.
  EXPECT_NE(std::find(cmd.begin(), cmd.end(), "--resume-if-present"), cmd.end());
  const auto out = std::find(cmd.begin(), cmd.end(), "--out-dir");
  ASSERT_NE(out, cmd.end());
  EXPECT_EQ(out[1].rfind("/runs/", 0), 0u) << out[1];
}

TEST(MpiJobTest, WorkersHaveAGpuEachTheSharedRunVolumeAndRunAsNonRoot) {
  const YAML::Node job = MpiJob();
  for (const char* role : {"Launcher", "Worker"}) {
    const YAML::Node pod = job["spec"]["mpiReplicaSpecs"][role]["template"]["spec"];
    EXPECT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>()) << role;
    EXPECT_EQ(pod["securityContext"]["runAsUser"].as<int>(), 10001) << role;
    const YAML::Node c = pod["containers"][0];
    EXPECT_FALSE(c["securityContext"]["allowPrivilegeEscalation"].as<bool>()) << role;
    EXPECT_EQ(c["securityContext"]["capabilities"]["drop"][0].as<std::string>(), "ALL")
        << role;
  }
  const YAML::Node worker = job["spec"]["mpiReplicaSpecs"]["Worker"]["template"]["spec"];
  const YAML::Node c = worker["containers"][0];
  EXPECT_EQ(c["resources"]["limits"]["nvidia.com/gpu"].as<int>(), 1);
  std::set<std::string> read_only, writable;
  for (const YAML::Node& m : c["volumeMounts"]) {
    (m["readOnly"] && m["readOnly"].as<bool>() ? read_only : writable)
        .insert(m["mountPath"].as<std::string>());
  }
  EXPECT_EQ(writable, (std::set<std::string>{"/runs"}));
  EXPECT_EQ(read_only,
            (std::set<std::string>{"/etc/edbp/config", "/usr/share/datasets"}));
  for (const YAML::Node& v : worker["volumes"]) {
    if (v["name"].as<std::string>() == "runs") {
      EXPECT_EQ(v["persistentVolumeClaim"]["claimName"].as<std::string>(), "edbp-runs");
    }
  }
}

}  // namespace
}  // namespace edbp
