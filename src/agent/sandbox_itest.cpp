// A pod for real, short of the API: sandbox (CNI inside a lab network
// namespace this test creates), environment, volumes, the container spec
// and ContainerManager with runc and overlayfs. Needs root; the host's
// network namespace is never touched and everything is removed.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <random>
#include <thread>

#include "agent/container_env.h"
#include "agent/container_spec_builder.h"
#include "agent/pod_syncer.h"
#include "agent/probe/exec_prober.h"
#include "agent/qos.h"
#include "agent/real_pod_runtime.h"
#include "agent/sandbox.h"
#include "agent/volumes/atomic_writer.h"
#include "agent/volumes/projection.h"
#include "network/netns.h"
#include "runtime/logs/cri_log.h"
#include "runtime/oci/cgroups.h"
#include "runtime/oci/exec.h"
#include "runtime/pod/container_manager.h"

namespace berth::agent {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using std::chrono::milliseconds;

class PodItest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    for (const char* bin : {"/usr/sbin/runc", "/usr/bin/busybox", "/usr/lib/cni/bridge"})
      if (!fs::exists(bin)) GTEST_SKIP() << bin << " missing";
    char tmpl[] = "/tmp/berth-pod-itest-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto lab = network::createNetns(dir_ + "/netns", "lab");
    ASSERT_TRUE(lab.ok()) << lab.error().message;
    lab_ = *lab;
    options_.pods_dir = dir_ + "/pods";
    options_.netns_dir = dir_ + "/netns";
    options_.cni.subnet = "10.199.8.0/24";
    options_.cni.bridge = "cni-pod0";
    options_.cni.data_dir = dir_ + "/ipam";
    options_.cni_netns = lab_;
    options_.node_ip = "10.199.0.2";
    options_.host_resolv = parseResolvConf("nameserver 192.0.2.53\n");

    std::string src = dir_ + "/src";
    fs::create_directories(src + "/bin");
    fs::copy_file("/usr/bin/busybox", src + "/bin/busybox");
    for (const char* tool : {"sh", "cat", "hostname", "grep", "env", "sleep"})
      fs::create_symlink("busybox", src + "/bin/" + tool);
    auto store = runtime::ImageStore::open(dir_ + "/images");
    ASSERT_TRUE(store.ok());
    images_ = std::move(*store);
    runtime::ImageConfigOverrides o;
    o.env = {"PATH=/bin", "FROM_IMAGE=yes"};
    o.cmd = {"/bin/sh"};
    ASSERT_TRUE(images_->pack(src, "itest/busybox:1", o).ok());
    runtime::ContainerManagerConfig c;
    c.root = dir_ + "/runtime";
    auto m = runtime::ContainerManager::open(c, *images_);
    ASSERT_TRUE(m.ok());
    manager_ = std::move(*m);
    std::mt19937_64 rng(std::random_device{}());
    cgroup_root_ =
        "/berth-pod-itest-" + std::to_string(getpid()) + "-" + std::to_string(rng() % 100000);
  }
  void TearDown() override {
    if (manager_)
      for (const auto& c : manager_->list()) {
        (void)manager_->stop(c.id, milliseconds(100));
        (void)manager_->remove(c.id);
      }
    if (sandbox_) (void)destroySandbox(options_, *sandbox_);
    if (auto cg = runtime::CgroupV1::detect(); cg.ok()) (void)cg->removeTree(cgroup_root_);
    if (!lab_.empty()) (void)network::deleteNetns(lab_);
    manager_.reset();
    images_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  std::string dir_, lab_, cgroup_root_;
  SandboxOptions options_;
  std::optional<Sandbox> sandbox_;
  std::unique_ptr<runtime::ImageStore> images_;
  std::unique_ptr<runtime::ContainerManager> manager_;
};

