#include <gtest/gtest.h>

#include "scheduler/fit_error.h"
#include "scheduler/framework_runtime.h"
#include "scheduler/nominator.h"
#include "scheduler/parallel.h"
#include "scheduler/plugins/plugins.h"
#include "scheduler/test_util.h"

namespace berth::scheduler {
namespace {

using testing::NodeBuilder;
using testing::PodBuilder;

// A configurable plugin at every extension point.
class FakePlugin final : public PreFilterPlugin,
                         public FilterPlugin,
                         public PreScorePlugin,
                         public ScorePlugin,
                         public ReservePlugin,
                         public PermitPlugin,
                         public BindPlugin {
 public:
  explicit FakePlugin(std::string name) : name_(std::move(name)) {}
  std::string_view name() const override { return name_; }

  PluginStatus preFilter(CycleState&, const PodInfo&, PreFilterResult* r) override {
    ++pre_filter_calls;
    if (r && names) r->node_names = *names;
    return pre_filter;
  }
  PluginStatus filter(const CycleState&, const PodInfo&, const NodeInfo& node) const override {
    ++filter_calls;
    auto it = filter_by_node.find(node.name());
    return it == filter_by_node.end() ? PluginStatus() : it->second;
  }
  PluginStatus preScore(CycleState&, const PodInfo&, const std::vector<NodeInfo*>&) override {
    return pre_score;
  }
  PluginStatus score(const CycleState&, const PodInfo&, const NodeInfo& node,
                     int64_t* out) const override {
    auto it = scores.find(node.name());
    *out = it == scores.end() ? 0 : it->second;
    return {};
  }
  bool hasNormalizeScore() const override { return normalize; }
  PluginStatus normalizeScore(const CycleState&, const PodInfo&, NodeScoreList& l) const override {
    defaultNormalizeScore(kMaxNodeScore, false, l);
    return {};
  }
  PluginStatus reserve(CycleState&, const PodInfo&, const std::string&) override {
    return reserve_status;
  }
  void unreserve(CycleState&, const PodInfo&, const std::string&) override { ++unreserve_calls; }
  PluginStatus permit(CycleState&, const PodInfo&, const std::string&,
                      std::chrono::milliseconds* t) override {
    *t = permit_timeout;
    return permit_status;
  }
  PluginStatus bind(CycleState&, const PodInfo&, const std::string& node) override {
    bound_to = node;
    return bind_status;
  }

  std::string name_;
  PluginStatus pre_filter;
  std::optional<std::set<std::string>> names;
  std::map<std::string, PluginStatus> filter_by_node;
  PluginStatus pre_score;
  std::map<std::string, int64_t> scores;
  bool normalize = false;
  PluginStatus reserve_status;
  PluginStatus permit_status;
  std::chrono::milliseconds permit_timeout{0};
  PluginStatus bind_status;
  std::string bound_to;
  int pre_filter_calls = 0;
  mutable int filter_calls = 0;
  int unreserve_calls = 0;
};

struct Env {
  std::map<std::string, std::shared_ptr<FakePlugin>> fakes;
  Registry registry;
  Handle handle;
  Nominator nominator;
  std::unique_ptr<Framework> fw;

