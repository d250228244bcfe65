// Toleration matching and the condition -> taint table (upstream's
// ToleratesTaint, GetMatchingTolerations, getMinTolerationTime and
// nodeConditionToTaintKeyStatusMap).
#include "controllers/nodelifecycle/taints.h"

#include <gtest/gtest.h>

namespace berth::controllers::nodelifecycle {
namespace {

namespace json = boost::json;

Taint unreachable() { return Taint{kTaintUnreachable, "", "NoExecute", ""}; }

TEST(Tolerations, MatchKeyOperatorValueAndEffect) {
  Taint t{"dedicated", "gpu", "NoSchedule", ""};
  EXPECT_TRUE((Toleration{"dedicated", "Equal", "gpu", "NoSchedule", {}}).tolerates(t));
  EXPECT_TRUE(
      (Toleration{"dedicated", "", "gpu", "", {}}).tolerates(t));  // "" is Equal; any effect
  EXPECT_FALSE((Toleration{"dedicated", "Equal", "cpu", "NoSchedule", {}}).tolerates(t));
  EXPECT_TRUE((Toleration{"dedicated", "Exists", "", "NoSchedule", {}}).tolerates(t));
  EXPECT_FALSE((Toleration{"dedicated", "Exists", "", "NoExecute", {}}).tolerates(t));
  EXPECT_TRUE((Toleration{"", "Exists", "", "", {}}).tolerates(t));  // tolerates everything
  EXPECT_FALSE((Toleration{"other", "Exists", "", "", {}}).tolerates(t));
  EXPECT_FALSE((Toleration{"dedicated", "Gt", "gpu", "", {}}).tolerates(t));
}

TEST(Tolerations, MatchingAndMinimumTime) {
  std::vector<Toleration> used;
  std::vector<Taint> taints = {unreachable()};
  EXPECT_TRUE(matchingTolerations({}, {}, &used));
  EXPECT_FALSE(matchingTolerations(taints, {}, &used));
  std::vector<Toleration> tols = {{kTaintUnreachable, "Exists", "", "NoExecute", 300},
                                  {"", "Exists", "", "NoExecute", 600},
                                  {kTaintNotReady, "Exists", "", "NoExecute", 5}};
  ASSERT_TRUE(matchingTolerations(taints, tols, &used));
  ASSERT_EQ(used.size(), 2u);
  EXPECT_EQ(minTolerationTime(used), std::chrono::seconds(300));
  // No seconds on any: forever. Zero or negative: at once. None used: at once.
  EXPECT_EQ(minTolerationTime({{kTaintUnreachable, "Exists", "", "NoExecute", {}}}), std::nullopt);
  EXPECT_EQ(minTolerationTime({{kTaintUnreachable, "Exists", "", "NoExecute", -5}}),
            std::chrono::seconds(0));
  EXPECT_EQ(minTolerationTime({}), std::chrono::seconds(0));
  // One taint not tolerated: not all tolerated.
  taints.push_back(Taint{"x", "", "NoExecute", ""});
  EXPECT_FALSE(matchingTolerations(taints, {tols[0]}, &used));
}

TEST(ConditionTaints, FromConditionsAndUnschedulable) {
  json::object node = json::parse(R"({"spec":{"unschedulable":true},"status":{"conditions":[
      {"type":"Ready","status":"Unknown"},{"type":"MemoryPressure","status":"True"},
      {"type":"DiskPressure","status":"False"},{"type":"PIDPressure","status":"True"},
      {"type":"NetworkUnavailable","status":"True"}]}})")
                          .as_object();
  std::vector<std::string> keys;
  for (const auto& t : conditionTaints(node)) {
    EXPECT_EQ(t.effect, "NoSchedule");
    keys.push_back(t.key);
  }
  EXPECT_EQ(keys,
            (std::vector<std::string>{kTaintUnreachable, kTaintMemoryPressure, kTaintPidPressure,
                                      kTaintNetworkUnavailable, kTaintUnschedulable}));
  json::object not_ready =
      json::parse(R"({"status":{"conditions":[{"type":"Ready","status":"False"}]}})").as_object();
  ASSERT_EQ(conditionTaints(not_ready).size(), 1u);
  EXPECT_EQ(conditionTaints(not_ready)[0].key, kTaintNotReady);
  EXPECT_TRUE(isConditionTaintKey(kTaintUnschedulable));
  EXPECT_FALSE(isConditionTaintKey("dedicated"));
}

TEST(Taints, ParseAndSerialize) {
  json::object node = json::parse(R"({"spec":{"taints":[
      {"key":"a","value":"v","effect":"NoSchedule"},
      {"key":"node.kubernetes.io/unreachable","effect":"NoExecute","timeAdded":"2025-01-01T00:00:00Z"}]}})")
                          .as_object();
  auto taints = parseTaints(node);
  ASSERT_EQ(taints.size(), 2u);
  EXPECT_EQ(noExecuteTaints(taints).size(), 1u);
  EXPECT_EQ(
      json::serialize(taintJson(taints[1])),
      R"({"key":"node.kubernetes.io/unreachable","effect":"NoExecute","timeAdded":"2025-01-01T00:00:00Z"})");
  EXPECT_EQ(json::serialize(taintJson(taints[0])),
            R"({"key":"a","value":"v","effect":"NoSchedule"})");
  json::object pod = json::parse(R"({"spec":{"tolerations":[
      {"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]}})")
                         .as_object();
  auto tols = parseTolerations(pod);
  ASSERT_EQ(tols.size(), 1u);
  EXPECT_EQ(tols[0].toleration_seconds, 300);
  EXPECT_TRUE(tols[0].tolerates(unreachable()));
}

}  // namespace
}  // namespace berth::controllers::nodelifecycle
