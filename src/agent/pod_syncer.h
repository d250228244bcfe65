#pragma once

// One pass of a pod's sync on its node, as the kubelet's SyncPod /
// SyncTerminatingPod do it, over a PodRuntime (real: sandboxes and the
// ContainerManager; fake: unit tests): the sandbox first, init containers
// one at a time, then the regular containers, restarts by restartPolicy
// with the CrashLoopBackOff back-off, and the pod status that follows from
// what runs. A deleted pod's containers are stopped within its grace
// period and its sandbox torn down.
//
// Images are made present through the ImageManager before a container
// starts (pull policy, pull back-off). Probes are the pod worker's
// ProbeManager; the syncer reads their verdicts through `probes`: a
// container is started once its startup probe passed and ready once its
// readiness probe did, and a failed liveness or startup probe has the
// container killed and restarted by restartPolicy.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/agent_event.h"
#include "agent/container_status.h"
#include "agent/image_manager.h"
#include "agent/restart_backoff.h"
#include "api/kind.h"
#include "common/clock.h"
#include "common/result.h"

namespace berth::agent {

// One attempt of one container of a pod, as the runtime reports it.
struct RuntimeContainer {
  std::string name;
  int attempt = 0;
  Attempt state;
};

class PodRuntime {
 public:
  virtual ~PodRuntime() = default;
  // The pod's sandbox (created when missing); its IP.
  virtual Result<std::string> ensureSandbox(const api::Object& pod) = 0;
  virtual Status destroySandbox(const api::Object& pod) = 0;
  // A pod that finished (Succeeded, Failed) gives its network back; its
  // exited containers and their logs stay. Safe to repeat.
  virtual Status releaseNetwork(const api::Object& pod) = 0;
  virtual Result<RuntimeContainer> startContainer(const api::Object& pod,
                                                  const api::Object& container, int attempt,
                                                  const std::string& pod_ip) = 0;
  // Every attempt of every container of the pod, running or exited.
  virtual std::vector<RuntimeContainer> containers(const std::string& pod_uid) = 0;
  virtual Status stopContainer(const std::string& id, std::chrono::milliseconds grace) = 0;
  // The uids of every pod the runtime holds something of (containers or a
  // sandbox): what a restarted agent checks against the API's pods.
  virtual std::vector<std::string> podUids() = 0;
  // Runs a lifecycle hook handler (postStart, preStop: exec in the container
  // or httpGet against the pod) within `timeout`; the error says why it
  // failed.
  virtual Status runHook(const api::Object& container, const std::string& id,
                         const std::string& pod_ip, const api::Object& handler,
                         std::chrono::milliseconds timeout) = 0;
};

struct SyncOutcome {
  boost::json::object status;  // the pod status to report
  bool terminated = false;     // a deleted pod is fully stopped: delete it from the API
  std::optional<std::chrono::system_clock::time_point> resync_at;  // a back-off ends then
  std::vector<AgentEvent> events;
  std::string pod_ip;
  // The latest attempt of every container that is running now (probes
  // follow them).
  std::vector<RuntimeContainer> running;
};

// What the syncer needs to know of a container's probes (the ProbeManager
// answers it; the syncer does not depend on how probes run).
struct ProbeVerdict {
  bool ready = true;    // readiness passed (or there is no readiness probe)
  bool started = true;  // startup passed (or there is no startup probe)
  bool liveness_failed = false;
  bool startup_failed = false;
};
using ProbeVerdicts = std::function<ProbeVerdict(
    const std::string& pod_uid, const api::Object& container, const std::string& id)>;

class PodSyncer {
 public:
  // `images` (may be null: images are taken to be present) and `probes`
  // (may be empty: no probes) outlive the syncer. sync() may run for
  // different pods on different threads at once.
  PodSyncer(PodRuntime& runtime, Clock& clock, std::string node_ip, ImageManager* images = nullptr,
            ProbeVerdicts probes = {})
      : runtime_(runtime),
        clock_(clock),
        node_ip_(std::move(node_ip)),
        images_(images),
        probes_(std::move(probes)) {}

  SyncOutcome sync(const api::Object& pod);
  // A pod gone from the API (or never seen by this agent): whatever the
  // runtime holds of `pod_uid` is stopped at once and removed.
  // Unavailable (and nothing removed) when a container would not stop.
  Status cleanup(const std::string& pod_uid);
  // Kills every running container of the pod at once (an eviction at a
  // hard threshold); the sandbox and the exited containers stay.
  void killAll(const std::string& pod_uid);

 private:
  // preStop (when the container has one) within the grace period, then
  // SIGTERM and SIGKILL within what is left of it (at least 2 s, as the
  // kubelet gives). A failed hook is reported through *failure.
  void stopWithHooks(const api::Object* spec, const std::string& id, const std::string& pod_ip,
                     std::chrono::seconds grace, std::string* failure);

  PodRuntime& runtime_;
  Clock& clock_;
  std::string node_ip_;
  ImageManager* images_;
  ProbeVerdicts probes_;
  RestartBackoff backoff_;
};

}  // namespace berth::agent
