#include "runtime/oci/exec.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>

#include "runtime/oci/test_util.h"

namespace berth::runtime {
namespace {
namespace fs = std::filesystem;
namespace json = boost::json;
using testing::TempDir;

// A stand-in for `runc exec` (dir/runc): it copies the process.json it was
// given to dir/process.json, records its command line in dir/calls, and acts
// by container id:
//   echo     prints "out" and "err", exit 0       exit3   exit 3
//   big      prints 100000 bytes on stdout        notfound, noexec: runc's start errors
//   gone     "container does not exist"           hang    the command never ends
//   exit255  the command itself exits 255 (no runc error in the log)
std::string writeFakeExecRunc(const std::string& dir) {
  std::string path = dir + "/runc";
  testing::writeText(path, R"SH(#!/bin/sh
dir=$(dirname "$0")
printf '%s\n' "$*" >> "$dir/calls"
log=""
while [ $# -gt 0 ]; do
  case "$1" in
    --root|--log-format) shift 2 ;;
    --log) log="$2"; shift 2 ;;
    *) break ;;
  esac
done
[ "$1" = exec ] || { echo "unexpected $1" >&2; exit 2; }
shift
process=""; pidfile=""
while [ $# -gt 1 ]; do
  case "$1" in
    --process) process="$2"; shift 2 ;;
    --pid-file) pidfile="$2"; shift 2 ;;
    *) shift ;;
  esac
done
id="$1"
cp "$process" "$dir/process.json"
started() { echo "$1" > "$pidfile.tmp"; mv "$pidfile.tmp" "$pidfile"; }
fail() {
  echo "{\"level\":\"error\",\"msg\":\"$1\",\"time\":\"t\"}" > "$log"
  echo "$1" >&2
  exit 255
}
case "$id" in
  echo) started $$; echo out; echo err >&2; exit 0 ;;
  exit3) started $$; exit 3 ;;
  exit255) started $$; echo "its own error" >&2; exit 255 ;;
  big) started $$; i=0; while [ $i -lt 1000 ]; do printf '%0100d' 0; i=$((i+1)); done; exit 0 ;;
  notfound) fail 'exec failed: unable to start container process: exec: \"foo\": executable file not found in $PATH' ;;
  noexec) fail 'exec failed: unable to start container process: exec: \"/tmp\": permission denied' ;;
  gone) fail 'exec failed: container does not exist' ;;
  hang) sleep 1000 & started $!; echo partial; wait $!; exit $? ;;
esac
)SH");
  fs::permissions(path, fs::perms::owner_all);
  return path;
}

class ExecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    runc_ = std::make_unique<Runc>(RuncConfig{writeFakeExecRunc(tmp_.path()), ""});
    fs::create_directories(tmp_.path() + "/bundle");
    testing::writeText(tmp_.path() + "/bundle/config.json", R"({"ociVersion":"1.0.2",
      "process":{"terminal":true,"consoleSize":{"height":1,"width":1},"user":{"uid":5,"gid":6},
                 "args":["init"],"env":["PATH=/bin","A=1"],"cwd":"/work",
                 "capabilities":{"bounding":["CAP_CHOWN"]}},
      "root":{"path":"rootfs"}})");
    fs::create_directories(tmp_.path() + "/tmp");
  }

  ExecOptions options(std::vector<std::string> args = {"cmd"}) {
    ExecOptions o;
    o.args = std::move(args);
    o.bundle = tmp_.path() + "/bundle";
    o.temp_dir = tmp_.path() + "/tmp";
    return o;
  }

  json::object lastProcess() {
    return json::parse(testing::readText(tmp_.path() + "/process.json")).as_object();
  }

  // The exec's temp files are gone once it is over.
  bool tempDirEmpty() { return fs::is_empty(tmp_.path() + "/tmp"); }

  TempDir tmp_;
  std::unique_ptr<Runc> runc_;
};

TEST(ExecSpecTest, MergeEnvReplacesInPlaceAndAppends) {
  EXPECT_EQ(mergeEnv({"PATH=/bin", "A=1", "B=2"}, {"A=x", "C=3", "PATH="}),
            (std::vector<std::string>{"PATH=", "A=x", "B=2", "C=3"}));
  EXPECT_EQ(mergeEnv({"A=1"}, {}), (std::vector<std::string>{"A=1"}));
}

