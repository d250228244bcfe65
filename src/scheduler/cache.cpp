#include "scheduler/cache.h"

#include <algorithm>

#include "common/log.h"

namespace berth::scheduler {

namespace {

// utilnode.GetZoneKey: region and zone, "" when the node has neither.
std::string zoneKey(const NodeData& node) {
  auto region = node.labels.find(kLabelTopologyRegion);
  auto zone = node.labels.find(kLabelTopologyZone);
  std::string r = region == node.labels.end() ? "" : region->second;
  std::string z = zone == node.labels.end() ? "" : zone->second;
  if (r.empty() && z.empty()) return "";
  return r + std::string(":\0:", 3) + z;
}

}  // namespace

Cache::Cache(Clock& clock, std::chrono::nanoseconds assumed_ttl)
    : clock_(clock), ttl_(assumed_ttl) {}

Cache::NodeItem& Cache::nodeItemLocked(const std::string& name) {
  auto it = nodes_.find(name);
  if (it != nodes_.end()) return it->second;
  recency_.push_front(name);
  NodeItem item{std::make_shared<NodeInfo>(), recency_.begin()};
  return nodes_.emplace(name, std::move(item)).first->second;
}

void Cache::touchLocked(NodeItem& item) {
  // moveNodeInfoToHead: the snapshot walks from the head until it meets a
  // generation it already has.
  recency_.splice(recency_.begin(), recency_, item.recency);
}

Status Cache::assumePod(const PodInfoPtr& pod) {
  std::lock_guard lock(mu_);
  if (pods_.count(pod->uid))
    return makeError(ErrorCode::kAlreadyExists, "pod " + pod->uid + "(" + pod->key() +
                                                    ") is in the cache, so can't be assumed");
  addPodLocked(pod, true);
  return okStatus();
}

void Cache::finishBinding(const std::string& uid) {
  std::lock_guard lock(mu_);
  auto it = pods_.find(uid);
  if (it == pods_.end() || !assumed_.count(uid)) return;
  it->second.binding_finished = true;
  if (ttl_.count() > 0)
    it->second.deadline =
        clock_.now() + std::chrono::duration_cast<std::chrono::system_clock::duration>(ttl_);
}

Status Cache::forgetPod(const PodInfoPtr& pod) {
  std::lock_guard lock(mu_);
  auto it = pods_.find(pod->uid);
  if (it != pods_.end() && it->second.pod->node_name != pod->node_name)
    return makeError(ErrorCode::kConflict, "pod " + pod->uid + "(" + pod->key() +
                                               ") was assumed on " + pod->node_name +
                                               " but assigned to " + it->second.pod->node_name);
  if (it == pods_.end() || !assumed_.count(pod->uid))
    return makeError(ErrorCode::kNotFound, "pod " + pod->uid + "(" + pod->key() +
                                               ") wasn't assumed so cannot be forgotten");
  removePodLocked(it->second.pod);
  return okStatus();
}

void Cache::addPodLocked(const PodInfoPtr& pod, bool assumed) {
  NodeItem& item = nodeItemLocked(pod->node_name);
  item.info->addPod(pod);
  touchLocked(item);
  pods_[pod->uid] = PodState{pod, false, std::nullopt};
  if (assumed) assumed_.insert(pod->uid);
}

// `pod` by value: callers pass the pointer held in pods_, which this erases.
void Cache::removePodLocked(PodInfoPtr pod) {
  auto it = nodes_.find(pod->node_name);
  if (it != nodes_.end()) {
    if (!it->second.info->removePod(pod->uid))
      BERTH_LOG(kWarning, "scheduler")
          << "cache: pod not on its node pod=" << pod->key() << " node=" << pod->node_name;
    touchLocked(it->second);
    removeNodeIfEmptyLocked(pod->node_name);
  }
  pods_.erase(pod->uid);
  assumed_.erase(pod->uid);
}

void Cache::removeNodeIfEmptyLocked(const std::string& name) {
  auto it = nodes_.find(name);
  if (it == nodes_.end() || it->second.info->node() || !it->second.info->pods().empty()) return;
  recency_.erase(it->second.recency);
  nodes_.erase(it);
}

void Cache::addPod(const PodInfoPtr& pod) {
  std::lock_guard lock(mu_);
  auto it = pods_.find(pod->uid);
  if (it != pods_.end() && assumed_.count(pod->uid)) {
    // Confirms the assumed pod: the bound object replaces the assumed one
    // (updatePod; which also ends its assumed state).
    if (it->second.pod->node_name != pod->node_name)
      BERTH_LOG(kWarning, "scheduler")
          << "cache: pod added to a different node than assumed pod=" << pod->key()
          << " assumed=" << it->second.pod->node_name << " actual=" << pod->node_name;
    removePodLocked(it->second.pod);
    addPodLocked(pod, false);
    return;
  }
  if (it != pods_.end()) {
    BERTH_LOG(kDebug, "scheduler") << "cache: pod already added pod=" << pod->key();
    return;
  }
  // Also the path of an assumed pod that expired before its add arrived.
  addPodLocked(pod, false);
}

void Cache::updatePod(const PodInfoPtr& new_pod) {
  std::lock_guard lock(mu_);
  auto it = pods_.find(new_pod->uid);
  if (it == pods_.end()) {
    addPodLocked(new_pod, false);
    return;
  }
  if (assumed_.count(new_pod->uid)) {
    // An update before the add: treat it as the confirmation.
    removePodLocked(it->second.pod);
    addPodLocked(new_pod, false);
    return;
  }
  removePodLocked(it->second.pod);
  addPodLocked(new_pod, false);
}

void Cache::removePod(const PodInfoPtr& pod) {
  std::lock_guard lock(mu_);
  auto it = pods_.find(pod->uid);
  if (it == pods_.end()) return;
  removePodLocked(it->second.pod);
}

bool Cache::isAssumedPod(const std::string& uid) const {
  std::lock_guard lock(mu_);
  return assumed_.count(uid) > 0;
}

PodInfoPtr Cache::getPod(const std::string& uid) const {
  std::lock_guard lock(mu_);
  auto it = pods_.find(uid);
  return it == pods_.end() ? nullptr : it->second.pod;
}

void Cache::setNodeImagesLocked(const std::string& node, const NodeData* old_node,
                                const NodeData* new_node) {
  if (old_node)
    for (const auto& img : old_node->images)
      for (const auto& name : img.names) {
        auto it = images_.find(name);
        if (it == images_.end()) continue;
        it->second.nodes.erase(node);
        if (it->second.nodes.empty()) images_.erase(it);
        images_changed_ = true;
      }
  if (new_node)
    for (const auto& img : new_node->images)
      for (const auto& name : img.names) {
        ImageState& st = images_[name];
        st.size = img.size_bytes;
        st.nodes.insert(node);
        images_changed_ = true;
      }
}

std::unordered_map<std::string, ImageStateSummary> Cache::imageStatesLocked(
    const NodeData& node) const {
  std::unordered_map<std::string, ImageStateSummary> out;
  for (const auto& img : node.images)
    for (const auto& name : img.names) {
      auto it = images_.find(name);
      int n = it == images_.end() ? 1 : static_cast<int>(it->second.nodes.size());
      out[name] = {img.size_bytes, n};
    }
  return out;
}

void Cache::addNode(const NodeDataPtr& node) { updateNode(node); }

void Cache::updateNode(const NodeDataPtr& node) {
  std::lock_guard lock(mu_);
  NodeItem& item = nodeItemLocked(node->name);
  const NodeData* old = item.info->node();
  if (!old) {
    ++num_nodes_;
    order_changed_ = true;
  } else if (zoneKey(*old) != zoneKey(*node)) {
    order_changed_ = true;
  }
  setNodeImagesLocked(node->name, old, node.get());
  item.info->setNode(node);
  touchLocked(item);
}

void Cache::removeNode(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(name);
  if (it == nodes_.end() || !it->second.info->node()) return;
  setNodeImagesLocked(name, it->second.info->node(), nullptr);
  it->second.info->removeNode();
  touchLocked(it->second);
  --num_nodes_;
  order_changed_ = true;
  removeNodeIfEmptyLocked(name);
}

std::vector<PodInfoPtr> Cache::cleanupExpiredAssumedPods() {
  std::lock_guard lock(mu_);
  std::vector<PodInfoPtr> expired;
  if (ttl_.count() == 0) return expired;
  TimePoint now = clock_.now();
  for (const auto& uid : assumed_) {
    const PodState& st = pods_.at(uid);
    if (st.binding_finished && st.deadline && now > *st.deadline) expired.push_back(st.pod);
  }
  for (const auto& p : expired) {
    BERTH_LOG(kInfo, "scheduler") << "assumed pod expired pod=" << p->key()
                                  << " node=" << p->node_name;
    removePodLocked(p);
  }
  return expired;
}

void Cache::rebuildOrderLocked() {
  zones_.clear();
  for (const auto& [name, item] : nodes_)
    if (item.info->node()) zones_[zoneKey(*item.info->node())].push_back(name);
  for (auto& [z, names] : zones_) std::sort(names.begin(), names.end());
  order_.clear();
  for (size_t i = 0;; ++i) {
    bool any = false;
    for (const auto& [z, names] : zones_)
      if (i < names.size()) {
        order_.push_back(names[i]);
        any = true;
      }
    if (!any) break;
  }
}

void Cache::updateSnapshot(Snapshot& snapshot) {
  std::lock_guard lock(mu_);
  bool update_lists = false;
  int64_t head_generation = snapshot.generation_;
  for (const auto& name : recency_) {
    const NodeItem& item = nodes_.at(name);
    if (item.info->generation() <= snapshot.generation_) break;
    head_generation = std::max(head_generation, item.info->generation());
    if (!item.info->node()) continue;
    auto it = snapshot.map_.find(name);
    if (it == snapshot.map_.end()) {
      update_lists = true;
      it = snapshot.map_.emplace(name, std::make_shared<NodeInfo>()).first;
    }
    NodeInfo& existing = *it->second;
    if (existing.podsWithAffinity().empty() != item.info->podsWithAffinity().empty() ||
        existing.podsWithRequiredAntiAffinity().empty() !=
            item.info->podsWithRequiredAntiAffinity().empty())
      update_lists = true;
    // Assign in place: the lists point at these objects.
    existing = *item.info;
    if (!images_changed_) existing.setImageStates(imageStatesLocked(*existing.node()));
  }
  snapshot.generation_ = head_generation;
  if (images_changed_) {
    // An image's spread changed: every node's summary may be stale.
    for (auto& [name, info] : snapshot.map_)
      if (info->node()) info->setImageStates(imageStatesLocked(*info->node()));
    images_changed_ = false;
  }
  // Deleted nodes (possibly still holding pods in the cache) leave the snapshot.
  for (auto it = snapshot.map_.begin();
       snapshot.map_.size() > num_nodes_ && it != snapshot.map_.end();) {
    auto n = nodes_.find(it->first);
    if (n == nodes_.end() || !n->second.info->node()) {
      it = snapshot.map_.erase(it);
      update_lists = true;
    } else {
      ++it;
    }
  }
  if (order_changed_) {
    rebuildOrderLocked();
    order_changed_ = false;
    update_lists = true;
  }
  if (update_lists) snapshot.rebuildLists(order_);
}

size_t Cache::nodeCount() const {
  std::lock_guard lock(mu_);
  return num_nodes_;
}

size_t Cache::podCount() const {
  std::lock_guard lock(mu_);
  return pods_.size();
}

size_t Cache::assumedPodCount() const {
  std::lock_guard lock(mu_);
  return assumed_.size();
}

NodeInfoPtr Cache::nodeInfo(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(name);
  return it == nodes_.end() ? nullptr : it->second.info->clone();
}

}  // namespace berth::scheduler
