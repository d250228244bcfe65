#pragma once

// Which nodes a DaemonSet runs on, after upstream's
// pkg/controller/daemon (NodeShouldRunDaemonPod, predicates, NewPod),
// pkg/controller/daemon/util (AddOrUpdateDaemonPodTolerations,
// ReplaceDaemonSetPodNodeNameNodeAffinity, GetTargetNodeName,
// SurgeCount, UnavailableCount) and the scheduling helpers they use
// (component-helpers nodeaffinity.GetRequiredNodeAffinity(pod).Match,
// v1helper.FindMatchingUntoleratedTaint, Toleration.ToleratesTaint,
// intstr.GetScaledValueFromIntOrPercent).
//
// The scheduler has its own copies in src/scheduler; controllers do not
// depend on the scheduler library, so these work on the JSON DOM directly.

#include <functional>
#include <optional>
#include <string>

#include "client/client.h"

namespace berth::controllers {

// Taint keys of the node lifecycle and TaintNodesByCondition.
inline constexpr char kTaintNodeNotReady[] = "node.kubernetes.io/not-ready";
inline constexpr char kTaintNodeUnreachable[] = "node.kubernetes.io/unreachable";
inline constexpr char kTaintNodeDiskPressure[] = "node.kubernetes.io/disk-pressure";
inline constexpr char kTaintNodeMemoryPressure[] = "node.kubernetes.io/memory-pressure";
inline constexpr char kTaintNodePidPressure[] = "node.kubernetes.io/pid-pressure";
inline constexpr char kTaintNodeUnschedulable[] = "node.kubernetes.io/unschedulable";
inline constexpr char kTaintNodeNetworkUnavailable[] = "node.kubernetes.io/network-unavailable";

// Toleration.ToleratesTaint: effect and key match when set; operator
// Exists matches any value, "" or Equal needs the same value.
bool toleratesTaint(const boost::json::object& toleration, const boost::json::object& taint);

// FindMatchingUntoleratedTaint: the first taint passing `filter` that no
// toleration tolerates.
std::optional<boost::json::object> findUntoleratedTaint(
    const boost::json::array* taints, const boost::json::array* tolerations,
    const std::function<bool(const boost::json::object& taint)>& filter);

// nodeaffinity.GetRequiredNodeAffinity(pod).Match(node): spec.nodeSelector
// and spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
// (terms ORed; expressions and fields of a term ANDed; matchFields only
// metadata.name). A term that cannot be parsed matches nothing.
bool matchesRequiredNodeAffinity(const boost::json::object& pod_spec, const api::Object& node);

// AddOrUpdateTolerationInPodSpec.
void addOrUpdateToleration(boost::json::object& pod_spec, boost::json::object toleration);
// AddOrUpdateDaemonPodTolerations: not-ready and unreachable NoExecute;
// disk-, memory-, pid-pressure and unschedulable NoSchedule;
// network-unavailable NoSchedule for hostNetwork pods.
void addDaemonPodTolerations(boost::json::object& pod_spec);

// ReplaceDaemonSetPodNodeNameNodeAffinity: the required node affinity
// becomes one term with matchFields metadata.name In [node]; the scheduler
// then binds the pod to that node.
void replaceNodeNameAffinity(boost::json::object& pod_spec, const std::string& node);

// GetTargetNodeName: spec.nodeName, else the single metadata.name In value
// of the required node affinity; nullopt when neither.
std::optional<std::string> targetNodeName(const api::Object& pod);

// NodeShouldRunDaemonPod.
struct NodeShouldRun {
  // A daemon pod should be created on the node when it has none.
  bool should_run = false;
  // A daemon pod already there may stay (taints: only NoExecute evicts).
  bool should_continue_running = false;
};
NodeShouldRun nodeShouldRunDaemonPod(const api::Object& node, const api::Object& ds);

// intstr.GetScaledValueFromIntOrPercent: an integer as is, "N%" of total
// rounded up or down; BadRequest for anything else.
Result<int64_t> scaledValueFromIntOrPercent(const boost::json::value* v, int64_t total,
                                            bool round_up);

// util.SurgeCount / UnavailableCount (0 unless RollingUpdate).
Result<int64_t> surgeCount(const api::Object& ds, int64_t number_to_schedule);
Result<int64_t> unavailableCount(const api::Object& ds, int64_t number_to_schedule);

}  // namespace berth::controllers
