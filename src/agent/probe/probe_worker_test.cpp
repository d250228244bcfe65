#include "agent/probe/probe_worker.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace berth::agent::probe {
namespace {

using std::chrono::seconds;
using TP = ProbeWorker::TimePoint;

TEST(ProbeWorkerTest, TimingDefaultsAndValues) {
  auto d = probeTiming(boost::json::object{});
  EXPECT_EQ(d.period_seconds, 10);
  EXPECT_EQ(d.timeout_seconds, 1);
  EXPECT_EQ(d.success_threshold, 1);
  EXPECT_EQ(d.failure_threshold, 3);
  auto t = probeTiming(boost::json::parse(R"({"initialDelaySeconds": 5, "periodSeconds": 2,
      "timeoutSeconds": 3, "successThreshold": 2, "failureThreshold": 1})")
                           .as_object());
  EXPECT_EQ(t.initial_delay_seconds, 5);
  EXPECT_EQ(t.period_seconds, 2);
  EXPECT_EQ(t.timeout_seconds, 3);
  EXPECT_EQ(t.success_threshold, 2);
  EXPECT_EQ(t.failure_threshold, 1);
}

TEST(ProbeWorkerTest, ReadinessNeedsThresholdsInARow) {
  ProbeTiming timing;
  timing.initial_delay_seconds = 5;
  timing.period_seconds = 2;
  timing.success_threshold = 2;
  timing.failure_threshold = 2;
  ProbeWorker w(ProbeKind::kReadiness, timing);
  EXPECT_FALSE(w.nextRun());  // not started
  TP t0{};
  w.containerStarted("c1", t0);
  EXPECT_EQ(w.result(), ProbeResult::kFailure);
  EXPECT_EQ(*w.nextRun(), t0 + seconds(5));
  EXPECT_FALSE(w.record(ProbeResult::kSuccess, t0 + seconds(5)));  // 1 of 2
  EXPECT_EQ(*w.nextRun(), t0 + seconds(7));
  EXPECT_EQ(w.record(ProbeResult::kSuccess, t0 + seconds(7)), ProbeResult::kSuccess);
  EXPECT_FALSE(w.record(ProbeResult::kFailure, t0 + seconds(9)));
  EXPECT_FALSE(w.record(ProbeResult::kSuccess, t0 + seconds(11)));  // the run was broken
  EXPECT_FALSE(w.record(ProbeResult::kFailure, t0 + seconds(13)));
  EXPECT_EQ(w.record(ProbeResult::kFailure, t0 + seconds(15)), ProbeResult::kFailure);
  EXPECT_FALSE(w.record(ProbeResult::kUnknown, t0 + seconds(17)));  // errors change nothing
  // A restart starts over: not ready until it succeeds again.
  w.containerStarted("c2", t0 + seconds(20));
  EXPECT_EQ(w.result(), ProbeResult::kFailure);
  EXPECT_EQ(*w.nextRun(), t0 + seconds(25));
}

TEST(ProbeWorkerTest, LivenessWaitsForStartupAndFailsAfterThreshold) {
  ProbeWorker startup(ProbeKind::kStartup, ProbeTiming{});
  ProbeWorker live(ProbeKind::kLiveness, ProbeTiming{});
  TP t0{};
  startup.containerStarted("c", t0);
  live.containerStarted("c", t0);
  live.setStartupDone(false);
  EXPECT_FALSE(live.nextRun());
  EXPECT_EQ(startup.result(), ProbeResult::kUnknown);
  EXPECT_EQ(startup.record(ProbeResult::kSuccess, t0), ProbeResult::kSuccess);
  EXPECT_FALSE(startup.nextRun());  // done for this container
  live.setStartupDone(true);
  EXPECT_TRUE(live.nextRun());
  EXPECT_EQ(live.result(), ProbeResult::kSuccess);
  EXPECT_FALSE(live.record(ProbeResult::kFailure, t0 + seconds(10)));
  EXPECT_FALSE(live.record(ProbeResult::kWarning, t0 + seconds(20)));  // a warning is a success
  EXPECT_FALSE(live.record(ProbeResult::kFailure, t0 + seconds(30)));
  EXPECT_FALSE(live.record(ProbeResult::kFailure, t0 + seconds(40)));
  EXPECT_EQ(live.record(ProbeResult::kFailure, t0 + seconds(50)), ProbeResult::kFailure);
  live.containerStopped();
  EXPECT_FALSE(live.nextRun());
  EXPECT_EQ(live.result(), ProbeResult::kSuccess);
}

}  // namespace
}  // namespace berth::agent::probe
