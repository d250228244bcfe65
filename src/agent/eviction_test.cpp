#include "agent/eviction.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "api/kinds/access.h"
#include "common/clock.h"

namespace berth::agent {
namespace {

namespace json = boost::json;
using api::Object;

constexpr uint64_t kMi = 1ull << 20;
constexpr uint64_t kGi = 1ull << 30;

Object parse(const std::string& text) { return json::parse(text).as_object(); }

// A pod with one container "main" requesting `memory` / `storage` ("" for none).
Object pod(const std::string& name, const std::string& memory = "", int64_t priority = 0,
           const std::string& storage = "", const std::string& annotations = "{}") {
  json::object requests;
  if (!memory.empty()) requests["memory"] = memory;
  if (!storage.empty()) requests["ephemeral-storage"] = storage;
  json::object container{{"name", "main"}, {"resources", json::object{{"requests", requests}}}};
  return json::object{
      {"metadata",
       json::object{
           {"name", name}, {"namespace", "default"}, {"annotations", json::parse(annotations)}}},
      {"spec", json::object{{"priority", priority}, {"containers", json::array{container}}}}};
}

PodUsage usage(const Object& p, uint64_t memory, uint64_t disk = 0) {
  PodUsage u;
  u.key = "default/" + api::strAt(p, {"metadata", "name"});
  u.pod = &p;
  u.memory_working_set = memory;
  u.disk_bytes = disk;
  u.containers.push_back({"main", memory, disk});
  return u;
}

std::vector<std::string> keys(const std::vector<const PodUsage*>& ranked) {
  std::vector<std::string> out;
  for (const PodUsage* p : ranked) out.push_back(p->key);
  return out;
}

node::MachineUsage machine(uint64_t memory_available, uint64_t fs_available = 50 * kGi) {
  node::MachineUsage m;
  m.memory_available_bytes = memory_available;
  m.fs_capacity_bytes = 100 * kGi;
  m.fs_available_bytes = fs_available;
  m.fs_inodes = 1000000;
  m.fs_inodes_free = 900000;
  return m;
}

TEST(EvictionTest, MemoryRankingExceedsRequestsThenPriorityThenUsageAboveRequest) {
  Object within = pod("within", "1Gi");           // 512Mi of 1Gi: does not exceed
  Object small = pod("small");                    // 100Mi above its request
  Object big = pod("big");                        // 300Mi above its request
  Object important = pod("important", "", 1000);  // 900Mi above, but higher priority
  Object partial = pod("partial", "200Mi");       // 250Mi: 50Mi above its request
  std::vector<PodUsage> pods{usage(within, 512 * kMi), usage(small, 100 * kMi),
                             usage(big, 300 * kMi), usage(important, 900 * kMi),
                             usage(partial, 250 * kMi)};
  EXPECT_EQ(keys(rankMemoryPressure(pods)),
            (std::vector<std::string>{"default/big", "default/small", "default/partial",
                                      "default/important", "default/within"}));
}

TEST(EvictionTest, LowerPriorityGoesFirstAmongPodsWithinRequests) {
  Object high = pod("high", "1Gi", 100);
  Object low = pod("low", "1Gi", -5);
  // Both within their requests; usage does not matter before priority.
  std::vector<PodUsage> pods{usage(high, 10 * kMi), usage(low, 1 * kMi)};
  EXPECT_EQ(keys(rankMemoryPressure(pods)),
            (std::vector<std::string>{"default/low", "default/high"}));
}

TEST(EvictionTest, DiskRankingUsesEphemeralStorageRequests) {
  Object a = pod("a", "", 0, "10Gi");  // 5Gi of 10Gi
  Object b = pod("b", "", 0, "1Gi");   // 2Gi: exceeds by 1Gi
  Object c = pod("c");                 // 3Gi: exceeds by 3Gi
  std::vector<PodUsage> pods{usage(a, 0, 5 * kGi), usage(b, 0, 2 * kGi), usage(c, 0, 3 * kGi)};
  EXPECT_EQ(keys(rankDiskPressure(pods)),
            (std::vector<std::string>{"default/c", "default/b", "default/a"}));
}

TEST(EvictionTest, NoPressureNoEviction) {
  Object p = pod("p");
  std::vector<PodUsage> pods{usage(p, 4 * kGi, 40 * kGi)};
  EXPECT_FALSE(chooseEviction(machine(200 * kMi), {}, pods).has_value());
  EXPECT_FALSE(chooseEviction(machine(10 * kMi), {}, {}).has_value());
}

TEST(EvictionTest, MemoryPressureEvictsTopRankedWithUpstreamMessage) {
  Object within = pod("within", "1Gi");
  Object hog = pod("hog");
  std::vector<PodUsage> pods{usage(within, 100 * kMi), usage(hog, 812 * kMi)};
  auto d = chooseEviction(machine(42 * kMi), {}, pods);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->pod_key, "default/hog");
  EXPECT_EQ(d->resource, "memory");
  EXPECT_EQ(d->message,
            "The node was low on resource: memory. Threshold quantity: 100Mi, available: 42Mi. "
            "Container main was using 812Mi, request is 0, has larger consumption of memory. ");
  EXPECT_EQ(d->annotations["offending_containers"], "main");
  EXPECT_EQ(d->annotations["offending_containers_usage"], "812Mi");
  EXPECT_EQ(d->annotations["starved_resource"], "memory");
}

TEST(EvictionTest, MessageNamesOnlyContainersAboveTheirRequests) {
  Object p = parse(R"({"metadata": {"name": "two", "namespace": "default"},
    "spec": {"containers": [
      {"name": "app", "resources": {"requests": {"memory": "1.5Gi"}}},
      {"name": "side", "resources": {"requests": {"memory": "1000M"}}}],
     "initContainers": [{"name": "init"}]}})");
  PodUsage u;
  u.key = "default/two";
  u.pod = &p;
  u.memory_working_set = 4 * kGi;
  u.containers = {{"app", 2 * kGi, 0}, {"side", 1000, 0}, {"ghost", 9 * kGi, 0}};
  auto d = chooseEviction(machine(1000), {}, {u});
  ASSERT_TRUE(d.has_value());
  // "side" is within its request; "ghost" is not in the spec; available
  // below 1024 bytes prints in decimal form.
  EXPECT_EQ(d->message,
            "The node was low on resource: memory. Threshold quantity: 100Mi, available: 1k. "
            "Container app was using 2Gi, request is 1536Mi, has larger consumption of memory. ");
  EXPECT_EQ(d->annotations["offending_containers"], "app");
}

