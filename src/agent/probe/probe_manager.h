#pragma once

// The agent's probe manager: upstream's prober manager
// (pkg/kubelet/prober/prober_manager.go), the prober that runs one probe
// and records its events (prober.go), the worker's run loop (worker.go) and
// the results cache (prober/results), for the running containers of the
// pods on this node.
//
// The pod worker tells the manager which containers of a pod run
// (updatePod) and asks it for their effective probe state (state) when it
// syncs the pod; the manager calls `resync` when an effective result
// changed (upstream's liveness / readiness / startup result updates that
// make the kubelet sync the pod).
//
// Per container, as upstream:
// - readiness starts false and becomes true after successThreshold
//   successes; it keeps running afterwards and falls back to false after
//   failureThreshold failures;
// - liveness starts as success; failureThreshold failures in a row make it
//   fail, reported once per container id: the probe then holds until a
//   new container id (the restarted container) appears;
// - startup starts unknown (not started); liveness and readiness do not
//   run until it succeeded; once it succeeded it stops for that container;
//   failureThreshold failures fail it (held like liveness);
// - nothing runs within initialDelaySeconds of the container's start;
// - an errored run (ProbeResult::kUnknown: no exec runner, a port that
//   does not resolve) is tried up to 3 times (maxProbeRetries), then
//   recorded as an event and not counted;
// - every failed run records a Warning "Unhealthy" event ("Liveness probe
//   failed: <output>"), every warning a Warning "ProbeWarning" event
//   ("Readiness probe warning: <output>"); a warning counts as a success.
//
// Two modes: start() runs due probes on a pool of worker threads, with one
// timer thread that sleeps until the next due time or an update (no
// polling); runDue() runs due probes on the caller's thread for tests.

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "agent/probe/exec_prober.h"
#include "agent/probe/probe_worker.h"
#include "agent/probe/probers.h"
#include "common/clock.h"
#include "common/result.h"

namespace berth::agent::probe {

// One running container of a pod, as the pod worker's last sync saw it.
struct ProbeTarget {
  std::string pod_key;  // "ns/name"
  std::string pod_uid;
  std::string pod_ip;  // probes without host dial this
  std::string container_name;
  std::string container_id;       // a restart is a new id: its probe state starts over
  boost::json::object container;  // the container's spec (its xxxProbe, ports for named ports)
  std::chrono::system_clock::time_point started_at;
};

// Runs one probe once (the probe object is the container's xxxProbe).
// The default runner (makeProbeRunner) dispatches on exec / httpGet /
// tcpSocket / grpc, resolving named ports from the container's ports, host
// defaulting to pod_ip, and running exec probes through the ExecRunner the
// factory gives for a container id.
using ProbeRunner = std::function<ProbeOutcome(const ProbeTarget& target, ProbeKind kind,
                                               const boost::json::object& probe,
                                               std::chrono::milliseconds timeout)>;
ProbeRunner makeProbeRunner(std::function<ExecRunner(const std::string& container_id)> exec_runner);

// upstream's probe.ResolveContainerPort: an integer, or the name of one of
// the container's ports, or a number written as a string; 1-65535.
// An httpGet handler (of a probe or a lifecycle hook) as an HttpProbe:
// scheme upper-cased, host defaulting to `pod_ip`, the port resolved
// against the container's ports, the headers.
Result<HttpProbe> httpProbeOf(const boost::json::object& http_get,
                              const boost::json::object& container, const std::string& pod_ip);

Result<int> resolveContainerPort(const boost::json::value* port,
                                 const boost::json::object& container);

// "Liveness", "Readiness", "Startup" (upstream's probeType.String()).
const char* probeKindName(ProbeKind kind);

// What the pod syncer asks of a container's probes.
struct ContainerProbes {
  bool ready = true;    // readiness: true without a readiness probe; false until it succeeds
                        // (and, as upstream's UpdatePodStatus, false while not started)
  bool started = true;  // startup: true without a startup probe; false until it succeeds
  bool liveness_failed = false;  // the kubelet restarts the container
  bool startup_failed = false;   // likewise
  bool operator==(const ContainerProbes&) const = default;
};

class ProbeManager {
 public:
  struct Callbacks {
    // An effective result changed: the pod needs a sync.
    std::function<void(const std::string& pod_key)> resync;
    // Upstream's Unhealthy / ProbeWarning events, e.g. ("Warning", "Unhealthy",
    // "Readiness probe failed: HTTP probe failed with statuscode: 500").
    std::function<void(const std::string& pod_key, const std::string& type,
                       const std::string& reason, const std::string& message)>
        event;
  };
  // Callbacks run on the thread that ran the probe (a pool thread in run
  // mode, the caller of runDue otherwise), never under the manager's lock:
  // they may call state().
  ProbeManager(Clock& clock, ProbeRunner runner, Callbacks callbacks, int threads = 4);
  ~ProbeManager();  // stops
  ProbeManager(const ProbeManager&) = delete;
  ProbeManager& operator=(const ProbeManager&) = delete;

