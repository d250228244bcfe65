#include "apiserver/fair_queue.h"

namespace berth::apiserver {

void FairQueue::push(const std::string& flow, Task task) {
  std::lock_guard lock(mu_);
  auto& q = queues_[flow];
  if (q.empty()) order_.push_back(flow);
  q.push_back(std::move(task));
  ++size_;
}

FairQueue::Task FairQueue::pop() {
  std::lock_guard lock(mu_);
  if (order_.empty()) return {};
  std::string flow = std::move(order_.front());
  order_.pop_front();
  auto it = queues_.find(flow);
  Task task = std::move(it->second.front());
  it->second.pop_front();
  --size_;
  if (it->second.empty()) {
    queues_.erase(it);
  } else {
    order_.push_back(std::move(flow));
  }
  return task;
}

size_t FairQueue::size() const {
  std::lock_guard lock(mu_);
  return size_;
}

}  // namespace berth::apiserver
