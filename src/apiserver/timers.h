#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace berth::apiserver {

// One thread that runs callbacks at deadlines (watch timeouts, periodic
// tasks). Callbacks must be short; they run on the timer thread.
class Timers {
 public:
  using Id = uint64_t;
  Timers();
  ~Timers();
  Timers(const Timers&) = delete;
  Timers& operator=(const Timers&) = delete;

  Id after(std::chrono::steady_clock::duration delay, std::function<void()> fn);
  // Cancels a pending timer; no effect once it has started running.
  void cancel(Id id);
  void stop();

 private:
  void run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<std::chrono::steady_clock::time_point, std::pair<Id, std::function<void()>>> queue_;
  Id next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace berth::apiserver
