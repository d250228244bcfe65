#include "runtime/oci/shim.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "runtime/oci/test_util.h"

namespace berth::runtime {
namespace {
using testing::TempDir;

// The exec path of startShim runs `<self_exe> shim <flags>`. This test
// binary plays berth there, the way Go tests re-exec themselves as a helper
// process: when started as "<test binary> shim ...", it becomes the shim
// before gtest ever runs.
[[maybe_unused]] const bool kActsAsShim = [] {
  std::string cmdline = testing::readText("/proc/self/cmdline");
  std::vector<std::string> argv;
  size_t start = 0;
  while (start < cmdline.size()) {
    size_t end = cmdline.find('\0', start);
    if (end == std::string::npos) end = cmdline.size();
    argv.push_back(cmdline.substr(start, end - start));
    start = end + 1;
  }
  if (argv.size() < 2 || argv[1] != "shim") return false;
  ::_exit(shimMain(std::vector<std::string>(argv.begin() + 2, argv.end())));
}();

// Blocks until process pid (not necessarily our child) has exited: a pidfd
// becomes readable then. No sleeping, no polling loop.
void waitForExit(pid_t pid) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return;  // already gone
  pollfd p{fd, POLLIN, 0};
  ::poll(&p, 1, 30000);
  ::close(fd);
}

TEST(ExitStatusTest, FromWaitStatus) {
  auto exited = exitStatusFromWait(3 << 8, false);
  EXPECT_EQ(exited.exit_code, 3);
  EXPECT_EQ(exited.signal, 0);
  EXPECT_EQ(exited.reason, "Error");
  EXPECT_EQ(exitStatusFromWait(0, false).reason, "Completed");
  auto signalled = exitStatusFromWait(SIGTERM, false);
  EXPECT_EQ(signalled.signal, 15);
  EXPECT_EQ(signalled.exit_code, 143);
  auto oom = exitStatusFromWait(SIGKILL, true);
  EXPECT_EQ(oom.exit_code, 137);
  EXPECT_TRUE(oom.oom_killed);
  EXPECT_EQ(oom.reason, "OOMKilled");
}

TEST(ExitStatusTest, JsonRoundTrip) {
  ExitStatus status;
  status.exit_code = 137;
  status.signal = 9;
  status.oom_killed = true;
  status.reason = "OOMKilled";
  status.started_at = "2026-12-04T22:00:00.000000001Z";
  status.finished_at = "2026-12-04T22:00:01.000000002Z";
  status.pid = 4242;
  auto parsed = parseExitStatus(exitStatusJson(status));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->exit_code, 137);
  EXPECT_EQ(parsed->signal, 9);
  EXPECT_TRUE(parsed->oom_killed);
  EXPECT_EQ(parsed->reason, "OOMKilled");
  EXPECT_EQ(parsed->started_at, status.started_at);
  EXPECT_EQ(parsed->finished_at, status.finished_at);
  EXPECT_EQ(parsed->pid, 4242);
  auto obj = boost::json::parse(exitStatusJson(status)).as_object();
  EXPECT_EQ(obj.at("exitCode").as_int64(), 137);
  EXPECT_TRUE(obj.at("oomKilled").as_bool());
  EXPECT_FALSE(parseExitStatus("{}").ok());
  EXPECT_FALSE(parseExitStatus("[").ok());
}

TEST(ShimArgsTest, RoundTrip) {
  ShimOptions options;
  options.id = "c1";
  options.bundle = "/b/c1";
  options.state_dir = "/s/c1";
  options.runc_binary = "/usr/sbin/runc";
  options.runc_root = "/run/berth/runc";
  options.stdout_path = "/l/out";
  options.stderr_path = "/l/err";
  options.cgroups_path = "/berth/pod1/c1";
  options.ready_fd = 7;
  options.log_path = "/l/0.log";
  options.log_max_bytes = 1234;
  options.log_max_files = 3;
  auto parsed = parseShimArgs(shimArgs(options));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->id, "c1");
  EXPECT_EQ(parsed->bundle, "/b/c1");
  EXPECT_EQ(parsed->state_dir, "/s/c1");
  EXPECT_EQ(parsed->runc_root, "/run/berth/runc");
  EXPECT_EQ(parsed->stdout_path, "/l/out");
  EXPECT_EQ(parsed->stderr_path, "/l/err");
  EXPECT_EQ(parsed->cgroups_path, "/berth/pod1/c1");
  EXPECT_EQ(parsed->ready_fd, 7);
  EXPECT_EQ(parsed->log_path, "/l/0.log");
  EXPECT_EQ(parsed->log_max_bytes, 1234u);
  EXPECT_EQ(parsed->log_max_files, 3);
  EXPECT_EQ(parseShimArgs({"--id", "x"}).error().code, ErrorCode::kInvalid);
  EXPECT_EQ(parseShimArgs({"--bogus", "x"}).error().code, ErrorCode::kInvalid);
  EXPECT_EQ(parseShimArgs({"--id"}).error().code, ErrorCode::kInvalid);
}

class ShimFakeRuncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = testing::writeFakeRunc(tmp_.path());
    std::filesystem::create_directories(bundle());
    std::filesystem::create_directories(stateDir());
  }
  std::string bundle() const { return tmp_.path() + "/bundle"; }
  std::string stateDir() const { return tmp_.path() + "/state"; }
  ShimOptions options() const {
    ShimOptions o;
    o.id = "c1";
    o.bundle = bundle();
    o.state_dir = stateDir();
    o.runc_binary = binary_;
    o.runc_root = tmp_.path() + "/runc-root";
    o.stdout_path = tmp_.path() + "/stdout";
    o.stderr_path = tmp_.path() + "/stderr";
    return o;
  }

  TempDir tmp_;
  std::string binary_;
};

TEST_F(ShimFakeRuncTest, RecordsExitCodeAndDeletes) {
  testing::writeText(bundle() + "/code", "3");
  auto shim = startShim(options());
  ASSERT_TRUE(shim.ok()) << shim.error().message;
  EXPECT_NE(*shim, ::getpid());
  waitForExit(*shim);
  auto status = readExitStatus(stateDir());
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->exit_code, 3);
  EXPECT_EQ(status->signal, 0);
  EXPECT_FALSE(status->oom_killed);
  EXPECT_EQ(status->reason, "Error");
  EXPECT_FALSE(status->finished_at.empty());
  EXPECT_GT(status->pid, 0);
  EXPECT_EQ(testing::readText(tmp_.path() + "/stdout"), "init output\n");
  EXPECT_EQ(testing::readText(tmp_.path() + "/stderr"), "init error\n");
  std::string calls = testing::readText(tmp_.path() + "/calls");
  EXPECT_NE(calls.find(" run --bundle "), std::string::npos);  // created and started at once
  EXPECT_NE(calls.find("delete --force c1\n"), std::string::npos);
  EXPECT_EQ(testing::readText(stateDir() + "/shim.pid").rfind(std::to_string(*shim) + " ", 0), 0u);
  EXPECT_EQ(liveShim(stateDir()), 0);
}

TEST_F(ShimFakeRuncTest, ExecPathRunsShimSubcommand) {
  testing::writeText(bundle() + "/code", "5");
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  auto shim = startShim(options(), self);
  ASSERT_TRUE(shim.ok()) << shim.error().message;
  waitForExit(*shim);
  auto status = readExitStatus(stateDir());
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->exit_code, 5);
  EXPECT_EQ(testing::readText(tmp_.path() + "/stdout"), "init output\n");
  EXPECT_EQ(testing::readText(stateDir() + "/shim.pid").rfind(std::to_string(*shim) + " ", 0), 0u);
  EXPECT_EQ(liveShim(stateDir()), 0);
}

TEST_F(ShimFakeRuncTest, RecordsSignal) {
  testing::writeText(bundle() + "/code", "term");
  auto shim = startShim(options());
  ASSERT_TRUE(shim.ok()) << shim.error().message;
  waitForExit(*shim);
  auto status = readExitStatus(stateDir());
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->signal, 15);
  EXPECT_EQ(status->exit_code, 143);
}

TEST_F(ShimFakeRuncTest, CreateFailureIsReportedAndRecorded) {
  testing::writeText(bundle() + "/code", "fail");
  auto shim = startShim(options());
  ASSERT_FALSE(shim.ok());
  EXPECT_NE(shim.error().message.find("boom"), std::string::npos);
  auto status = readExitStatus(stateDir());
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->reason, "StartError");
  EXPECT_EQ(status->exit_code, 128);
  EXPECT_NE(status->message.find("boom"), std::string::npos);
}

TEST_F(ShimFakeRuncTest, NoExitStatusBeforeExit) {
  auto status = readExitStatus(stateDir());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace berth::runtime
