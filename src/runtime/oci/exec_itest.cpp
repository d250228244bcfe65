// Integration tests for runc exec: a real busybox container under the shim
// (as runc_itest.cpp starts them: a unique cgroup parent, a new and empty
// network namespace), commands exec'd into it. They need root, runc, static
// busybox and cgroup v1, and skip with a message otherwise.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "runtime/oci/bundle.h"
#include "runtime/oci/cgroups.h"
#include "runtime/oci/exec.h"
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

// One long-running busybox container per test, exec'd into.
class ExecIntegrationTest : public testing::RuncFixture {
 protected:
  void SetUp() override {
    setUpRunc("/berth-exec-itest-", {"sh", "echo", "sleep", "cat", "id", "pwd", "true", "false"});
    if (IsSkipped() || HasFatalFailure()) return;
    fs::create_directories(tmp_.path() + "/exec-tmp");

    ContainerSpec s;
    s.id = "berth-exec-itest-" + std::to_string(::getpid()) + "-" + randomSuffix();
    s.rootfs = tmp_.path() + "/rootfs";
    s.args = {"sleep", "1000"};
    s.env = {"PATH=/bin", "HOME=/", "FROM_IMAGE=yes"};
    s.hostname = "exec-itest";
    s.cgroups_path = cgroup_parent_ + "/" + s.id;
    rlimit nofile{};
    ::getrlimit(RLIMIT_NOFILE, &nofile);
    s.nofile_limit = std::min<uint64_t>(s.nofile_limit, nofile.rlim_max);
    id_ = s.id;
    auto config = buildRuntimeConfig(s);
    ASSERT_TRUE(config.ok()) << config.error().message;
    bundle_ = tmp_.path() + "/bundles/" + s.id;
    ASSERT_TRUE(Bundle(bundle_).write(*config).ok());
    std::string state_dir = tmp_.path() + "/state/" + s.id;
    fs::create_directories(state_dir);
    ShimOptions options;
    options.id = s.id;
    options.bundle = bundle_;
    options.state_dir = state_dir;
    options.runc_binary = kRunc;
    options.runc_root = runc_->config().root;
    started_ = true;  // from here on TearDown removes the container
    auto shim = startShim(options);
    ASSERT_TRUE(shim.ok()) << shim.error().message;
    shim_ = *shim;
  }

  void TearDown() override {
    if (started_) (void)runc_->remove(id_, /*force=*/true);
    if (shim_ > 0 && !waitForExit(shim_)) ::kill(shim_, SIGKILL);  // our own shim, by pid
    removeCgroups();
    // Every exec removed its temp files.
    if (fs::exists(tmp_.path() + "/exec-tmp")) {
      EXPECT_TRUE(fs::is_empty(tmp_.path() + "/exec-tmp"));
    }
  }

  ExecOptions options(std::vector<std::string> args) {
    ExecOptions o;
    o.args = std::move(args);
    o.temp_dir = tmp_.path() + "/exec-tmp";
    return o;
  }

  ExecResult run(const ExecOptions& o) {
    auto result = execInContainer(*runc_, id_, o);
    EXPECT_TRUE(result.ok()) << result.error().message;
    return result.ok() ? *result : ExecResult{};
  }

  std::string id_;
  std::string bundle_;
  bool started_ = false;
  pid_t shim_ = 0;
};

TEST_F(ExecIntegrationTest, EchoPrintsAndExitsZero) {
  auto result = run(options({"echo", "hi"}));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "hi\n");
  EXPECT_EQ(result.err, "");
  EXPECT_FALSE(result.timed_out);
}

TEST_F(ExecIntegrationTest, ExitCodeComesBack) {
  auto result = run(options({"sh", "-c", "echo oops >&2; exit 3"}));
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_EQ(result.err, "oops\n");
}

TEST_F(ExecIntegrationTest, MissingBinaryIs127AndADirectory126) {
  auto missing = run(options({"foo"}));
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_NE(missing.start_error.find("exec: \"foo\": executable file not found in $PATH"),
            std::string::npos)
      << missing.start_error;
  EXPECT_EQ(missing.err, missing.start_error + "\n");

  auto directory = run(options({"/tmp"}));
  EXPECT_EQ(directory.exit_code, 126);
  EXPECT_NE(directory.start_error.find("permission denied"), std::string::npos)
      << directory.start_error;
  // The container is unharmed.
  EXPECT_EQ(run(options({"true"})).exit_code, 0);
}

TEST_F(ExecIntegrationTest, TimeoutKillsTheCommand) {
  // The timeout leaves runc exec time to start the shell even on a loaded
  // machine (200 ms did not, once), so the output before the kill is seen.
  auto o = options({"sh", "-c", "echo started; exec sleep 60"});
  o.timeout = std::chrono::seconds(3);
  auto result = run(o);
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.exit_code, 128 + SIGKILL);
  EXPECT_EQ(result.out, "started\n");
}

TEST_F(ExecIntegrationTest, RunsAsTheContainersUserOrTheGivenOne) {
  EXPECT_EQ(run(options({"id", "-u"})).out, "0\n");
  auto o = options({"sh", "-c", "id -u; id -g"});
  o.user = ExecUser{1000, 1000, {}};
  auto result = run(o);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "1000\n1000\n");
}

TEST_F(ExecIntegrationTest, EnvironmentAndWorkingDirectory) {
  auto o = options({"sh", "-c", "echo $FROM_IMAGE $EXTRA; pwd"});
  o.env = {"EXTRA=added"};
  o.cwd = "/tmp";
  auto result = run(o);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "yes added\n/tmp\n");
}

TEST_F(ExecIntegrationTest, OutputIsBounded) {
  auto o =
      options({"sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo 0123456789; i=$((i+1)); done"});
  o.max_output_bytes = 100;
  auto result = run(o);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out.size(), 100u);
  EXPECT_TRUE(result.out_truncated);
}

TEST_F(ExecIntegrationTest, StreamingExecPipesStdinThrough) {
  auto proc = startExec(*runc_, id_, options({"cat"}));
  ASSERT_TRUE(proc.ok()) << proc.error().message;
  auto& p = **proc;
  EXPECT_GT(p.pid(), 0);
  ASSERT_EQ(::write(p.stdinFd(), "ping\n", 5), 5);
  p.closeStdin();
  std::string out;
  char buf[64];
  ssize_t n;
  while ((n = ::read(p.stdoutFd(), buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  EXPECT_EQ(out, "ping\n");
  auto result = p.wait();
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->exit_code, 0);
}

TEST_F(ExecIntegrationTest, UnknownContainerIsNotFound) {
  auto o = options({"true"});
  auto result = execInContainer(*runc_, id_ + "-nope", o);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace berth::runtime
