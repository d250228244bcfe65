#include "scheduler/resource.h"

#include <gtest/gtest.h>

#include "scheduler/pod_info.h"
#include "scheduler/test_util.h"

namespace berth::scheduler {
namespace {

using testing::PodBuilder;
namespace json = boost::json;

TEST(QuantityTest, MilliValueRoundsUpLikeQuantity) {
  EXPECT_EQ(quantityMilliValue(json::value("100m")), 100);
  EXPECT_EQ(quantityMilliValue(json::value("0.1")), 100);
  EXPECT_EQ(quantityMilliValue(json::value("1")), 1000);
  EXPECT_EQ(quantityMilliValue(json::value("2.5")), 2500);
  EXPECT_EQ(quantityMilliValue(json::value("1500u")), 2);  // 1.5m rounds up
  EXPECT_EQ(quantityMilliValue(json::value(3)), 3000);
  EXPECT_EQ(quantityMilliValue(json::value("bogus")), 0);
}

TEST(QuantityTest, ValueRoundsUp) {
  EXPECT_EQ(quantityValue(json::value("1Gi")), 1073741824);
  EXPECT_EQ(quantityValue(json::value("16Gi")), int64_t{16} * 1073741824);
  EXPECT_EQ(quantityValue(json::value("1k")), 1000);
  EXPECT_EQ(quantityValue(json::value("500m")), 1);
  EXPECT_EQ(quantityValue(json::value("110")), 110);
  EXPECT_EQ(quantityValue(json::value("1e3")), 1000);
}

TEST(ResourceTest, FromListSplitsNativeAndScalar) {
  json::object list{{"cpu", "2"},
                    {"memory", "1Gi"},
                    {"pods", "110"},
                    {"ephemeral-storage", "10Gi"},
                    {"nvidia.com/gpu", "2"},
                    {"hugepages-2Mi", "4Mi"},
                    {"requests.cpu", "1"},
                    {"foo", "3"}};
  Resource r = resourceFromList(&list);
  EXPECT_EQ(r.milli_cpu, 2000);
  EXPECT_EQ(r.memory, 1073741824);
  EXPECT_EQ(r.allowed_pod_number, 110);
  EXPECT_EQ(r.ephemeral_storage, int64_t{10} * 1073741824);
  EXPECT_EQ(r.scalar("nvidia.com/gpu"), 2);
  EXPECT_EQ(r.scalar("hugepages-2Mi"), 4 * 1048576);
  // Not scalar: a quota name and an unprefixed unknown name.
  EXPECT_EQ(r.scalar("requests.cpu"), 0);
  EXPECT_EQ(r.scalar("foo"), 0);
  EXPECT_EQ(r.scalars.size(), 2u);
}

TEST(ResourceTest, ScalarResourceNames) {
  EXPECT_TRUE(isScalarResourceName("example.com/dongle"));
  EXPECT_TRUE(isScalarResourceName("kubernetes.io/something"));
  EXPECT_TRUE(isScalarResourceName("hugepages-1Gi"));
  EXPECT_TRUE(isScalarResourceName("attachable-volumes-aws-ebs"));
  EXPECT_FALSE(isScalarResourceName("cpu"));
  EXPECT_FALSE(isScalarResourceName("requests.example.com/x"));
}

TEST(ResourceTest, AddSubtractMax) {
  Resource a;
  a.milli_cpu = 100;
  a.memory = 10;
  a.addScalar("x.io/a", 1);
  Resource b;
  b.milli_cpu = 50;
  b.memory = 20;
  b.addScalar("x.io/a", 5);
  b.addScalar("x.io/b", 2);
  Resource sum = a;
  sum.add(b);
  EXPECT_EQ(sum.milli_cpu, 150);
  EXPECT_EQ(sum.scalar("x.io/a"), 6);
  EXPECT_EQ(sum.scalar("x.io/b"), 2);
  sum.subtract(b);
  EXPECT_EQ(sum.milli_cpu, 100);
  EXPECT_EQ(sum.scalar("x.io/a"), 1);
  Resource m = a;
  m.setMax(b);
  EXPECT_EQ(m.milli_cpu, 100);
  EXPECT_EQ(m.memory, 20);
  EXPECT_EQ(m.scalar("x.io/a"), 5);
  EXPECT_FALSE(m.isEmptyRequest());
  EXPECT_TRUE(Resource{}.isEmptyRequest());
}

TEST(PodRequestsTest, ContainersAreSummed) {
  auto p = PodBuilder("p").req("500m", "1Gi").addContainer("img", "250m", "512Mi").info();
  EXPECT_EQ(p->resources.requests.milli_cpu, 750);
  EXPECT_EQ(p->resources.requests.memory, 1536 * 1048576LL);
}

TEST(PodRequestsTest, InitContainersTakeTheMaxAsUpstreamExample) {
  // computePodResourceRequest's doc example: IC1 2/1G, IC2 2/3G, C1 2/1G, C2 1/1G -> 3 / 3G.
  auto p = PodBuilder("p")
               .req("2", "1G")
               .addContainer("img", "1", "1G")
               .init("2", "1G")
               .init("2", "3G")
               .info();
  EXPECT_EQ(p->resources.requests.milli_cpu, 3000);
  EXPECT_EQ(p->resources.requests.memory, 3000000000LL);
}

TEST(PodRequestsTest, SidecarsAddToContainersAndToLaterInitContainers) {
  // Sidecar 1 cpu, then an init container of 2 cpu (runs with the sidecar:
  // 3), regular container 1 cpu (+ sidecar = 2). Max is 3.
  auto p = PodBuilder("p").req("1").init("1", "", true).init("2", "").info();
  EXPECT_EQ(p->resources.requests.milli_cpu, 3000);
  // An init container before the sidecar does not count it.
  auto q = PodBuilder("q").req("1").init("2", "").init("1", "", true).info();
  EXPECT_EQ(q->resources.requests.milli_cpu, 2000);
}

TEST(PodRequestsTest, OverheadIsAdded) {
  auto p = PodBuilder("p").req("1", "1Gi").overhead("250m", "100Mi").info();
  EXPECT_EQ(p->resources.requests.milli_cpu, 1250);
  EXPECT_EQ(p->resources.requests.memory, (1024 + 100) * 1048576LL);
}

TEST(PodRequestsTest, NonZeroDefaultsApplyToMissingRequestsOnly) {
  auto none = PodBuilder("p").info();
  EXPECT_EQ(none->resources.requests.milli_cpu, 0);
  EXPECT_EQ(none->resources.non0_milli_cpu, kDefaultMilliCpuRequest);
  EXPECT_EQ(none->resources.non0_memory, kDefaultMemoryRequest);
  // cpu given, memory missing: memory defaults, cpu does not.
  auto cpu_only = PodBuilder("p").req("300m").info();
  EXPECT_EQ(cpu_only->resources.non0_milli_cpu, 300);
  EXPECT_EQ(cpu_only->resources.non0_memory, kDefaultMemoryRequest);
  // An explicit zero stays zero.
  auto zero = PodBuilder("p").req("0", "0").info();
  EXPECT_EQ(zero->resources.non0_milli_cpu, 0);
  EXPECT_EQ(zero->resources.non0_memory, 0);
  // Two containers without requests count the defaults twice.
  auto two = PodBuilder("p").addContainer("img").info();
  EXPECT_EQ(two->resources.non0_milli_cpu, 2 * kDefaultMilliCpuRequest);
}

TEST(PodRequestsTest, ExtendedResourcesAreScalars) {
  auto p = PodBuilder("p").reqResource("example.com/gpu", "2").info();
  EXPECT_EQ(p->resources.requests.scalar("example.com/gpu"), 2);
  EXPECT_FALSE(p->resources.requests.isEmptyRequest());
}

}  // namespace
}  // namespace berth::scheduler
