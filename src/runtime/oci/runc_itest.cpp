// Integration tests: real runc, real cgroups, a busybox rootfs. They need
// root, /usr/sbin/runc, /usr/bin/busybox (static) and cgroup v1; they skip
// with a message otherwise. Every container gets a new, empty network
// namespace (no interfaces up), so nothing here reaches any network.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <sstream>
#include <thread>

#include "runtime/logs/cri_log.h"
#include "runtime/oci/bundle.h"
#include "runtime/oci/cgroups.h"
#include "runtime/oci/itest_util.h"
#include "runtime/oci/runc.h"
#include "runtime/oci/runtime_spec.h"
#include "runtime/oci/shim.h"
#include "runtime/oci/test_util.h"

namespace berth::runtime {
namespace {
namespace fs = std::filesystem;

using testing::kRunc;
using testing::randomSuffix;
using testing::waitForExit;

class RuncIntegrationTest : public testing::RuncFixture {
 protected:
  void SetUp() override {
    setUpRunc("/berth-itest-", {"sh", "echo", "sleep", "cat", "id", "dd", "tail", "touch", "true"});
  }

  // Removes every container, waits for its shim, then the cgroup tree; the
  // temp dir (bundles, rootfs, runc root) goes with tmp_.
  void TearDown() override {
    for (const auto& id : ids_) (void)runc_->remove(id, /*force=*/true);
    for (pid_t shim : shims_) {
      if (!waitForExit(shim)) ::kill(shim, SIGKILL);  // our own shim, by pid
    }
    removeCgroups();
  }

  ContainerSpec spec(std::vector<std::string> args) {
    ContainerSpec s;
    s.id = "berth-itest-" + std::to_string(::getpid()) + "-" + std::to_string(next_++) + "-" +
           randomSuffix();
    s.rootfs = tmp_.path() + "/rootfs";
    s.args = std::move(args);
    s.env = {"PATH=/bin", "HOME=/"};
    s.hostname = "itest";
    s.cgroups_path = cgroup_parent_ + "/" + s.id;
    // Without CAP_SYS_RESOURCE (as in some sandboxes) runc cannot raise
    // RLIMIT_NOFILE past our own hard limit.
    rlimit nofile{};
    ::getrlimit(RLIMIT_NOFILE, &nofile);
    s.nofile_limit = std::min<uint64_t>(s.nofile_limit, nofile.rlim_max);
    // network_ns stays kNew: an empty network namespace per container.
    return s;
  }

  std::string stateDir(const std::string& id) const { return tmp_.path() + "/state/" + id; }
  std::string stdoutPath(const std::string& id) const { return stateDir(id) + "/stdout"; }
  std::string stderrPath(const std::string& id) const { return stateDir(id) + "/stderr"; }

  // Writes the bundle and starts the container under a shim.
  Result<pid_t> start(const ContainerSpec& s, bool cri_log = false) {
    auto config = buildRuntimeConfig(s);
    if (!config.ok()) return config.error();
    Bundle bundle(tmp_.path() + "/bundles/" + s.id);
    BERTH_RETURN_IF_ERROR(bundle.write(*config));
    fs::create_directories(stateDir(s.id));
    ShimOptions options;
    options.id = s.id;
    options.bundle = bundle.dir();
    options.state_dir = stateDir(s.id);
    options.runc_binary = kRunc;
    options.runc_root = runc_->config().root;
    if (cri_log) {
      options.log_path = stateDir(s.id) + "/0.log";
    } else {
      options.stdout_path = stdoutPath(s.id);
      options.stderr_path = stderrPath(s.id);
    }
    ids_.push_back(s.id);
    auto shim = startShim(options);
    if (shim.ok()) shims_.push_back(*shim);
    return shim;
  }

  // Starts s and waits for its exit status.
  ExitStatus runToExit(const ContainerSpec& s, bool cri_log = false) {
    auto shim = start(s, cri_log);
    EXPECT_TRUE(shim.ok()) << shim.error().message;
    if (!shim.ok()) return {};
    EXPECT_TRUE(waitForExit(*shim)) << "shim for " << s.id << " did not finish";
    auto status = readExitStatus(stateDir(s.id));
    EXPECT_TRUE(status.ok()) << status.error().message;
    return status.ok() ? *status : ExitStatus{};
  }

