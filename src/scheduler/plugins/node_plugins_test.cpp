#include <gtest/gtest.h>

#include "scheduler/plugins/helpers.h"
#include "scheduler/plugins/plugins.h"
#include "scheduler/test_util.h"

namespace berth::scheduler {
namespace {

using testing::NodeBuilder;
using testing::PodBuilder;
namespace json = boost::json;

struct Fixture {
  ProfileConfig config;
  Handle handle;
};

PluginStatus runFilter(Plugin& plugin, const PodInfo& pod, const NodeInfo& node,
                       PreFilterResult* pre = nullptr) {
  CycleState state;
  if (auto* pf = dynamic_cast<PreFilterPlugin*>(&plugin)) {
    PreFilterResult r;
    PluginStatus s = pf->preFilter(state, pod, &r);
    if (pre) *pre = r;
    if (s.isSkip()) return {};
    if (!s.isSuccess()) return s;
  }
  return dynamic_cast<FilterPlugin&>(plugin).filter(state, pod, node);
}

// Scores every node and normalizes, as the framework does.
std::vector<int64_t> runScores(Plugin& plugin, const PodInfo& pod,
                               const std::vector<NodeInfoPtr>& nodes) {
  CycleState state;
  std::vector<NodeInfo*> ptrs;
  for (const auto& n : nodes) ptrs.push_back(n.get());
  if (auto* ps = dynamic_cast<PreScorePlugin*>(&plugin)) {
    PluginStatus s = ps->preScore(state, pod, ptrs);
    if (s.isSkip()) return std::vector<int64_t>(nodes.size(), -1);
    EXPECT_TRUE(s.isSuccess()) << s.message();
  }
  auto& sp = dynamic_cast<ScorePlugin&>(plugin);
  NodeScoreList list;
  for (auto* n : ptrs) {
    int64_t v = 0;
    EXPECT_TRUE(sp.score(state, pod, *n, &v).isSuccess());
    list.push_back({n->name(), v});
  }
  if (sp.hasNormalizeScore()) {
    EXPECT_TRUE(sp.normalizeScore(state, pod, list).isSuccess());
  }
  std::vector<int64_t> out;
  for (auto& s : list) out.push_back(s.score);
  return out;
}

TEST(NodeNameTest, Filter) {
  Fixture f;
  auto p = newNodeName(f.config, f.handle);
  auto node = NodeBuilder("n1").info();
  EXPECT_TRUE(runFilter(*p, *PodBuilder("p").info(), *node).isSuccess());
  EXPECT_TRUE(runFilter(*p, *PodBuilder("p").node("n1").info(), *node).isSuccess());
  auto s = runFilter(*p, *PodBuilder("p").node("n2").info(), *node);
  EXPECT_EQ(s.code(), Code::kUnschedulableAndUnresolvable);
  EXPECT_EQ(s.message(), "node(s) didn't match the requested node name");
}

TEST(NodeUnschedulableTest, Filter) {
  Fixture f;
  auto p = newNodeUnschedulable(f.config, f.handle);
  auto cordoned = NodeBuilder("n1").unschedulable().info();
  EXPECT_TRUE(runFilter(*p, *PodBuilder("p").info(), *NodeBuilder("n2").info()).isSuccess());
  auto s = runFilter(*p, *PodBuilder("p").info(), *cordoned);
  EXPECT_EQ(s.code(), Code::kUnschedulableAndUnresolvable);
  EXPECT_EQ(s.message(), "node(s) were unschedulable");
  auto tolerant = PodBuilder("p")
                      .toleration("node.kubernetes.io/unschedulable", "Exists", "", "NoSchedule")
                      .info();
  EXPECT_TRUE(runFilter(*p, *tolerant, *cordoned).isSuccess());
  // Tolerating NoExecute only does not tolerate the NoSchedule taint.
  auto wrong_effect = PodBuilder("p")
                          .toleration("node.kubernetes.io/unschedulable", "Exists", "", "NoExecute")
                          .info();
  EXPECT_FALSE(runFilter(*p, *wrong_effect, *cordoned).isSuccess());
}

TEST(NodePortsTest, Filter) {
  Fixture f;
  auto p = newNodePorts(f.config, f.handle);
  auto node = NodeBuilder("n1").info(
      {PodBuilder("e").hostPort(8080).hostPort(53, "UDP", "10.0.0.1").info()});
  EXPECT_TRUE(runFilter(*p, *PodBuilder("p").info(), *node).isSuccess());
  EXPECT_TRUE(runFilter(*p, *PodBuilder("p").hostPort(8081).info(), *node).isSuccess());
  auto s = runFilter(*p, *PodBuilder("p").hostPort(8080).info(), *node);
  EXPECT_EQ(s.code(), Code::kUnschedulable);
  EXPECT_EQ(s.message(), "node(s) didn't have free ports for the requested pod ports");
  EXPECT_TRUE(runFilter(*p, *PodBuilder("p").hostPort(8080, "UDP").info(), *node).isSuccess());
  EXPECT_FALSE(runFilter(*p, *PodBuilder("p").hostPort(53, "UDP").info(), *node).isSuccess());
  EXPECT_TRUE(
      runFilter(*p, *PodBuilder("p").hostPort(53, "UDP", "10.0.0.2").info(), *node).isSuccess());
  // No host ports: PreFilter skips the filter.
  CycleState state;
  EXPECT_TRUE(dynamic_cast<PreFilterPlugin&>(*p)
                  .preFilter(state, *PodBuilder("p").info(), nullptr)
                  .isSkip());
}

TEST(NodeAffinityTest, RequirementOperators) {
  auto node = NodeBuilder("n1").label("zone", "a").label("gen", "5").data();
  struct Case {
    std::string key, op;
    std::vector<std::string> values;
    bool match;
  };
  std::vector<Case> cases = {
      {"zone", "In", {"a", "b"}, true},    {"zone", "In", {"b"}, false},
      {"zone", "NotIn", {"b"}, true},      {"zone", "NotIn", {"a"}, false},
      {"missing", "NotIn", {"a"}, true},   {"zone", "Exists", {}, true},
      {"missing", "Exists", {}, false},    {"missing", "DoesNotExist", {}, true},
      {"zone", "DoesNotExist", {}, false}, {"gen", "Gt", {"4"}, true},
      {"gen", "Gt", {"5"}, false},         {"gen", "Lt", {"6"}, true},
      {"gen", "Lt", {"5"}, false},         {"zone", "Gt", {"1"}, false},
      {"gen", "Gt", {"x"}, false},         {"gen", "Gt", {"1", "2"}, false},
      {"zone", "In", {}, false},           {"zone", "Exists", {"a"}, false},
      {"zone", "Bogus", {"a"}, false},
  };
  for (const auto& c : cases) {
    NodeSelectorTerm term;
    term.match_expressions.push_back({c.key, c.op, c.values});
    EXPECT_EQ(nodeSelectorTermMatches(term, *node), c.match) << c.key << " " << c.op;
  }
  NodeSelectorTerm fields;
  fields.match_fields.push_back({"metadata.name", "In", {"n1"}});
  EXPECT_TRUE(nodeSelectorTermMatches(fields, *node));
  fields.match_fields[0].op = "NotIn";
  EXPECT_FALSE(nodeSelectorTermMatches(fields, *node));
  fields.match_fields[0].key = "metadata.uid";
  EXPECT_FALSE(nodeSelectorTermMatches(fields, *node));
  // An empty term matches nothing.
  EXPECT_FALSE(nodeSelectorTermMatches(NodeSelectorTerm{}, *node));
}

TEST(NodeAffinityTest, FilterNodeSelectorAndRequiredTerms) {
  Fixture f;
  auto p = newNodeAffinity(f.config, f.handle);
  auto node = NodeBuilder("n1").label("zone", "a").label("disk", "ssd").info();
  EXPECT_TRUE(runFilter(*p, *PodBuilder("p").info(), *node).isSuccess());
  EXPECT_TRUE(runFilter(*p, *PodBuilder("p").nodeSelector("zone", "a").info(), *node).isSuccess());
  auto s = runFilter(*p, *PodBuilder("p").nodeSelector("zone", "b").info(), *node);
  EXPECT_EQ(s.code(), Code::kUnschedulableAndUnresolvable);
  EXPECT_EQ(s.message(), "node(s) didn't match Pod's node affinity/selector");
  EXPECT_TRUE(runFilter(*p, *PodBuilder("p").nodeAffinity("disk", "In", {"ssd"}).info(), *node)
                  .isSuccess());
  EXPECT_FALSE(runFilter(*p, *PodBuilder("p").nodeAffinity("disk", "NotIn", {"ssd"}).info(), *node)
                   .isSuccess());
  // nodeSelector and affinity must both hold.
  EXPECT_FALSE(
      runFilter(
          *p, *PodBuilder("p").nodeSelector("zone", "b").nodeAffinity("disk", "In", {"ssd"}).info(),
          *node)
          .isSuccess());
  // Terms are ORed.
  json::value terms = json::object{
      {"nodeSelectorTerms",
       json::array{
           json::object{
               {"matchExpressions",
                json::array{json::object{{"key", "zone"}, {"operator", "In"}, {"values", {"z"}}}}}},
           json::object{{"matchExpressions",
                         json::array{json::object{{"key", "disk"}, {"operator", "Exists"}}}}}}}};
  auto ored = PodBuilder("p")
                  .affinity("nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", terms)
                  .info();
  EXPECT_TRUE(runFilter(*p, *ored, *node).isSuccess());
  // An empty term list matches nothing.
  auto empty = PodBuilder("p")
                   .affinity("nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                             json::object{{"nodeSelectorTerms", json::array{}}})
                   .info();
  EXPECT_FALSE(runFilter(*p, *empty, *node).isSuccess());
}

TEST(NodeAffinityTest, PreFilterNarrowsToNamedNodes) {
  Fixture f;
  auto p = newNodeAffinity(f.config, f.handle);
  auto term = [](std::vector<std::string> names) {
    json::array vals;
    for (auto& n : names) vals.push_back(json::value(n));
    return json::object{
        {"matchFields", json::array{json::object{
                            {"key", "metadata.name"}, {"operator", "In"}, {"values", vals}}}}};
  };
  auto pod =
      PodBuilder("p")
          .affinity(
              "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
              json::object{{"nodeSelectorTerms", json::array{term({"n1", "n2"}), term({"n3"})}}})
          .info();
  PreFilterResult r;
  CycleState state;
  EXPECT_TRUE(dynamic_cast<PreFilterPlugin&>(*p).preFilter(state, *pod, &r).isSuccess());
  ASSERT_FALSE(r.allNodes());
  EXPECT_EQ(*r.node_names, (std::set<std::string>{"n1", "n2", "n3"}));
  // A term without a name requirement allows all nodes.
  auto mixed =
      PodBuilder("p")
          .affinity("nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                    json::object{
                        {"nodeSelectorTerms",
                         json::array{term({"n1"}),
                                     json::object{{"matchExpressions",
                                                   json::array{json::object{
                                                       {"key", "a"}, {"operator", "Exists"}}}}}}}})
          .info();
  PreFilterResult all;
  EXPECT_TRUE(dynamic_cast<PreFilterPlugin&>(*p).preFilter(state, *mixed, &all).isSuccess());
  EXPECT_TRUE(all.allNodes());
  // Conflicting requirements within one term: nothing fits.
  json::object conflict{
      {"matchFields",
       json::array{
           json::object{{"key", "metadata.name"}, {"operator", "In"}, {"values", {"n1"}}},
           json::object{{"key", "metadata.name"}, {"operator", "In"}, {"values", {"n2"}}}}}};
  auto bad = PodBuilder("p")
                 .affinity("nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                           json::object{{"nodeSelectorTerms", json::array{conflict}}})
                 .info();
  PluginStatus s = dynamic_cast<PreFilterPlugin&>(*p).preFilter(state, *bad, nullptr);
  EXPECT_EQ(s.code(), Code::kUnschedulableAndUnresolvable);
  EXPECT_EQ(s.message(), "pod affinity terms conflict");
  // No affinity and no selector: the filter is skipped.
  EXPECT_TRUE(dynamic_cast<PreFilterPlugin&>(*p)
                  .preFilter(state, *PodBuilder("p").info(), nullptr)
                  .isSkip());
}

TEST(NodeAffinityTest, PreferredScoring) {
  Fixture f;
  auto p = newNodeAffinity(f.config, f.handle);
  json::array prefs{
      json::object{{"weight", 2},
                   {"preference",
                    json::object{{"matchExpressions",
                                  json::array{json::object{
                                      {"key", "zone"}, {"operator", "In"}, {"values", {"a"}}}}}}}},
      json::object{{"weight", 6},
                   {"preference", json::object{{"matchExpressions",
                                                json::array{json::object{{"key", "disk"},
                                                                         {"operator", "In"},
                                                                         {"values", {"ssd"}}}}}}}}};
  auto pod = PodBuilder("p")
                 .affinity("nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution", prefs)
                 .info();
  std::vector<NodeInfoPtr> nodes = {NodeBuilder("a").label("zone", "a").info(),
                                    NodeBuilder("b").label("zone", "a").label("disk", "ssd").info(),
                                    NodeBuilder("c").info(),
                                    NodeBuilder("d").label("disk", "ssd").info()};
  // Raw 2, 8, 0, 6 scaled by the maximum 8.
  EXPECT_EQ(runScores(*p, *pod, nodes), (std::vector<int64_t>{25, 100, 0, 75}));
  // Without preferences PreScore skips scoring.
  EXPECT_EQ(runScores(*p, *PodBuilder("p").info(), nodes), (std::vector<int64_t>{-1, -1, -1, -1}));
}

TEST(TaintTolerationTest, Filter) {
  Fixture f;
  auto p = newTaintToleration(f.config, f.handle);
  auto cp =
      NodeBuilder("cp").taint("node-role.kubernetes.io/control-plane", "", "NoSchedule").info();
  auto s = runFilter(*p, *PodBuilder("p").info(), *cp);
  EXPECT_EQ(s.code(), Code::kUnschedulableAndUnresolvable);
  EXPECT_EQ(s.message(), "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }");
  auto gpu = NodeBuilder("g").taint("dedicated", "gpu", "NoExecute").info();
  EXPECT_EQ(runFilter(*p, *PodBuilder("p").info(), *gpu).message(),
            "node(s) had untolerated taint {dedicated: gpu}");
  EXPECT_TRUE(
      runFilter(*p, *PodBuilder("p").toleration("dedicated", "Equal", "gpu", "NoExecute").info(),
                *gpu)
          .isSuccess());
  EXPECT_FALSE(
      runFilter(*p, *PodBuilder("p").toleration("dedicated", "Equal", "cpu", "").info(), *gpu)
          .isSuccess());
  EXPECT_TRUE(
      runFilter(*p, *PodBuilder("p").toleration("", "Exists", "", "").info(), *gpu).isSuccess());
  // PreferNoSchedule never filters.
  auto soft = NodeBuilder("s").taint("soft", "", "PreferNoSchedule").info();
  EXPECT_TRUE(runFilter(*p, *PodBuilder("p").info(), *soft).isSuccess());
}

TEST(TaintTolerationTest, ScorePrefersFewerIntoleratedPreferNoScheduleTaints) {
  Fixture f;
  auto p = newTaintToleration(f.config, f.handle);
  std::vector<NodeInfoPtr> nodes = {NodeBuilder("a").info(),
                                    NodeBuilder("b").taint("x", "1", "PreferNoSchedule").info(),
                                    NodeBuilder("c")
                                        .taint("x", "1", "PreferNoSchedule")
                                        .taint("y", "2", "PreferNoSchedule")
                                        .info(),
                                    NodeBuilder("d").taint("z", "", "NoSchedule").info()};
  EXPECT_EQ(runScores(*p, *PodBuilder("p").info(), nodes), (std::vector<int64_t>{100, 50, 0, 100}));
  // Tolerating x (effect PreferNoSchedule) removes it from the count; a
  // NoSchedule toleration does not count for scoring.
  auto tol = PodBuilder("p").toleration("x", "Exists", "", "PreferNoSchedule").info();
  EXPECT_EQ(runScores(*p, *tol, nodes), (std::vector<int64_t>{100, 100, 0, 100}));
  auto wrong = PodBuilder("p").toleration("x", "Exists", "", "NoSchedule").info();
  EXPECT_EQ(runScores(*p, *wrong, nodes), (std::vector<int64_t>{100, 50, 0, 100}));
}

TEST(ImageLocalityTest, ScoresBySizeAndSpread) {
  constexpr int64_t kMb = 1024 * 1024;
  auto with = NodeBuilder("a").image({"nginx:latest"}, 500 * kMb).info();
  with->setImageStates({{"nginx:latest", {500 * kMb, 1}}});
  auto without = NodeBuilder("b").info();
  auto snap = Snapshot::fromNodeInfos({with, without});
  Fixture f;
  f.handle.snapshot = snap.get();
  auto p = newImageLocality(f.config, f.handle);
  auto pod = PodBuilder("p").image("nginx").info();
  // Spread 1/2: 250MB counts; (250-23)*100/(1000-23) = 23.
  EXPECT_EQ(runScores(*p, *pod, {with, without}), (std::vector<int64_t>{23, 0}));
  // On every node (spread 1): (500-23)*100/977 = 48.
  with->setImageStates({{"nginx:latest", {500 * kMb, 2}}});
  EXPECT_EQ(runScores(*p, *pod, {with}), (std::vector<int64_t>{48}));
  // Small images (below 23MB) count nothing; huge ones are capped.
  with->setImageStates({{"nginx:latest", {10 * kMb, 2}}});
  EXPECT_EQ(runScores(*p, *pod, {with}), (std::vector<int64_t>{0}));
  with->setImageStates({{"nginx:latest", {5000 * kMb, 2}}});
  EXPECT_EQ(runScores(*p, *pod, {with}), (std::vector<int64_t>{100}));
}

TEST(NormalizeTest, DefaultNormalizeScore) {
  NodeScoreList l = {{"a", 10}, {"b", 5}, {"c", 0}};
  defaultNormalizeScore(100, false, l);
  EXPECT_EQ(l[0].score, 100);
  EXPECT_EQ(l[1].score, 50);
  EXPECT_EQ(l[2].score, 0);
  NodeScoreList r = {{"a", 10}, {"b", 5}, {"c", 0}};
  defaultNormalizeScore(100, true, r);
  EXPECT_EQ(r[0].score, 0);
  EXPECT_EQ(r[1].score, 50);
  EXPECT_EQ(r[2].score, 100);
  NodeScoreList z = {{"a", 0}, {"b", 0}};
  defaultNormalizeScore(100, true, z);
  EXPECT_EQ(z[0].score, 100);
  NodeScoreList z2 = {{"a", 0}};
  defaultNormalizeScore(100, false, z2);
  EXPECT_EQ(z2[0].score, 0);
}

}  // namespace
}  // namespace berth::scheduler