TEST(EvictionTest, CriticalPodsAreNeverEvicted) {
  Object system = pod("system", "", kSystemCriticalPriority);
  Object static_pod = pod("static", "", 0, "", R"({"kubernetes.io/config.source": "file"})");
  Object mirror = pod("mirror", "", 0, "", R"({"kubernetes.io/config.mirror": "abc"})");
  Object api_pod = pod("apipod", "", 0, "", R"({"kubernetes.io/config.source": "api"})");
  EXPECT_TRUE(isCriticalPod(system));
  EXPECT_TRUE(isCriticalPod(static_pod));
  EXPECT_TRUE(isCriticalPod(mirror));
  EXPECT_FALSE(isCriticalPod(api_pod));
  EXPECT_FALSE(isCriticalPod(pod("plain", "", kSystemCriticalPriority - 1)));

  std::vector<PodUsage> only_critical{usage(system, 3 * kGi), usage(static_pod, 2 * kGi),
                                      usage(mirror, 2 * kGi)};
  EXPECT_FALSE(chooseEviction(machine(1 * kMi), {}, only_critical).has_value());

  std::vector<PodUsage> pods = only_critical;
  pods.push_back(usage(api_pod, 1 * kMi));
  auto d = chooseEviction(machine(1 * kMi), {}, pods);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->pod_key, "default/apipod");
}