  std::vector<std::string> ids_;
  std::vector<pid_t> shims_;
  int next_ = 0;
};

TEST_F(RuncIntegrationTest, StdoutAndExitCode) {
  auto s = spec({"sh", "-c", "echo hello from berth; echo to stderr >&2; exit 3"});
  auto status = runToExit(s);
  EXPECT_EQ(status.exit_code, 3);
  EXPECT_EQ(status.signal, 0);
  EXPECT_FALSE(status.oom_killed);
  EXPECT_EQ(status.reason, "Error");
  EXPECT_EQ(testing::readText(stdoutPath(s.id)), "hello from berth\n");
  EXPECT_EQ(testing::readText(stderrPath(s.id)), "to stderr\n");
  // The shim deleted the container from runc afterwards.
  auto state = runc_->state(s.id);
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.error().code, ErrorCode::kNotFound);
}

TEST_F(RuncIntegrationTest, OutputGoesToACriLogThroughTheShim) {
  auto s = spec({"sh", "-c", "echo line one; printf oops >&2; seq 1 2000; exit 0"});
  auto status = runToExit(s, /*cri_log=*/true);
  EXPECT_EQ(status.exit_code, 0);
  const std::string log = stateDir(s.id) + "/0.log";
  std::string stdout_text, stderr_text;
  std::istringstream lines(testing::readText(log));
  std::string line;
  int records = 0;
  while (std::getline(lines, line)) {
    CriLogRecord r;
    ASSERT_TRUE(parseCriLogLine(line, &r)) << line;
    ++records;
    (r.stream == LogStream::kStdout ? stdout_text : stderr_text) +=
        std::string(r.content) + (r.partial ? "" : "\n");
  }
  std::string want = "line one\n";
  for (int i = 1; i <= 2000; ++i) want += std::to_string(i) + "\n";
  EXPECT_EQ(stdout_text, want);
  EXPECT_EQ(stderr_text, "oops");  // a partial record: no newline came
  EXPECT_EQ(records, 2002);
  // kubectl logs reads it back with both streams interleaved.
  std::string read;
  ASSERT_TRUE(readCriLog(
                  log, {},
                  [&](std::string_view c) {
                    read.append(c);
                    return true;
                  },
                  nullptr)
                  .ok());
  EXPECT_NE(read.find("oops"), std::string::npos);
  EXPECT_EQ(read.size(), want.size() + 4);
}

TEST_F(RuncIntegrationTest, ResourceLimitsAppearInCgroupWhileRunning) {
  auto s = spec({"sleep", "1000"});
  s.memory_limit = 64 << 20;
  s.pids_limit = 50;
  s.cpu_quota = 50000;
  s.cpu_period = 100000;
  s.cpu_shares = 256;
  auto shim = start(s);
  ASSERT_TRUE(shim.ok()) << shim.error().message;
  auto state = runc_->state(s.id);
  ASSERT_TRUE(state.ok()) << state.error().message;
  EXPECT_EQ(state->status, "running");
  EXPECT_GT(state->pid, 0);
  EXPECT_EQ(state->bundle, tmp_.path() + "/bundles/" + s.id);
  EXPECT_FALSE(state->created.empty());
  auto list = runc_->list();
  ASSERT_TRUE(list.ok()) << list.error().message;
  EXPECT_TRUE(
      std::any_of(list->begin(), list->end(), [&](const RuncState& c) { return c.id == s.id; }));

  EXPECT_EQ(*cgroups_->memoryLimit(s.cgroups_path), 64 << 20);
  EXPECT_EQ(*cgroups_->pidsMax(s.cgroups_path), 50);
  EXPECT_EQ(*cgroups_->cpuQuota(s.cgroups_path), 50000);
  EXPECT_EQ(*cgroups_->cpuShares(s.cgroups_path), 256);
  auto usage = cgroups_->memoryUsage(s.cgroups_path);
  ASSERT_TRUE(usage.ok());
  EXPECT_GT(*usage, 0);
  EXPECT_EQ(
      testing::readText(*cgroups_->path("memory", s.cgroups_path) + "/memory.memsw.limit_in_bytes"),
      std::to_string(64 << 20) + "\n");

  ASSERT_TRUE(runc_->kill(s.id, SIGKILL).ok());
  ASSERT_TRUE(waitForExit(*shim));
  auto status = readExitStatus(stateDir(s.id));
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->signal, SIGKILL);
  EXPECT_EQ(status->exit_code, 137);
  EXPECT_FALSE(status->oom_killed);
}

