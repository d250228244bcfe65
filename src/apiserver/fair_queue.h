#pragma once

// Fair queuing of API requests by flow, after upstream's API Priority and
// Fairness (one priority level, a queue per flow, no shuffle sharding or
// concurrency shares yet). The handler threads take requests round-robin
// across flows instead of first come, first served, so one client with
// hundreds of requests in flight (an agent reporting for thousands of
// nodes) delays another client's request by one request per flow, not by
// its whole backlog. Upstream's flow distinguisher is the user name for
// most priority levels; the HTTP server uses the same.

#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace berth::apiserver {

class FairQueue {
 public:
  using Task = std::function<void()>;

  // Queues a task on its flow.
  void push(const std::string& flow, Task task);
  // Takes the next task round-robin over the flows with queued tasks (the
  // flow served goes to the back of the line); empty when none is queued.
  Task pop();
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::deque<Task>> queues_;
  std::deque<std::string> order_;  // flows with queued tasks, next first
  size_t size_ = 0;
};

}  // namespace berth::apiserver
