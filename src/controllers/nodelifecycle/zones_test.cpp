// Zone keys from node labels and ComputeZoneState's thresholds.
#include "controllers/nodelifecycle/zones.h"

#include <gtest/gtest.h>

namespace berth::controllers::nodelifecycle {
namespace {

namespace json = boost::json;

json::object nodeWithLabels(json::object labels) {
  return json::object{{"metadata", json::object{{"name", "n"}, {"labels", std::move(labels)}}}};
}

TEST(ZonesTest, ZoneKeyFromTopologyLabels) {
  EXPECT_EQ(zoneKey(json::object{{"metadata", json::object{{"name", "n"}}}}), "");
  EXPECT_EQ(zoneKey(nodeWithLabels({{"kubernetes.io/hostname", "n"}})), "");
  EXPECT_EQ(zoneKey(nodeWithLabels({{kLabelTopologyRegion, "r1"}, {kLabelTopologyZone, "a"}})),
            std::string("r1:\0:a", 6));
  // Either one alone is a zone too.
  EXPECT_EQ(zoneKey(nodeWithLabels({{kLabelTopologyZone, "a"}})), std::string(":\0:a", 4));
  EXPECT_EQ(zoneKey(nodeWithLabels({{kLabelTopologyRegion, "r1"}})), std::string("r1:\0:", 5));
  // The beta failure-domain labels come first, as upstream's GetZoneKey.
  EXPECT_EQ(zoneKey(nodeWithLabels({{kLabelTopologyRegion, "r1"},
                                    {kLabelTopologyZone, "a"},
                                    {kLabelFailureDomainBetaRegion, "r2"},
                                    {kLabelFailureDomainBetaZone, "b"}})),
            std::string("r2:\0:b", 6));
  EXPECT_EQ(printableZone(std::string("r1:\0:a", 6)), "r1:a");
  EXPECT_EQ(printableZone(""), "");
}

TEST(ZonesTest, ExcludedFromDisruption) {
  EXPECT_TRUE(excludedFromDisruption(nodeWithLabels({{kLabelExcludeDisruption, ""}})));
  EXPECT_FALSE(excludedFromDisruption(nodeWithLabels({{kLabelTopologyZone, "a"}})));
}

std::vector<std::string> statuses(int ready, int not_ready, const std::string& bad = "Unknown") {
  std::vector<std::string> out(ready, "True");
  out.insert(out.end(), not_ready, bad);
  return out;
}

TEST(ZonesTest, ComputeZoneState) {
  EXPECT_EQ(computeZoneState(statuses(10, 0), 0.55).state, ZoneState::kNormal);
  EXPECT_EQ(computeZoneState(statuses(9, 1), 0.55).state, ZoneState::kNormal);
  EXPECT_EQ(computeZoneState(statuses(9, 1), 0.55).not_ready, 1);
  EXPECT_EQ(computeZoneState(statuses(4, 6), 0.55).state, ZoneState::kPartialDisruption);
  EXPECT_EQ(computeZoneState(statuses(4, 6), 0.55).not_ready, 6);
  EXPECT_EQ(computeZoneState(statuses(5, 5), 0.55).state, ZoneState::kNormal);  // 50%
  // Exactly at the threshold counts.
  EXPECT_EQ(computeZoneState(statuses(9, 11), 0.55).state, ZoneState::kPartialDisruption);
  // Two not-Ready nodes are never a partial disruption, whatever the fraction.
  EXPECT_EQ(computeZoneState(statuses(1, 2), 0.55).state, ZoneState::kNormal);
  EXPECT_EQ(computeZoneState(statuses(2, 3), 0.55).state, ZoneState::kPartialDisruption);
  // No Ready node at all.
  EXPECT_EQ(computeZoneState(statuses(0, 1), 0.55).state, ZoneState::kFullDisruption);
  EXPECT_EQ(computeZoneState(statuses(0, 7, "False"), 0.55).state, ZoneState::kFullDisruption);
  // A node without a Ready condition is not Ready.
  EXPECT_EQ(computeZoneState(statuses(0, 2, ""), 0.55).state, ZoneState::kFullDisruption);
  EXPECT_EQ(computeZoneState({}, 0.55).state, ZoneState::kNormal);
  // The threshold is an option.
  EXPECT_EQ(computeZoneState(statuses(6, 4), 0.4).state, ZoneState::kPartialDisruption);
  EXPECT_STREQ(zoneStateName(ZoneState::kPartialDisruption), "PartialDisruption");
}

}  // namespace
}  // namespace berth::controllers::nodelifecycle
