#pragma once

// Pods nominated to a node by preemption (upstream's nominator inside the
// PriorityQueue): the filters treat them as already there, for pods of lower
// or equal priority, so that the room preemption made is not taken by others.

#include <atomic>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "scheduler/pod_info.h"

namespace berth::scheduler {

class Nominator {
 public:
  // Nominates the pod to `node` (replacing an earlier nomination); "" only
  // removes it.
  void add(const PodInfoPtr& pod, const std::string& node);
  void remove(const std::string& uid);
  // Keeps the nomination but refreshes the pod object (an update arrived).
  void update(const PodInfoPtr& pod);
  std::vector<PodInfoPtr> podsForNode(const std::string& node) const;
  // Lock-free check the filters make for every node: most of the time
  // nothing is nominated anywhere.
  bool empty() const { return count_.load(std::memory_order_acquire) == 0; }
  std::string nodeFor(const std::string& uid) const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::vector<PodInfoPtr>> by_node_;
  std::unordered_map<std::string, std::string> node_of_;
  std::atomic<size_t> count_{0};
};

}  // namespace berth::scheduler
