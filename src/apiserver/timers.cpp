#include "apiserver/timers.h"

namespace berth::apiserver {

Timers::Timers() : thread_([this] { run(); }) {}

Timers::~Timers() { stop(); }

void Timers::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
      } else {
        return;
      }
    }
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

Timers::Id Timers::after(std::chrono::steady_clock::duration delay, std::function<void()> fn) {
  std::lock_guard lock(mu_);
  Id id = next_id_++;
  if (stopping_) return id;
  queue_.emplace(std::chrono::steady_clock::now() + delay, std::make_pair(id, std::move(fn)));
  cv_.notify_all();
  return id;
}

void Timers::cancel(Id id) {
  std::lock_guard lock(mu_);
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->second.first == id) {
      queue_.erase(it);
      return;
    }
  }
}

void Timers::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (queue_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto it = queue_.begin();
    if (it->first > std::chrono::steady_clock::now()) {
      // A copy: stop() or cancel() may erase the entry while we wait, and
      // wait_until reads the deadline again after every wake-up.
      const auto deadline = it->first;
      cv_.wait_until(lock, deadline);
      continue;
    }
    auto fn = std::move(it->second.second);
    queue_.erase(it);
    lock.unlock();
    fn();
    lock.lock();
  }
}

}  // namespace berth::apiserver