TEST_F(RuncIntegrationTest, SigtermIsRecorded) {
  // A PID-namespace init ignores signals it has no handler for, so sleep
  // would survive SIGTERM as pid 1; with the host's PID namespace it is an
  // ordinary process that SIGTERM ends.
  auto s = spec({"sleep", "1000"});
  s.pid_ns = NamespaceSpec::host();
  auto shim = start(s);
  ASSERT_TRUE(shim.ok()) << shim.error().message;
  ASSERT_TRUE(runc_->kill(s.id, SIGTERM).ok());
  ASSERT_TRUE(waitForExit(*shim));
  auto status = readExitStatus(stateDir(s.id));
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->signal, SIGTERM);
  EXPECT_EQ(status->exit_code, 143);
  EXPECT_FALSE(status->oom_killed);
}

TEST_F(RuncIntegrationTest, MemoryHogIsOomKilled) {
  // The shell doubles a string until the 32 MiB limit (swap included) stops it.
  auto s = spec({"sh", "-c", "x=0123456789abcdef; while true; do x=$x$x; done"});
  s.memory_limit = 32 << 20;
  auto status = runToExit(s);
  EXPECT_TRUE(status.oom_killed);
  EXPECT_EQ(status.reason, "OOMKilled");
  EXPECT_EQ(status.signal, SIGKILL);
  EXPECT_EQ(status.exit_code, 137);
}

TEST_F(RuncIntegrationTest, ReadonlyRootfsRefusesWrites) {
  auto s = spec({"sh", "-c", "echo data > /probe"});
  s.readonly_rootfs = true;
  auto status = runToExit(s);
  EXPECT_NE(status.exit_code, 0);
  EXPECT_NE(testing::readText(stderrPath(s.id)).find("Read-only file system"), std::string::npos)
      << testing::readText(stderrPath(s.id));
  EXPECT_FALSE(fs::exists(tmp_.path() + "/rootfs/probe"));

  // The same write succeeds on a writable rootfs (so the refusal above is
  // the read-only mount's doing).
  auto writable = spec({"sh", "-c", "echo data > /probe"});
  EXPECT_EQ(runToExit(writable).exit_code, 0);
  EXPECT_EQ(testing::readText(tmp_.path() + "/rootfs/probe"), "data\n");
}

TEST_F(RuncIntegrationTest, RunAsUser) {
  auto s = spec({"sh", "-c", "id -u; id -g; id -G"});
  s.uid = 1000;
  s.gid = 1000;
  s.additional_gids = {3000};
  s.no_new_privileges = true;
  auto status = runToExit(s);
  EXPECT_EQ(status.exit_code, 0) << testing::readText(stderrPath(s.id));
  EXPECT_EQ(testing::readText(stdoutPath(s.id)), "1000\n1000\n1000 3000\n");
}

TEST_F(RuncIntegrationTest, NetworkNamespaceIsEmptyAndHostnameSet) {
  auto s = spec({"sh", "-c", "cat /proc/net/dev; cat /proc/sys/kernel/hostname"});
  auto status = runToExit(s);
  EXPECT_EQ(status.exit_code, 0) << testing::readText(stderrPath(s.id));
  std::string out = testing::readText(stdoutPath(s.id));
  EXPECT_NE(out.find("lo:"), std::string::npos) << out;
  EXPECT_EQ(out.find("eth"), std::string::npos) << out;
  EXPECT_NE(out.find("itest\n"), std::string::npos) << out;
}

