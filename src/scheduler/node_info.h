#pragma once

// framework.NodeInfo: a node with the aggregate of the pods on it (bound and
// assumed). The cache owns one per node and bumps its generation on every
// change; snapshots hold clones, so a scheduling cycle reads a stable view
// while informer events keep changing the cache.

#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "scheduler/pod_info.h"

namespace berth::scheduler {

// framework.HostPortInfo: host ports in use, counted so that two pods on the
// same port (which only a node-name-bound pod could cause) release it only
// when both are gone.
class HostPortInfo {
 public:
  void add(const HostPort& p);
  void remove(const HostPort& p);
  // CheckConflict: 0.0.0.0 conflicts with every address on the same
  // protocol and port.
  bool conflicts(const HostPort& p) const;
  size_t size() const { return ports_.size(); }

 private:
  std::vector<std::pair<HostPort, int>> ports_;
};

// framework.ImageStateSummary: an image's size and on how many nodes it is.
struct ImageStateSummary {
  int64_t size = 0;
  int num_nodes = 0;
};

// A process-wide increasing counter; every NodeInfo change takes the next value.
int64_t nextGeneration();

class NodeInfo {
 public:
  NodeInfo() : generation_(nextGeneration()) {}

  // nullptr while pods of a deleted node remain (upstream keeps the NodeInfo
  // with a nil Node until its pods are gone).
  const NodeData* node() const { return node_.get(); }
  const NodeDataPtr& nodePtr() const { return node_; }
  // The node's name ("" without a Node), spec.unschedulable and whether it
  // has taints, copied from the Node by setNode: the per-node filter and
  // score loops then read only this NodeInfo, not the NodeData behind it (at
  // 5,000 nodes every extra object per node is a cache miss per node and
  // pod).
  const std::string& name() const { return name_; }
  bool unschedulable() const { return unschedulable_; }
  bool hasTaints() const { return has_taints_; }
  void setNode(NodeDataPtr node);
  void removeNode();

  const std::vector<PodInfoPtr>& pods() const { return pods_; }
  const std::vector<PodInfoPtr>& podsWithAffinity() const { return pods_with_affinity_; }
  const std::vector<PodInfoPtr>& podsWithRequiredAntiAffinity() const {
    return pods_with_required_anti_affinity_;
  }
  const Resource& allocatable() const { return allocatable_; }
  const Resource& requested() const { return requested_; }
  // Only milli_cpu and memory are kept (NonZeroRequested).
  const Resource& nonZeroRequested() const { return non_zero_requested_; }
  const HostPortInfo& usedPorts() const { return used_ports_; }
  int64_t generation() const { return generation_; }

  // Image name (as listed in node.status.images) to size and spread. The
  // spread (num_nodes) is filled in by the cache when it snapshots.
  const std::unordered_map<std::string, ImageStateSummary>& imageStates() const {
    return image_states_;
  }
  void setImageStates(std::unordered_map<std::string, ImageStateSummary> states);

  void addPod(const PodInfoPtr& pod);
  // Removes the pod with this uid; false when it is not here.
  bool removePod(const std::string& uid);
  const PodInfoPtr* findPod(const std::string& uid) const;

  std::shared_ptr<NodeInfo> clone() const { return std::make_shared<NodeInfo>(*this); }

 private:
  void touch() { generation_ = nextGeneration(); }

  std::string name_;
  bool unschedulable_ = false;
  bool has_taints_ = false;
  NodeDataPtr node_;
  std::vector<PodInfoPtr> pods_;
  std::vector<PodInfoPtr> pods_with_affinity_;
  std::vector<PodInfoPtr> pods_with_required_anti_affinity_;
  Resource allocatable_;
  Resource requested_;
  Resource non_zero_requested_;
  HostPortInfo used_ports_;
  std::unordered_map<std::string, ImageStateSummary> image_states_;
  int64_t generation_;
};

using NodeInfoPtr = std::shared_ptr<NodeInfo>;

// The per-node filter and score loops touch every cache line of a NodeInfo
// (resources, flags, image states) for hundreds of nodes per pod; at 5,000
// nodes those lines are rarely cached, and the first plugin to read a node
// paid the misses. Loops prefetch the node a few iterations ahead.
inline constexpr int kNodePrefetchDistance = 4;
inline void prefetchNodeInfo(const NodeInfo* node) {
  const char* p = reinterpret_cast<const char*>(node);
  for (size_t off = 0; off < sizeof(NodeInfo); off += 64) __builtin_prefetch(p + off);
}

// The read-only view a scheduling cycle works on (upstream's Snapshot /
// SharedLister): every node in the cache's zone-interleaved order, and the
// subsets of nodes with pods that have (anti-)affinity, which let
// InterPodAffinity skip most nodes. Owned by the scheduling thread and updated
// in place by Cache::updateSnapshot at the start of each cycle.
class Snapshot {
 public:
  Snapshot() = default;
  // For tests and preemption dry runs: a snapshot of explicit NodeInfos.
  static std::shared_ptr<Snapshot> fromNodeInfos(std::vector<NodeInfoPtr> nodes);

  const std::vector<NodeInfo*>& list() const { return list_; }
  const std::vector<NodeInfo*>& havePodsWithAffinity() const { return have_pods_with_affinity_; }
  const std::vector<NodeInfo*>& havePodsWithRequiredAntiAffinity() const {
    return have_pods_with_required_anti_affinity_;
  }
  NodeInfo* get(const std::string& name) const;
  size_t numNodes() const { return list_.size(); }
  int64_t generation() const { return generation_; }

 private:
  friend class Cache;
  void rebuildLists(const std::vector<std::string>& order);

  std::unordered_map<std::string, NodeInfoPtr> map_;
  std::vector<NodeInfo*> list_;
  std::vector<NodeInfo*> have_pods_with_affinity_;
  std::vector<NodeInfo*> have_pods_with_required_anti_affinity_;
  int64_t generation_ = 0;
};

}  // namespace berth::scheduler
