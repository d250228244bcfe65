#include "controllers/nodelifecycle/rate_limited_queue.h"

#include <algorithm>
#include <cmath>

namespace berth::controllers::nodelifecycle {

TokenBucket::TokenBucket(double qps, int burst) : qps_(qps), burst_(std::max(burst, 1)) {
  if (qps_ > 0) {
    auto ns = static_cast<int64_t>(std::llround(1e9 / qps_));
    interval_ = std::chrono::nanoseconds(std::max<int64_t>(ns, 1));
  }
}

bool TokenBucket::tryAccept(TimePoint now) {
  if (never()) return false;
  // Tokens missing = (full_at_ - now) / interval; one must be left to take.
  if (full_at_ - now > (burst_ - 1) * interval_) return false;
  full_at_ = std::max(full_at_, now) + interval_;
  return true;
}

std::optional<TokenBucket::TimePoint> TokenBucket::nextToken(TimePoint now) const {
  if (never()) return std::nullopt;
  return std::max(now, full_at_ - (burst_ - 1) * interval_);
}

RateLimitedTimedQueue::RateLimitedTimedQueue(double qps, int burst)
    : burst_(burst), limiter_(qps, burst) {}

void RateLimitedTimedQueue::enqueue(Entry& e) {
  e.seq = next_seq_++;
  e.queued = true;
  order_.emplace(e.value.process_at, e.seq, e.value.value);
}

void RateLimitedTimedQueue::dequeue(Entry& e) {
  if (!e.queued) return;
  order_.erase(Key{e.value.process_at, e.seq, e.value.value});
  e.queued = false;
}

bool RateLimitedTimedQueue::add(const std::string& value, const std::string& uid, TimePoint now) {
  auto [it, inserted] = known_.try_emplace(value);
  if (!inserted) return false;
  it->second.value = Value{value, uid, now, now};
  enqueue(it->second);
  return true;
}

bool RateLimitedTimedQueue::remove(const std::string& value) {
  auto it = known_.find(value);
  if (it == known_.end()) return false;
  dequeue(it->second);
  known_.erase(it);
  return true;
}

void RateLimitedTimedQueue::clear() {
  known_.clear();
  order_.clear();
}

void RateLimitedTimedQueue::tryProcess(TimePoint now, const Action& fn) {
  while (!order_.empty()) {
    if (!limiter_.tryAccept(now)) break;
    const std::string name = std::get<2>(*order_.begin());
    const Value head = known_.at(name).value;
    if (now < head.process_at) break;
    auto [done, wait] = fn(head);
    // Looked up again: the action must not touch the queue, but be safe if it did.
    auto it = known_.find(name);
    if (it == known_.end() || !it->second.queued) continue;
    dequeue(it->second);
    if (!done) {
      it->second.value.process_at = now + wait + std::chrono::nanoseconds(1);
      enqueue(it->second);
    }
  }
}

void RateLimitedTimedQueue::swapLimiter(double qps, TimePoint now) {
  if (limiter_.qps() == qps || (limiter_.never() && qps <= 0)) return;
  TokenBucket next(qps, burst_);
  if (!next.never() && !limiter_.tryAccept(now)) next.tryAccept(now);
  limiter_ = next;
}

std::optional<RateLimitedTimedQueue::TimePoint> RateLimitedTimedQueue::nextAttempt(
    TimePoint now) const {
  if (order_.empty()) return std::nullopt;
  auto token = limiter_.nextToken(now);
  if (!token) return std::nullopt;
  return std::max(*token, std::get<0>(*order_.begin()));
}

}  // namespace berth::controllers::nodelifecycle