TEST(ExecSpecTest, ProcessSpecStartsFromTheContainersProcess) {
  auto base = json::parse(R"({"terminal":true,"consoleSize":{"height":1,"width":1},
      "user":{"uid":5,"gid":6},"args":["init"],"env":["PATH=/bin","A=1"],"cwd":"/work",
      "capabilities":{"bounding":["CAP_CHOWN"]},"noNewPrivileges":true})")
                  .as_object();
  ExecOptions o;
  o.args = {"sh", "-c", "echo hi"};
  o.env = {"A=2", "B=3"};
  auto spec = execProcessSpec(base, o);
  EXPECT_EQ(spec.at("terminal"), false);
  EXPECT_FALSE(spec.contains("consoleSize"));
  EXPECT_EQ(spec.at("args"), json::parse(R"(["sh","-c","echo hi"])"));
  EXPECT_EQ(spec.at("env"), json::parse(R"(["PATH=/bin","A=2","B=3"])"));
  EXPECT_EQ(spec.at("cwd"), "/work");
  EXPECT_EQ(spec.at("user"), json::parse(R"({"uid":5,"gid":6})"));
  EXPECT_EQ(spec.at("capabilities"), base.at("capabilities"));
  EXPECT_EQ(spec.at("noNewPrivileges"), true);

  o.cwd = "/tmp";
  o.user = ExecUser{1000, 1001, {3000, 3001}};
  spec = execProcessSpec(base, o);
  EXPECT_EQ(spec.at("cwd"), "/tmp");
  EXPECT_EQ(spec.at("user"),
            json::parse(R"({"uid":1000,"gid":1001,"additionalGids":[3000,3001]})"));
}

TEST(ExecSpecTest, ProcessSpecDefaultsWhenTheContainerHasNone) {
  ExecOptions o;
  o.args = {"true"};
  auto spec = execProcessSpec(json::object{}, o);
  EXPECT_EQ(spec.at("cwd"), "/");
  EXPECT_EQ(spec.at("user"), json::parse(R"({"uid":0,"gid":0})"));
  EXPECT_EQ(spec.at("env"), json::array{});
}

TEST(ExecSpecTest, ClassifiesRuncStartErrors) {
  auto not_found = classifyExecStartError(
      "exec failed: unable to start container process: exec: \"foo\": executable file not "
      "found in $PATH");
  ASSERT_TRUE(not_found);
  EXPECT_EQ(not_found->exit_code, 127);
  EXPECT_EQ(not_found->message,
            "OCI runtime exec failed: exec failed: unable to start container process: exec: "
            "\"foo\": executable file not found in $PATH");
  auto missing_path = classifyExecStartError(
      "exec failed: unable to start container process: exec: \"/bin/foo\": stat /bin/foo: no "
      "such file or directory");
  ASSERT_TRUE(missing_path);
  EXPECT_EQ(missing_path->exit_code, 127);
  auto denied = classifyExecStartError(
      "exec failed: unable to start container process: exec: \"/tmp\": permission denied");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->exit_code, 126);
  EXPECT_FALSE(classifyExecStartError("exec failed: container does not exist"));
  EXPECT_FALSE(classifyExecStartError(""));
}

TEST(ExecSpecTest, RuncCommandLine) {
  EXPECT_EQ(runcExecArgv(RuncConfig{"/usr/sbin/runc", "/run/berth/runc"}, "/t/log", "/t/p.json",
                         "/t/pid", "c1"),
            (std::vector<std::string>{"/usr/sbin/runc", "--root", "/run/berth/runc", "--log",
                                      "/t/log", "--log-format", "json", "exec", "--process",
                                      "/t/p.json", "--pid-file", "/t/pid", "c1"}));
  EXPECT_EQ(runcExecArgv(RuncConfig{"/r", ""}, "l", "p", "i", "c").size(), 11u);
}

TEST_F(ExecTest, CapturesOutputAndExitCode) {
  auto o = options({"sh", "-c", "x"});
  o.env = {"B=2"};
  o.user = ExecUser{1000, 1000, {}};
  auto result = execInContainer(*runc_, "echo", o);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_EQ(result->out, "out\n");
  EXPECT_EQ(result->err, "err\n");
  EXPECT_FALSE(result->timed_out);
  EXPECT_TRUE(result->start_error.empty());
  auto process = lastProcess();
  EXPECT_EQ(process.at("args"), json::parse(R"(["sh","-c","x"])"));
  EXPECT_EQ(process.at("env"), json::parse(R"(["PATH=/bin","A=1","B=2"])"));
  EXPECT_EQ(process.at("user"), json::parse(R"({"uid":1000,"gid":1000})"));
  EXPECT_EQ(process.at("terminal"), false);
  EXPECT_TRUE(tempDirEmpty());
}

