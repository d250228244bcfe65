#include "controllers/pod_util.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "api/object.h"
#include "client/fake_client.h"
#include "common/clock.h"

namespace berth::controllers {
namespace {

namespace json = boost::json;
using api::Object;
using client::ObjectPtr;

TimePoint at(const char* s) {
  TimePoint t;
  EXPECT_TRUE(parseRfc3339(s, &t));
  return t;
}

const TimePoint kNow = at("2024-03-01T12:00:00Z");

struct PodSpec {
  std::string name;
  std::string node = "node-a";
  std::string phase = "Running";
  bool ready = true;
  std::string ready_since = "2024-03-01T11:00:00Z";
  std::string created = "2024-03-01T10:00:00Z";
  int restarts = 0;
  std::string cost;
  std::string uid;
};

ObjectPtr pod(const PodSpec& s) {
  Object p;
  json::object meta{
      {"name", s.name}, {"namespace", "ns"}, {"uid", s.uid.empty() ? "uid-" + s.name : s.uid}};
  if (!s.created.empty()) meta["creationTimestamp"] = s.created;
  if (!s.cost.empty()) meta["annotations"] = json::object{{kPodDeletionCostAnnotation, s.cost}};
  p["metadata"] = meta;
  json::object spec;
  if (!s.node.empty()) spec["nodeName"] = s.node;
  p["spec"] = spec;
  json::object status;
  status["phase"] = s.phase;
  json::object ready{{"type", "Ready"}, {"status", s.ready ? "True" : "False"}};
  ready["lastTransitionTime"] = s.ready_since;
  status["conditions"] =
      json::array{json::object{{"type", "PodScheduled"}, {"status", "True"}}, ready};
  status["containerStatuses"] =
      json::array{json::object{{"name", "a"}, {"restartCount", s.restarts}},
                  json::object{{"name", "b"}, {"restartCount", 0}}};
  p["status"] = status;
  return std::make_shared<const Object>(std::move(p));
}

std::vector<std::string> sortedNames(std::vector<ObjectPtr> pods, std::vector<int> ranks,
                                     TimePoint now = kNow) {
  sortActivePodsWithRanks(pods, ranks, now);
  std::vector<std::string> out;
  for (const auto& p : pods) out.push_back(api::name(*p));
  return out;
}

TEST(PodUtil, ReadyAndAvailable) {
  auto ready = pod({.name = "a", .ready_since = "2024-03-01T11:59:50Z"});
  EXPECT_TRUE(isPodReady(*ready));
  EXPECT_TRUE(isPodAvailable(*ready, 0, kNow));
  EXPECT_TRUE(isPodAvailable(*ready, 9, kNow));
  // lastTransitionTime + minReadySeconds must be strictly before now.
  EXPECT_FALSE(isPodAvailable(*ready, 10, kNow));
  EXPECT_FALSE(isPodAvailable(*ready, 60, kNow));
  auto not_ready = pod({.name = "b", .ready = false});
  EXPECT_FALSE(isPodReady(*not_ready));
  EXPECT_FALSE(isPodAvailable(*not_ready, 0, kNow));
  Object bare{{"metadata", json::object{{"name", "c"}}}};
  EXPECT_FALSE(isPodReady(bare));
}

TEST(PodUtil, ActiveMeansNotTerminalAndNotDeleting) {
  EXPECT_TRUE(isPodActive(*pod({.name = "a"})));
  EXPECT_TRUE(isPodActive(*pod({.name = "a", .phase = "Pending"})));
  EXPECT_FALSE(isPodActive(*pod({.name = "a", .phase = "Succeeded"})));
  EXPECT_FALSE(isPodActive(*pod({.name = "a", .phase = "Failed"})));
  Object deleting = *pod({.name = "d"});
  api::mutableMetadata(deleting)["deletionTimestamp"] = "2024-03-01T12:00:00Z";
  EXPECT_FALSE(isPodActive(deleting));
  auto active = filterActivePods({pod({.name = "x"}), pod({.name = "y", .phase = "Failed"}),
                                  std::make_shared<const Object>(deleting)});
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(api::name(*active[0]), "x");
}

TEST(PodUtil, KeysAndControllerRef) {
  Object o = *pod({.name = "p"});
  EXPECT_EQ(podKey(o), "ns/p");
  EXPECT_EQ(controllerRef(o), nullptr);
  api::mutableMetadata(o)["ownerReferences"] =
      json::array{json::object{{"kind", "Node"}, {"uid", "n1"}},
                  json::object{{"kind", "ReplicaSet"}, {"uid", "rs1"}, {"controller", true}}};
  ASSERT_NE(controllerRef(o), nullptr);
  EXPECT_EQ(controllerUid(o), "rs1");
}

TEST(PodUtil, DeletionCostParsesLikeUpstream) {
  EXPECT_EQ(podDeletionCost(*pod({.name = "a"})), 0);
  EXPECT_EQ(podDeletionCost(*pod({.name = "a", .cost = "100"})), 100);
  EXPECT_EQ(podDeletionCost(*pod({.name = "a", .cost = "-5"})), -5);
  EXPECT_EQ(podDeletionCost(*pod({.name = "a", .cost = "0"})), 0);
  EXPECT_EQ(podDeletionCost(*pod({.name = "a", .cost = "+5"})), 0);
  EXPECT_EQ(podDeletionCost(*pod({.name = "a", .cost = "007"})), 0);
  EXPECT_EQ(podDeletionCost(*pod({.name = "a", .cost = "2147483648"})), 0);
  EXPECT_EQ(podDeletionCost(*pod({.name = "a", .cost = "12x"})), 0);
  EXPECT_EQ(maxContainerRestarts(*pod({.name = "a", .restarts = 7})), 7);
}

TEST(PodUtil, RankingUnassignedPendingNotReadyFirst) {
  std::vector<ObjectPtr> pods{
      pod({.name = "running-ready"}),
      pod({.name = "running-notready", .ready = false}),
      pod({.name = "unknown", .phase = "Unknown", .ready = false}),
      pod({.name = "pending", .phase = "Pending", .ready = false}),
      pod({.name = "unassigned", .node = "", .phase = "Pending", .ready = false}),
  };
  EXPECT_EQ(sortedNames(pods, {0, 0, 0, 0, 0}),
            (std::vector<std::string>{"unassigned", "pending", "unknown", "running-notready",
                                      "running-ready"}));
}

TEST(PodUtil, RankingDeletionCostThenRank) {
  std::vector<ObjectPtr> pods{
      pod({.name = "expensive", .cost = "10"}),
      pod({.name = "cheap", .cost = "-10"}),
      pod({.name = "doubled", .node = "node-b"}),
      pod({.name = "single", .node = "node-c"}),
  };
  // Cost first (lower first), then more colocated pods first.
  EXPECT_EQ(sortedNames(pods, {0, 0, 3, 1}),
            (std::vector<std::string>{"cheap", "doubled", "single", "expensive"}));
}

TEST(PodUtil, RankingReadyTimeInLogarithmicBuckets) {
  // Ready 10s and 15s ago fall in the same log2 bucket (2^33..2^34 ns):
  // ordered by uid. Ready an hour ago is in a later bucket: last.
  std::vector<ObjectPtr> pods{
      pod({.name = "hour", .ready_since = "2024-03-01T11:00:00Z", .uid = "a"}),
      pod({.name = "fifteen", .ready_since = "2024-03-01T11:59:45Z", .uid = "z"}),
      pod({.name = "ten", .ready_since = "2024-03-01T11:59:50Z", .uid = "m"}),
  };
  EXPECT_EQ(sortedNames(pods, {0, 0, 0}), (std::vector<std::string>{"ten", "fifteen", "hour"}));
  // A zero reference time compares exactly: more recently ready first.
  EXPECT_EQ(sortedNames(pods, {0, 0, 0}, TimePoint{}),
            (std::vector<std::string>{"ten", "fifteen", "hour"}));
  std::vector<ObjectPtr> swapped{
      pod({.name = "fifteen", .ready_since = "2024-03-01T11:59:45Z", .uid = "b"}),
      pod({.name = "ten", .ready_since = "2024-03-01T11:59:50Z", .uid = "y"}),
  };
  EXPECT_EQ(sortedNames(swapped, {0, 0}), (std::vector<std::string>{"fifteen", "ten"}));
  EXPECT_EQ(sortedNames(swapped, {0, 0}, TimePoint{}),
            (std::vector<std::string>{"ten", "fifteen"}));
}

TEST(PodUtil, RankingRestartsThenCreationTime) {
  std::vector<ObjectPtr> pods{
      pod({.name = "old", .created = "2024-02-01T00:00:00Z"}),
      pod({.name = "new", .created = "2024-03-01T11:00:00Z"}),
      pod({.name = "crashy", .created = "2024-02-01T00:00:00Z", .restarts = 4}),
      pod({.name = "nocreation", .created = ""}),
  };
  EXPECT_EQ(sortedNames(pods, {0, 0, 0, 0}),
            (std::vector<std::string>{"crashy", "nocreation", "new", "old"}));
}


// The controller-UID index files owned pods under their controller and
// orphans per namespace; a controller reads its own pods and the orphans
// it may adopt, never another controller's pods or another namespace's.
TEST(PodControllerUidIndex, OwnedAndOrphanPods) {
  FakeClock clock(kNow);
  client::FakeClient fake(clock);
  client::Informer pods(fake, client::kind("", "Pod"));
  addPodControllerUidIndex(pods);
  auto make = [](const std::string& ns, const std::string& name, const std::string& owner) {
    json::object meta{{"name", name}, {"namespace", ns}, {"uid", "uid-" + ns + "-" + name}};
    if (!owner.empty())
      meta["ownerReferences"] = json::array{json::object{
          {"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", owner}, {"uid", owner}, {"controller", true}}};
    return std::make_shared<const Object>(Object{{"metadata", meta}});
  };
  pods.injectUpsert(make("ns", "mine-1", "rs-a"));
  pods.injectUpsert(make("ns", "mine-2", "rs-a"));
  pods.injectUpsert(make("ns", "theirs", "rs-b"));
  pods.injectUpsert(make("ns", "orphan", ""));
  pods.injectUpsert(make("other", "orphan", ""));
  auto names = [](const std::vector<ObjectPtr>& v) {
    std::vector<std::string> out;
    for (const auto& p : v) out.push_back(api::namespaceOf(*p) + "/" + api::name(*p));
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(names(ownedAndOrphanPods(pods, "ns", "rs-a")),
            (std::vector<std::string>{"ns/mine-1", "ns/mine-2", "ns/orphan"}));
  EXPECT_EQ(names(ownedAndOrphanPods(pods, "other", "rs-b")),
            (std::vector<std::string>{"ns/theirs", "other/orphan"}));
  // Adoption moves a pod from the orphans to its controller.
  pods.injectUpsert(make("ns", "orphan", "rs-b"));
  EXPECT_EQ(names(ownedAndOrphanPods(pods, "ns", "rs-a")), (std::vector<std::string>{"ns/mine-1", "ns/mine-2"}));
  EXPECT_EQ(names(pods.byIndex(kPodControllerUidIndex, "rs-b")),
            (std::vector<std::string>{"ns/orphan", "ns/theirs"}));
}

}  // namespace
}  // namespace berth::controllers
