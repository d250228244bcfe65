#include "scheduler/cache.h"

#include <gtest/gtest.h>

#include "scheduler/test_util.h"

namespace berth::scheduler {
namespace {

using testing::NodeBuilder;
using testing::PodBuilder;
using namespace std::chrono_literals;

std::vector<std::string> names(const Snapshot& s) {
  std::vector<std::string> out;
  for (NodeInfo* n : s.list()) out.push_back(n->name());
  return out;
}

TEST(CacheTest, AssumeConfirmForget) {
  FakeClock clock;
  Cache cache(clock);
  cache.addNode(NodeBuilder("n1").data());
  auto pod = PodBuilder("p").req("1").node("n1").info();
  ASSERT_TRUE(cache.assumePod(pod).ok());
  EXPECT_TRUE(cache.isAssumedPod(pod->uid));
  EXPECT_EQ(cache.nodeInfo("n1")->requested().milli_cpu, 1000);
  // Assuming twice fails.
  EXPECT_FALSE(cache.assumePod(pod).ok());
  cache.finishBinding(pod->uid);
  // The informer add confirms it: no longer assumed, still counted once.
  cache.addPod(PodBuilder("p").req("1").node("n1").info());
  EXPECT_FALSE(cache.isAssumedPod(pod->uid));
  EXPECT_EQ(cache.nodeInfo("n1")->pods().size(), 1u);
  EXPECT_EQ(cache.podCount(), 1u);
  // A confirmed pod cannot be forgotten.
  Status f = cache.forgetPod(pod);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find("wasn't assumed so cannot be forgotten"), std::string::npos);
}

TEST(CacheTest, ForgetUndoesAssume) {
  FakeClock clock;
  Cache cache(clock);
  cache.addNode(NodeBuilder("n1").data());
  auto pod = PodBuilder("p").req("1").hostPort(80).node("n1").info();
  ASSERT_TRUE(cache.assumePod(pod).ok());
  // Forgetting it on another node is refused.
  EXPECT_FALSE(cache.forgetPod(withNodeName(*pod, "n2")).ok());
  ASSERT_TRUE(cache.forgetPod(pod).ok());
  auto ni = cache.nodeInfo("n1");
  EXPECT_EQ(ni->pods().size(), 0u);
  EXPECT_EQ(ni->requested().milli_cpu, 0);
  EXPECT_FALSE(ni->usedPorts().conflicts({"0.0.0.0", "TCP", 80}));
  EXPECT_EQ(cache.podCount(), 0u);
}

TEST(CacheTest, AssumedPodsExpireAfterTtlOnceBound) {
  FakeClock clock;
  Cache cache(clock, 30s);
  cache.addNode(NodeBuilder("n1").data());
  auto bound = PodBuilder("a").req("1").node("n1").info();
  auto binding = PodBuilder("b").req("1").node("n1").info();
  ASSERT_TRUE(cache.assumePod(bound).ok());
  ASSERT_TRUE(cache.assumePod(binding).ok());
  cache.finishBinding(bound->uid);
  clock.advance(29s);
  EXPECT_TRUE(cache.cleanupExpiredAssumedPods().empty());
  clock.advance(2s);
  auto expired = cache.cleanupExpiredAssumedPods();
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0]->uid, bound->uid);
  // The pod whose bind never finished stays.
  EXPECT_TRUE(cache.isAssumedPod(binding->uid));
  EXPECT_EQ(cache.nodeInfo("n1")->requested().milli_cpu, 1000);
  // A late informer add puts the expired pod back.
  cache.addPod(bound);
  EXPECT_EQ(cache.nodeInfo("n1")->requested().milli_cpu, 2000);
}

TEST(CacheTest, ZeroTtlNeverExpires) {
  FakeClock clock;
  Cache cache(clock);
  cache.addNode(NodeBuilder("n1").data());
  auto pod = PodBuilder("a").node("n1").info();
  ASSERT_TRUE(cache.assumePod(pod).ok());
  cache.finishBinding(pod->uid);
  clock.advance(24h);
  EXPECT_TRUE(cache.cleanupExpiredAssumedPods().empty());
  EXPECT_TRUE(cache.isAssumedPod(pod->uid));
}

