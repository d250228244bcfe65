#pragma once

// What a hollow node's "containers" do, and the pod status a kubelet would
// report for it. No process runs: a pod bound to a hollow node follows a
// script (start-up latency, readiness delay, optional run time and exit
// code, optional injected start failure) and the status is computed from
// the script's stage at the current time, the way the kubelet's status
// manager generates it (pkg/kubelet/status/generate.go): phase,
// PodReadyToStartContainers / Initialized / ContainersReady / Ready
// conditions, container statuses with running / waiting / terminated states,
// restart counts and CrashLoopBackOff between restarts.

#include <chrono>
#include <optional>
#include <string>

#include "api/kind.h"
#include "api/object.h"
#include "common/clock.h"

namespace berth::agent::hollow {

using TimePoint = std::chrono::system_clock::time_point;
using Duration = std::chrono::milliseconds;

// Pod annotations that script a hollow pod (integers, seconds).
inline constexpr char kRunSecondsAnnotation[] = "hollow.berth.dev/run-seconds";
inline constexpr char kExitCodeAnnotation[] = "hollow.berth.dev/exit-code";
inline constexpr char kReadySecondsAnnotation[] = "hollow.berth.dev/ready-seconds";
inline constexpr char kStartupSecondsAnnotation[] = "hollow.berth.dev/startup-seconds";
// A container waiting reason to report forever instead of starting, e.g.
// ErrImagePull or CreateContainerConfigError.
inline constexpr char kStartFailureAnnotation[] = "hollow.berth.dev/start-failure";

// The kubelet's container restart back-off: 10 s doubling up to 5 min.
inline constexpr Duration kInitialBackOff = std::chrono::seconds(10);
inline constexpr Duration kMaxBackOff = std::chrono::minutes(5);

struct PodScript {
  Duration startup{0};              // acknowledged -> containers running
  Duration ready_delay{0};          // running -> ready
  std::optional<Duration> run_for;  // containers exit after this; none: run until deleted
  int exit_code = 0;
  std::string start_failure;  // non-empty: never starts, waits with this reason
  std::string restart_policy = "Always";
};

// Reads the script from the pod's annotations, with the node set's defaults
// for what they leave out. A readinessProbe's initialDelaySeconds delays
// readiness when no annotation says otherwise.
PodScript scriptFor(const api::Object& pod, Duration default_startup, Duration default_ready_delay);

enum class PodStage {
  kStarting,     // ContainerCreating / PodInitializing
  kStartFailed,  // waiting with the injected reason
  kRunning,
  kBackOff,  // exited, waiting to restart (CrashLoopBackOff)
  kDone,     // exited for good: Succeeded or Failed
};

// One pod's simulated life on a hollow node.
struct PodSim {
  PodScript script;
  PodStage stage = PodStage::kStarting;
  TimePoint acknowledged;  // the node first saw the pod: status.startTime
  TimePoint started;       // the current container incarnation started
  TimePoint backoff_until;
  int restarts = 0;
  // The last termination (lastState, or the final state when kDone).
  bool terminated_once = false;
  TimePoint last_started;
  TimePoint last_finished;
  int last_exit = 0;

  // Moves through every transition due at or before `now`; returns when the
  // status will next change on its own (a timer to set), if ever.
  std::optional<TimePoint> advance(TimePoint now);
  bool ready(TimePoint now) const;
  // "Succeeded" / "Failed" once kDone, else "Pending" / "Running".
  std::string phase() const;
};

// Adopts a pod that already has status from an earlier agent run (restart of
// `berth agent`): Running pods keep their start time and restart count,
// terminal pods stay as they are. Returns false when nothing was adopted.
bool adoptExistingStatus(const api::Object& pod, PodSim* sim);

// The status a kubelet would write for `pod` now: existing fields the
// kubelet does not own (qosClass, nominatedNodeName, PodScheduled and
// DisruptionTarget conditions, ...) are kept; conditions keep their
// lastTransitionTime unless their status changes.
boost::json::object buildPodStatus(const api::Object& pod, const PodSim& sim,
                                   const std::string& host_ip, const std::string& pod_ip,
                                   TimePoint now);

// "hollow://<16 hex digits>", stable for a pod uid, container and restart.
std::string hollowContainerId(const std::string& pod_uid, const std::string& container,
                              int restart);

}  // namespace berth::agent::hollow
