#include "agent/hollow/key_queue.h"

namespace berth::agent::hollow {

void KeyQueue::add(const std::string& key) {
  {
    std::lock_guard lock(mu_);
    if (shutdown_) return;
    if (processing_.count(key)) {
      dirty_.insert(key);
      return;
    }
    if (!queued_.insert(key).second) return;
    queue_.push_back(key);
  }
  cv_.notify_one();
}

bool KeyQueue::takeLocked(std::string* key) {
  if (queue_.empty()) return false;
  *key = std::move(queue_.front());
  queue_.pop_front();
  queued_.erase(*key);
  processing_.insert(*key);
  return true;
}

bool KeyQueue::get(std::string* key) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return shutdown_ || !queue_.empty(); });
  if (shutdown_) return false;
  return takeLocked(key);
}

bool KeyQueue::tryGet(std::string* key) {
  std::lock_guard lock(mu_);
  if (shutdown_) return false;
  return takeLocked(key);
}

void KeyQueue::done(const std::string& key) {
  bool requeued = false;
  {
    std::lock_guard lock(mu_);
    processing_.erase(key);
    if (dirty_.erase(key) && !shutdown_ && queued_.insert(key).second) {
      queue_.push_back(key);
      requeued = true;
    }
  }
  if (requeued) cv_.notify_one();
}

void KeyQueue::shutdown() {
  {
    std::lock_guard lock(mu_);
    shutdown_ = true;
  }
  cv_.notify_all();
}

size_t KeyQueue::size() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace berth::agent::hollow