TEST(CacheTest, UpdateAndRemovePods) {
  FakeClock clock;
  Cache cache(clock);
  cache.addNode(NodeBuilder("n1").data());
  auto v1 = PodBuilder("p").req("1").node("n1").info();
  cache.addPod(v1);
  auto v2 = PodBuilder("p")
                .req("1")
                .label("x", "y")
                .podAffinity(true, "a", "b", "zone")
                .node("n1")
                .info();
  cache.updatePod(v2);
  auto ni = cache.nodeInfo("n1");
  ASSERT_EQ(ni->pods().size(), 1u);
  EXPECT_EQ(ni->pods()[0]->labels.at("x"), "y");
  EXPECT_EQ(ni->podsWithRequiredAntiAffinity().size(), 1u);
  cache.removePod(v2);
  EXPECT_EQ(cache.nodeInfo("n1")->pods().size(), 0u);
  // Removing an unknown pod is harmless.
  cache.removePod(v2);
  EXPECT_EQ(cache.podCount(), 0u);
}

TEST(CacheTest, PodsOnUnknownNodesAndDeletedNodes) {
  FakeClock clock;
  Cache cache(clock);
  // A pod can arrive before its node.
  cache.addPod(PodBuilder("early").req("1").node("n1").info());
  Snapshot snap;
  cache.updateSnapshot(snap);
  EXPECT_EQ(snap.numNodes(), 0u);
  cache.addNode(NodeBuilder("n1").data());
  cache.updateSnapshot(snap);
  ASSERT_EQ(snap.numNodes(), 1u);
  EXPECT_EQ(snap.get("n1")->requested().milli_cpu, 1000);
  // Deleting the node keeps its pods in the cache but not in snapshots.
  cache.removeNode("n1");
  EXPECT_EQ(cache.nodeCount(), 0u);
  cache.updateSnapshot(snap);
  EXPECT_EQ(snap.numNodes(), 0u);
  EXPECT_EQ(snap.get("n1"), nullptr);
  EXPECT_NE(cache.nodeInfo("n1"), nullptr);
  cache.removePod(PodBuilder("early").node("n1").info());
  EXPECT_EQ(cache.nodeInfo("n1"), nullptr);
}

TEST(CacheTest, SnapshotCopiesOnlyChangedNodes) {
  FakeClock clock;
  Cache cache(clock);
  cache.addNode(NodeBuilder("a").data());
  cache.addNode(NodeBuilder("b").data());
  Snapshot snap;
  cache.updateSnapshot(snap);
  NodeInfo* a = snap.get("a");
  NodeInfo* b = snap.get("b");
  int64_t gen_b = b->generation();
  int64_t snap_gen = snap.generation();
  cache.addPod(PodBuilder("p").req("1").node("a").info());
  cache.updateSnapshot(snap);
  // Same objects (the lists point at them), new content for a only.
  EXPECT_EQ(snap.get("a"), a);
  EXPECT_EQ(a->requested().milli_cpu, 1000);
  EXPECT_EQ(b->generation(), gen_b);
  EXPECT_GT(snap.generation(), snap_gen);
  // Nothing changed: nothing copied.
  int64_t gen_a = a->generation();
  cache.updateSnapshot(snap);
  EXPECT_EQ(a->generation(), gen_a);
  // Changing the snapshot copy does not touch the cache.
  a->removePod("default-p-uid");
  EXPECT_EQ(cache.nodeInfo("a")->pods().size(), 1u);
}

TEST(CacheTest, SnapshotAffinityListsFollowPods) {
  FakeClock clock;
  Cache cache(clock);
  cache.addNode(NodeBuilder("a").data());
  cache.addNode(NodeBuilder("b").data());
  Snapshot snap;
  cache.updateSnapshot(snap);
  EXPECT_TRUE(snap.havePodsWithAffinity().empty());
  auto anti = PodBuilder("p").podAffinity(true, "x", "y", "zone").node("b").info();
  cache.addPod(anti);
  cache.updateSnapshot(snap);
  ASSERT_EQ(snap.havePodsWithAffinity().size(), 1u);
  EXPECT_EQ(snap.havePodsWithAffinity()[0]->name(), "b");
  EXPECT_EQ(snap.havePodsWithRequiredAntiAffinity().size(), 1u);
  cache.removePod(anti);
  cache.updateSnapshot(snap);
  EXPECT_TRUE(snap.havePodsWithAffinity().empty());
  EXPECT_TRUE(snap.havePodsWithRequiredAntiAffinity().empty());
}

