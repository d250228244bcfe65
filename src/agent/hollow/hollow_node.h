#pragma once

// The API objects a hollow node registers and keeps fresh: its core/v1 Node
// (labels, capacity, addresses, nodeInfo, the kubelet's four conditions) and
// its coordination.k8s.io/v1 Lease in kube-node-lease, as the kubelet's
// node status setters (pkg/kubelet/nodestatus/setters.go) and node lease
// controller build them. Addresses are strings from private ranges that no
// interface carries.

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "api/kind.h"
#include "api/object.h"
#include "common/clock.h"

namespace berth::agent::hollow {

using TimePoint = std::chrono::system_clock::time_point;

inline constexpr char kNodeLeaseNamespace[] = "kube-node-lease";
inline constexpr char kHollowKubeletVersion[] = "v1.32.2-berth-hollow";
inline constexpr char kHollowRuntimeVersion[] = "hollow://1";
// Marks a node as hollow, so tests and benchmarks can select them.
inline constexpr char kHollowNodeLabel[] = "hollow.berth.dev/node";

struct NodeResources {
  std::string cpu = "4";
  std::string memory = "16Gi";
  std::string pods = "110";
  std::string ephemeral_storage = "100Gi";
};

struct NodeIdentity {
  std::string name;
  int index = 0;
  std::string zone;
  std::string region;
  std::string internal_ip;  // 10.244.x.y
  std::string pod_cidr;     // 10.(128+i/256).(i%256).0/24
  uint32_t pod_base = 0;    // the pod CIDR's network address
};

// Node i of a set: name prefix+i, zone zones[i % zones.size()].
NodeIdentity makeNodeIdentity(const std::string& prefix, int index,
                              const std::vector<std::string>& zones, const std::string& region);
std::string ipv4(uint32_t addr);

// What the node reports about itself, changed by failure injection.
struct NodeHealth {
  bool ready = true;
  std::string not_ready_message = "container runtime is down";
  bool memory_pressure = false;
  bool disk_pressure = false;
  bool pid_pressure = false;
};

// The kubelet's conditions with their transition times; update() moves a
// transition time when a condition's status changes.
class NodeConditions {
 public:
  // All conditions start (and restart, after a blackout) at `now`.
  void reset(TimePoint now);
  // Conditions for `health` at `now` (lastHeartbeatTime = now), in the
  // kubelet's order: MemoryPressure, DiskPressure, PIDPressure, Ready.
  boost::json::array update(const NodeHealth& health, TimePoint now);

 private:
  std::array<bool, 4> status_{};
  std::array<TimePoint, 4> transition_{};
  bool initialized_ = false;
};

// The Node as registered (metadata and spec; status comes separately, since
// the API server drops status on create).
api::Object nodeObject(const NodeIdentity& id,
                       const std::map<std::string, std::string>& extra_labels);
// The full status: capacity, allocatable, conditions, addresses, nodeInfo.
boost::json::object nodeStatus(const NodeIdentity& id, const NodeResources& res,
                               boost::json::array conditions);

// The node's Lease, owned by its Node (so it goes when the Node does).
api::Object leaseObject(const std::string& node_name, const std::string& node_uid,
                        int lease_duration_seconds, TimePoint renew);

}  // namespace berth::agent::hollow
