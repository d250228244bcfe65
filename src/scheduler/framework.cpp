#include "scheduler/framework.h"

#include <algorithm>

#include "scheduler/nominator.h"

namespace berth::scheduler {

std::string PluginStatus::message() const {
  std::string out;
  for (const auto& r : reasons_) {
    if (!out.empty()) out += ", ";
    out += r;
  }
  return out;
}

CycleState CycleState::clone() const {
  CycleState copy;
  for (const auto& [k, v] : data_) copy.data_.emplace_back(k, v ? v->clone() : nullptr);
  copy.skip_filter_plugins = skip_filter_plugins;
  copy.skip_score_plugins = skip_score_plugins;
  copy.skip_filter_mask = skip_filter_mask;
  return copy;
}

void PreFilterResult::merge(const PreFilterResult& other) {
  if (other.allNodes()) return;
  if (allNodes()) {
    node_names = other.node_names;
    return;
  }
  std::set<std::string> both;
  for (const auto& n : *node_names)
    if (other.node_names->count(n)) both.insert(n);
  node_names = std::move(both);
}

void defaultNormalizeScore(int64_t max_priority, bool reverse, NodeScoreList& scores) {
  int64_t max_count = 0;
  for (const auto& s : scores) max_count = std::max(max_count, s.score);
  if (max_count == 0) {
    if (reverse)
      for (auto& s : scores) s.score = max_priority;
    return;
  }
  for (auto& s : scores) {
    int64_t v = max_priority * s.score / max_count;
    s.score = reverse ? max_priority - v : v;
  }
}

void Nominator::add(const PodInfoPtr& pod, const std::string& node) {
  std::lock_guard lock(mu_);
  auto it = node_of_.find(pod->uid);
  if (it != node_of_.end()) {
    auto& v = by_node_[it->second];
    v.erase(
        std::remove_if(v.begin(), v.end(), [&](const PodInfoPtr& p) { return p->uid == pod->uid; }),
        v.end());
    if (v.empty()) by_node_.erase(it->second);
    node_of_.erase(it);
  }
  if (!node.empty()) {
    node_of_[pod->uid] = node;
    by_node_[node].push_back(pod);
  }
  count_.store(node_of_.size(), std::memory_order_release);
}

void Nominator::remove(const std::string& uid) {
  std::lock_guard lock(mu_);
  auto it = node_of_.find(uid);
  if (it == node_of_.end()) return;
  auto& v = by_node_[it->second];
  v.erase(std::remove_if(v.begin(), v.end(), [&](const PodInfoPtr& p) { return p->uid == uid; }),
          v.end());
  if (v.empty()) by_node_.erase(it->second);
  node_of_.erase(it);
  count_.store(node_of_.size(), std::memory_order_release);
}

void Nominator::update(const PodInfoPtr& pod) {
  std::lock_guard lock(mu_);
  auto it = node_of_.find(pod->uid);
  if (it == node_of_.end()) return;
  for (auto& p : by_node_[it->second])
    if (p->uid == pod->uid) p = pod;
}

std::vector<PodInfoPtr> Nominator::podsForNode(const std::string& node) const {
  std::lock_guard lock(mu_);
  auto it = by_node_.find(node);
  return it == by_node_.end() ? std::vector<PodInfoPtr>{} : it->second;
}

std::string Nominator::nodeFor(const std::string& uid) const {
  std::lock_guard lock(mu_);
  auto it = node_of_.find(uid);
  return it == node_of_.end() ? std::string() : it->second;
}

size_t Nominator::size() const {
  std::lock_guard lock(mu_);
  return node_of_.size();
}

}  // namespace berth::scheduler
