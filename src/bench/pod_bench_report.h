#pragma once

// The figures and the printed report of `berth bench pods` (pod_bench.cpp):
// pure functions over the measured samples, kept apart from the code that
// starts servers and containers so a unit test can check them. Header-only
// because src/bench builds no test binary of its own; the test is
// tests/integration/pod_bench_report_test.cpp, which links none of
// berth_bench.

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <string>
#include <vector>

namespace berth::bench {

// Percentiles of one set of latency samples, in milliseconds.
struct Percentiles {
  size_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};

// The nearest-rank percentile of sorted samples: the smallest sample with at
// least a fraction p of all samples at or below it (what upstream's e2e
// latency summaries report). 0 for no samples.
inline double nearestRank(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  double rank = std::ceil(p * static_cast<double>(sorted.size()));
  size_t i = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(i, sorted.size() - 1)];
}

inline Percentiles percentilesOf(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  Percentiles p;
  p.count = samples.size();
  p.p50 = nearestRank(samples, 0.50);
  p.p90 = nearestRank(samples, 0.90);
  p.p99 = nearestRank(samples, 0.99);
  p.max = samples.empty() ? 0 : samples.back();
  return p;
}

// One round: N pods created at once, then deleted.
struct PodRound {
  int pods = 0;
  // Create call returned → the watch showed Running with Ready=True, per pod
  // that got there.
  std::vector<double> ready_ms;
  // First create call started → last pod ready; < 0 when not all got there.
  double all_ready_ms = -1;
  // Delete call returned → the watch showed DELETED, per pod.
  std::vector<double> gone_ms;
  // First delete call started → last pod gone; < 0 when not all went.
  double all_gone_ms = -1;
  // Last pod gone → no container left in the agent's runc root.
  double runtime_clean_ms = -1;
  // The floor for N at once (N > 1): `runc run -d` of N containers started
  // together, each timed from their common start; until the last returned.
  std::vector<double> floor_ms;
  double floor_all_ms = -1;
  std::string error;  // why the round stopped early, if it did
};

// A server process over an idle window.
struct IdleFigures {
  long rss_kib = -1;        // VmRSS at the end of the window
  double cpu_percent = -1;  // (utime + stime) over the window, % of one core
  double window_s = 0;
  int threads = -1;  // Threads: at the end of the window
  long private_kib = -1;  // private (unshared) memory at the end of the window
};

struct PodBenchReport {
  std::string loadavg_start;
  std::string loadavg_end;
  unsigned cores = 0;
  int grace_seconds = 1;  // the pods' terminationGracePeriodSeconds
  // The floor: `runc run -d` (the call the agent's shim makes) of the same
  // image's rootfs, one container at a time.
  std::vector<double> floor_run_ms;
  std::vector<PodRound> rounds;
  IdleFigures before_pods;    // server+agent, node Ready, no pod yet
  IdleFigures after_pods;     // server+agent once every round's pods went
  IdleFigures without_agent;  // a fresh server with --disable-agent
  // --agent-process: the agent ran as a process of its own (berth agent);
  // before_pods / after_pods are then the agent's own figures, these the
  // server's (without_agent is not measured).
  bool agent_process = false;
  IdleFigures server_before_pods, server_after_pods;
  std::string idle_note;      // e.g. pods a stopped round left, deleted first
};

// The targets for pod start-up and the idle agent.
constexpr double kTargetP50Ms = 150;
constexpr double kTargetP99Ms = 500;
constexpr long kTargetAgentRssKib = 20 * 1000 * 1000 / 1024;  // 20 MB
constexpr double kTargetAgentCpuPercent = 1.0;

namespace report_detail {

inline std::string format(const char* fmt, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, a);
  return buf;
}

inline void appendf(std::string* out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
inline void appendf(std::string* out, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  *out += buf;
}

inline std::string mibText(long kib) { return kib < 0 ? "n/a" : format("%.1f MiB", kib / 1024.0); }

inline std::string cpuText(double percent) {
  return percent < 0 ? "n/a" : format("%.2f %%", percent);
}

}  // namespace report_detail

// "3.4x" of value over floor; "n/a" without both.
inline std::string ratioText(double value, double floor) {
  if (value <= 0 || floor <= 0) return "n/a";
  return report_detail::format("%.1fx", value / floor);
}

// The floor a round compares with: runc for as many containers at once, or
// one at a time for a round of one pod (or when the round has none).
inline Percentiles floorOf(const PodBenchReport& r, const PodRound& round) {
  return percentilesOf(round.floor_ms.empty() ? r.floor_run_ms : round.floor_ms);
}
// "met" / "missed" against a target (no assertion: the bench only reports).
inline const char* verdict(bool met) { return met ? "met" : "missed"; }

// The agent's share of an idle figure: with the agent minus without; -1
// when either is missing. CPU below 0 (noise) counts as 0.
inline long agentRssKib(const IdleFigures& with, const IdleFigures& without) {
  if (with.rss_kib < 0 || without.rss_kib < 0) return -1;
  return with.rss_kib - without.rss_kib;
}

