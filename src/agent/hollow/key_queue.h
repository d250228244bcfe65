#pragma once

// A de-duplicating queue of work keys for the hollow node set, after
// client-go's workqueue: a key added while it waits is queued once; a key
// added while a worker holds it is processed again after done(). Workers
// call get() (blocking) in run mode; tests drain it with tryGet().
// (controllers::WorkQueue is the same idea, but the agent does not link the
// controllers library.)

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_set>

namespace berth::agent::hollow {

class KeyQueue {
 public:
  void add(const std::string& key);
  // Blocks until a key is ready (true) or the queue shuts down (false).
  bool get(std::string* key);
  // Non-blocking get.
  bool tryGet(std::string* key);
  void done(const std::string& key);
  void shutdown();
  size_t size() const;

 private:
  bool takeLocked(std::string* key);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::unordered_set<std::string> queued_;
  std::unordered_set<std::string> processing_;
  std::unordered_set<std::string> dirty_;
  bool shutdown_ = false;
};

}  // namespace berth::agent::hollow
