#pragma once

// Pods and nodes parsed once, when an informer event arrives, into the shapes
// the plugins read (upstream's framework.PodInfo with its pre-parsed affinity
// terms, and the parts of v1.Node the filters look at). Both are immutable
// and shared: the cache, the queue, snapshots and cycle states hold the same
// object.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/selector.h"
#include "client/client.h"
#include "scheduler/resource.h"

namespace berth::scheduler {

using api::LabelMap;
using client::ObjectPtr;
using TimePoint = std::chrono::system_clock::time_point;

// v1.Taint / v1.Toleration.
struct Taint {
  std::string key;
  std::string value;
  std::string effect;  // NoSchedule, PreferNoSchedule, NoExecute
};

struct Toleration {
  std::string key;
  std::string op;  // "" (= Equal), Equal, Exists
  std::string value;
  std::string effect;  // "" matches every effect

  // Toleration.ToleratesTaint.
  bool toleratesTaint(const Taint& taint) const;
};

// v1.NodeSelectorRequirement: In NotIn Exists DoesNotExist Gt Lt on labels,
// In NotIn on fields (metadata.name only).
struct NodeSelectorRequirement {
  std::string key;
  std::string op;
  std::vector<std::string> values;
};

struct NodeSelectorTerm {
  std::vector<NodeSelectorRequirement> match_expressions;
  std::vector<NodeSelectorRequirement> match_fields;
};

struct PreferredSchedulingTerm {
  int32_t weight = 0;
  NodeSelectorTerm preference;
};

// framework.AffinityTerm: the namespaces it applies to (the pod's own when
// neither namespaces nor namespaceSelector is given), the namespace selector
// (matches nothing when absent), the pod label selector and topology key.
struct AffinityTerm {
  std::set<std::string> namespaces;
  api::LabelSelector namespace_selector = api::LabelSelector::nothing();
  api::LabelSelector selector = api::LabelSelector::nothing();
  std::string topology_key;
};

struct WeightedAffinityTerm {
  AffinityTerm term;
  int32_t weight = 0;
};

// v1.TopologySpreadConstraint with the selector parsed (matchLabelKeys merged
// in) and the defaults of the scheduler applied.
struct SpreadConstraint {
  int32_t max_skew = 1;
  std::string topology_key;
  bool do_not_schedule = true;  // whenUnsatisfiable DoNotSchedule vs ScheduleAnyway
  api::LabelSelector selector = api::LabelSelector::nothing();
  int32_t min_domains = 1;
  bool honor_node_affinity = true;  // nodeAffinityPolicy Honor (default) vs Ignore
  bool honor_node_taints = false;   // nodeTaintsPolicy Honor vs Ignore (default)
};

struct HostPort {
  std::string ip;        // "0.0.0.0" when unset
  std::string protocol;  // "TCP" when unset
  int32_t port = 0;
  bool operator==(const HostPort& o) const = default;
};

struct PodInfo {
  ObjectPtr object;
  std::string ns;
  std::string name;
  std::string uid;
  std::string resource_version;
  std::string node_name;
  std::string scheduler_name;
  std::string nominated_node_name;
  std::string phase;
  LabelMap labels;
  int32_t priority = 0;
  bool preempt_never = false;  // spec.preemptionPolicy: Never
  bool terminating = false;    // metadata.deletionTimestamp set
  // status.conditions has DisruptionTarget with reason PreemptionByScheduler.
  bool disruption_by_preemption = false;
  bool scheduling_gated = false;  // spec.schedulingGates non-empty
  TimePoint creation_time{};
  std::optional<TimePoint> start_time;  // status.startTime

  PodResources resources;

  std::map<std::string, std::string> node_selector;
  // Required node affinity terms (ORed); nullopt when none are given.
  std::optional<std::vector<NodeSelectorTerm>> required_node_affinity;
  std::vector<PreferredSchedulingTerm> preferred_node_affinity;
  std::vector<Toleration> tolerations;

  std::vector<AffinityTerm> required_affinity;
  std::vector<AffinityTerm> required_anti_affinity;
  std::vector<WeightedAffinityTerm> preferred_affinity;
  std::vector<WeightedAffinityTerm> preferred_anti_affinity;
  std::vector<SpreadConstraint> spread_constraints;
  // What was given in spec.topologySpreadConstraints (even if unparsable).
  bool has_spread_constraints = false;

  std::vector<HostPort> host_ports;
  std::vector<std::string> images;  // init containers then containers
  size_t num_containers = 0;        // containers + init containers

  // A label selector in an affinity term that does not parse (PodInfo.Update's
  // parse errors); InterPodAffinity rejects such a pod.
  std::string parse_error;

  std::string key() const { return ns + "/" + name; }
  // Has pod affinity or anti-affinity of any kind (NodeInfo.PodsWithAffinity).
  bool hasAffinity() const {
    return !required_affinity.empty() || !required_anti_affinity.empty() ||
           !preferred_affinity.empty() || !preferred_anti_affinity.empty();
  }
  // The time upstream's util.GetPodStartTime reads: status.startTime, else
  // "now" (the latest possible time).
  TimePoint startTimeOrMax() const { return start_time ? *start_time : TimePoint::max(); }
};

using PodInfoPtr = std::shared_ptr<const PodInfo>;

// Parses a pod. Never fails: malformed parts read as absent (the API server
// has validated the object), label selector errors land in parse_error.
PodInfoPtr makePodInfo(ObjectPtr pod);
// The same pod as assumed onto `node` (spec.nodeName set in the copy's fields,
// not in the object).
PodInfoPtr withNodeName(const PodInfo& pod, const std::string& node);

// util.MoreImportantPod: higher priority, then the earlier start time.
bool moreImportantPod(const PodInfo& a, const PodInfo& b);

// The parts of a v1.Node the scheduler reads.
struct NodeImage {
  std::vector<std::string> names;
  int64_t size_bytes = 0;
};

struct NodeData {
  ObjectPtr object;
  std::string name;
  LabelMap labels;
  std::vector<Taint> taints;
  bool unschedulable = false;
  Resource allocatable;
  std::vector<NodeImage> images;
  std::vector<std::pair<std::string, std::string>> conditions;  // type, status
  std::map<std::string, std::string> annotations;
};

using NodeDataPtr = std::shared_ptr<const NodeData>;

NodeDataPtr makeNodeData(ObjectPtr node);

// The image name as node.status.images lists it: ":latest" appended when no
// tag is given (ImageLocality's normalizedImageName).
std::string normalizedImageName(const std::string& name);

// Well-known labels (v1.LabelHostname, v1.LabelTopologyZone, v1.LabelTopologyRegion).
inline constexpr const char* kLabelHostname = "kubernetes.io/hostname";
inline constexpr const char* kLabelTopologyZone = "topology.kubernetes.io/zone";
inline constexpr const char* kLabelTopologyRegion = "topology.kubernetes.io/region";

}  // namespace berth::scheduler
