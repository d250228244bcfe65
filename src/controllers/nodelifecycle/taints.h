#pragma once

// Taints and tolerations as the node lifecycle and taint eviction
// controllers use them (k8s.io/api/core/v1 helpers: Toleration.ToleratesTaint,
// GetMatchingTolerations; taint eviction's getMinTolerationTime; node
// lifecycle's condition -> NoSchedule taint table).

#include <boost/json.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace berth::controllers::nodelifecycle {

inline constexpr char kTaintNotReady[] = "node.kubernetes.io/not-ready";
inline constexpr char kTaintUnreachable[] = "node.kubernetes.io/unreachable";
inline constexpr char kTaintUnschedulable[] = "node.kubernetes.io/unschedulable";
inline constexpr char kTaintMemoryPressure[] = "node.kubernetes.io/memory-pressure";
inline constexpr char kTaintDiskPressure[] = "node.kubernetes.io/disk-pressure";
inline constexpr char kTaintPidPressure[] = "node.kubernetes.io/pid-pressure";
inline constexpr char kTaintNetworkUnavailable[] = "node.kubernetes.io/network-unavailable";

struct Taint {
  std::string key;
  std::string value;
  std::string effect;  // NoSchedule, PreferNoSchedule, NoExecute
  std::string time_added;
  bool matches(const Taint& other) const { return key == other.key && effect == other.effect; }
};

struct Toleration {
  std::string key;
  std::string op;  // Exists, Equal ("" means Equal)
  std::string value;
  std::string effect;  // "" matches every effect
  std::optional<int64_t> toleration_seconds;
  bool tolerates(const Taint& taint) const;
};

std::vector<Taint> parseTaints(const boost::json::object& node);
std::vector<Toleration> parseTolerations(const boost::json::object& pod);
boost::json::object taintJson(const Taint& taint);
std::vector<Taint> noExecuteTaints(const std::vector<Taint>& taints);

// Whether every taint is tolerated, and the tolerations that matched.
bool matchingTolerations(const std::vector<Taint>& taints,
                         const std::vector<Toleration>& tolerations, std::vector<Toleration>* used);
// The shortest tolerationSeconds among `used` (0 for <= 0 or when `used` is
// empty); nullopt when they tolerate forever.
std::optional<std::chrono::seconds> minTolerationTime(const std::vector<Toleration>& used);

// The NoSchedule taints a node's conditions and spec.unschedulable call for
// (TaintNodesByCondition): Ready False -> not-ready, Unknown -> unreachable,
// MemoryPressure / DiskPressure / PIDPressure / NetworkUnavailable True.
std::vector<Taint> conditionTaints(const boost::json::object& node);
// Whether a NoSchedule taint with this key is one conditionTaints manages.
bool isConditionTaintKey(const std::string& key);

}  // namespace berth::controllers::nodelifecycle
