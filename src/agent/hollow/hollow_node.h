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

#include "agent/node/node_api.h"
#include "api/kind.h"
#include "api/object.h"
#include "common/clock.h"

namespace berth::agent::hollow {

using TimePoint = std::chrono::system_clock::time_point;
// Shared with real nodes (agent/node/node_api.h).
using node::kNodeLeaseNamespace;
using node::leaseObject;
using node::NodeConditions;
using node::NodeHealth;

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

// The Node as registered (metadata and spec; status comes separately, since
// the API server drops status on create).
api::Object nodeObject(const NodeIdentity& id,
                       const std::map<std::string, std::string>& extra_labels);
// The full status: capacity, allocatable, conditions, addresses, nodeInfo.
boost::json::object nodeStatus(const NodeIdentity& id, const NodeResources& res,
                               boost::json::array conditions);

}  // namespace berth::agent::hollow
