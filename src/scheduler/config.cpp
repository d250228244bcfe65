#include "scheduler/config.h"

namespace berth::scheduler {

ProfileConfig defaultProfile() {
  ProfileConfig c;
  // getDefaultPlugins (multiPoint), without the volume plugins, the queue's
  // PrioritySort and SchedulingGates (built into SchedulingQueue here).
  c.plugins = {
      {kNodeUnschedulable, 0}, {kNodeName, 0},
      {kTaintToleration, 3},   {kNodeAffinity, 2},
      {kNodePorts, 0},         {kNodeResourcesFit, 1},
      {kPodTopologySpread, 2}, {kInterPodAffinity, 2},
      {kDefaultPreemption, 0}, {kNodeResourcesBalancedAllocation, 1},
      {kImageLocality, 1},     {kDefaultBinder, 0},
  };
  return c;
}

Result<ScoringStrategy> parseScoringStrategy(const std::string& s) {
  if (s == "least" || s == "LeastAllocated") return ScoringStrategy::kLeastAllocated;
  if (s == "most" || s == "MostAllocated") return ScoringStrategy::kMostAllocated;
  return makeError(ErrorCode::kInvalid, "scoring strategy " + s + " is not supported");
}

const char* scoringStrategyName(ScoringStrategy s) {
  return s == ScoringStrategy::kMostAllocated ? "MostAllocated" : "LeastAllocated";
}

}  // namespace berth::scheduler
