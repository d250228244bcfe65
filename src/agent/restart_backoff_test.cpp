#include "agent/restart_backoff.h"

#include <gtest/gtest.h>

namespace berth::agent {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

TEST(RestartBackoffTest, DoublesUpToTheMaximumAndExpires) {
  RestartBackoff b;
  const std::string key = "uid/c";
  auto t = std::chrono::system_clock::time_point(seconds(1767225600));
  // First exit: restart at once.
  EXPECT_FALSE(b.check(key, "c", "p_ns(uid)", t, t));
  // Second exit right after: back off 10 s from the exit.
  auto f2 = t + seconds(1);
  auto msg = b.check(key, "c", "p_ns(uid)", f2, f2);
  ASSERT_TRUE(msg);
  EXPECT_EQ(*msg, "back-off 10s restarting failed container=c pod=p_ns(uid)");
  EXPECT_EQ(*b.retryAt(key, f2), f2 + seconds(10));
  EXPECT_TRUE(b.check(key, "c", "p_ns(uid)", f2, f2 + seconds(9)));
  EXPECT_FALSE(b.check(key, "c", "p_ns(uid)", f2, f2 + seconds(10)));  // now 20 s next time
  auto f3 = f2 + seconds(11);
  EXPECT_EQ(*b.check(key, "c", "p_ns(uid)", f3, f3),
            "back-off 20s restarting failed container=c pod=p_ns(uid)");
  // Keep crashing: 40, 80, 160, 300, 300.
  auto now = f3 + seconds(20);
  std::vector<std::string> seen;
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(b.check(key, "c", "p", now - seconds(1000), now));
    auto msg2 = b.check(key, "c", "p", now, now);
    ASSERT_TRUE(msg2);
    seen.push_back(msg2->substr(9, msg2->find(' ', 9) - 9));
    now += minutes(6);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"40s", "1m20s", "2m40s", "5m0s", "5m0s"}));
  // An exit long after the last restart starts over at 10 s.
  auto later = now + minutes(30);
  EXPECT_FALSE(b.check(key, "c", "p", later, later));
  EXPECT_EQ(*b.check(key, "c", "p", later, later),
            "back-off 10s restarting failed container=c pod=p");
  b.forget(key);
  EXPECT_FALSE(b.retryAt(key, later));
  EXPECT_EQ(RestartBackoff::goDuration(seconds(3725)), "1h2m5s");
}

}  // namespace
}  // namespace berth::agent
