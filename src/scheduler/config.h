#pragma once

// A scheduler profile (KubeSchedulerProfile): which plugins run, score weights
// and plugin arguments, with upstream's v1 defaults (pkg/scheduler/apis/
// config/v1/default_plugins.go and defaults.go).

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace berth::scheduler {

// Plugin names (pkg/scheduler/framework/plugins/names).
inline constexpr const char* kNodeResourcesFit = "NodeResourcesFit";
inline constexpr const char* kNodeResourcesBalancedAllocation = "NodeResourcesBalancedAllocation";
inline constexpr const char* kNodeName = "NodeName";
inline constexpr const char* kNodeUnschedulable = "NodeUnschedulable";
inline constexpr const char* kNodeAffinity = "NodeAffinity";
inline constexpr const char* kTaintToleration = "TaintToleration";
inline constexpr const char* kNodePorts = "NodePorts";
inline constexpr const char* kPodTopologySpread = "PodTopologySpread";
inline constexpr const char* kInterPodAffinity = "InterPodAffinity";
inline constexpr const char* kImageLocality = "ImageLocality";
inline constexpr const char* kDefaultPreemption = "DefaultPreemption";
inline constexpr const char* kDefaultBinder = "DefaultBinder";

// One enabled plugin (multiPoint: used at every extension point it
// implements). weight applies to Score; 0 means 1, as upstream.
struct PluginSpec {
  std::string name;
  int32_t weight = 0;
};

struct ResourceWeight {
  std::string name;
  int64_t weight = 1;
};

enum class ScoringStrategy { kLeastAllocated, kMostAllocated };

// NodeResourcesFitArgs.
struct NodeResourcesFitArgs {
  ScoringStrategy strategy = ScoringStrategy::kLeastAllocated;
  std::vector<ResourceWeight> resources = {{"cpu", 1}, {"memory", 1}};
  std::vector<std::string> ignored_resources;
  std::vector<std::string> ignored_resource_groups;
};

// NodeResourcesBalancedAllocationArgs.
struct BalancedAllocationArgs {
  std::vector<ResourceWeight> resources = {{"cpu", 1}, {"memory", 1}};
};

// InterPodAffinityArgs.
struct InterPodAffinityArgs {
  int32_t hard_pod_affinity_weight = 1;
};

// DefaultPreemptionArgs.
struct DefaultPreemptionArgs {
  int32_t min_candidate_nodes_percentage = 10;
  int32_t min_candidate_nodes_absolute = 100;
};

struct ProfileConfig {
  std::string scheduler_name = "default-scheduler";
  std::vector<PluginSpec> plugins;
  // 0: upstream's adaptive rule (50% minus 1% per 125 nodes, at least 5%,
  // at least 100 nodes).
  int32_t percentage_of_nodes_to_score = 0;
  NodeResourcesFitArgs fit;
  BalancedAllocationArgs balanced;
  InterPodAffinityArgs inter_pod_affinity;
  DefaultPreemptionArgs preemption;
};

// The default profile: the in-tree plugins berth has, in upstream's order,
// with its default weights (TaintToleration 3, NodeAffinity 2,
// PodTopologySpread 2, InterPodAffinity 2, the rest 1).
ProfileConfig defaultProfile();

// "least" / "LeastAllocated" / "most" / "MostAllocated".
Result<ScoringStrategy> parseScoringStrategy(const std::string& s);
const char* scoringStrategyName(ScoringStrategy s);

}  // namespace berth::scheduler