TEST(EvictionTest, DiskPressureEvictsForEphemeralStorage) {
  Object a = pod("a", "", 0, "1Gi");
  Object b = pod("b");
  std::vector<PodUsage> pods{usage(a, 0, 512 * kMi), usage(b, 0, 6 * kGi)};
  // 5Gi available of 100Gi is below nodefs.available<10%.
  auto d = chooseEviction(machine(8 * kGi, 5 * kGi), {}, pods);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->pod_key, "default/b");
  EXPECT_EQ(d->resource, "ephemeral-storage");
  // The 10% is a float32 upstream: 100Gi * float32(0.1) = 10737418400.
  EXPECT_EQ(d->message,
            "The node was low on resource: ephemeral-storage. Threshold quantity: 10737418400, "
            "available: 5Gi. Container main was using 6Gi, request is 0, has larger consumption "
            "of ephemeral-storage. ");
  // 11Gi available: no disk pressure.
  EXPECT_FALSE(chooseEviction(machine(8 * kGi, 11 * kGi), {}, pods).has_value());
}

TEST(EvictionTest, MemoryIsReclaimedBeforeDisk) {
  Object mem = pod("mem");
  Object disk = pod("disk");
  std::vector<PodUsage> pods{usage(disk, 1 * kMi, 50 * kGi), usage(mem, 2 * kGi, 0)};
  auto d = chooseEviction(machine(10 * kMi, 1 * kGi), {}, pods);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->resource, "memory");
  EXPECT_EQ(d->pod_key, "default/mem");
}

TEST(EvictionTest, InodePressureAloneEvictsNothing) {
  Object p = pod("p");
  node::MachineUsage m = machine(8 * kGi);
  m.fs_inodes_free = 10;
  EXPECT_TRUE(node::evaluatePressure(m, {}).disk);
  EXPECT_FALSE(chooseEviction(m, {}, {usage(p, 1 * kGi, 1 * kGi)}).has_value());
}

TEST(EvictionTest, PodRequestsSumContainersMaxInitAddOverhead) {
  Object p = parse(R"({"spec": {
    "containers": [{"name": "a", "resources": {"requests": {"memory": "100Mi"}}},
                   {"name": "b", "resources": {"requests": {"memory": "200Mi"}}}],
    "initContainers": [{"name": "i", "resources": {"requests": {"memory": "500Mi"}}}],
    "overhead": {"memory": "10Mi"}}})");
  EXPECT_EQ(podRequestBytes(p, "memory"), 510 * kMi);
  EXPECT_EQ(podRequestBytes(p, "ephemeral-storage"), 0u);
  Object sidecar = parse(R"({"spec": {
    "containers": [{"name": "a", "resources": {"requests": {"memory": "300Mi"}}}],
    "initContainers": [
      {"name": "s", "restartPolicy": "Always", "resources": {"requests": {"memory": "50Mi"}}},
      {"name": "i", "resources": {"requests": {"memory": "100Mi"}}}]}})");
  EXPECT_EQ(podRequestBytes(sidecar, "memory"), 350 * kMi);
  EXPECT_EQ(podPriority(p), 0);
}

TEST(EvictionTest, QuantityFormatting) {
  EXPECT_EQ(binaryQuantity(0), "0");
  EXPECT_EQ(binaryQuantity(1000), "1k");
  EXPECT_EQ(binaryQuantity(1023), "1023");
  EXPECT_EQ(binaryQuantity(1024), "1Ki");
  EXPECT_EQ(binaryQuantity(1025), "1025");
  EXPECT_EQ(binaryQuantity(1536 * kMi), "1536Mi");
  EXPECT_EQ(binaryQuantity(static_cast<int64_t>(2 * kGi)), "2Gi");
  EXPECT_EQ(canonicalQuantity("1.5Gi"), "1536Mi");
  EXPECT_EQ(canonicalQuantity("1000M"), "1G");
  EXPECT_EQ(canonicalQuantity("100Mi"), "100Mi");
  EXPECT_EQ(canonicalQuantity("128974848"), "128974848");
  EXPECT_EQ(canonicalQuantity(""), "0");
}

