#include "controllers/controller_util.h"

#include <pthread.h>

namespace berth::controllers {

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mu_);
  if (shutdown_) return;
  if (processing_.count(key)) {
    dirty_.insert(key);
    return;
  }
  if (queued_.insert(key).second) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::addAfter(const std::string& key, std::chrono::milliseconds delay) {
  std::lock_guard lock(mu_);
  if (shutdown_) return;
  delayed_.emplace(std::chrono::steady_clock::now() + delay, key);
  cv_.notify_all();
}

bool WorkQueue::get(std::string* key) {
  std::unique_lock lock(mu_);
  while (true) {
    if (shutdown_) return false;
    auto now = std::chrono::steady_clock::now();
    while (!delayed_.empty() && delayed_.begin()->first <= now) {
      std::string k = delayed_.begin()->second;
      delayed_.erase(delayed_.begin());
      if (processing_.count(k)) dirty_.insert(k);
      else if (queued_.insert(k).second) queue_.push_back(k);
    }
    if (!queue_.empty()) {
      *key = queue_.front();
      queue_.pop_front();
      queued_.erase(*key);
      processing_.insert(*key);
      return true;
    }
    if (delayed_.empty()) cv_.wait(lock);
    else cv_.wait_until(lock, delayed_.begin()->first);
  }
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mu_);
  processing_.erase(key);
  if (dirty_.erase(key) && !shutdown_) {
    if (queued_.insert(key).second) {
      queue_.push_back(key);
      cv_.notify_one();
    }
  }
}

void WorkQueue::shutdown() {
  std::lock_guard lock(mu_);
  shutdown_ = true;
  cv_.notify_all();
}

size_t WorkQueue::size() {
  std::lock_guard lock(mu_);
  return queue_.size();
}

WorkerPool::WorkerPool(WorkQueue& queue, std::function<void(const std::string&)> sync, int workers)
    : queue_(queue), sync_(std::move(sync)) {
  for (int i = 0; i < workers; ++i)
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "ctrl-worker");
      std::string key;
      while (queue_.get(&key)) {
        sync_(key);
        queue_.done(key);
      }
    });
}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::stop() {
  queue_.shutdown();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

}  // namespace berth::controllers
