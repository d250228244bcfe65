#pragma once

// The API objects every node agent keeps fresh, real or hollow: the
// kubelet's four node conditions with their transition times
// (pkg/kubelet/nodestatus/setters.go) and the node's Lease in
// kube-node-lease (the node lease controller), plus a real node's status
// built from its machine (capacity, allocatable, nodeInfo, addresses).

#include <array>
#include <chrono>
#include <string>
#include <vector>

#include "agent/node/machine.h"
#include "api/kind.h"
#include "api/object.h"
#include "client/client.h"
#include "common/clock.h"

namespace berth::agent::node {

using TimePoint = std::chrono::system_clock::time_point;

inline constexpr char kNodeLeaseNamespace[] = "kube-node-lease";

// What the node reports about itself (hollow nodes change it by failure
// injection; real ones from their eviction signals).
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

// The node's Lease, owned by its Node (so it goes when the Node does).
api::Object leaseObject(const std::string& node_name, const std::string& node_uid,
                        int lease_duration_seconds, TimePoint renew);

// One renewal of the node's Lease, as the kubelet's lease controller does
// it: an update of `cached` (the Lease as last written; null at first),
// after a conflict an update of the current one, and a create when there
// is none. *conflicted tells whether a conflict happened (hollow nodes count
// them). Returns the Lease as written.
Result<client::ObjectPtr> renewLease(client::Client& client, const std::string& node_name,
                                     const std::string& node_uid, int lease_duration_seconds,
                                     TimePoint now, const client::ObjectPtr& cached,
                                     bool* conflicted = nullptr);

// What a real node reports: the kubelet's status setters over its machine.
struct NodeReport {
  MachineInfo machine;
  MachineUsage usage;
  EvictionThresholds thresholds;
  int max_pods = 110;
  std::string internal_ip;
  std::string hostname;
  std::string runtime_version;  // "runc://1.1.5"
  std::string kubelet_version;
  int kubelet_port = 10250;
};

// The status of a real node: capacity, allocatable, `conditions`,
// addresses, daemonEndpoints and nodeInfo.
boost::json::object realNodeStatus(const NodeReport& report, boost::json::array conditions);

// The health a real node reports: pressure from its usage, Ready unless
// `not_ready_message` is set.
NodeHealth realNodeHealth(const NodeReport& report, const std::string& not_ready_message);

}  // namespace berth::agent::node