TEST(EvictionTest, EvictedStatusAddsDisruptionTarget) {
  TimePoint now = std::chrono::system_clock::from_time_t(1700000000);
  Object p = parse(R"({"metadata": {"name": "p"}, "status": {"phase": "Running",
    "podIP": "10.0.0.5",
    "conditions": [{"type": "Ready", "status": "True"}]}})");
  json::object s = evictedStatus(p, "The node was low on resource: memory. ", now);
  EXPECT_EQ(s.at("phase"), "Failed");
  EXPECT_EQ(s.at("reason"), "Evicted");
  EXPECT_EQ(s.at("message"), "The node was low on resource: memory. ");
  EXPECT_EQ(s.at("podIP"), "10.0.0.5");
  const json::array& conditions = s.at("conditions").as_array();
  ASSERT_EQ(conditions.size(), 2u);
  EXPECT_EQ(conditions[0].at("type"), "Ready");
  const json::object& dt = conditions[1].as_object();
  EXPECT_EQ(dt.at("type"), "DisruptionTarget");
  EXPECT_EQ(dt.at("status"), "True");
  EXPECT_EQ(dt.at("reason"), "TerminationByKubelet");
  EXPECT_EQ(dt.at("message"), "The node was low on resource: memory. ");
  EXPECT_EQ(api::strAt(dt, {"lastTransitionTime"}), formatRfc3339(now));

  // Already True: the transition time stays.
  Object again = parse(R"({"status": {"conditions": [{"type": "DisruptionTarget",
    "status": "True", "lastTransitionTime": "2023-01-01T00:00:00Z", "reason": "Old"}]}})");
  json::object s2 = evictedStatus(again, "m", now);
  ASSERT_EQ(s2.at("conditions").as_array().size(), 1u);
  EXPECT_EQ(s2.at("conditions").as_array()[0].at("lastTransitionTime"), "2023-01-01T00:00:00Z");
  EXPECT_EQ(s2.at("conditions").as_array()[0].at("reason"), "TerminationByKubelet");
}

class CgroupWorkingSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-eviction-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
  }
  std::string dir_;
};

TEST_F(CgroupWorkingSetTest, UsageMinusTotalInactiveFile) {
  write("memory.usage_in_bytes", "1000000\n");
  write("memory.stat", "cache 5\ninactive_file 999\ntotal_cache 7\ntotal_inactive_file 300000\n");
  auto ws = cgroupMemoryWorkingSet(dir_);
  ASSERT_TRUE(ws.ok()) << ws.error().message;
  EXPECT_EQ(*ws, 700000u);
}

TEST_F(CgroupWorkingSetTest, NeverBelowZeroAndMissingStatIsZeroInactive) {
  write("memory.usage_in_bytes", "100\n");
  write("memory.stat", "total_inactive_file 300000\n");
  auto ws = cgroupMemoryWorkingSet(dir_);
  ASSERT_TRUE(ws.ok());
  EXPECT_EQ(*ws, 0u);
  write("memory.stat", "cache 1\n");
  auto ws2 = cgroupMemoryWorkingSet(dir_);
  ASSERT_TRUE(ws2.ok());
  EXPECT_EQ(*ws2, 100u);
}

TEST_F(CgroupWorkingSetTest, MissingCgroupIsNotFoundAndGarbageIsAnError) {
  auto gone = cgroupMemoryWorkingSet(dir_ + "/nope");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
  write("memory.usage_in_bytes", "max\n");
  write("memory.stat", "");
  EXPECT_FALSE(cgroupMemoryWorkingSet(dir_).ok());
}

}  // namespace
}  // namespace berth::agent