TEST_F(RuncIntegrationTest, SeccompRuntimeDefaultBlocksUnshare) {
  // unshare(CLONE_NEWUSER) needs no capability, so only the seccomp profile
  // (unshare is allowed with CAP_SYS_ADMIN only) stands in its way; chroot
  // is allowed through CAP_SYS_CHROOT.
  for (const char* tool : {"unshare", "chroot"}) {
    fs::create_symlink("busybox", tmp_.path() + "/rootfs/bin/" + tool);
  }
  const std::vector<std::string> args = {
      "sh", "-c", "chroot / true && echo chroot-ok; unshare -U true && echo unshare-ok; true"};
  auto confined = spec(args);
  EXPECT_EQ(runToExit(confined).exit_code, 0);
  EXPECT_EQ(testing::readText(stdoutPath(confined.id)), "chroot-ok\n")
      << testing::readText(stderrPath(confined.id));

  auto unconfined = spec(args);
  unconfined.seccomp = SeccompMode::kUnconfined;
  EXPECT_EQ(runToExit(unconfined).exit_code, 0);
  EXPECT_EQ(testing::readText(stdoutPath(unconfined.id)), "chroot-ok\nunshare-ok\n")
      << testing::readText(stderrPath(unconfined.id));
}

TEST_F(RuncIntegrationTest, ContainerJoinsSandboxNamespaces) {
  // The pod sandbox: a long-running container owning new network, IPC and
  // UTS namespaces; an app container joins them by /proc/<pid>/ns path.
  auto sandbox = spec({"sleep", "1000"});
  sandbox.hostname = "pod-host";
  auto sandbox_shim = start(sandbox);
  ASSERT_TRUE(sandbox_shim.ok()) << sandbox_shim.error().message;
  auto state = runc_->state(sandbox.id);
  ASSERT_TRUE(state.ok()) << state.error().message;
  std::string ns_dir = "/proc/" + std::to_string(state->pid) + "/ns/";

  fs::create_symlink("busybox", tmp_.path() + "/rootfs/bin/readlink");
  fs::create_symlink("busybox", tmp_.path() + "/rootfs/bin/hostname");
  auto app = spec({"sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; hostname"});
  app.network_ns = NamespaceSpec::join(ns_dir + "net");
  app.ipc_ns = NamespaceSpec::join(ns_dir + "ipc");
  app.uts_ns = NamespaceSpec::join(ns_dir + "uts");
  auto status = runToExit(app);
  EXPECT_EQ(status.exit_code, 0) << testing::readText(stderrPath(app.id));
  std::string expected = fs::read_symlink(ns_dir + "net").string() + "\n" +
                         fs::read_symlink(ns_dir + "ipc").string() + "\npod-host\n";
  EXPECT_EQ(testing::readText(stdoutPath(app.id)), expected);
  EXPECT_NE(fs::read_symlink(ns_dir + "net"), fs::read_symlink("/proc/self/ns/net"));
}

TEST_F(RuncIntegrationTest, BindMountsReadOnlyAndReadWrite) {
  std::string ro_dir = tmp_.path() + "/vol-ro", rw_dir = tmp_.path() + "/vol-rw";
  fs::create_directories(ro_dir);
  fs::create_directories(rw_dir);
  testing::writeText(ro_dir + "/config", "from host\n");
  auto s = spec({"sh", "-c",
                 "cat /etc/app/config; echo x > /etc/app/new || echo ro-refused; "
                 "echo written > /data/out; echo tmp > /scratch/t && echo tmpfs-ok"});
  s.binds = {{ro_dir, "/etc/app", true, ""}, {rw_dir, "/data", false, ""}};
  s.tmpfs = {{"/scratch", 1 << 20, "1777"}};
  auto status = runToExit(s);
  EXPECT_EQ(status.exit_code, 0) << testing::readText(stderrPath(s.id));
  EXPECT_EQ(testing::readText(stdoutPath(s.id)), "from host\nro-refused\ntmpfs-ok\n");
  EXPECT_EQ(testing::readText(rw_dir + "/out"), "written\n");
  EXPECT_FALSE(fs::exists(ro_dir + "/new"));
}

TEST_F(RuncIntegrationTest, CreateFailureCarriesRuncMessage) {
  auto s = spec({"/bin/does-not-exist"});
  auto shim = start(s);
  ASSERT_FALSE(shim.ok());
  EXPECT_NE(shim.error().message.find("does-not-exist"), std::string::npos) << shim.error().message;
  auto status = readExitStatus(stateDir(s.id));
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->reason, "StartError");
}

}  // namespace
}  // namespace berth::runtime
