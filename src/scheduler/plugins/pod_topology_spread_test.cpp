#include <gtest/gtest.h>

#include "scheduler/plugins/plugins.h"
#include "scheduler/test_util.h"

namespace berth::scheduler {
namespace {

using testing::NodeBuilder;
using testing::PodBuilder;
namespace json = boost::json;

// A snapshot of nodes and the plugin under test on it.
struct Env {
  std::shared_ptr<Snapshot> snap;
  ProfileConfig config;
  Handle handle;
  std::shared_ptr<Plugin> plugin;

  explicit Env(std::vector<NodeInfoPtr> nodes) : snap(Snapshot::fromNodeInfos(std::move(nodes))) {
    handle.snapshot = snap.get();
    plugin = newPodTopologySpread(config, handle);
  }

  // PreFilter, then Filter on each node; "" for pass, else the message.
  std::vector<std::string> filter(const PodInfo& pod) {
    CycleState state;
    PluginStatus s = dynamic_cast<PreFilterPlugin&>(*plugin).preFilter(state, pod, nullptr);
    std::vector<std::string> out;
    for (NodeInfo* n : snap->list()) {
      if (s.isSkip()) {
        out.push_back("");
        continue;
      }
      PluginStatus f = dynamic_cast<FilterPlugin&>(*plugin).filter(state, pod, *n);
      out.push_back(f.isSuccess() ? "" : f.message());
    }
    return out;
  }

