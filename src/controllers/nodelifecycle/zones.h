#pragma once

// Zones and their disruption states as upstream's node lifecycle controller
// computes them (pkg/controller/nodelifecycle: ZoneState, ComputeZoneState,
// ReducedQPSFunc / HealthyQPSFunc; k8s.io/component-helpers node/topology
// GetZoneKey): the NoExecute tainting rate of a zone follows how much of it
// is not Ready.

#include <boost/json.hpp>
#include <string>
#include <vector>

namespace berth::controllers::nodelifecycle {

inline constexpr char kLabelTopologyZone[] = "topology.kubernetes.io/zone";
inline constexpr char kLabelTopologyRegion[] = "topology.kubernetes.io/region";
inline constexpr char kLabelFailureDomainBetaZone[] = "failure-domain.beta.kubernetes.io/zone";
inline constexpr char kLabelFailureDomainBetaRegion[] = "failure-domain.beta.kubernetes.io/region";
// Nodes with this label do not count towards their zone's state.
inline constexpr char kLabelExcludeDisruption[] = "node.kubernetes.io/exclude-disruption";

enum class ZoneState {
  kInitial,  // seen for the first time in this pass
  kNormal,
  kPartialDisruption,  // at least the unhealthy threshold of nodes not Ready
  kFullDisruption,     // no node Ready
};
const char* zoneStateName(ZoneState state);

// GetZoneKey: "<region>:\0:<zone>" from the beta failure-domain labels, else
// the topology.kubernetes.io ones; "" for a node with neither.
std::string zoneKey(const boost::json::object& node);
// The key for logs: the NUL separator dropped ("region:zone").
std::string printableZone(const std::string& key);
// isNodeExcludedFromDisruptionChecks.
bool excludedFromDisruption(const boost::json::object& node);

struct ZoneHealth {
  int not_ready = 0;
  ZoneState state = ZoneState::kNormal;
};
// ComputeZoneState over the Ready condition status of each node in a zone
// ("" for a node without one, which counts as not Ready): full disruption
// when none is Ready, partial when more than 2 are not Ready and they are at
// least `unhealthy_threshold` of the zone, normal otherwise.
ZoneHealth computeZoneState(const std::vector<std::string>& ready_statuses,
                            double unhealthy_threshold);

}  // namespace berth::controllers::nodelifecycle
