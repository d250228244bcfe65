#include "controllers/expectations.h"

#include <gtest/gtest.h>

namespace berth::controllers {
namespace {

TEST(ControllerExpectations, NoExpectationsIsSatisfied) {
  FakeClock clock;
  ControllerExpectations e(clock);
  EXPECT_TRUE(e.satisfied("ns/a"));
  EXPECT_FALSE(e.get("ns/a").has_value());
}

TEST(ControllerExpectations, CreationsMustBeObserved) {
  FakeClock clock;
  ControllerExpectations e(clock);
  e.expectCreations("ns/a", 2);
  EXPECT_FALSE(e.satisfied("ns/a"));
  e.creationObserved("ns/a");
  EXPECT_FALSE(e.satisfied("ns/a"));
  e.creationObserved("ns/a");
  EXPECT_TRUE(e.satisfied("ns/a"));
  // Extra observations only drive the count below zero.
  e.creationObserved("ns/a");
  EXPECT_EQ(e.get("ns/a")->add, -1);
  EXPECT_TRUE(e.satisfied("ns/a"));
  // Other keys are independent.
  e.expectDeletions("ns/b", 1);
  EXPECT_FALSE(e.satisfied("ns/b"));
  EXPECT_TRUE(e.satisfied("ns/a"));
}

TEST(ControllerExpectations, ExpireAfterFiveMinutes) {
  FakeClock clock;
  ControllerExpectations e(clock);
  e.setExpectations("ns/a", 1, 1);
  clock.advance(std::chrono::minutes(5));
  EXPECT_FALSE(e.satisfied("ns/a"));
  clock.advance(std::chrono::seconds(1));
  EXPECT_TRUE(e.satisfied("ns/a"));
  // Setting again restarts the timeout.
  e.setExpectations("ns/a", 1, 0);
  EXPECT_FALSE(e.satisfied("ns/a"));
}

TEST(ControllerExpectations, RaiseLowerAndDelete) {
  FakeClock clock;
  ControllerExpectations e(clock);
  e.raiseExpectations("ns/a", 1, 1);  // no entry: no-op
  EXPECT_FALSE(e.get("ns/a").has_value());
  e.setExpectations("ns/a", 1, 0);
  e.raiseExpectations("ns/a", 2, 3);
  EXPECT_EQ(e.get("ns/a")->add, 3);
  EXPECT_EQ(e.get("ns/a")->del, 3);
  e.lowerExpectations("ns/a", 3, 3);
  EXPECT_TRUE(e.satisfied("ns/a"));
  e.setExpectations("ns/a", 5, 0);
  e.deleteExpectations("ns/a");
  EXPECT_TRUE(e.satisfied("ns/a"));
  EXPECT_FALSE(e.get("ns/a").has_value());
}

TEST(UidTrackingExpectations, EachDeletionCountsOnce) {
  FakeClock clock;
  UidTrackingExpectations e(clock);
  e.expectDeletions("ns/rs", std::vector<std::string>{"ns/p1", "ns/p2"});
  EXPECT_EQ(e.get("ns/rs")->del, 2);
  EXPECT_FALSE(e.satisfied("ns/rs"));
  // Graceful deletion: deletionTimestamp seen, then the removal.
  e.deletionObserved("ns/rs", "ns/p1");
  e.deletionObserved("ns/rs", "ns/p1");
  EXPECT_EQ(e.get("ns/rs")->del, 1);
  // A pod that was not expected does not count.
  e.deletionObserved("ns/rs", "ns/other");
  EXPECT_EQ(e.get("ns/rs")->del, 1);
  EXPECT_EQ(e.pendingDeletions("ns/rs"), (std::set<std::string>{"ns/p2"}));
  e.deletionObserved("ns/rs", "ns/p2");
  EXPECT_TRUE(e.satisfied("ns/rs"));
  EXPECT_TRUE(e.pendingDeletions("ns/rs").empty());
}

TEST(UidTrackingExpectations, DeleteForgetsTrackedKeys) {
  FakeClock clock;
  UidTrackingExpectations e(clock);
  e.expectDeletions("ns/rs", std::vector<std::string>{"ns/p1"});
  e.deleteExpectations("ns/rs");
  EXPECT_TRUE(e.pendingDeletions("ns/rs").empty());
  EXPECT_FALSE(e.get("ns/rs").has_value());
  // An observation after the delete changes nothing.
  e.deletionObserved("ns/rs", "ns/p1");
  EXPECT_FALSE(e.get("ns/rs").has_value());
  // Duplicated keys count once.
  e.expectDeletions("ns/rs", std::vector<std::string>{"ns/p1", "ns/p1"});
  EXPECT_EQ(e.get("ns/rs")->del, 1);
}

}  // namespace
}  // namespace berth::controllers