inline double agentCpuPercent(const IdleFigures& with, const IdleFigures& without) {
  if (with.cpu_percent < 0 || without.cpu_percent < 0) return -1;
  return std::max(0.0, with.cpu_percent - without.cpu_percent);
}

// The agent's idle RSS and CPU in a figure: its own process's, or its share.
inline long agentRss(const PodBenchReport& r, const IdleFigures& f) {
  return r.agent_process ? f.rss_kib : agentRssKib(f, r.without_agent);
}
inline double agentCpu(const PodBenchReport& r, const IdleFigures& f) {
  return r.agent_process ? f.cpu_percent : agentCpuPercent(f, r.without_agent);
}
// What the idle targets are judged on: the server+agent after the pods
// went, or before any pod when the rounds left pods behind.
inline const IdleFigures& judgedIdle(const PodBenchReport& r, const char** label) {
  bool after = r.after_pods.rss_kib >= 0;
  *label = after ? "after the pods" : "before any pod";
  return after ? r.after_pods : r.before_pods;
}

// The tables: floor, pod start-up per N with ratios to the floor, deletion,
// idle figures. Ends with a newline.
inline std::string formatTables(const PodBenchReport& r) {
  using report_detail::appendf;
  std::string out;
  Percentiles run = percentilesOf(r.floor_run_ms);
  appendf(&out, "\nfloor: the same image's rootfs (overlay), sleep 3600, runc directly\n");
  appendf(&out, "  %-24s %5s %9s %9s %9s %9s\n", "", "runs", "p50 ms", "p90 ms", "p99 ms",
          "max ms");
  appendf(&out, "  %-24s %5zu %9.1f %9.1f %9.1f %9.1f\n", "runc run -d, one by one", run.count,
          run.p50, run.p90, run.p99, run.max);
  for (const auto& round : r.rounds) {
    if (round.floor_ms.empty()) continue;
    Percentiles f = percentilesOf(round.floor_ms);
    std::string what = "runc run -d, " + std::to_string(round.pods) + " at once";
    appendf(&out, "  %-24s %5zu %9.1f %9.1f %9.1f %9.1f   all in %.0f ms\n", what.c_str(), f.count,
            f.p50, f.p90, f.p99, f.max, round.floor_all_ms);
  }
  appendf(&out,
          "\npod start: create call returned -> Running and Ready=True seen through a watch;\n"
          "  the floor is runc for as many containers at once\n");
  appendf(&out, "  %5s %9s %8s %8s %8s %8s %11s %9s %9s\n", "pods", "ready", "p50 ms", "p90 ms",
          "p99 ms", "max ms", "all ready", "p50/floor", "p99/floor");
  for (const auto& round : r.rounds) {
    Percentiles p = percentilesOf(round.ready_ms);
    Percentiles f = floorOf(r, round);
    std::string ready = std::to_string(p.count) + "/" + std::to_string(round.pods);
    std::string all =
        round.all_ready_ms < 0 ? "n/a" : report_detail::format("%.0f ms", round.all_ready_ms);
    appendf(&out, "  %5d %9s %8.1f %8.1f %8.1f %8.1f %11s %9s %9s\n", round.pods, ready.c_str(),
            p.p50, p.p90, p.p99, p.max, all.c_str(), ratioText(p.p50, f.p50).c_str(),
            ratioText(p.p99, f.p99).c_str());
    if (!round.error.empty()) appendf(&out, "        stopped: %s\n", round.error.c_str());
  }
  appendf(&out,
          "\npod delete: terminationGracePeriodSeconds: %d in the spec, DELETE without a grace "
          "period\n  (sleep ignores SIGTERM as pid 1, so each pod waits out the grace period); "
          "delete call returned -> DELETED seen\n",
          r.grace_seconds);
  appendf(&out, "  %5s %9s %8s %8s %8s %11s %15s\n", "pods", "gone", "p50 ms", "p90 ms", "max ms",
          "all gone", "runtime clean");
  for (const auto& round : r.rounds) {
    if (round.gone_ms.empty() && round.all_gone_ms < 0) continue;
    Percentiles p = percentilesOf(round.gone_ms);
    std::string gone = std::to_string(p.count) + "/" + std::to_string(round.pods);
    std::string all =
        round.all_gone_ms < 0 ? "n/a" : report_detail::format("%.0f ms", round.all_gone_ms);
    std::string clean = round.runtime_clean_ms < 0
                            ? "n/a"
                            : report_detail::format("+%.0f ms", round.runtime_clean_ms);
    appendf(&out, "  %5d %9s %8.1f %8.1f %8.1f %11s %15s\n", round.pods, gone.c_str(), p.p50, p.p90,
            p.max, all.c_str(), clean.c_str());
  }

  appendf(&out, "\nidle: VmRSS, and utime+stime over the window as %% of one core%s%s\n",
          r.idle_note.empty() ? "" : "; ", r.idle_note.c_str());
  appendf(&out, "  %-38s %12s %10s %8s %12s\n", "", "RSS", "CPU", "threads", "private");
  auto row = [&](const char* what, const IdleFigures& f) {
    appendf(&out, "  %-38s %12s %10s %8s %12s\n", what, report_detail::mibText(f.rss_kib).c_str(),
            report_detail::cpuText(f.cpu_percent).c_str(),
            f.threads < 0 ? "n/a" : std::to_string(f.threads).c_str(),
            report_detail::mibText(f.private_kib).c_str());
  };
  if (r.agent_process) {
    row("server, node Ready, before pods", r.server_before_pods);
    row("server, after the pods", r.server_after_pods);
  } else {
    row("server+agent, node Ready, before pods", r.before_pods);
    row("server+agent, after the pods", r.after_pods);
    row("server --disable-agent (fresh)", r.without_agent);
  }
  auto share = [&](const char* what, const IdleFigures& with, bool judged) {
    long kib = agentRss(r, with);
    double cpu = agentCpu(r, with);
    appendf(&out, "  %-38s %12s %10s", what, report_detail::mibText(kib).c_str(),
            report_detail::cpuText(cpu).c_str());
    if (r.agent_process)
      appendf(&out, " %8s %12s", with.threads < 0 ? "n/a" : std::to_string(with.threads).c_str(),
              report_detail::mibText(with.private_kib).c_str());
    if (judged)
      appendf(&out, "            (targets: RSS <= 20 MB %s, CPU < 1 %% %s)",
              kib < 0 ? "n/a" : verdict(kib <= kTargetAgentRssKib),
              cpu < 0 ? "n/a" : verdict(cpu < kTargetAgentCpuPercent));
    out += "\n";
  };
  const char* judged_label = nullptr;
  const IdleFigures* judged = &judgedIdle(r, &judged_label);
  share(r.agent_process ? "agent process, before pods" : "agent's share before pods", r.before_pods,
        judged == &r.before_pods);
  share(r.agent_process ? "agent process, after the pods" : "agent's share after the pods",
        r.after_pods, judged == &r.after_pods);
  return out;
}

