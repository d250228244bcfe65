#include <gtest/gtest.h>

#include "api/object.h"
#include "client/fake_client.h"
#include "scheduler/framework_runtime.h"
#include "scheduler/nominator.h"
#include "scheduler/plugins/plugins.h"
#include "scheduler/test_util.h"

namespace berth::scheduler {
namespace {

using testing::NodeBuilder;
using testing::PodBuilder;
namespace json = boost::json;

// The filters that matter here plus DefaultPreemption over a fixed snapshot
// and a FakeClient holding the pods.
struct Env {
  FakeClock clock;
  client::FakeClient client{clock};
  std::shared_ptr<Snapshot> snap;
  Nominator nominator;
  Handle handle;
  std::unique_ptr<Framework> fw;
  std::vector<ObjectPtr> pdbs;

  explicit Env(std::vector<std::pair<NodeBuilder, std::vector<PodBuilder>>> nodes) {
    std::vector<NodeInfoPtr> infos;
    for (auto& [nb, pods] : nodes) {
      std::vector<PodInfoPtr> ps;
      for (auto& pb : pods) {
        pb.node(api::name(nb.raw()));
        pb.phase("Running");
        ps.push_back(makePodInfo(client.add(client::kind("", "Pod"), pb.raw())));
      }
      infos.push_back(nb.info(ps));
    }
    snap = Snapshot::fromNodeInfos(infos);
    handle.snapshot = snap.get();
    handle.client = &client;
    handle.clock = &clock;
    handle.nominator = &nominator;
    handle.pdbs = [this] { return pdbs; };
    ProfileConfig config;
    config.plugins = {{kNodeUnschedulable, 0}, {kTaintToleration, 3},   {kNodeResourcesFit, 1},
                      {kInterPodAffinity, 2},  {kDefaultPreemption, 0}, {kDefaultBinder, 0}};
    auto r = Framework::create(config, handle, inTreeRegistry());
    EXPECT_TRUE(r.ok());
    fw = std::move(r.value());
  }

  // A scheduling cycle up to PostFilter: the filter statuses of every node,
  // then preemption.
  PluginStatus preempt(const PodInfo& pod, PostFilterResult* result) {
    CycleState state;
    NodeStatusMap statuses;
    PluginStatus s = fw->runPreFilterPlugins(state, pod, nullptr);
    for (NodeInfo* n : snap->list()) {
      PluginStatus f = s.isSuccess() ? fw->runFilterPlugins(state, pod, *n) : s;
      EXPECT_FALSE(f.isSuccess()) << "pod fits " << n->name();
      statuses[n->name()] = f;
    }
    return fw->runPostFilterPlugins(state, pod, statuses, result);
  }

