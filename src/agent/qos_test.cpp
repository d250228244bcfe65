#include "agent/qos.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace berth::agent {
namespace {

namespace json = boost::json;
using api::Object;

Object parse(const std::string& text) { return json::parse(text).as_object(); }

Object podWith(const std::string& resources, const std::string& extra = "") {
  return parse(R"({"metadata": {"uid": "u1"}, "spec": {)" + extra +
               R"("containers": [{"name": "c", "resources": )" + resources + "}]}}");
}

TEST(QosTest, OomScoreAdjustByClass) {
  const int64_t capacity = 8ll << 30;
  Object guaranteed = podWith(
      R"({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}})");
  Object besteffort = podWith("{}");
  Object burstable = podWith(R"({"requests": {"memory": "2Gi"}})");
  Object tiny = podWith(R"({"requests": {"cpu": "10m"}})");
  Object huge = podWith(R"({"requests": {"memory": "16Gi"}})");
  auto c = [](const Object& pod) { return pod.at("spec").at("containers").at(0).as_object(); };
  EXPECT_EQ(oomScoreAdjust(guaranteed, c(guaranteed), capacity), -997);
  EXPECT_EQ(oomScoreAdjust(besteffort, c(besteffort), capacity), 1000);
  EXPECT_EQ(oomScoreAdjust(burstable, c(burstable), capacity), 750);
  EXPECT_EQ(oomScoreAdjust(tiny, c(tiny), capacity), 999);
  EXPECT_EQ(oomScoreAdjust(huge, c(huge), capacity), 2);
  Object critical = podWith("{}", R"("priority": 2000001000, )");
  EXPECT_EQ(oomScoreAdjust(critical, c(critical), capacity), -997);
}

TEST(QosTest, CpuSharesQuotaAndCgroupParents) {
  EXPECT_EQ(milliCpuToShares(0), 2);
  EXPECT_EQ(milliCpuToShares(1), 2);
  EXPECT_EQ(milliCpuToShares(250), 256);
  EXPECT_EQ(milliCpuToShares(1000), 1024);
  EXPECT_EQ(milliCpuToShares(1000000), 262144);
  EXPECT_EQ(milliCpuToQuota(0), 0);
  EXPECT_EQ(milliCpuToQuota(5), 1000);
  EXPECT_EQ(milliCpuToQuota(500), 50000);
  EXPECT_EQ(milliCpuToQuota(2000), 200000);
  EXPECT_EQ(
      podCgroupParent(podWith(
          R"({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}})")),
      "/kubepods/podu1");
  EXPECT_EQ(podCgroupParent(podWith(R"({"requests": {"cpu": "1"}})")), "/kubepods/burstable/podu1");
  EXPECT_EQ(podCgroupParent(podWith("{}"), "/berth"), "/berth/besteffort/podu1");
  auto r = containerResources(parse(
      R"({"resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": 2, "memory": "1e3"}}})"));
  EXPECT_EQ(r.cpu_request_milli, 250);
  EXPECT_EQ(r.cpu_limit_milli, 2000);
  EXPECT_EQ(r.memory_request, 64 << 20);
  EXPECT_EQ(r.memory_limit, 1000);
}

}  // namespace
}  // namespace berth::agent
