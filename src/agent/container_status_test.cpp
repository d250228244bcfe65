#include "agent/container_status.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "api/kinds/access.h"
#include "runtime/logs/cri_log.h"

namespace berth::agent {
namespace {

using api::strAt;

TEST(ContainerStatusTest, WaitingRunningTerminatedAndBackOff) {
  ContainerView v;
  v.name = "c";
  v.image = "busybox:1";
  auto creating = containerStatus(v);
  EXPECT_EQ(strAt(creating, {"state", "waiting", "reason"}), "ContainerCreating");
  EXPECT_TRUE(creating.at("lastState").as_object().empty());
  EXPECT_EQ(creating.at("restartCount").as_int64(), 0);
  EXPECT_FALSE(creating.contains("containerID"));

  Attempt a;
  a.id = "abc";
  a.running = true;
  a.started_at = "2026-01-01T00:00:00Z";
  a.image_id = "docker.io/library/busybox@sha256:1234";
  v.current = a;
  v.ready = true;
  v.started = true;
  auto running = containerStatus(v);
  EXPECT_EQ(strAt(running, {"state", "running", "startedAt"}), "2026-01-01T00:00:00Z");
  EXPECT_EQ(strAt(running, {"containerID"}), "berth://abc");
  EXPECT_EQ(strAt(running, {"imageID"}), "docker.io/library/busybox@sha256:1234");
  EXPECT_TRUE(running.at("ready").as_bool());

  // It exits 1 and waits in CrashLoopBackOff: the exit is the last state.
  v.current->running = false;
  v.current->exit_code = 1;
  v.current->finished_at = "2026-01-01T00:00:05Z";
  v.ready = false;
  v.started = false;
  v.waiting_reason = "CrashLoopBackOff";
  v.waiting_message = "back-off 10s restarting failed container=c pod=p_ns(u)";
  auto backoff = containerStatus(v);
  EXPECT_EQ(strAt(backoff, {"state", "waiting", "reason"}), "CrashLoopBackOff");
  EXPECT_EQ(strAt(backoff, {"lastState", "terminated", "reason"}), "Error");
  EXPECT_EQ(api::intAt(backoff, {"lastState", "terminated", "exitCode"}).value_or(-1), 1);
  EXPECT_EQ(strAt(backoff, {"lastState", "terminated", "containerID"}), "berth://abc");

  // The next attempt runs; the previous one stays as lastState.
  v.previous = v.current;
  Attempt b = a;
  b.id = "def";
  v.current = b;
  v.restart_count = 1;
  v.waiting_reason.clear();
  auto restarted = containerStatus(v);
  EXPECT_TRUE(restarted.at("state").as_object().contains("running"));
  EXPECT_EQ(strAt(restarted, {"lastState", "terminated", "containerID"}), "berth://abc");
  EXPECT_EQ(restarted.at("restartCount").as_int64(), 1);

  // OOM-killed and terminated for good.
  v.current->running = false;
  v.current->exit_code = 137;
  v.current->signal = 9;
  v.current->reason = "OOMKilled";
  auto oom = containerStatus(v);
  EXPECT_EQ(strAt(oom, {"state", "terminated", "reason"}), "OOMKilled");
  EXPECT_EQ(api::intAt(oom, {"state", "terminated", "signal"}).value_or(0), 9);
}

TEST(ContainerStatusTest, TerminationMessageFromFileOrLogs) {
  char tmpl[] = "/tmp/berth-term-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::string file = dir + "/termination-log", log = dir + "/0.log";
  FakeClock clock;
  {
    runtime::CriLogWriter w(log, {}, clock);
    ASSERT_TRUE(w.open().ok());
    for (int i = 0; i < 100; ++i)
      ASSERT_TRUE(w.write(runtime::LogStream::kStdout, "line " + std::to_string(i) + "\n").ok());
  }
  std::ofstream(file) << "";
  EXPECT_EQ(terminationMessage(file, log, "File", 1), "");
  EXPECT_EQ(terminationMessage(file, log, "FallbackToLogsOnError", 0), "");
  std::string fallback = terminationMessage(file, log, "FallbackToLogsOnError", 1);
  EXPECT_EQ(fallback.substr(0, 8), "line 20\n");  // the last 80 lines
  EXPECT_EQ(fallback.substr(fallback.size() - 8), "line 99\n");
  std::ofstream(file) << std::string(5000, 'x');
  EXPECT_EQ(terminationMessage(file, log, "FallbackToLogsOnError", 1).size(), 4096u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace berth::agent