  std::vector<std::string> deleted() {
    std::vector<std::string> out;
    for (const auto& a : client.writes())
      if (a.verb == "delete") out.push_back(a.name);
    return out;
  }
};

PodBuilder pod(const std::string& name, int prio, const std::string& cpu) {
  return PodBuilder(name).priority(prio).req(cpu);
}

TEST(DefaultPreemptionTest, PreemptsLowerPriorityPodAndNominates) {
  Env env({{NodeBuilder("a").capacity("2", "4Gi"), {pod("low", 1, "2")}},
           {NodeBuilder("b").capacity("2", "4Gi"), {pod("high", 20, "2")}}});
  PostFilterResult r;
  auto preemptor = pod("p", 10, "2").info();
  PluginStatus s = env.preempt(*preemptor, &r);
  ASSERT_TRUE(s.isSuccess()) << s.message();
  EXPECT_EQ(r.nominated_node_name, "a");
  EXPECT_EQ(env.deleted(), (std::vector<std::string>{"low"}));
  // The victim was marked DisruptionTarget before its deletion.
  bool marked = false;
  for (const auto& a : env.client.writes())
    if (a.verb == "patch" && a.name == "low" && a.subresource == "status" &&
        a.patch.find("PreemptionByScheduler") != std::string::npos)
      marked = true;
  EXPECT_TRUE(marked);
}

TEST(DefaultPreemptionTest, PicksTheCandidateWithTheFewestAndLeastImportantVictims) {
  // a: two victims of priority 1; b: one victim of priority 1 -> b (smaller sum).
  Env env({{NodeBuilder("a").capacity("2", "4Gi"), {pod("a1", 1, "1"), pod("a2", 1, "1")}},
           {NodeBuilder("b").capacity("2", "4Gi"), {pod("b1", 1, "2")}}});
  PostFilterResult r;
  ASSERT_TRUE(env.preempt(*pod("p", 10, "2").info(), &r).isSuccess());
  EXPECT_EQ(r.nominated_node_name, "b");
  EXPECT_EQ(env.deleted(), (std::vector<std::string>{"b1"}));
}

TEST(DefaultPreemptionTest, LowestHighestPriorityVictimWins) {
  Env env({{NodeBuilder("a").capacity("2", "4Gi"), {pod("a1", 5, "2")}},
           {NodeBuilder("b").capacity("2", "4Gi"), {pod("b1", 3, "1"), pod("b2", 3, "1")}}});
  PostFilterResult r;
  ASSERT_TRUE(env.preempt(*pod("p", 10, "2").info(), &r).isSuccess());
  EXPECT_EQ(r.nominated_node_name, "b");
}

TEST(DefaultPreemptionTest, ReprievesAsManyPodsAsPossibleMostImportantFirst) {
  Env env({{NodeBuilder("a").capacity("3", "4Gi"),
            {pod("low1", 1, "1"), pod("low2", 2, "1"), pod("low3", 3, "1")}}});
  PostFilterResult r;
  // Needs 2 cpu: removing all frees 3; low3 and then low2 come back only
  // while the pod still fits, so low3 stays and low2, low1 go.
  ASSERT_TRUE(env.preempt(*pod("p", 10, "2").info(), &r).isSuccess());
  auto d = env.deleted();
  std::sort(d.begin(), d.end());
  EXPECT_EQ(d, (std::vector<std::string>{"low1", "low2"}));
}

TEST(DefaultPreemptionTest, PdbViolationsAreAvoided) {
  Env env({{NodeBuilder("a").capacity("2", "4Gi"), {pod("guarded", 1, "2").label("app", "db")}},
           {NodeBuilder("b").capacity("2", "4Gi"), {pod("free", 1, "2").label("app", "web")}}});
  env.pdbs.push_back(std::make_shared<const api::Object>(json::object{
      {"metadata", json::object{{"name", "db"}, {"namespace", "default"}}},
      {"spec",
       json::object{{"selector", json::object{{"matchLabels", json::object{{"app", "db"}}}}}}},
      {"status", json::object{{"disruptionsAllowed", 0}}}}));
  PostFilterResult r;
  ASSERT_TRUE(env.preempt(*pod("p", 10, "2").info(), &r).isSuccess());
  // a's only victim is covered by a budget with no disruption left.
  EXPECT_EQ(r.nominated_node_name, "b");
  EXPECT_EQ(env.deleted(), (std::vector<std::string>{"free"}));
}

TEST(DefaultPreemptionTest, NeverPolicyIsNotEligible) {
  Env env({{NodeBuilder("a").capacity("2", "4Gi"), {pod("low", 1, "2")}}});
  PostFilterResult r;
  PluginStatus s = env.preempt(*pod("p", 10, "2").preemptNever().info(), &r);
  EXPECT_EQ(s.code(), Code::kUnschedulable);
  EXPECT_EQ(s.message(), "preemption: not eligible due to preemptionPolicy=Never.");
  EXPECT_TRUE(env.deleted().empty());
}

TEST(DefaultPreemptionTest, NoVictimsAndUnhelpfulNodes) {
  Env env({{NodeBuilder("a").capacity("2", "4Gi"), {pod("peer", 10, "2")}},
           {NodeBuilder("b")
                .capacity("8", "4Gi")
                .taint("node-role.kubernetes.io/control-plane", "", "NoSchedule"),
            {}}});
  PostFilterResult r;
  PluginStatus s = env.preempt(*pod("p", 10, "2").info(), &r);
  EXPECT_EQ(s.code(), Code::kUnschedulable);
  EXPECT_EQ(s.message(),
            "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, "
            "1 Preemption is "
            "not helpful for scheduling.");
  ASSERT_TRUE(r.nominated_node_name.has_value());
  EXPECT_EQ(*r.nominated_node_name, "");
  EXPECT_TRUE(env.deleted().empty());
}

TEST(DefaultPreemptionTest, VictimsThatDoNotHelpAreNotEvicted) {
  // Even without the low pod the node is too small.
  Env env({{NodeBuilder("a").capacity("2", "4Gi"), {pod("low", 1, "1")}}});
  PostFilterResult r;
  PluginStatus s = env.preempt(*pod("p", 10, "3").info(), &r);
  EXPECT_EQ(s.message(), "preemption: 0/1 nodes are available: 1 Insufficient cpu.");
  EXPECT_TRUE(env.deleted().empty());
}

TEST(DefaultPreemptionTest, TerminatingVictimOnNominatedNodeBlocksAnotherRound) {
  Env env({{NodeBuilder("a").capacity("2", "4Gi"), {}}});
  // A victim of an earlier preemption is still terminating on the node.
  auto obj = PodBuilder("low").priority(1).req("2").node("a").terminating().raw();
  obj["status"].as_object()["conditions"] = json::array{json::object{
      {"type", "DisruptionTarget"}, {"status", "True"}, {"reason", "PreemptionByScheduler"}}};
  auto victim = makePodInfo(std::make_shared<const api::Object>(obj));
  env.snap = Snapshot::fromNodeInfos({NodeBuilder("a").capacity("2", "4Gi").info({victim})});
  env.handle.snapshot = env.snap.get();
  PostFilterResult r;
  PluginStatus s = env.preempt(*pod("p", 10, "2").nominated("a").info(), &r);
  EXPECT_EQ(s.message(),
            "preemption: not eligible due to a terminating pod on the nominated node.");
  // Without the nomination it would preempt again.
  EXPECT_TRUE(env.preempt(*pod("p", 10, "2").info(), &r).isSuccess());
}

TEST(DefaultPreemptionTest, ClearsLowerPriorityNominationsOnTheNode) {
  Env env({{NodeBuilder("a").capacity("2", "4Gi"), {pod("low", 1, "2")}}});
  auto other = makePodInfo(
      env.client.add(client::kind("", "Pod"), pod("waiting", 5, "1").nominated("a").raw()));
  env.nominator.add(other, "a");
  PostFilterResult r;
  ASSERT_TRUE(env.preempt(*pod("p", 10, "2").info(), &r).isSuccess());
  EXPECT_EQ(env.nominator.nodeFor(other->uid), "");
  bool cleared = false;
  for (const auto& a : env.client.writes())
    if (a.verb == "patch" && a.name == "waiting" &&
        a.patch.find("nominatedNodeName") != std::string::npos)
      cleared = true;
  EXPECT_TRUE(cleared);
}

}  // namespace
}  // namespace berth::scheduler
