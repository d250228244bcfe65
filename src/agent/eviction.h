#pragma once

// Node-pressure eviction, after the kubelet's eviction manager
// (pkg/kubelet/eviction: eviction_manager.go synchronize, helpers.go
// rankMemoryPressure / rankDiskPressureFunc / evictionMessage). The node
// agent samples the machine and its pods every status period and asks
// chooseEviction which pod, if any, to kill now; like synchronize, at most
// one pod per call, so the next sample shows whether that was enough.
//
// Everything here is a pure function of its inputs (no threads, no clock):
// the agent owns the sampling, the kill and the status write.

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/node/machine.h"
#include "api/kind.h"
#include "common/result.h"

namespace berth::agent {

using TimePoint = std::chrono::system_clock::time_point;

// scheduling.SystemCriticalPriority: pods at or above it are never evicted.
inline constexpr int64_t kSystemCriticalPriority = 2000000000;

inline constexpr const char* kResourceMemory = "memory";
inline constexpr const char* kResourceEphemeralStorage = "ephemeral-storage";

// One container's usage, as the kubelet's summary stats report it
// (ContainerStats.Memory.WorkingSetBytes, Rootfs.UsedBytes + Logs.UsedBytes);
// only the eviction message reads it.
struct ContainerUsage {
  std::string name;
  uint64_t memory_working_set = 0;
  uint64_t disk_bytes = 0;
};

// One active (non-terminal) pod with its stats.
struct PodUsage {
  std::string key;                   // "namespace/name", handed back in the decision
  const api::Object* pod = nullptr;  // the pod object (spec, metadata); must not be null
  uint64_t memory_working_set = 0;   // the pod cgroup's working set
  uint64_t disk_bytes = 0;           // rootfs + logs + local volumes (emptyDir) on nodefs
  std::vector<ContainerUsage> containers;
};

struct EvictionDecision {
  std::string pod_key;
  std::string resource;  // kResourceMemory or kResourceEphemeralStorage
  // Upstream's text: "The node was low on resource: memory. Threshold
  // quantity: 100Mi, available: 42Mi. Container main was using 812Mi,
  // request is 0, has larger consumption of memory. "
  std::string message;
  // The Evicted event's annotations: offending_containers,
  // offending_containers_usage, starved_resource.
  std::map<std::string, std::string> annotations;
};

// The pod to evict now, or nullopt when no threshold is met (or only pods
// that may not be evicted are left). Memory is reclaimed before disk
// (byEvictionPriority). Disk pressure is nodefs.available; berth has one
// filesystem for images, containers and logs, so pods are ranked by all
// their disk usage. The caller should first try image garbage collection
// on disk pressure (reclaimNodeLevelResources) and only evict when that
// did not bring the node below the threshold.
std::optional<EvictionDecision> chooseEviction(const node::MachineUsage& usage,
                                               const node::EvictionThresholds& thresholds,
                                               const std::vector<PodUsage>& pods);

// The eviction order for memory / disk pressure: pods whose usage exceeds
// their requests first, then lower spec.priority first, then larger usage
// above requests first. Stable for ties. Critical pods are ranked too;
// chooseEviction skips them.
std::vector<const PodUsage*> rankMemoryPressure(const std::vector<PodUsage>& pods);
std::vector<const PodUsage*> rankDiskPressure(const std::vector<PodUsage>& pods);

// kubelettypes.IsCriticalPod: a static or mirror pod, or priority >=
// kSystemCriticalPriority.
bool isCriticalPod(const api::Object& pod);
// corev1helpers.PodPriority: spec.priority, 0 when unset.
int64_t podPriority(const api::Object& pod);
// v1resource.GetResourceRequestQuantity for "memory" / "ephemeral-storage"
// in bytes: containers (and sidecars) summed, maxed with each other init
// container, plus spec.overhead.
uint64_t podRequestBytes(const api::Object& pod, const std::string& resource);

// resource.NewQuantity(bytes, BinarySI).String(): "812Mi", "1536Mi", "1k"
// (below 1024 the canonical form is decimal), "1025".
std::string binaryQuantity(int64_t bytes);
// The canonical String() of a quantity as written in a spec ("1.5Gi" ->
// "1536Mi", "1000M" -> "1G"); "0" when empty or malformed.
std::string canonicalQuantity(const std::string& text);

// The status the kubelet writes for an evicted pod (evictPod's
// killPodFunc callback): the pod's current status with phase Failed,
// reason Evicted, the message, and the DisruptionTarget condition
// (reason TerminationByKubelet) added or updated (podutil.UpdatePodCondition:
// lastTransitionTime kept when the condition was already True).
boost::json::object evictedStatus(const api::Object& pod, const std::string& message,
                                  TimePoint now);

// The working set of a cgroup v1 memory cgroup, as cadvisor computes it:
// memory.usage_in_bytes minus total_inactive_file of memory.stat (never
// below 0). NotFound when the cgroup is gone.
Result<uint64_t> cgroupMemoryWorkingSet(const std::string& cgroup_dir);

}  // namespace berth::agent