  Env(std::vector<PluginSpec> specs) {
    for (const auto& s : specs) {
      auto p = std::make_shared<FakePlugin>(s.name);
      fakes[s.name] = p;
      registry[s.name] = [p](const ProfileConfig&, Handle&) -> Result<std::shared_ptr<Plugin>> {
        return p;
      };
    }
    handle.nominator = &nominator;
    ProfileConfig config;
    config.plugins = specs;
    auto r = Framework::create(config, handle, registry);
    EXPECT_TRUE(r.ok());
    if (r.ok()) fw = std::move(r.value());
  }
  FakePlugin& operator[](const std::string& n) { return *fakes.at(n); }
};

TEST(FrameworkTest, CreateValidatesPlugins) {
  Handle handle;
  ProfileConfig config;
  config.plugins = {{"Nope", 0}};
  auto r = Framework::create(config, handle, inTreeRegistry());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "plugin \"Nope\" does not exist");
  config.plugins = {{kDefaultBinder, 0}, {kDefaultBinder, 0}};
  EXPECT_FALSE(Framework::create(config, handle, inTreeRegistry()).ok());
  config.plugins = {{kNodeName, 0}};
  EXPECT_FALSE(Framework::create(config, handle, inTreeRegistry()).ok());
  EXPECT_TRUE(Framework::create(defaultProfile(), handle, inTreeRegistry()).ok());
}

TEST(FrameworkTest, DefaultProfileWeightsAndEvents) {
  Handle handle;
  auto fw = Framework::create(defaultProfile(), handle, inTreeRegistry());
  ASSERT_TRUE(fw.ok());
  EXPECT_EQ((*fw)->scorePluginNames(),
            (std::vector<std::string>{kTaintToleration, kNodeAffinity, kNodeResourcesFit,
                                      kPodTopologySpread, kInterPodAffinity,
                                      kNodeResourcesBalancedAllocation, kImageLocality}));
  EXPECT_TRUE((*fw)->hasPostFilterPlugins());
  auto events = (*fw)->eventsByPlugin();
  ASSERT_EQ(events[kNodeResourcesFit].size(), 2u);
  EXPECT_TRUE(events[kNodeResourcesFit][0].covers({EventResource::kPod, kDelete, ""}));
  EXPECT_FALSE(events[kNodeResourcesFit][0].covers({EventResource::kPod, kAdd, ""}));
  EXPECT_TRUE(events[kImageLocality].empty());
}

TEST(FrameworkTest, PreFilterSkipDisablesFilter) {
  Env env({{"A"}, {"B"}});
  env["A"].pre_filter = PluginStatus(Code::kSkip);
  env["A"].filter_by_node["n"] = PluginStatus(Code::kUnschedulable, "A says no");
  CycleState state;
  auto pod = PodBuilder("p").info();
  EXPECT_TRUE(env.fw->runPreFilterPlugins(state, *pod, nullptr).isSuccess());
  EXPECT_TRUE(env.fw->runFilterPlugins(state, *pod, *NodeBuilder("n").info()).isSuccess());
  EXPECT_EQ(env["A"].filter_calls, 0);
}

TEST(FrameworkTest, PreFilterUnschedulableRunsTheRestUnresolvableStops) {
  Env env({{"A"}, {"B"}});
  env["A"].pre_filter = PluginStatus(Code::kUnschedulable, "soft");
  CycleState state;
  auto pod = PodBuilder("p").info();
  PluginStatus s = env.fw->runPreFilterPlugins(state, *pod, nullptr);
  EXPECT_EQ(s.code(), Code::kUnschedulable);
  EXPECT_EQ(s.plugin(), "A");
  EXPECT_EQ(env["B"].pre_filter_calls, 1);
  env["A"].pre_filter = PluginStatus(Code::kUnschedulableAndUnresolvable, "hard");
  s = env.fw->runPreFilterPlugins(state, *pod, nullptr);
  EXPECT_EQ(s.code(), Code::kUnschedulableAndUnresolvable);
  EXPECT_EQ(env["B"].pre_filter_calls, 1);
  env["A"].pre_filter = PluginStatus::error("boom");
  s = env.fw->runPreFilterPlugins(state, *pod, nullptr);
  EXPECT_EQ(s.code(), Code::kError);
  EXPECT_EQ(s.message(), "running PreFilter plugin \"A\": boom");
}

TEST(FrameworkTest, PreFilterResultsIntersect) {
  Env env({{"A"}, {"B"}});
  env["A"].names = std::set<std::string>{"n1", "n2"};
  env["B"].names = std::set<std::string>{"n2", "n3"};
  CycleState state;
  PreFilterResult r;
  auto pod = PodBuilder("p").info();
  ASSERT_TRUE(env.fw->runPreFilterPlugins(state, *pod, &r).isSuccess());
  EXPECT_EQ(*r.node_names, std::set<std::string>{"n2"});
  EXPECT_EQ(r.plugins, (std::vector<std::string>{"A", "B"}));
  env["B"].names = std::set<std::string>{"n3"};
  PluginStatus s = env.fw->runPreFilterPlugins(state, *pod, &r);
  EXPECT_EQ(s.code(), Code::kUnschedulableAndUnresolvable);
  EXPECT_EQ(s.message(), "node(s) didn't satisfy plugin(s) [A B] simultaneously");
  env["A"].names.reset();
  env["B"].names = std::set<std::string>{};
  EXPECT_EQ(env.fw->runPreFilterPlugins(state, *pod, &r).message(),
            "node(s) didn't satisfy plugin B");
}

TEST(FrameworkTest, FilterReturnsFirstFailureWithPlugin) {
  Env env({{"A"}, {"B"}});
  env["A"].filter_by_node["n"] = PluginStatus(Code::kUnschedulable, "A no");
  env["B"].filter_by_node["n"] = PluginStatus(Code::kUnschedulable, "B no");
  CycleState state;
  auto pod = PodBuilder("p").info();
  PluginStatus s = env.fw->runFilterPlugins(state, *pod, *NodeBuilder("n").info());
  EXPECT_EQ(s.message(), "A no");
  EXPECT_EQ(s.plugin(), "A");
  EXPECT_EQ(env["B"].filter_calls, 0);
  env["A"].filter_by_node["n"] = PluginStatus(Code::kWait);
  s = env.fw->runFilterPlugins(state, *pod, *NodeBuilder("n").info());
  EXPECT_EQ(s.code(), Code::kError);
}

TEST(FrameworkTest, ScoresAreNormalizedWeightedAndChecked) {
  Env env({{"A", 2}, {"B", 0}});
  env["A"].scores = {{"n1", 10}, {"n2", 5}};
  env["A"].normalize = true;
  env["B"].scores = {{"n1", 7}, {"n2", 30}};
  Parallelizer par(2);
  env.handle.parallelizer = &par;
  auto n1 = NodeBuilder("n1").info();
  auto n2 = NodeBuilder("n2").info();
  CycleState state;
  auto pod = PodBuilder("p").info();
  std::vector<NodePluginScores> out;
  ASSERT_TRUE(env.fw->runScorePlugins(state, *pod, {n1.get(), n2.get()}, &out).isSuccess());
  ASSERT_EQ(out.size(), 2u);
  // A: 100, 50 after normalizing, weight 2; B: raw, weight 1.
  EXPECT_EQ(out[0].total_score, 200 + 7);
  EXPECT_EQ(out[1].total_score, 100 + 30);
  EXPECT_EQ(out[1].scores, (std::vector<int64_t>{100, 30}));
  // Skipped in PreScore: no score from A.
  env["A"].pre_score = PluginStatus(Code::kSkip);
  ASSERT_TRUE(env.fw->runPreScorePlugins(state, *pod, {n1.get(), n2.get()}).isSuccess());
  ASSERT_TRUE(env.fw->runScorePlugins(state, *pod, {n1.get(), n2.get()}, &out).isSuccess());
  EXPECT_EQ(out[0].total_score, 7);
  // Out of range without normalization is an error.
  env["B"].scores["n1"] = 101;
  PluginStatus s = env.fw->runScorePlugins(state, *pod, {n1.get(), n2.get()}, &out);
  EXPECT_EQ(s.code(), Code::kError);
  EXPECT_EQ(s.message(),
            "plugin \"B\" returns an invalid score 101, it should in the range of [0, 100] after "
            "normalizing");
}

TEST(FrameworkTest, NominatedPodsOfHigherOrEqualPriorityTakeTheirRoom) {
  // The real NodeResourcesFit plugin on a 2 cpu node.
  Handle handle;
  Nominator nominator;
  handle.nominator = &nominator;
  ProfileConfig config;
  config.plugins = {{kNodeResourcesFit, 1}, {kDefaultBinder, 0}};
  auto fw = Framework::create(config, handle, inTreeRegistry());
  ASSERT_TRUE(fw.ok());
  auto node = NodeBuilder("n1").capacity("2", "4Gi").info();
  auto pod = PodBuilder("p").priority(5).req("1500m").info();
  CycleState state;
  ASSERT_TRUE((*fw)->runPreFilterPlugins(state, *pod, nullptr).isSuccess());
  EXPECT_TRUE((*fw)->runFilterPluginsWithNominatedPods(state, *pod, *node).isSuccess());
  // A lower-priority nomination does not count.
  nominator.add(PodBuilder("low").priority(1).req("1").info(), "n1");
  EXPECT_TRUE((*fw)->runFilterPluginsWithNominatedPods(state, *pod, *node).isSuccess());
  // An equal-priority one does.
  nominator.add(PodBuilder("eq").priority(5).req("1").info(), "n1");
  PluginStatus s = (*fw)->runFilterPluginsWithNominatedPods(state, *pod, *node);
  EXPECT_EQ(s.message(), "Insufficient cpu");
  // The pod's own nomination never counts against it.
  nominator.remove("default-eq-uid");
  nominator.add(withNodeName(*pod, ""), "n1");
  EXPECT_TRUE((*fw)->runFilterPluginsWithNominatedPods(state, *pod, *node).isSuccess());
  // The node itself was not changed.
  EXPECT_EQ(node->pods().size(), 0u);
}

TEST(FrameworkTest, ReservePermitBind) {
  Env env({{"A"}});
  CycleState state;
  auto pod = PodBuilder("p").info();
  env["A"].reserve_status = PluginStatus(Code::kUnschedulable, "no room");
  PluginStatus s = env.fw->runReservePluginsReserve(state, *pod, "n");
  EXPECT_EQ(s.plugin(), "A");
  env.fw->runReservePluginsUnreserve(state, *pod, "n");
  EXPECT_EQ(env["A"].unreserve_calls, 1);
  EXPECT_TRUE(env.fw->runPermitPlugins(state, *pod, "n").isSuccess());
  ASSERT_TRUE(env.fw->runBindPlugins(state, *pod, "n").isSuccess());
  EXPECT_EQ(env["A"].bound_to, "n");
  env["A"].bind_status = PluginStatus::error("conflict");
  EXPECT_EQ(env.fw->runBindPlugins(state, *pod, "n").message(),
            "running Bind plugin \"A\": conflict");
}

TEST(FrameworkTest, PermitWaitAllowRejectTimeout) {
  Env env({{"A"}});
  CycleState state;
  auto pod = PodBuilder("p").info();
  env["A"].permit_status = PluginStatus(Code::kWait);
  env["A"].permit_timeout = std::chrono::minutes(1);
  ASSERT_TRUE(env.fw->runPermitPlugins(state, *pod, "n").isWait());
  EXPECT_TRUE(env.fw->allowWaitingPod(pod->uid, "A"));
  EXPECT_TRUE(env.fw->waitOnPermit(*pod).isSuccess());
  EXPECT_FALSE(env.fw->allowWaitingPod(pod->uid, "A"));

  ASSERT_TRUE(env.fw->runPermitPlugins(state, *pod, "n").isWait());
  EXPECT_TRUE(env.fw->rejectWaitingPod(pod->uid, "preempted"));
  PluginStatus s = env.fw->waitOnPermit(*pod);
  EXPECT_TRUE(s.isRejected());
  EXPECT_EQ(s.message(), "preempted");

  env["A"].permit_timeout = std::chrono::milliseconds(0);
  ASSERT_TRUE(env.fw->runPermitPlugins(state, *pod, "n").isWait());
  s = env.fw->waitOnPermit(*pod);
  EXPECT_EQ(s.message(), "rejected due to timeout after waiting at plugin A");
  // Not waiting: waitOnPermit passes.
  EXPECT_TRUE(env.fw->waitOnPermit(*pod).isSuccess());
}

TEST(FitErrorTest, MessagesAsUpstream) {
  NodeStatusMap m;
  m["a"] = PluginStatus(Code::kUnschedulable,
                        std::vector<std::string>{"Insufficient cpu", "Insufficient memory"});
  m["b"] = PluginStatus(Code::kUnschedulable, "Insufficient cpu");
  m["c"] = PluginStatus(Code::kUnschedulableAndUnresolvable,
                        "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }");
  EXPECT_EQ(fitErrorMessage(3, "", m, ""),
            "0/3 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint "
            "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu.");
  EXPECT_EQ(fitErrorMessage(
                3, "", m,
                "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."),
            "0/3 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint "
            "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes "
            "are available: 3 "
            "Preemption is not helpful for scheduling.");
  // A PreFilter message replaces the per-node counts.
  EXPECT_EQ(fitErrorMessage(2, "pod affinity terms conflict", m, ""),
            "0/2 nodes are available: pod affinity terms conflict.");
  EXPECT_EQ(fitErrorMessage(0, "", {}, ""), "0/0 nodes are available:");
}

TEST(ParallelizerTest, RunsEveryIndexOnceAndStops) {
  Parallelizer par(4);
  std::vector<std::atomic<int>> hits(1000);
  par.until(1000, [&](int i) { hits[i]++; });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  std::atomic<bool> stop{false};
  std::atomic<int> count{0};
  par.until(
      100000,
      [&](int) {
        if (++count >= 10) stop = true;
      },
      &stop);
  EXPECT_LT(count.load(), 100000);
  // Nested calls run inline.
  std::atomic<int> nested{0};
  par.until(4, [&](int) { par.until(4, [&](int) { nested++; }); });
  EXPECT_EQ(nested.load(), 16);
}

TEST(FrameworkTest, ScoreTotalsMatchThePerPluginScores) {
  // runScorePluginsTotals is what a scheduling cycle uses; it must give the
  // totals runScorePlugins gives, errors included.
  Env env({{"A", 2}, {"B", 0}});
  env["A"].scores = {{"n1", 10}, {"n2", 5}, {"n3", 0}};
  env["A"].normalize = true;
  env["B"].scores = {{"n1", 7}, {"n2", 30}, {"n3", 100}};
  Parallelizer par(2);
  env.handle.parallelizer = &par;
  auto n1 = NodeBuilder("n1").info();
  auto n2 = NodeBuilder("n2").info();
  auto n3 = NodeBuilder("n3").info();
  std::vector<NodeInfo*> nodes{n1.get(), n2.get(), n3.get()};
  CycleState state;
  auto pod = PodBuilder("p").info();
  std::vector<NodePluginScores> out;
  std::vector<int64_t> totals;
  ASSERT_TRUE(env.fw->runScorePlugins(state, *pod, nodes, &out).isSuccess());
  ASSERT_TRUE(env.fw->runScorePluginsTotals(state, *pod, nodes, &totals).isSuccess());
  ASSERT_EQ(totals.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(totals[i], out[i].total_score);
  EXPECT_EQ(totals, (std::vector<int64_t>{200 + 7, 100 + 30, 0 + 100}));
  EXPECT_EQ(out[2].name, "n3");
  EXPECT_EQ(out[2].scores, (std::vector<int64_t>{0, 100}));
  env["A"].pre_score = PluginStatus(Code::kSkip);
  ASSERT_TRUE(env.fw->runPreScorePlugins(state, *pod, nodes).isSuccess());
  ASSERT_TRUE(env.fw->runScorePluginsTotals(state, *pod, nodes, &totals).isSuccess());
  EXPECT_EQ(totals, (std::vector<int64_t>{7, 30, 100}));
  env["B"].scores["n2"] = -1;
  PluginStatus s = env.fw->runScorePluginsTotals(state, *pod, nodes, &totals);
  EXPECT_EQ(s.code(), Code::kError);
  EXPECT_EQ(s.message(),
            "plugin \"B\" returns an invalid score -1, it should in the range of [0, 100] after "
            "normalizing");
}

}  // namespace
}  // namespace berth::scheduler
