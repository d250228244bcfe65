#pragma once

// The state of one probe of one container, as the kubelet's prober worker
// keeps it (pkg/kubelet/prober/worker.go), without threads: the agent asks
// when the next run is due, runs the probe and records the raw result.
//
// - Nothing runs before the container started, nor (liveness, readiness)
//   before its startup probe succeeded.
// - Within initialDelaySeconds of the start the probe is not run; the
//   result stays the initial one (readiness: failure, liveness: success,
//   startup: unknown).
// - A result takes effect after successThreshold / failureThreshold equal
//   raw results in a row.
// - A new container (restart) starts over.

#include <chrono>
#include <optional>
#include <string>

#include "agent/probe/probers.h"
#include "api/kind.h"

namespace berth::agent::probe {

enum class ProbeKind { kLiveness, kReadiness, kStartup };

// A core/v1 Probe's timing, defaults applied as upstream's defaulting does.
struct ProbeTiming {
  int initial_delay_seconds = 0;
  int period_seconds = 10;
  int timeout_seconds = 1;
  int success_threshold = 1;
  int failure_threshold = 3;
};
ProbeTiming probeTiming(const api::Object& probe);

class ProbeWorker {
 public:
  // Wall-clock time, as berth's Clock and the container's startedAt are: the
  // initial delay counts from the start time the runtime reported.
  using TimePoint = std::chrono::system_clock::time_point;

  ProbeWorker(ProbeKind kind, ProbeTiming timing);

  // A container (re)started: state starts over for it.
  void containerStarted(const std::string& container_id, TimePoint started);
  void containerStopped();
  // Liveness and readiness wait for this once a startup probe exists.
  void setStartupDone(bool done) { startup_done_ = done; }

  // When the probe should run next (nullopt: not now, e.g. not started).
  std::optional<TimePoint> nextRun() const;
  // Records one raw result at `now`; returns the effective result when it
  // changed.
  std::optional<ProbeResult> record(ProbeResult raw, TimePoint now);

  ProbeResult result() const { return result_; }
  ProbeKind kind() const { return kind_; }
  const ProbeTiming& timing() const { return timing_; }

 private:
  ProbeResult initialResult() const;

  const ProbeKind kind_;
  const ProbeTiming timing_;
  std::string container_id_;
  std::optional<TimePoint> started_;
  std::optional<TimePoint> last_run_;
  bool startup_done_ = true;
  ProbeResult result_;
  std::optional<ProbeResult> last_raw_;
  int run_ = 0;
};

}  // namespace berth::agent::probe