TEST_F(PodItest, APodRunsInItsSandboxWithEnvAndAConfigMapVolume) {
  api::Object pod = json::parse(R"({
    "metadata": {"name": "web", "namespace": "itest", "uid": "uid-1234", "labels": {"app": "web"}},
    "spec": {"containers": [{"name": "main", "image": "itest/busybox:1",
      "command": ["/bin/sh", "-c",
        "hostname; grep web /etc/hosts; cat /config/greeting; echo; echo MODE=$MODE IMG=$FROM_IMAGE POD=$POD_NAME"],
      "env": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
              {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
      "volumeMounts": [{"name": "config", "mountPath": "/config", "readOnly": true}]}],
      "volumes": [{"name": "config", "configMap": {"name": "cfg"}}]}})")
                        .as_object();
  api::Object cfg =
      json::parse(R"({"data": {"mode": "fast", "greeting": "hello from a configMap"}})")
          .as_object();

  auto sandbox = ensureSandbox(options_, pod);
  ASSERT_TRUE(sandbox.ok()) << sandbox.error().message;
  sandbox_ = *sandbox;
  EXPECT_EQ(sandbox->ip.rfind("10.199.8.", 0), 0u) << sandbox->ip;
  // A second call adopts the recorded sandbox.
  auto again = ensureSandbox(options_, pod);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->ip, sandbox->ip);
  EXPECT_FALSE(sandbox->dns_warning.empty());  // no cluster DNS yet: the node's

  // The configMap volume through the atomic writer.
  std::string vol = sandbox->dir + "/volumes/config";
  auto payload = volumes::configMapPayload(json::object{{"name", "cfg"}}, &cfg);
  ASSERT_TRUE(payload.ok());
  FakeClock clock;
  ASSERT_TRUE(volumes::AtomicWriter(vol, clock).write(*payload).ok());

  EnvSources sources;
  sources.config_maps = [&](const std::string& n) -> Result<std::shared_ptr<const api::Object>> {
    if (n == "cfg") return std::make_shared<const api::Object>(cfg);
    return std::shared_ptr<const api::Object>();
  };
  sources.secrets = [](const std::string&) -> Result<std::shared_ptr<const api::Object>> {
    return std::shared_ptr<const api::Object>();
  };
  const api::Object& container = pod["spec"].as_object()["containers"].as_array()[0].as_object();
  auto env = makeEnvironment(pod, container, sources);
  ASSERT_TRUE(env.ok()) << env.error().message;
  auto image = images_->prepare("itest/busybox:1");
  ASSERT_TRUE(image.ok());

  BuildInputs in;
  in.pod = &pod;
  in.container = &container;
  in.image = &image->config;
  in.env = *env;
  in.paths.netns = sandbox->netns;
  in.paths.ipc_ns = sandbox->ipc_ns;
  in.paths.uts_ns = sandbox->uts_ns;
  in.paths.hosts = sandbox->hosts;
  in.paths.resolv_conf = sandbox->resolv_conf;
  in.paths.hostname_file = sandbox->hostname_file;
  in.paths.shm = sandbox->shm;
  in.paths.volumes = {{"config", vol}};
  in.cgroup_parent = cgroup_root_ + podCgroupParent(pod, "");
  in.memory_capacity = 8ll << 30;
  auto spec = buildContainerSpec(in);
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  spec->nofile_limit = std::min<uint64_t>(spec->nofile_limit, nofile.rlim_max);

  runtime::ContainerConfig cc;
  cc.pod_uid = "uid-1234";
  cc.name = "main";
  cc.image = "itest/busybox:1";
  cc.spec = *spec;
  cc.log_path = sandbox->dir + "/logs/main/0.log";
  auto started = manager_->start(cc);
  ASSERT_TRUE(started.ok()) << started.error().message;
  runtime::ContainerInfo info;
  for (int i = 0; i < 500; ++i) {
    auto got = manager_->inspect(started->id);
    if (got.ok() && got->state == runtime::ContainerState::kExited) {
      info = *got;
      break;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_EQ(info.state, runtime::ContainerState::kExited);
  EXPECT_EQ(info.exit.exit_code, 0);
  std::string log;
  ASSERT_TRUE(runtime::readCriLog(
                  cc.log_path, {},
                  [&](std::string_view c) {
                    log.append(c);
                    return true;
                  },
                  nullptr)
                  .ok());
  EXPECT_EQ(log,
            "web\n" + sandbox->ip + "\tweb\nhello from a configMap\nMODE=fast IMG=yes POD=web\n");

  ASSERT_TRUE(manager_->remove(started->id).ok());
  ASSERT_TRUE(destroySandbox(options_, *sandbox_).ok());
  EXPECT_FALSE(fs::exists(sandbox_->dir));
  EXPECT_FALSE(fs::exists(sandbox_->netns));
  size_t allocations = 0;
  for (auto& e : fs::recursive_directory_iterator(options_.cni.data_dir))
    if (e.path().filename().string().rfind("10.199.8.", 0) == 0) ++allocations;
  EXPECT_EQ(allocations, 0u);
  sandbox_.reset();
}

TEST_F(PodItest, ExecProbeAgainstARunningContainer) {
  // The runner the agent wires: execInContainer with the probe's timeout
  // and output bound, in a container the ContainerManager runs.
  runtime::ContainerConfig cc;
  cc.pod_uid = "uid-exec";
  cc.name = "probed";
  cc.image = "itest/busybox:1";
  cc.spec.args = {"sh", "-c", "echo ok > /healthy; exec sleep 100"};
  cc.spec.env = {"PATH=/bin"};
  cc.spec.cgroups_path = cgroup_root_ + "/probed";
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  cc.spec.nofile_limit = std::min<uint64_t>(cc.spec.nofile_limit, nofile.rlim_max);
  auto started = manager_->start(cc);
  ASSERT_TRUE(started.ok()) << started.error().message;
  runtime::Runc runc(
      runtime::RuncConfig{manager_->config().runc_binary, manager_->config().runc_root});
  probe::ExecRunner runner = [&](const std::vector<std::string>& command,
                                 std::chrono::milliseconds timeout,
                                 size_t max_output) -> Result<probe::ExecRun> {
    runtime::ExecOptions o;
    o.args = command;
    o.timeout = timeout;
    o.max_output_bytes = max_output;
    BERTH_ASSIGN_OR_RETURN(auto r, runtime::execInContainer(runc, started->id, o));
    return probe::ExecRun{r.exit_code, r.out, r.err, r.timed_out};
  };
  // The file appears once the shell ran; poll for it (a deadline, not a timing check).
  probe::ProbeOutcome ok;
  for (int i = 0; i < 100; ++i) {
    ok = probe::probeExec(runner, {"cat", "/healthy"}, std::chrono::seconds(5));
    if (ok.result == probe::ProbeResult::kSuccess) break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(ok.result, probe::ProbeResult::kSuccess) << ok.output;
  EXPECT_EQ(ok.output, "ok\n");
  auto failed = probe::probeExec(runner, {"cat", "/missing"}, std::chrono::seconds(5));
  EXPECT_EQ(failed.result, probe::ProbeResult::kFailure);
  EXPECT_NE(failed.output.find("/missing"), std::string::npos) << failed.output;
  auto missing = probe::probeExec(runner, {"no-such-probe"}, std::chrono::seconds(5));
  EXPECT_EQ(missing.result, probe::ProbeResult::kFailure);
  EXPECT_NE(missing.output.find("executable file not found"), std::string::npos) << missing.output;
  auto slow = probe::probeExec(runner, {"sleep", "5"}, milliseconds(200));
  EXPECT_EQ(slow.result, probe::ProbeResult::kFailure);
  EXPECT_EQ(slow.output, "command timed out: \"sleep 5\" timed out after 200ms");
}

TEST_F(PodItest, PodSyncerRunsRestartsAndTearsDownARealPod) {
  api::Object cfg = json::parse(R"({"data": {"mode": "fast"}})").as_object();
  api::Object secret = json::parse(R"({"data": {"password": "aHVudGVyMg=="}})").as_object();
  RealPodRuntimeOptions o;
  o.sandbox = options_;
  o.cgroup_root = cgroup_root_;
  o.memory_capacity = 8ll << 30;
  o.config_maps = [&](const std::string& ns,
                      const std::string& n) -> Result<std::shared_ptr<const api::Object>> {
    if (ns == "itest" && n == "cfg") return std::make_shared<const api::Object>(cfg);
    return std::shared_ptr<const api::Object>();
  };
  o.secrets = [&](const std::string& ns,
                  const std::string& n) -> Result<std::shared_ptr<const api::Object>> {
    if (ns == "itest" && n == "sec") return std::make_shared<const api::Object>(secret);
    return std::shared_ptr<const api::Object>();
  };
  // Real time: the back-off is counted from the containers' real exit times.
  RealPodRuntime runtime(o, *images_, *manager_, RealClock::instance());
  PodSyncer syncer(runtime, RealClock::instance(), "10.199.0.2");
  api::Object pod = json::parse(R"({
    "metadata": {"name": "crasher", "namespace": "itest", "uid": "uid-sync"},
    "spec": {"restartPolicy": "Always", "terminationGracePeriodSeconds": 1,
      "containers": [{"name": "main", "image": "itest/busybox:1",
        "command": ["/bin/sh", "-c", "cat /secret/password; echo; cat /cfg/mode; echo; echo run >> /scratch/runs; cat /scratch/runs | grep -c run; exit 1"],
        "volumeMounts": [{"name": "sec", "mountPath": "/secret"}, {"name": "cfg", "mountPath": "/cfg"},
                         {"name": "scratch", "mountPath": "/scratch"}]}],
      "volumes": [{"name": "sec", "secret": {"secretName": "sec"}}, {"name": "cfg", "configMap": {"name": "cfg"}},
                  {"name": "scratch", "emptyDir": {}}]}})")
                        .as_object();
  auto waitExited = [&](int attempt) {
    for (int i = 0; i < 500; ++i) {
      for (const auto& c : runtime.containers("uid-sync"))
        if (c.attempt == attempt && !c.state.running) return true;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
  };
  auto first = syncer.sync(pod);
  pod["status"] = first.status;
  sandbox_ = loadSandbox(options_, "uid-sync").value();
  EXPECT_EQ(api::strAt(first.status, {"podIP"}).rfind("10.199.8.", 0), 0u);
  ASSERT_TRUE(waitExited(0));
  auto second = syncer.sync(pod);  // the first restart is immediate
  pod["status"] = second.status;
  ASSERT_TRUE(waitExited(1));
  auto third = syncer.sync(pod);  // now in back-off
  pod["status"] = third.status;
  const auto& cs = third.status.at("containerStatuses").as_array()[0].as_object();
  EXPECT_EQ(api::strAt(cs, {"state", "waiting", "reason"}), "CrashLoopBackOff");
  EXPECT_EQ(api::intAt(cs, {"restartCount"}).value_or(-1), 1);
  EXPECT_EQ(api::intAt(cs, {"lastState", "terminated", "exitCode"}).value_or(-1), 1);
  // Each attempt's log; the emptyDir outlives the restart.
  auto logOf = [&](int attempt) {
    std::string text;
    (void)runtime::readCriLog(
        sandbox_->dir + "/logs/main/" + std::to_string(attempt) + ".log", {},
        [&](std::string_view c) {
          text.append(c);
          return true;
        },
        nullptr);
    return text;
  };
  EXPECT_EQ(logOf(0), "hunter2\nfast\n1\n");
  EXPECT_EQ(logOf(1), "hunter2\nfast\n2\n");
  // Deleted: nothing restarts, the sandbox goes.
  pod["metadata"].as_object()["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  auto gone = syncer.sync(pod);
  EXPECT_TRUE(gone.terminated);
  EXPECT_TRUE(runtime.containers("uid-sync").empty());
  EXPECT_FALSE(fs::exists(sandbox_->dir));
  EXPECT_FALSE(fs::exists(sandbox_->netns));
  sandbox_.reset();
}

TEST_F(PodItest, AFinishedPodGivesItsAddressBackAndKeepsItsLog) {
  RealPodRuntimeOptions o;
  o.sandbox = options_;
  o.cgroup_root = cgroup_root_;
  o.memory_capacity = 8ll << 30;
  o.config_maps = o.secrets = [](const std::string&,
                                 const std::string&) -> Result<std::shared_ptr<const api::Object>> {
    return std::shared_ptr<const api::Object>();
  };
  RealPodRuntime runtime(o, *images_, *manager_, RealClock::instance());
  PodSyncer syncer(runtime, RealClock::instance(), "10.199.0.2");
  api::Object pod = json::parse(R"({
    "metadata": {"name": "job", "namespace": "itest", "uid": "uid-done"},
    "spec": {"restartPolicy": "Never",
      "containers": [{"name": "main", "image": "itest/busybox:1",
                      "command": ["/bin/sh", "-c", "echo done"]}]}})")
                        .as_object();
  auto first = syncer.sync(pod);
  pod["status"] = first.status;
  sandbox_ = loadSandbox(options_, "uid-done").value();
  const std::string ip = api::strAt(first.status, {"podIP"});
  ASSERT_EQ(ip.rfind("10.199.8.", 0), 0u);
  auto allocated = [&] {
    for (auto& e : fs::recursive_directory_iterator(options_.cni.data_dir))
      if (e.path().filename().string() == ip) return true;
    return false;
  };
  EXPECT_TRUE(allocated());
  for (int i = 0; i < 500 && runtime.containers("uid-done").at(0).state.running; ++i)
    std::this_thread::sleep_for(milliseconds(20));
  auto done = syncer.sync(pod);
  EXPECT_EQ(api::strAt(done.status, {"phase"}), "Succeeded");
  EXPECT_EQ(api::strAt(done.status, {"podIP"}), ip);
  EXPECT_FALSE(allocated());  // the address is free for the next pod
  EXPECT_FALSE(fs::exists(sandbox_->netns));
  std::string log;
  ASSERT_TRUE(runtime::readCriLog(
                  sandbox_->dir + "/logs/main/0.log", {},
                  [&](std::string_view c) {
                    log.append(c);
                    return true;
                  },
                  nullptr)
                  .ok());
  EXPECT_EQ(log, "done\n");
  pod["metadata"].as_object()["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  EXPECT_TRUE(syncer.sync(pod).terminated);
  EXPECT_FALSE(fs::exists(sandbox_->dir));
  sandbox_.reset();
}

}  // namespace
}  // namespace berth::agent
