// The token bucket and the rate-limited timed queue behind the node lifecycle
// controller's NoExecute tainting, driven by hand-moved time points.
#include "controllers/nodelifecycle/rate_limited_queue.h"

#include <gtest/gtest.h>

#include <vector>

namespace berth::controllers::nodelifecycle {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using TimePoint = std::chrono::system_clock::time_point;

const TimePoint kT0 = std::chrono::system_clock::from_time_t(1735689600);

TEST(TokenBucketTest, StartsFullAndRefillsAtQps) {
  TokenBucket b(0.1, 1);
  EXPECT_TRUE(b.tryAccept(kT0));
  EXPECT_FALSE(b.tryAccept(kT0));
  EXPECT_EQ(*b.nextToken(kT0), kT0 + seconds(10));
  EXPECT_FALSE(b.tryAccept(kT0 + seconds(10) - nanoseconds(1)));
  EXPECT_TRUE(b.tryAccept(kT0 + seconds(10)));
  // Idle time does not store more than the burst.
  EXPECT_TRUE(b.tryAccept(kT0 + seconds(100)));
  EXPECT_FALSE(b.tryAccept(kT0 + seconds(100)));
}

TEST(TokenBucketTest, SlowRateIsExact) {
  TokenBucket b(0.01, 1);
  EXPECT_TRUE(b.tryAccept(kT0));
  EXPECT_FALSE(b.tryAccept(kT0 + seconds(99)));
  EXPECT_TRUE(b.tryAccept(kT0 + seconds(100)));
}

TEST(TokenBucketTest, BurstAllowsThatManyAtOnce) {
  TokenBucket b(1, 3);
  EXPECT_TRUE(b.tryAccept(kT0));
  EXPECT_TRUE(b.tryAccept(kT0));
  EXPECT_TRUE(b.tryAccept(kT0));
  EXPECT_FALSE(b.tryAccept(kT0));
  EXPECT_EQ(*b.nextToken(kT0), kT0 + seconds(1));
  EXPECT_TRUE(b.tryAccept(kT0 + seconds(1)));
}

TEST(TokenBucketTest, ZeroQpsNeverAccepts) {
  TokenBucket b(0, 1);
  EXPECT_TRUE(b.never());
  EXPECT_FALSE(b.tryAccept(kT0));
  EXPECT_FALSE(b.tryAccept(kT0 + seconds(3600)));
  EXPECT_FALSE(b.nextToken(kT0));
}

// Records what the action saw and answers from a script (true by default).
struct Recorder {
  std::vector<std::string> seen;
  std::map<std::string, int> failures;  // times to fail before succeeding
  RateLimitedTimedQueue::Action action() {
    return [this](const RateLimitedTimedQueue::Value& v) {
      seen.push_back(v.value);
      if (failures[v.value] > 0) {
        --failures[v.value];
        return std::make_pair(false, nanoseconds(milliseconds(50)));
      }
      return std::make_pair(true, nanoseconds(0));
    };
  }
};

TEST(RateLimitedTimedQueueTest, OneValuePerTokenInOrder) {
  RateLimitedTimedQueue q(0.1);
  EXPECT_TRUE(q.add("a", "uid-a", kT0));
  EXPECT_TRUE(q.add("b", "uid-b", kT0));
  EXPECT_TRUE(q.add("c", "uid-c", kT0 + seconds(1)));
  EXPECT_FALSE(q.add("a", "uid-a", kT0));  // unique
  Recorder r;
  q.tryProcess(kT0 + seconds(1), r.action());
  EXPECT_EQ(r.seen, (std::vector<std::string>{"a"}));
  q.tryProcess(kT0 + seconds(10), r.action());
  EXPECT_EQ(r.seen, (std::vector<std::string>{"a"}));
  q.tryProcess(kT0 + seconds(11), r.action());
  q.tryProcess(kT0 + seconds(21), r.action());
  EXPECT_EQ(r.seen, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(q.queued(), 0u);
}

TEST(RateLimitedTimedQueueTest, ProcessedValueStaysKnownUntilRemoved) {
  RateLimitedTimedQueue q(1);
  Recorder r;
  q.add("a", "", kT0);
  q.tryProcess(kT0, r.action());
  ASSERT_EQ(r.seen.size(), 1u);
  EXPECT_TRUE(q.contains("a"));
  EXPECT_FALSE(q.add("a", "", kT0 + seconds(5)));  // done: not queued again
  q.tryProcess(kT0 + seconds(5), r.action());
  EXPECT_EQ(r.seen.size(), 1u);
  EXPECT_TRUE(q.remove("a"));
  EXPECT_FALSE(q.remove("a"));
  EXPECT_TRUE(q.add("a", "", kT0 + seconds(5)));
  q.tryProcess(kT0 + seconds(5), r.action());
  EXPECT_EQ(r.seen.size(), 2u);
}

TEST(RateLimitedTimedQueueTest, FailedValueRetriedAfterItsWait) {
  RateLimitedTimedQueue q(100);  // plenty of tokens: the wait decides
  Recorder r;
  r.failures["a"] = 1;
  q.add("a", "", kT0);
  q.tryProcess(kT0, r.action());
  EXPECT_EQ(r.seen.size(), 1u);
  EXPECT_EQ(q.queued(), 1u);
  // Due 50 ms (and a nanosecond) later, as upstream's now + wait + 1.
  EXPECT_EQ(*q.nextAttempt(kT0 + milliseconds(10)), kT0 + milliseconds(50) + nanoseconds(1));
  // Not due yet: the attempt still takes a token (upstream's Try checks the
  // limiter first), so at 51 ms the value is due but the next token is not.
  q.tryProcess(kT0 + milliseconds(50), r.action());
  EXPECT_EQ(r.seen.size(), 1u);
  q.tryProcess(kT0 + milliseconds(51), r.action());
  EXPECT_EQ(r.seen.size(), 1u);
  q.tryProcess(kT0 + milliseconds(60), r.action());
  EXPECT_EQ(r.seen.size(), 2u);
  EXPECT_EQ(q.queued(), 0u);
}

TEST(RateLimitedTimedQueueTest, SwapToZeroStopsAndBackStartsDrained) {
  RateLimitedTimedQueue q(0.1);
  Recorder r;
  q.add("a", "", kT0);
  q.swapLimiter(0, kT0);
  q.tryProcess(kT0 + seconds(3600), r.action());
  EXPECT_TRUE(r.seen.empty());
  EXPECT_FALSE(q.nextAttempt(kT0));
  // From a limiter that gives nothing, the new one starts without a token.
  q.swapLimiter(0.1, kT0 + seconds(3600));
  q.tryProcess(kT0 + seconds(3600), r.action());
  EXPECT_TRUE(r.seen.empty());
  EXPECT_EQ(*q.nextAttempt(kT0 + seconds(3600)), kT0 + seconds(3610));
  q.tryProcess(kT0 + seconds(3610), r.action());
  EXPECT_EQ(r.seen.size(), 1u);
}

TEST(RateLimitedTimedQueueTest, SwapFromFullBucketKeepsTheToken) {
  RateLimitedTimedQueue q(0.1);
  q.swapLimiter(0.01, kT0);  // the old bucket had its token: the new one is full
  EXPECT_DOUBLE_EQ(q.qps(), 0.01);
  Recorder r;
  q.add("a", "", kT0);
  q.add("b", "", kT0);
  q.tryProcess(kT0, r.action());
  EXPECT_EQ(r.seen.size(), 1u);
  q.tryProcess(kT0 + seconds(99), r.action());
  EXPECT_EQ(r.seen.size(), 1u);
  q.tryProcess(kT0 + seconds(100), r.action());
  EXPECT_EQ(r.seen.size(), 2u);
}

TEST(RateLimitedTimedQueueTest, SwapToSameRateKeepsState) {
  RateLimitedTimedQueue q(0.1);
  Recorder r;
  q.add("a", "", kT0);
  q.add("b", "", kT0);
  q.tryProcess(kT0, r.action());
  q.swapLimiter(0.1, kT0 + seconds(1));  // no new (full) bucket
  q.tryProcess(kT0 + seconds(1), r.action());
  EXPECT_EQ(r.seen.size(), 1u);
}

TEST(RateLimitedTimedQueueTest, ClearForgetsEverything) {
  RateLimitedTimedQueue q(1);
  q.add("a", "", kT0);
  q.clear();
  EXPECT_EQ(q.queued(), 0u);
  EXPECT_FALSE(q.contains("a"));
  EXPECT_FALSE(q.nextAttempt(kT0));
}

}  // namespace
}  // namespace berth::controllers::nodelifecycle
