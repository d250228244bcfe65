#pragma once

// One pass of a pod's sync on its node, as the kubelet's SyncPod /
// SyncTerminatingPod do it, over a PodRuntime (real: sandboxes and the
// ContainerManager; fake: unit tests): the sandbox first, init containers
// one at a time, then the regular containers, restarts by restartPolicy
// with the CrashLoopBackOff back-off, and the pod status that follows from
// what runs. A deleted pod's containers are stopped within its grace
// period and its sandbox torn down.
//
// Probes, volumes and image pulls are the caller's (the pod worker) for
// now: containers are ready once running, and `started` is true for them.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "agent/agent_event.h"
#include "agent/container_status.h"
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
  virtual Result<RuntimeContainer> startContainer(const api::Object& pod,
                                                  const api::Object& container, int attempt,
                                                  const std::string& pod_ip) = 0;
  // Every attempt of every container of the pod, running or exited.
  virtual std::vector<RuntimeContainer> containers(const std::string& pod_uid) = 0;
  virtual Status stopContainer(const std::string& id, std::chrono::milliseconds grace) = 0;
};

struct SyncOutcome {
  boost::json::object status;  // the pod status to report
  bool terminated = false;     // a deleted pod is fully stopped: delete it from the API
  std::optional<std::chrono::system_clock::time_point> resync_at;  // a back-off ends then
  std::vector<AgentEvent> events;
};

class PodSyncer {
 public:
  PodSyncer(PodRuntime& runtime, Clock& clock, std::string node_ip)
      : runtime_(runtime), clock_(clock), node_ip_(std::move(node_ip)) {}

  SyncOutcome sync(const api::Object& pod);

 private:
  PodRuntime& runtime_;
  Clock& clock_;
  std::string node_ip_;
  RestartBackoff backoff_;
};

}  // namespace berth::agent
