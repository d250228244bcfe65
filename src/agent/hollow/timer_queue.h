#pragma once

// One timer heap shared by every simulated node and pod of a HollowNodeSet:
// 5,000 nodes renewing leases every 10 s and 150,000 pods with scripted
// transitions need no thread per node, only entries in a heap ordered by due
// time. Timers are driven either by a thread that follows the Clock (run
// mode) or by runDue(now) from a test step, so a FakeClock moves them
// deterministically.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <queue>
#include <thread>
#include <vector>

#include "common/clock.h"

namespace berth::agent::hollow {

using TimePoint = std::chrono::system_clock::time_point;

class TimerQueue {
 public:
  explicit TimerQueue(Clock& clock) : clock_(clock) {}
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Runs `fn` once the clock reaches `at`. Callbacks must be quick (they
  // enqueue work); they may schedule further timers.
  void schedule(TimePoint at, std::function<void()> fn);

  // Runs every timer due at or before `now`, including timers those
  // callbacks schedule for a time <= now. Returns how many ran.
  size_t runDue(TimePoint now);
  std::optional<TimePoint> nextDue() const;
  size_t size() const;

  // Run mode: a thread fires timers as the clock reaches them.
  void start();
  // Stops the thread; pending timers are dropped.
  void stop();

 private:
  struct Entry {
    TimePoint at;
    uint64_t seq;
    std::function<void()> fn;
  };
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };
  bool popDue(TimePoint now, std::function<void()>* fn);
  void loop();

  Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Entry, std::vector<Entry>, Later> heap_;
  uint64_t seq_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace berth::agent::hollow