// The one summary line: per N the p50 / p99 (and "n/a" for a round that did
// not complete), the floor and the ratio of the largest round's p50 to it,
// the agent's idle share, and whether the targets were met.
inline std::string summaryLine(const PodBenchReport& r) {
  using report_detail::appendf;
  std::string out = "summary: pod start p50/p99";
  Percentiles run = percentilesOf(r.floor_run_ms);
  bool all_met = !r.rounds.empty();
  for (const auto& round : r.rounds) {
    Percentiles p = percentilesOf(round.ready_ms);
    bool complete = round.all_ready_ms >= 0 && p.count == static_cast<size_t>(round.pods);
    if (complete) {
      appendf(&out, " N=%d %.0f/%.0f ms", round.pods, p.p50, p.p99);
      all_met = all_met && p.p50 <= kTargetP50Ms && p.p99 <= kTargetP99Ms;
    } else {
      appendf(&out, " N=%d incomplete (%zu/%d)", round.pods, p.count, round.pods);
      all_met = false;
    }
  }
  appendf(&out, "; floor runc run -d p50 %.0f ms", run.p50);
  if (!r.rounds.empty()) {
    const PodRound& last = r.rounds.back();
    Percentiles p = percentilesOf(last.ready_ms);
    Percentiles f = floorOf(r, last);
    if (last.floor_ms.empty())
      appendf(&out, " (N=%d p50 %s of runc one by one)", last.pods,
              ratioText(p.p50, f.p50).c_str());
    else
      appendf(&out, " (N=%d p50 %s of runc for %d at once)", last.pods,
              ratioText(p.p50, f.p50).c_str(), last.pods);
  }
  appendf(&out, "; targets p50<=150 p99<=500 ms %s", verdict(all_met));
  const char* label = nullptr;
  const IdleFigures& idle = judgedIdle(r, &label);
  if (r.agent_process) {
    const IdleFigures& server = &idle == &r.after_pods ? r.server_after_pods : r.server_before_pods;
    appendf(&out, "; agent process idle RSS %s (private %s) CPU %s %s (server %s)",
            report_detail::mibText(idle.rss_kib).c_str(),
            report_detail::mibText(idle.private_kib).c_str(),
            report_detail::cpuText(idle.cpu_percent).c_str(), label,
            report_detail::mibText(server.rss_kib).c_str());
  } else {
    appendf(&out, "; agent idle RSS %s CPU %s %s (server+agent %s)",
            report_detail::mibText(agentRssKib(idle, r.without_agent)).c_str(),
            report_detail::cpuText(agentCpuPercent(idle, r.without_agent)).c_str(), label,
            report_detail::mibText(idle.rss_kib).c_str());
  }
  return out;
}

}  // namespace berth::bench
