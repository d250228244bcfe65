#pragma once

// The rate limiting the node lifecycle controller puts in front of its
// NoExecute taints, so that many nodes going silent at once (an overloaded
// control plane, a network partition) do not evict every pod in the cluster
// in one go:
//  - TokenBucket: client-go's flowcontrol.NewTokenBucketRateLimiter
//    (golang.org/x/time/rate underneath) with qps <= 0 standing for
//    flowcontrol.NewFakeNeverRateLimiter;
//  - RateLimitedTimedQueue: pkg/controller/nodelifecycle/scheduler's queue of
//    the same name, a unique queue ordered by the time an item may next be
//    processed, drained through a TokenBucket.
// Time is passed in by the caller (the controller's injected Clock), so tests
// move it by hand.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>

namespace berth::controllers::nodelifecycle {

// Upstream's scheduler.EvictionRateLimiterBurst: one node at a time.
inline constexpr int kEvictionRateLimiterBurst = 1;

// A token bucket holding at most `burst` tokens, refilled at `qps` a second,
// full when created. Kept as the theoretical arrival time of the next token
// (GCRA) in integer nanoseconds, so 0.1 qps yields a token every 10 s exactly
// rather than after float rounding.
class TokenBucket {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  TokenBucket(double qps, int burst);

  // Takes a token if one is there (upstream's TryAccept).
  bool tryAccept(TimePoint now);
  double qps() const { return qps_; }
  bool never() const { return qps_ <= 0; }
  // The earliest time tryAccept can succeed; nullopt for a never limiter.
  std::optional<TimePoint> nextToken(TimePoint now) const;

 private:
  double qps_;
  int burst_;
  std::chrono::nanoseconds interval_{0};
  // When the bucket is (or was) full again; the epoch means full now.
  TimePoint full_at_{};
};

// A FIFO of unique values (node names), each processed no earlier than its
// process time and only when the limiter hands out a token. A value stays
// known after it was processed, so add() does not queue it again until
// remove() forgets it (upstream's UniqueQueue set vs. heap). Not
// synchronized: the controller uses it from one thread.
class RateLimitedTimedQueue {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  struct Value {
    std::string value;
    std::string uid;
    TimePoint added_at;
    TimePoint process_at;
  };
  // Returns true when done with the value, or false and the minimum wait
  // before it is tried again (upstream's ActionFunc).
  using Action = std::function<std::pair<bool, std::chrono::nanoseconds>(const Value&)>;

  explicit RateLimitedTimedQueue(double qps, int burst = kEvictionRateLimiterBurst);

  // Queues the value unless it is already known; true if queued.
  bool add(const std::string& value, const std::string& uid, TimePoint now);
  // Forgets the value (queued or processed); true if it was known.
  bool remove(const std::string& value);
  void clear();

  // Processes the values due now while the limiter gives tokens. As upstream,
  // a token is taken before the head's process time is checked.
  void tryProcess(TimePoint now, const Action& fn);

  // Upstream's SwapLimiter: a new bucket for a new rate. When the old bucket
  // had no token to give, the new one starts drained too (with a burst of 1
  // this keeps the pace across the swap).
  void swapLimiter(double qps, TimePoint now);
  double qps() const { return limiter_.qps(); }

  // When tryProcess could next do something: the later of the head's process
  // time and the next token; nullopt when empty or the limiter never gives.
  std::optional<TimePoint> nextAttempt(TimePoint now) const;

  size_t queued() const { return order_.size(); }
  bool contains(const std::string& value) const { return known_.count(value) > 0; }

 private:
  using Key = std::tuple<TimePoint, uint64_t, std::string>;
  struct Entry {
    Value value;
    bool queued = false;
    uint64_t seq = 0;
  };
  void enqueue(Entry& e);
  void dequeue(Entry& e);

  int burst_;
  TokenBucket limiter_;
  std::map<std::string, Entry> known_;
  // Queued values by process time, then by the order they were queued.
  std::set<Key> order_;
  uint64_t next_seq_ = 0;
};

}  // namespace berth::controllers::nodelifecycle