TEST(CacheTest, NodeOrderInterleavesZones) {
  FakeClock clock;
  Cache cache(clock);
  cache.addNode(NodeBuilder("a1").label(kLabelTopologyZone, "za").data());
  cache.addNode(NodeBuilder("a2").label(kLabelTopologyZone, "za").data());
  cache.addNode(NodeBuilder("a3").label(kLabelTopologyZone, "za").data());
  cache.addNode(NodeBuilder("b1").label(kLabelTopologyZone, "zb").data());
  cache.addNode(NodeBuilder("n").data());
  Snapshot snap;
  cache.updateSnapshot(snap);
  EXPECT_EQ(names(snap), (std::vector<std::string>{"n", "a1", "b1", "a2", "a3"}));
  // A zone change reorders.
  cache.updateNode(NodeBuilder("a3").label(kLabelTopologyZone, "zb").data());
  cache.updateSnapshot(snap);
  EXPECT_EQ(names(snap), (std::vector<std::string>{"n", "a1", "a3", "a2", "b1"}));
  cache.removeNode("b1");
  cache.updateSnapshot(snap);
  EXPECT_EQ(names(snap), (std::vector<std::string>{"n", "a1", "a3", "a2"}));
}

TEST(CacheTest, ImageStatesCountNodes) {
  FakeClock clock;
  Cache cache(clock);
  cache.addNode(NodeBuilder("a").image({"nginx:1"}, 100).data());
  Snapshot snap;
  cache.updateSnapshot(snap);
  EXPECT_EQ(snap.get("a")->imageStates().at("nginx:1").num_nodes, 1);
  cache.addNode(NodeBuilder("b").image({"nginx:1", "redis:7"}, 100).data());
  cache.updateSnapshot(snap);
  // a was not changed but its image spread was.
  EXPECT_EQ(snap.get("a")->imageStates().at("nginx:1").num_nodes, 2);
  EXPECT_EQ(snap.get("b")->imageStates().at("redis:7").num_nodes, 1);
  EXPECT_EQ(snap.get("b")->imageStates().at("nginx:1").size, 100);
  cache.removeNode("b");
  cache.updateSnapshot(snap);
  EXPECT_EQ(snap.get("a")->imageStates().at("nginx:1").num_nodes, 1);
}

TEST(CacheTest, NodeInfoCopiesNameUnschedulableAndTaintsFromItsNode) {
  // The filter and score loops read these from the NodeInfo (not the
  // NodeData), so they must follow every node update into the snapshot.
  FakeClock clock;
  Cache cache(clock);
  cache.addNode(NodeBuilder("n1").unschedulable().taint("k", "v", "NoSchedule").data());
  Snapshot snap;
  cache.updateSnapshot(snap);
  NodeInfo* n1 = snap.get("n1");
  ASSERT_NE(n1, nullptr);
  EXPECT_EQ(n1->name(), "n1");
  EXPECT_TRUE(n1->unschedulable());
  EXPECT_TRUE(n1->hasTaints());
  cache.updateNode(NodeBuilder("n1").data());
  cache.updateSnapshot(snap);
  EXPECT_EQ(snap.get("n1")->name(), "n1");
  EXPECT_FALSE(snap.get("n1")->unschedulable());
  EXPECT_FALSE(snap.get("n1")->hasTaints());
  NodeInfo info;
  info.setNode(NodeBuilder("n2").taint("k", "", "PreferNoSchedule").data());
  EXPECT_EQ(info.name(), "n2");
  EXPECT_TRUE(info.hasTaints());
  EXPECT_EQ(info.clone()->name(), "n2");
  info.removeNode();
  EXPECT_EQ(info.name(), "");
  EXPECT_FALSE(info.hasTaints());
  EXPECT_FALSE(info.unschedulable());
}

}  // namespace
}  // namespace berth::scheduler
