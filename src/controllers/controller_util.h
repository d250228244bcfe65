#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace berth::controllers {

// A de-duplicating work queue of string keys, after client-go's workqueue:
// a key queued while it waits is queued once; a key being processed and
// queued again is processed again afterwards; addAfter delays a retry.
class WorkQueue {
 public:
  void add(const std::string& key);
  void addAfter(const std::string& key, std::chrono::milliseconds delay);
  // Blocks until a key is ready or the queue shuts down (returns false).
  bool get(std::string* key);
  void done(const std::string& key);
  void shutdown();
  size_t size();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::set<std::string> queued_;
  std::set<std::string> processing_;
  std::set<std::string> dirty_;
  std::multimap<std::chrono::steady_clock::time_point, std::string> delayed_;
  bool shutdown_ = false;
};

// Runs `sync(key)` for queued keys on `workers` threads until stop().
class WorkerPool {
 public:
  WorkerPool(WorkQueue& queue, std::function<void(const std::string&)> sync, int workers = 1);
  ~WorkerPool();
  void stop();

 private:
  WorkQueue& queue_;
  std::function<void(const std::string&)> sync_;
  std::vector<std::thread> threads_;
};

}  // namespace berth::controllers
