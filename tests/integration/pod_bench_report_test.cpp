// The figures and report of `berth bench pods` (src/bench/pod_bench_report.h):
// nearest-rank percentiles, ratios to the floor, the agent's share of the
// idle figures, and the tables and summary line for complete and incomplete
// rounds. Pure functions over given samples: nothing is started or timed.
// It lives here because src/bench builds no test binary of its own.
#include "bench/pod_bench_report.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::bench {
namespace {

std::vector<double> oneToHundred() {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);  // unsorted on purpose
  return v;
}

TEST(PodBenchReport, NearestRankPercentiles) {
  Percentiles p = percentilesOf(oneToHundred());
  EXPECT_EQ(p.count, 100u);
  EXPECT_EQ(p.p50, 50);
  EXPECT_EQ(p.p90, 90);
  EXPECT_EQ(p.p99, 99);
  EXPECT_EQ(p.max, 100);
}

TEST(PodBenchReport, SmallSamples) {
  Percentiles one = percentilesOf({42.5});
  EXPECT_EQ(one.p50, 42.5);
  EXPECT_EQ(one.p99, 42.5);
  EXPECT_EQ(one.max, 42.5);
  // Ten samples: p50 is the 5th, p90 the 9th, p99 the 10th (the max).
  Percentiles ten = percentilesOf({10, 9, 8, 7, 6, 5, 4, 3, 2, 1});
  EXPECT_EQ(ten.p50, 5);
  EXPECT_EQ(ten.p90, 9);
  EXPECT_EQ(ten.p99, 10);
  Percentiles none = percentilesOf({});
  EXPECT_EQ(none.count, 0u);
  EXPECT_EQ(none.p50, 0);
  EXPECT_EQ(none.max, 0);
}

TEST(PodBenchReport, Ratios) {
  EXPECT_EQ(ratioText(120, 40), "3.0x");
  EXPECT_EQ(ratioText(55, 50), "1.1x");
  EXPECT_EQ(ratioText(120, 0), "n/a");
  EXPECT_EQ(ratioText(0, 40), "n/a");
}

TEST(PodBenchReport, AgentShareIsTheDifference) {
  IdleFigures with, without;
  EXPECT_EQ(agentRssKib(with, without), -1);
  EXPECT_EQ(agentCpuPercent(with, without), -1);
  with.rss_kib = 60 * 1024;
  with.cpu_percent = 0.5;
  without.rss_kib = 45 * 1024;
  without.cpu_percent = 0.2;
  EXPECT_EQ(agentRssKib(with, without), 15 * 1024);
  EXPECT_NEAR(agentCpuPercent(with, without), 0.3, 1e-9);
  // Noise can make the difference negative; CPU is reported as 0 then.
  without.cpu_percent = 0.7;
  EXPECT_EQ(agentCpuPercent(with, without), 0);
}

TEST(PodBenchReport, TargetsJudgeTheIdleAfterThePodsWhenThereIsOne) {
  PodBenchReport r;
  r.before_pods.rss_kib = 30 * 1024;
  const char* label = nullptr;
  EXPECT_EQ(&judgedIdle(r, &label), &r.before_pods);
  EXPECT_STREQ(label, "before any pod");
  r.after_pods.rss_kib = 40 * 1024;
  EXPECT_EQ(&judgedIdle(r, &label), &r.after_pods);
  EXPECT_STREQ(label, "after the pods");
}

PodBenchReport sample() {
  PodBenchReport r;
  r.floor_run_ms = {40, 42, 38, 41, 39, 45, 40, 40, 43, 60};
  PodRound one;
  one.pods = 1;
  one.ready_ms = {100};
  one.all_ready_ms = 180;
  one.gone_ms = {1200};
  one.all_gone_ms = 1250;
  one.runtime_clean_ms = 30;
  PodRound ten;
  ten.pods = 10;
  ten.ready_ms = {100, 110, 120, 130, 140, 150, 160, 170, 180, 400};
  ten.all_ready_ms = 520;
  ten.floor_ms = {70, 70, 70, 70, 70, 80, 80, 80, 80, 100};
  ten.floor_all_ms = 105;
  r.rounds = {one, ten};
  r.before_pods = {40 * 1024, 0.2, 10, 110};
  r.after_pods = {48 * 1024, 0.4, 10, 120};
  r.without_agent = {36 * 1024, 0.1, 10, 60};
  return r;
}

