#pragma once

// The scheduler cache (upstream's internal/cache): a NodeInfo per node with
// the pods bound to it and the pods the scheduler assumed there but has not
// bound yet, fed by pod and node informer events. Each cycle copies only
// the NodeInfos changed since the last cycle into its Snapshot (generation
// numbers, most recently changed first), so a cycle is consistent and cheap.
// Thread-safe; informer handlers, the scheduling thread and binders call in.

#include <chrono>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "scheduler/node_info.h"

namespace berth::scheduler {

class Cache {
 public:
  // assumed_ttl: how long an assumed pod whose binding finished may wait for
  // its informer add before it expires; zero (upstream's default since
  // #106361) means never.
  explicit Cache(Clock& clock, std::chrono::nanoseconds assumed_ttl = std::chrono::nanoseconds(0));

  // AssumePod: counts the pod (node_name set) on its node before the bind.
  Status assumePod(const PodInfoPtr& pod);
  // FinishBinding: starts the expiry clock of an assumed pod.
  void finishBinding(const std::string& uid);
  // ForgetPod: drops an assumed pod (the bind failed).
  Status forgetPod(const PodInfoPtr& pod);

  // Informer events for pods with spec.nodeName. addPod of an assumed pod
  // confirms it (replacing the assumed object).
  void addPod(const PodInfoPtr& pod);
  // The cached version of the pod (by uid) is replaced by this one.
  void updatePod(const PodInfoPtr& new_pod);
  void removePod(const PodInfoPtr& pod);
  bool isAssumedPod(const std::string& uid) const;
  PodInfoPtr getPod(const std::string& uid) const;

  void addNode(const NodeDataPtr& node);
  void updateNode(const NodeDataPtr& node);
  void removeNode(const std::string& name);

  // cleanupAssumedPods: removes assumed pods whose binding finished more
  // than the TTL ago; returns them. The scheduler calls it every second.
  std::vector<PodInfoPtr> cleanupExpiredAssumedPods();

  // Brings `snapshot` up to date: clones the NodeInfos changed since its
  // generation, drops deleted nodes, rebuilds the lists when needed.
  void updateSnapshot(Snapshot& snapshot);

  size_t nodeCount() const;
  size_t podCount() const;
  size_t assumedPodCount() const;
  // A copy of a node's current NodeInfo (tests, debugging); nullptr if unknown.
  NodeInfoPtr nodeInfo(const std::string& name) const;

 private:
  struct NodeItem {
    NodeInfoPtr info;
    std::list<std::string>::iterator recency;
  };
  struct PodState {
    PodInfoPtr pod;
    bool binding_finished = false;
    std::optional<TimePoint> deadline;
  };

  NodeItem& nodeItemLocked(const std::string& name);
  void touchLocked(NodeItem& item);
  void addPodLocked(const PodInfoPtr& pod, bool assumed);
  void removePodLocked(PodInfoPtr pod);
  void removeNodeIfEmptyLocked(const std::string& name);
  void setNodeImagesLocked(const std::string& node, const NodeData* old_node,
                           const NodeData* new_node);
  std::unordered_map<std::string, ImageStateSummary> imageStatesLocked(const NodeData& node) const;
  // Node names zone by zone, round robin (upstream's nodeTree), so that the
  // first nodes a cycle looks at span zones.
  void rebuildOrderLocked();

  Clock& clock_;
  std::chrono::nanoseconds ttl_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, NodeItem> nodes_;
  std::list<std::string> recency_;  // most recently changed first
  std::unordered_map<std::string, PodState> pods_;
  std::set<std::string> assumed_;
  std::map<std::string, std::vector<std::string>> zones_;  // zone key -> node names
  std::vector<std::string> order_;
  size_t num_nodes_ = 0;  // nodes with a Node object
  // Image name -> size and the nodes that have it.
  struct ImageState {
    int64_t size = 0;
    std::set<std::string> nodes;
  };
  std::unordered_map<std::string, ImageState> images_;
  bool order_changed_ = true;
  bool images_changed_ = false;
};

}  // namespace berth::scheduler
