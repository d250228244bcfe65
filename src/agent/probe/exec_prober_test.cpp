#include "agent/probe/exec_prober.h"

#include <gtest/gtest.h>

namespace berth::agent::probe {
namespace {

using std::chrono::milliseconds;

// A runner that answers with a canned run and records what it was asked.
struct FakeRunner {
  Result<ExecRun> answer = ExecRun{};
  std::vector<std::string> command;
  milliseconds timeout{0};
  size_t max_output = 0;
  ExecRunner runner() {
    return [this](const std::vector<std::string>& c, milliseconds t, size_t max) {
      command = c;
      timeout = t;
      max_output = max;
      return answer;
    };
  }
};

TEST(ExecProberTest, ExitZeroIsSuccessWithOutput) {
  FakeRunner fake;
  fake.answer = ExecRun{0, "ok\n", "", false};
  auto outcome = probeExec(fake.runner(), {"cat", "/tmp/healthy"}, milliseconds(1000));
  EXPECT_EQ(outcome.result, ProbeResult::kSuccess);
  EXPECT_EQ(outcome.output, "ok\n");
  EXPECT_EQ(fake.command, (std::vector<std::string>{"cat", "/tmp/healthy"}));
  EXPECT_EQ(fake.timeout, milliseconds(1000));
  EXPECT_EQ(fake.max_output, 10u * 1024);
}

TEST(ExecProberTest, NonZeroExitIsFailureWithStdoutThenStderr) {
  FakeRunner fake;
  fake.answer =
      ExecRun{1, "out\n", "cat: can't open '/tmp/healthy': No such file or directory\n", false};
  auto outcome = probeExec(fake.runner(), {"cat", "/tmp/healthy"}, milliseconds(1000));
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_EQ(outcome.output, "out\ncat: can't open '/tmp/healthy': No such file or directory\n");
}

TEST(ExecProberTest, OutputIsLimitedToTenKiB) {
  FakeRunner fake;
  fake.answer = ExecRun{2, std::string(8 * 1024, 'o'), std::string(8 * 1024, 'e'), false};
  auto outcome = probeExec(fake.runner(), {"x"}, milliseconds(1000));
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  ASSERT_EQ(outcome.output.size(), 10u * 1024);
  EXPECT_EQ(outcome.output.substr(0, 8 * 1024), std::string(8 * 1024, 'o'));
  EXPECT_EQ(outcome.output.back(), 'e');
}

TEST(ExecProberTest, TimeoutIsFailureWithTheCriClientsText) {
  FakeRunner fake;
  fake.answer = ExecRun{137, "partial", "", true};
  auto outcome = probeExec(fake.runner(), {"sleep", "5"}, milliseconds(1000));
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_EQ(outcome.output, "command timed out: \"sleep 5\" timed out after 1s");
}

TEST(ExecProberTest, RunnerErrorIsUnknown) {
  FakeRunner fake;
  fake.answer = makeError(ErrorCode::kNotFound, "runc exec c1 failed: container does not exist");
  auto outcome = probeExec(fake.runner(), {"true"}, milliseconds(1000));
  EXPECT_EQ(outcome.result, ProbeResult::kUnknown);
  EXPECT_EQ(outcome.output, "runc exec c1 failed: container does not exist");
}

TEST(ExecProberTest, GoDurationText) {
  EXPECT_EQ(goDuration(milliseconds(0)), "0s");
  EXPECT_EQ(goDuration(milliseconds(200)), "200ms");
  EXPECT_EQ(goDuration(milliseconds(1000)), "1s");
  EXPECT_EQ(goDuration(milliseconds(1500)), "1.5s");
  EXPECT_EQ(goDuration(milliseconds(1250)), "1.25s");
  EXPECT_EQ(goDuration(milliseconds(120000)), "2m0s");
  EXPECT_EQ(goDuration(milliseconds(3723004)), "1h2m3.004s");
}

}  // namespace
}  // namespace berth::agent::probe