  std::vector<int64_t> scores(const PodInfo& pod) {
    CycleState state;
    std::vector<NodeInfo*> nodes = snap->list();
    PluginStatus s = dynamic_cast<PreScorePlugin&>(*plugin).preScore(state, pod, nodes);
    if (s.isSkip()) return {};
    EXPECT_TRUE(s.isSuccess()) << s.message();
    auto& sp = dynamic_cast<ScorePlugin&>(*plugin);
    NodeScoreList list;
    for (NodeInfo* n : nodes) {
      int64_t v = 0;
      EXPECT_TRUE(sp.score(state, pod, *n, &v).isSuccess());
      list.push_back({n->name(), v});
    }
    EXPECT_TRUE(sp.normalizeScore(state, pod, list).isSuccess());
    std::vector<int64_t> out;
    for (auto& e : list) out.push_back(e.score);
    return out;
  }
};

PodInfoPtr foo(const std::string& name, const std::string& ns = "default") {
  return PodBuilder(name, ns).label("foo", "").info();
}

NodeBuilder zoned(const std::string& name, const std::string& zone) {
  return NodeBuilder(name).label("zone", zone);
}

const char* kSkew = "node(s) didn't match pod topology spread constraints";
const char* kLabel =
    "node(s) didn't match pod topology spread constraints (missing required label)";

TEST(PodTopologySpreadTest, ZoneSkew) {
  Env env({zoned("a", "z1").info({foo("p1")}), zoned("b", "z1").info({foo("p2")}),
           zoned("x", "z2").info(), zoned("y", "z2").info()});
  auto pod = PodBuilder("new").label("foo", "").spread(1, "zone", true, "foo", "").info();
  EXPECT_EQ(env.filter(*pod), (std::vector<std::string>{kSkew, kSkew, "", ""}));
  // maxSkew 3 lets z1 take one more: 2 + 1 - 0 = 3.
  auto skew3 = PodBuilder("new").label("foo", "").spread(3, "zone", true, "foo", "").info();
  EXPECT_EQ(env.filter(*skew3), (std::vector<std::string>{"", "", "", ""}));
}

TEST(PodTopologySpreadTest, HostnameSkewAndSelfMatch) {
  Env env({NodeBuilder("a").info({foo("p1"), foo("p2")}), NodeBuilder("b").info({foo("p3")}),
           NodeBuilder("c").info()});
  auto pod = PodBuilder("new")
                 .label("foo", "")
                 .spread(1, "kubernetes.io/hostname", true, "foo", "")
                 .info();
  EXPECT_EQ(env.filter(*pod), (std::vector<std::string>{kSkew, kSkew, ""}));
  // A pod the selector does not match does not count itself: b is 1 + 0 - 0.
  auto other = PodBuilder("new")
                   .label("bar", "")
                   .spread(1, "kubernetes.io/hostname", true, "foo", "")
                   .info();
  EXPECT_EQ(env.filter(*other), (std::vector<std::string>{kSkew, "", ""}));
}

TEST(PodTopologySpreadTest, MissingTopologyLabelIsUnresolvable) {
  Env env({zoned("a", "z1").info(), NodeBuilder("nolabel").info()});
  auto pod = PodBuilder("new").label("foo", "").spread(1, "zone", true, "foo", "").info();
  EXPECT_EQ(env.filter(*pod), (std::vector<std::string>{"", kLabel}));
  CycleState state;
  dynamic_cast<PreFilterPlugin&>(*env.plugin).preFilter(state, *pod, nullptr);
  EXPECT_EQ(dynamic_cast<FilterPlugin&>(*env.plugin)
                .filter(state, *pod, *env.snap->get("nolabel"))
                .code(),
            Code::kUnschedulableAndUnresolvable);
}

TEST(PodTopologySpreadTest, MinDomainsTreatsMissingDomainsAsZero) {
  Env env({zoned("a", "z1").info({foo("p1")}), zoned("b", "z2").info({foo("p2")})});
  auto pod = PodBuilder("new").label("foo", "").spread(1, "zone", true, "foo", "").info();
  EXPECT_EQ(env.filter(*pod), (std::vector<std::string>{"", ""}));
  auto min3 = PodBuilder("new")
                  .label("foo", "")
                  .spread(1, "zone", true, "foo", "", json::object{{"minDomains", 3}})
                  .info();
  EXPECT_EQ(env.filter(*min3), (std::vector<std::string>{kSkew, kSkew}));
}

TEST(PodTopologySpreadTest, NodeAffinityPolicy) {
  // z2 is outside the pod's node selector: with Honor (default) it is not a
  // domain, so the minimum is z1's count.
  Env env(
      {zoned("a", "z1").label("pool", "x").info({foo("p1"), foo("p2")}), zoned("b", "z2").info()});
  auto honor = PodBuilder("new")
                   .label("foo", "")
                   .nodeSelector("pool", "x")
                   .spread(1, "zone", true, "foo", "")
                   .info();
  EXPECT_EQ(env.filter(*honor)[0], "");
  auto ignore =
      PodBuilder("new")
          .label("foo", "")
          .nodeSelector("pool", "x")
          .spread(1, "zone", true, "foo", "", json::object{{"nodeAffinityPolicy", "Ignore"}})
          .info();
  EXPECT_EQ(env.filter(*ignore)[0], kSkew);
}

TEST(PodTopologySpreadTest, NodeTaintsPolicy) {
  Env env(
      {zoned("a", "z1").info({foo("p1")}), zoned("b", "z2").taint("t", "", "NoSchedule").info()});
  // Ignore (default): the tainted z2 is a domain with 0 -> a: 1 + 1 - 0 = 2 > 1.
  auto ignore = PodBuilder("new").label("foo", "").spread(1, "zone", true, "foo", "").info();
  EXPECT_EQ(env.filter(*ignore)[0], kSkew);
  auto honor = PodBuilder("new")
                   .label("foo", "")
                   .spread(1, "zone", true, "foo", "", json::object{{"nodeTaintsPolicy", "Honor"}})
                   .info();
  EXPECT_EQ(env.filter(*honor)[0], "");
}

TEST(PodTopologySpreadTest, OtherNamespacesAndTerminatingPodsDoNotCount) {
  Env env({NodeBuilder("a").info(
               {foo("p1", "other"), PodBuilder("p2").label("foo", "").terminating().info()}),
           NodeBuilder("b").info()});
  auto pod = PodBuilder("new")
                 .label("foo", "")
                 .spread(1, "kubernetes.io/hostname", true, "foo", "")
                 .info();
  EXPECT_EQ(env.filter(*pod), (std::vector<std::string>{"", ""}));
}

TEST(PodTopologySpreadTest, NoHardConstraintsSkipsTheFilter) {
  Env env({NodeBuilder("a").info()});
  CycleState state;
  auto soft = PodBuilder("new").spread(1, "zone", false, "foo", "").info();
  EXPECT_TRUE(
      dynamic_cast<PreFilterPlugin&>(*env.plugin).preFilter(state, *soft, nullptr).isSkip());
  EXPECT_TRUE(dynamic_cast<PreFilterPlugin&>(*env.plugin)
                  .preFilter(state, *PodBuilder("p").info(), nullptr)
                  .isSkip());
}

TEST(PodTopologySpreadTest, AddAndRemovePodExtensions) {
  auto victim = foo("victim");
  Env env({NodeBuilder("a").info({victim, foo("p2")}), NodeBuilder("b").info()});
  auto pod = PodBuilder("new")
                 .label("foo", "")
                 .spread(1, "kubernetes.io/hostname", true, "foo", "")
                 .info();
  CycleState state;
  auto& pf = dynamic_cast<PreFilterPlugin&>(*env.plugin);
  auto& f = dynamic_cast<FilterPlugin&>(*env.plugin);
  ASSERT_TRUE(pf.preFilter(state, *pod, nullptr).isSuccess());
  NodeInfo& a = *env.snap->get("a");
  EXPECT_FALSE(f.filter(state, *pod, a).isSuccess());
  // Preemption removes pods from a clone and tells the plugin.
  auto a_clone = a.clone();
  CycleState copy = state.clone();
  for (const PodInfoPtr& p : std::vector<PodInfoPtr>(a.pods())) {
    a_clone->removePod(p->uid);
    ASSERT_TRUE(pf.removePod(copy, *pod, p, *a_clone).isSuccess());
  }
  EXPECT_TRUE(f.filter(copy, *pod, *a_clone).isSuccess());
  // The original state is untouched.
  EXPECT_FALSE(f.filter(state, *pod, a).isSuccess());
  // Adding a matching pod to b makes b as full as a.
  NodeInfo& b = *env.snap->get("b");
  ASSERT_TRUE(pf.addPod(copy, *pod, foo("extra"), b).isSuccess());
  ASSERT_TRUE(pf.addPod(copy, *pod, foo("extra2"), b).isSuccess());
  EXPECT_FALSE(f.filter(copy, *pod, b).isSuccess());
}

TEST(PodTopologySpreadTest, ScoreHostname) {
  Env env({NodeBuilder("a").info({foo("p1"), foo("p2")}), NodeBuilder("b").info({foo("p3")}),
           NodeBuilder("c").info()});
  auto pod = PodBuilder("new")
                 .label("foo", "")
                 .spread(1, "kubernetes.io/hostname", false, "foo", "")
                 .info();
  // weight ln(5) = 1.61: raw 3, 2, 0 -> 100 * (3 + 0 - s) / 3.
  EXPECT_EQ(env.scores(*pod), (std::vector<int64_t>{0, 33, 100}));
  // maxSkew 3 adds 2 to every raw score: 5, 4, 2 -> 100 * (7 - s) / 5.
  auto skew3 = PodBuilder("new")
                   .label("foo", "")
                   .spread(3, "kubernetes.io/hostname", false, "foo", "")
                   .info();
  EXPECT_EQ(env.scores(*skew3), (std::vector<int64_t>{40, 60, 100}));
}

TEST(PodTopologySpreadTest, ScoreZoneAndIgnoredNodes) {
  Env env({zoned("a", "z1").info({foo("p1"), foo("p2")}), zoned("b", "z1").info(),
           zoned("c", "z2").info({foo("p3")}), NodeBuilder("nolabel").info()});
  auto pod = PodBuilder("new").label("foo", "").spread(1, "zone", false, "foo", "").info();
  // weight ln(4) = 1.39: z1 raw 3, z2 raw 1; the unlabeled node scores 0.
  EXPECT_EQ(env.scores(*pod), (std::vector<int64_t>{33, 33, 100, 0}));
  // All counts zero: every eligible node gets 100.
  Env empty({zoned("a", "z1").info(), zoned("b", "z2").info()});
  EXPECT_EQ(empty.scores(*pod), (std::vector<int64_t>{100, 100}));
  // Only hard constraints: nothing to score.
  auto hard = PodBuilder("new").label("foo", "").spread(1, "zone", true, "foo", "").info();
  EXPECT_TRUE(empty.scores(*hard).empty());
}

}  // namespace
}  // namespace berth::scheduler