TEST(PodBenchReport, TablesCarryTheFigures) {
  std::string t = formatTables(sample());
  // Floor p50 one by one is 40 ms (5th of 10 sorted), p99 60 ms: N=1's
  // 100 ms is 2.5x and 1.7x of it. Ten at once: p50 70 ms, p99 100 ms, so
  // N=10's p50 140 ms is 2.0x and its p99 400 ms 4.0x.
  EXPECT_NE(t.find("runc run -d, one by one     10      40.0      45.0      60.0      60.0"),
            std::string::npos)
      << t;
  EXPECT_NE(
      t.find("runc run -d, 10 at once     10      70.0      80.0     100.0     100.0   all in "
             "105 ms"),
      std::string::npos)
      << t;
  EXPECT_NE(t.find("10/10"), std::string::npos) << t;
  EXPECT_NE(t.find("2.5x      1.7x"), std::string::npos) << t;
  EXPECT_NE(t.find("2.0x      4.0x"), std::string::npos) << t;
  EXPECT_NE(t.find("520 ms"), std::string::npos) << t;
  EXPECT_NE(t.find("terminationGracePeriodSeconds: 1"), std::string::npos) << t;
  EXPECT_NE(t.find("+30 ms"), std::string::npos) << t;
  EXPECT_NE(t.find("0.40 %      120"), std::string::npos) << t;
  // 40 - 36 MiB before the pods, 48 - 36 MiB after; the targets judge the latter.
  EXPECT_NE(t.find("agent's share before pods                   4.0 MiB     0.10 %\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("agent's share after the pods               12.0 MiB     0.30 %            "
                   "(targets: RSS <= 20 MB met, CPU < 1 % met)"),
            std::string::npos)
      << t;
}

TEST(PodBenchReport, AnAgentProcessIsJudgedOnItsOwnFigures) {
  PodBenchReport r = sample();
  r.agent_process = true;
  r.without_agent = {};
  r.server_before_pods = {30 * 1024, 0.1, 10, 150, 20 * 1024};
  r.server_after_pods = {45 * 1024, 0.1, 10, 150, 35 * 1024};
  r.before_pods = {19 * 1024, 0.0, 10, 30, 5 * 1024};
  r.after_pods = {22 * 1024, 0.2, 10, 33, 8 * 1024};
  std::string t = formatTables(r);
  EXPECT_EQ(t.find("server --disable-agent"), std::string::npos) << t;
  EXPECT_NE(
      t.find(
          "server, after the pods                     45.0 MiB     0.10 %      150     35.0 MiB"),
      std::string::npos)
      << t;
  EXPECT_NE(
      t.find("agent process, after the pods              22.0 MiB     0.20 %       33      8.0 MiB"
             "            (targets: RSS <= 20 MB missed, CPU < 1 % met)"),
      std::string::npos)
      << t;
  std::string s = summaryLine(r);
  EXPECT_NE(s.find("agent process idle RSS 22.0 MiB (private 8.0 MiB) CPU 0.20 % after the pods "
                   "(server 45.0 MiB)"),
            std::string::npos)
      << s;
}

TEST(PodBenchReport, ASingleRoundOfOnePodIsComparedWithRunOneByOne) {
  PodBenchReport r = sample();
  r.rounds.resize(1);  // N=1 only: its floor is runc one container at a time
  EXPECT_NE(summaryLine(r).find("(N=1 p50 2.5x of runc one by one)"), std::string::npos)
      << summaryLine(r);
}

TEST(PodBenchReport, SummaryLineForCompleteRounds) {
  std::string s = summaryLine(sample());
  EXPECT_EQ(s.find('\n'), std::string::npos);
  EXPECT_NE(s.find("N=1 100/100 ms"), std::string::npos) << s;
  EXPECT_NE(s.find("N=10 140/400 ms"), std::string::npos) << s;
  EXPECT_NE(s.find("floor runc run -d p50 40 ms (N=10 p50 2.0x of runc for 10 at once)"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("targets p50<=150 p99<=500 ms met"), std::string::npos) << s;
  EXPECT_NE(s.find("agent idle RSS 12.0 MiB CPU 0.30 % after the pods (server+agent 48.0 MiB)"),
            std::string::npos)
      << s;
}

TEST(PodBenchReport, IncompleteOrSlowRoundsMissTheTargets) {
  PodBenchReport slow = sample();
  slow.rounds[1].ready_ms.back() = 700;  // p99 of 10 samples is the max
  EXPECT_NE(summaryLine(slow).find("ms missed"), std::string::npos);

  PodBenchReport cut = sample();
  cut.after_pods = {};  // pods left behind: the idle figures before them count
  cut.rounds[1].ready_ms.resize(7);
  cut.rounds[1].all_ready_ms = -1;
  cut.rounds[1].error = "interrupted";
  std::string s = summaryLine(cut);
  EXPECT_NE(s.find("N=10 incomplete (7/10)"), std::string::npos) << s;
  EXPECT_NE(s.find("ms missed"), std::string::npos) << s;
  EXPECT_NE(s.find("agent idle RSS 4.0 MiB CPU 0.10 % before any pod (server+agent 40.0 MiB)"),
            std::string::npos)
      << s;
  std::string t = formatTables(cut);
  EXPECT_NE(t.find("7/10"), std::string::npos) << t;
  EXPECT_NE(t.find("stopped: interrupted"), std::string::npos) << t;
}

}  // namespace
}  // namespace berth::bench
