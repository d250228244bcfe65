#include "agent/hollow/timer_queue.h"

namespace berth::agent::hollow {

namespace {
// The run-mode thread re-reads the clock at least this often, so a clock
// that jumps (or a FakeClock advanced by hand) is noticed.
constexpr auto kMaxWait = std::chrono::milliseconds(200);
}  // namespace

TimerQueue::~TimerQueue() { stop(); }

void TimerQueue::schedule(TimePoint at, std::function<void()> fn) {
  bool earliest = false;
  {
    std::lock_guard lock(mu_);
    earliest = heap_.empty() || at < heap_.top().at;
    heap_.push(Entry{at, seq_++, std::move(fn)});
  }
  if (earliest) cv_.notify_one();
}

bool TimerQueue::popDue(TimePoint now, std::function<void()>* fn) {
  std::lock_guard lock(mu_);
  if (heap_.empty() || heap_.top().at > now) return false;
  // priority_queue::top is const; the entry is discarded right after.
  *fn = std::move(const_cast<Entry&>(heap_.top()).fn);
  heap_.pop();
  return true;
}

size_t TimerQueue::runDue(TimePoint now) {
  size_t ran = 0;
  std::function<void()> fn;
  while (popDue(now, &fn)) {
    fn();
    ++ran;
  }
  return ran;
}

std::optional<TimePoint> TimerQueue::nextDue() const {
  std::lock_guard lock(mu_);
  if (heap_.empty()) return std::nullopt;
  return heap_.top().at;
}

size_t TimerQueue::size() const {
  std::lock_guard lock(mu_);
  return heap_.size();
}

void TimerQueue::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void TimerQueue::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  heap_ = {};
}

void TimerQueue::loop() {
  for (;;) {
    runDue(clock_.now());
    std::unique_lock lock(mu_);
    if (stopping_) return;
    std::chrono::nanoseconds wait = kMaxWait;
    if (!heap_.empty()) {
      // Nanoseconds, not milliseconds: a timer due in under a millisecond
      // must be waited for, not spun on.
      auto until =
          std::chrono::duration_cast<std::chrono::nanoseconds>(heap_.top().at - clock_.now());
      if (until < wait) wait = until;
    }
    if (wait.count() > 0) cv_.wait_for(lock, wait);
    if (stopping_) return;
  }
}

}  // namespace berth::agent::hollow