  // Replaces the set of probed containers of one pod (by uid) with
  // `running`: new container ids get fresh workers, gone ones are dropped.
  // Containers without probes are not kept. Call it before state() for a
  // container the pod worker just started.
  void updatePod(const std::string& pod_uid, const std::vector<ProbeTarget>& running);
  void removePod(const std::string& pod_uid);
  // upstream's StopLivenessAndStartup, for a pod being terminated: its
  // liveness and startup probes stop and report success, so a container
  // shutting down gracefully is not restarted for failing them. Readiness
  // keeps running.
  void stopLivenessAndStartup(const std::string& pod_uid);

  // The effective state of a container's probes. A container the manager
  // does not know (no probes, or not passed to updatePod) gets the
  // defaults; a known name with another id (stale or not yet updated) the
  // initial state of its probes.
  ContainerProbes state(const std::string& pod_uid, const std::string& container_name,
                        const std::string& container_id) const;

  // Run mode: a timer thread runs due probes on `threads` worker threads (a
  // probe may block up to its timeout; at most `threads` run at once, and a
  // slow probe delays no other probe's schedule while a thread is free).
  void start();
  // Waits for probes in flight; their results are kept but no callback
  // fires once stop() began.
  void stop();
  // Test mode (no threads): runs every probe due at clock.now() on the
  // caller's thread, again while a run made another probe due (a startup
  // success lets readiness and liveness run); returns the number of runs.
  size_t runDue();

  // Probes (one per container and kind) currently kept; upstream's
  // workerCount, for tests.
  size_t probeCount() const;

 private:
  struct Probe {
    Probe(ProbeKind k, ProbeTiming timing) : kind(k), worker(k, timing) {}
    ProbeKind kind;
    ProbeWorker worker;
    bool on_hold = false;    // liveness / startup failed: wait for a new container id
    bool stopped = false;    // stopLivenessAndStartup
    bool in_flight = false;  // a run is queued or running
  };
  struct Container {
    std::shared_ptr<const ProbeTarget> target;  // replaced, never mutated
    std::vector<Probe> probes;                  // fixed at creation
    Probe* find(ProbeKind kind);
    const Probe* find(ProbeKind kind) const;
  };
  using ContainerPtr = std::shared_ptr<Container>;
  // One probe run, queued or running.
  struct Job {
    ContainerPtr container;
    ProbeKind kind;
    std::shared_ptr<const ProbeTarget> target;
    std::chrono::milliseconds timeout;
  };
  // What a run decided, delivered after the lock is released.
  struct Notice {
    std::string pod_key;
    bool resync = false;
    std::optional<std::string> event_reason;
    std::string event_message;
  };

  static ContainerPtr makeContainer(const ProbeTarget& target);
  static ContainerProbes derive(const Container& c);
  bool isCurrent(const ContainerPtr& c) const;
  // Marks every probe due at `now` in flight and returns its job; sets
  // *next to the earliest later due time.
  std::vector<Job> collectDue(std::chrono::system_clock::time_point now,
                              std::optional<std::chrono::system_clock::time_point>* next);
  ProbeOutcome runWithRetries(const Job& job);
  // Records a finished run; returns what to tell the callbacks.
  Notice complete(const Job& job, const ProbeOutcome& outcome,
                  std::chrono::system_clock::time_point started);
  void deliver(const Notice& notice);
  void timerLoop();
  void workerLoop();

  Clock& clock_;
  const ProbeRunner runner_;
  const Callbacks callbacks_;
  const int threads_;

  mutable std::mutex mu_;
  // pod uid -> container name -> its probes.
  std::unordered_map<std::string, std::map<std::string, ContainerPtr>> pods_;
  bool running_ = false;
  bool stopping_ = false;
  std::condition_variable timer_cv_;  // updates, completions, stop
  std::condition_variable jobs_cv_;   // queued jobs, stop
  std::deque<Job> jobs_;
  std::thread timer_;
  std::vector<std::thread> workers_;
};

}  // namespace berth::agent::probe
