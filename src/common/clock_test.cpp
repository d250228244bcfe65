#include "common/clock.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

TEST(Rfc3339, RoundTrip) {
  std::chrono::system_clock::time_point t;
  ASSERT_TRUE(parseRfc3339("2024-02-29T12:34:56Z", &t));
  EXPECT_EQ(formatRfc3339(t), "2024-02-29T12:34:56Z");
  ASSERT_TRUE(parseRfc3339("2024-02-29T12:34:56.123456789+01:00", &t));
  EXPECT_EQ(formatRfc3339Nano(t), "2024-02-29T11:34:56.123456789Z");
  EXPECT_FALSE(parseRfc3339("2024-02-29 12:34:56Z", &t));
  EXPECT_FALSE(parseRfc3339("garbage", &t));
}

TEST(HumanDuration, MatchesKubectl) {
  using namespace std::chrono;
  EXPECT_EQ(humanDuration(seconds(5)), "5s");
  EXPECT_EQ(humanDuration(seconds(150)), "2m30s");
  EXPECT_EQ(humanDuration(minutes(30)), "30m");
  EXPECT_EQ(humanDuration(hours(5) + minutes(3)), "5h3m");
  EXPECT_EQ(humanDuration(hours(30)), "30h");
  EXPECT_EQ(humanDuration(hours(24 * 3 + 2)), "3d2h");
}

}  // namespace
TEST(ParseGoDuration, UnitsFractionsSignsAndGoErrors) {
  EXPECT_EQ(parseGoDuration("1h30m")->count(), 5400000000000LL);
  EXPECT_EQ(parseGoDuration("1.5h")->count(), 5400000000000LL);
  EXPECT_EQ(parseGoDuration("-2s")->count(), -2000000000LL);
  EXPECT_EQ(parseGoDuration("0")->count(), 0);
  EXPECT_EQ(parseGoDuration("300ms")->count(), 300000000LL);
  EXPECT_FALSE(parseGoDuration("10").ok());
  EXPECT_EQ(parseGoDuration("10").error().message, "time: missing unit in duration \"10\"");
  EXPECT_EQ(parseGoDuration("3d").error().message, "time: unknown unit \"d\" in duration \"3d\"");
  EXPECT_FALSE(parseGoDuration("").ok());
}

}  // namespace berth