TEST_F(ExecTest, NonZeroExitIsTheCommandsNotAnError) {
  auto result = execInContainer(*runc_, "exit3", options());
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->exit_code, 3);
  // 255 from the command itself (nothing in runc's log) stays 255.
  auto own = execInContainer(*runc_, "exit255", options());
  ASSERT_TRUE(own.ok()) << own.error().message;
  EXPECT_EQ(own->exit_code, 255);
  EXPECT_EQ(own->err, "its own error\n");
  EXPECT_TRUE(own->start_error.empty());
}

TEST_F(ExecTest, OutputIsBoundedAndTheRestDrained) {
  auto o = options();
  o.max_output_bytes = 1000;
  auto result = execInContainer(*runc_, "big", o);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->exit_code, 0);  // the writer was not blocked by a full pipe
  EXPECT_EQ(result->out, std::string(1000, '0'));
  EXPECT_TRUE(result->out_truncated);
  EXPECT_FALSE(result->err_truncated);
}

TEST_F(ExecTest, CommandNotFoundIs127AndNotExecutable126) {
  auto result = execInContainer(*runc_, "notfound", options({"foo"}));
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->exit_code, 127);
  EXPECT_NE(result->start_error.find("exec: \"foo\": executable file not found in $PATH"),
            std::string::npos)
      << result->start_error;
  // runc's stderr line is replaced by the one message.
  EXPECT_EQ(result->err, result->start_error + "\n");
  EXPECT_EQ(result->err.rfind("OCI runtime exec failed: ", 0), 0u);

  auto denied = execInContainer(*runc_, "noexec", options({"/tmp"}));
  ASSERT_TRUE(denied.ok()) << denied.error().message;
  EXPECT_EQ(denied->exit_code, 126);
  EXPECT_TRUE(tempDirEmpty());
}

TEST_F(ExecTest, UnknownContainerIsNotFound) {
  auto result = execInContainer(*runc_, "gone", options());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kNotFound);
  EXPECT_NE(result.error().message.find("container does not exist"), std::string::npos);
}

TEST_F(ExecTest, NoCommandIsInvalid) {
  auto result = execInContainer(*runc_, "echo", options({}));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kInvalid);
}

TEST_F(ExecTest, TimeoutKillsTheCommandByItsPid) {
  auto o = options({"sleep", "1000"});
  o.timeout = std::chrono::milliseconds(100);
  auto result = execInContainer(*runc_, "hang", o);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_TRUE(result->timed_out);
  EXPECT_EQ(result->exit_code, 128 + SIGKILL);  // the fake passes wait's status on, as runc does
  EXPECT_EQ(result->out, "partial\n");
  EXPECT_TRUE(tempDirEmpty());
}

TEST_F(ExecTest, StartExecHandsOverPidAndPipes) {
  auto proc = startExec(*runc_, "hang", options({"sleep", "1000"}));
  ASSERT_TRUE(proc.ok()) << proc.error().message;
  auto& p = **proc;
  EXPECT_GT(p.pid(), 0);
  EXPECT_NE(p.pid(), p.runcPid());
  EXPECT_GE(p.stdinFd(), 0);
  ASSERT_GE(p.stdoutFd(), 0);
  char buf[16] = {};
  ASSERT_EQ(::read(p.stdoutFd(), buf, 8), 8);
  EXPECT_EQ(std::string(buf), "partial\n");
  ASSERT_TRUE(p.signal(SIGTERM).ok());
  auto result = p.wait();
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->exit_code, 128 + SIGTERM);
  // wait() is idempotent and signal() after the reap is a no-op.
  EXPECT_EQ(p.wait()->exit_code, 128 + SIGTERM);
  EXPECT_TRUE(p.signal(SIGKILL).ok());
}

TEST_F(ExecTest, StartExecOfAMissingCommandReportsItOnWait) {
  auto proc = startExec(*runc_, "notfound", options({"foo"}));
  ASSERT_TRUE(proc.ok()) << proc.error().message;
  EXPECT_EQ((*proc)->pid(), 0);
  auto result = (*proc)->wait();
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->exit_code, 127);
}

TEST_F(ExecTest, DestroyingARunningExecKillsItAndCleansUp) {
  pid_t pid = 0;
  {
    auto proc = startExec(*runc_, "hang", options({"sleep", "1000"}));
    ASSERT_TRUE(proc.ok()) << proc.error().message;
    pid = (*proc)->pid();
    ASSERT_GT(pid, 0);
  }
  // The command was killed and runc reaped (the fake waited for it), so the
  // pid no longer names that sleep.
  std::string cmdline = testing::readText("/proc/" + std::to_string(pid) + "/cmdline");
  EXPECT_EQ(cmdline.find("sleep"), std::string::npos) << cmdline;
  EXPECT_TRUE(tempDirEmpty());
}

}  // namespace
}  // namespace berth::runtime
