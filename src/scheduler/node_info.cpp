#include "scheduler/node_info.h"

#include <algorithm>

namespace berth::scheduler {

void HostPortInfo::add(const HostPort& p) {
  for (auto& [port, n] : ports_)
    if (port == p) {
      ++n;
      return;
    }
  ports_.emplace_back(p, 1);
}

void HostPortInfo::remove(const HostPort& p) {
  for (auto it = ports_.begin(); it != ports_.end(); ++it)
    if (it->first == p) {
      if (--it->second == 0) ports_.erase(it);
      return;
    }
}

bool HostPortInfo::conflicts(const HostPort& p) const {
  if (p.port <= 0) return false;
  for (const auto& [used, n] : ports_) {
    if (used.port != p.port || used.protocol != p.protocol) continue;
    if (p.ip == "0.0.0.0" || used.ip == "0.0.0.0" || used.ip == p.ip) return true;
  }
  return false;
}

int64_t nextGeneration() {
  static std::atomic<int64_t> generation{0};
  return ++generation;
}

void NodeInfo::setNode(NodeDataPtr node) {
  node_ = std::move(node);
  allocatable_ = node_ ? node_->allocatable : Resource{};
  name_ = node_ ? node_->name : std::string();
  unschedulable_ = node_ && node_->unschedulable;
  has_taints_ = node_ && !node_->taints.empty();
  touch();
}

void NodeInfo::removeNode() {
  node_.reset();
  name_.clear();
  unschedulable_ = false;
  has_taints_ = false;
  touch();
}

void NodeInfo::setImageStates(std::unordered_map<std::string, ImageStateSummary> states) {
  image_states_ = std::move(states);
}

void NodeInfo::addPod(const PodInfoPtr& pod) {
  pods_.push_back(pod);
  if (pod->hasAffinity()) pods_with_affinity_.push_back(pod);
  if (!pod->required_anti_affinity.empty()) pods_with_required_anti_affinity_.push_back(pod);
  requested_.add(pod->resources.requests);
  non_zero_requested_.milli_cpu += pod->resources.non0_milli_cpu;
  non_zero_requested_.memory += pod->resources.non0_memory;
  for (const auto& p : pod->host_ports) used_ports_.add(p);
  touch();
}

namespace {
bool eraseByUid(std::vector<PodInfoPtr>& v, const std::string& uid) {
  for (auto it = v.begin(); it != v.end(); ++it)
    if ((*it)->uid == uid) {
      // Order does not matter (upstream swaps with the last element too).
      *it = std::move(v.back());
      v.pop_back();
      return true;
    }
  return false;
}
}  // namespace

bool NodeInfo::removePod(const std::string& uid) {
  const PodInfoPtr* found = findPod(uid);
  if (!found) return false;
  PodInfoPtr pod = *found;
  eraseByUid(pods_with_affinity_, uid);
  eraseByUid(pods_with_required_anti_affinity_, uid);
  eraseByUid(pods_, uid);
  requested_.subtract(pod->resources.requests);
  non_zero_requested_.milli_cpu -= pod->resources.non0_milli_cpu;
  non_zero_requested_.memory -= pod->resources.non0_memory;
  for (const auto& p : pod->host_ports) used_ports_.remove(p);
  touch();
  return true;
}

const PodInfoPtr* NodeInfo::findPod(const std::string& uid) const {
  for (const auto& p : pods_)
    if (p->uid == uid) return &p;
  return nullptr;
}

std::shared_ptr<Snapshot> Snapshot::fromNodeInfos(std::vector<NodeInfoPtr> nodes) {
  auto s = std::make_shared<Snapshot>();
  std::vector<std::string> order;
  for (auto& n : nodes) {
    order.push_back(n->name());
    s->map_[n->name()] = std::move(n);
  }
  s->rebuildLists(order);
  return s;
}

NodeInfo* Snapshot::get(const std::string& name) const {
  auto it = map_.find(name);
  return it == map_.end() ? nullptr : it->second.get();
}

void Snapshot::rebuildLists(const std::vector<std::string>& order) {
  list_.clear();
  have_pods_with_affinity_.clear();
  have_pods_with_required_anti_affinity_.clear();
  for (const auto& name : order) {
    auto it = map_.find(name);
    if (it == map_.end() || !it->second->node()) continue;
    NodeInfo* n = it->second.get();
    list_.push_back(n);
    if (!n->podsWithAffinity().empty()) have_pods_with_affinity_.push_back(n);
    if (!n->podsWithRequiredAntiAffinity().empty())
      have_pods_with_required_anti_affinity_.push_back(n);
  }
}

}  // namespace berth::scheduler
