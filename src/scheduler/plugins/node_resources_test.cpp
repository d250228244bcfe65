#include <gtest/gtest.h>

#include "scheduler/plugins/plugins.h"
#include "scheduler/test_util.h"

namespace berth::scheduler {
namespace {

using testing::NodeBuilder;
using testing::PodBuilder;

// Runs PreFilter then Filter of a plugin on one node; the fast path's
// verdict (which must agree with Filter) in *fast_out.
PluginStatus runFilter(Plugin& plugin, const PodInfo& pod, const NodeInfo& node,
                       FastFilter* fast_out = nullptr) {
  CycleState state;
  if (auto* pf = dynamic_cast<PreFilterPlugin*>(&plugin)) {
    PluginStatus s = pf->preFilter(state, pod, nullptr);
    if (s.isSkip()) return {};
    if (!s.isSuccess()) return s;
  }
  auto& filter = dynamic_cast<FilterPlugin&>(plugin);
  PluginStatus s = filter.filter(state, pod, node);
  FastFilter fast = filter.filterFast(state, pod, node);
  if (fast != FastFilter::kUnknown) {
    EXPECT_EQ(fast == FastFilter::kPass, s.isSuccess()) << "fast path disagrees: " << s.message();
  }
  if (fast_out) *fast_out = fast;
  return s;
}

int64_t runScore(Plugin& plugin, const PodInfo& pod, NodeInfo& node) {
  CycleState state;
  std::vector<NodeInfo*> nodes{&node};
  if (auto* ps = dynamic_cast<PreScorePlugin*>(&plugin)) {
    EXPECT_TRUE(ps->preScore(state, pod, nodes).isSuccess());
  }
  int64_t score = -1;
  EXPECT_TRUE(dynamic_cast<ScorePlugin&>(plugin).score(state, pod, node, &score).isSuccess());
  return score;
}

struct FitCase {
  const char* name;
  PodBuilder pod;
  std::vector<PodInfoPtr> existing;
  std::vector<std::string> reasons;  // empty = fits
};

TEST(NodeResourcesFitTest, FilterCases) {
  ProfileConfig config;
  Handle handle;
  auto fit = newNodeResourcesFit(config, handle);
  auto node = NodeBuilder("n1").capacity("4", "8Gi", "3");
  std::vector<FitCase> cases = {
      {"no requests fit an empty node", PodBuilder("p"), {}, {}},
      {"fits exactly", PodBuilder("p").req("4", "8Gi"), {}, {}},
      {"cpu over", PodBuilder("p").req("4500m"), {}, {"Insufficient cpu"}},
      {"memory over with others",
       PodBuilder("p").req("1", "5Gi"),
       {PodBuilder("e").req("1", "4Gi").info()},
       {"Insufficient memory"}},
      {"both over",
       PodBuilder("p").req("3", "5Gi"),
       {PodBuilder("e").req("2", "4Gi").info()},
       {"Insufficient cpu", "Insufficient memory"}},
      {"init container max counts",
       PodBuilder("p").req("1").init("5", ""),
       {},
       {"Insufficient cpu"}},
      {"overhead counts",
       PodBuilder("p").req("3900m").overhead("200m", ""),
       {},
       {"Insufficient cpu"}},
      {"too many pods",
       PodBuilder("p"),
       {PodBuilder("a").info(), PodBuilder("b").info(), PodBuilder("c").info()},
       {"Too many pods"}},
      {"too many pods and cpu",
       PodBuilder("p").req("3500m"),
       {PodBuilder("a").req("1").info(), PodBuilder("b").info(), PodBuilder("c").info()},
       {"Too many pods", "Insufficient cpu"}},
      {"extended resource missing",
       PodBuilder("p").reqResource("example.com/gpu", "1"),
       {},
       {"Insufficient example.com/gpu"}},
  };
  for (auto& c : cases) {
    auto ni = node.info(c.existing);
    FastFilter fast = FastFilter::kUnknown;
    PluginStatus s = runFilter(*fit, *c.pod.info(), *ni, &fast);
    // NodeResourcesFit always answers fast (no statuses built per node).
    EXPECT_EQ(fast, c.reasons.empty() ? FastFilter::kPass : FastFilter::kReject) << c.name;
    if (c.reasons.empty()) {
      EXPECT_TRUE(s.isSuccess()) << c.name << ": " << s.message();
    } else {
      EXPECT_EQ(s.code(), Code::kUnschedulable) << c.name;
      EXPECT_EQ(s.reasons(), c.reasons) << c.name;
    }
  }
}

TEST(NodeResourcesFitTest, ExtendedResourcesAndIgnoredOnes) {
  auto node = NodeBuilder("n1").allocatable("example.com/gpu", "2");
  auto pod = PodBuilder("p").reqResource("example.com/gpu", "2").info();
  ProfileConfig config;
  Handle handle;
  auto fit = newNodeResourcesFit(config, handle);
  EXPECT_TRUE(runFilter(*fit, *pod, *node.info()).isSuccess());
  auto used = PodBuilder("u").reqResource("example.com/gpu", "1").info();
  EXPECT_EQ(runFilter(*fit, *pod, *node.info({used})).message(), "Insufficient example.com/gpu");
  config.fit.ignored_resources = {"example.com/gpu"};
  auto ignoring = newNodeResourcesFit(config, handle);
  EXPECT_TRUE(runFilter(*ignoring, *pod, *node.info({used})).isSuccess());
  config.fit.ignored_resources.clear();
  config.fit.ignored_resource_groups = {"example.com"};
  auto ignoring_group = newNodeResourcesFit(config, handle);
  EXPECT_TRUE(runFilter(*ignoring_group, *pod, *node.info({used})).isSuccess());
}

TEST(NodeResourcesFitTest, FitsRequestReportsNumbers) {
  auto ni = NodeBuilder("n1").capacity("2", "4Gi").info({PodBuilder("e").req("1500m").info()});
  Resource req;
  req.milli_cpu = 1000;
  auto r = fitsRequest(req, *ni);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].resource, "cpu");
  EXPECT_EQ(r[0].requested, 1000);
  EXPECT_EQ(r[0].used, 1500);
  EXPECT_EQ(r[0].capacity, 2000);
}

TEST(NodeResourcesFitTest, FilterWithoutPreFilterIsAnError) {
  ProfileConfig config;
  Handle handle;
  auto fit = newNodeResourcesFit(config, handle);
  CycleState state;
  auto s = dynamic_cast<FilterPlugin&>(*fit).filter(state, *PodBuilder("p").info(),
                                                    *NodeBuilder("n").info());
  EXPECT_EQ(s.code(), Code::kError);
}

TEST(NodeResourcesFitTest, LeastAllocatedScores) {
  ProfileConfig config;
  Handle handle;
  auto fit = newNodeResourcesFit(config, handle);
  auto pod = PodBuilder("p").req("1", "4Gi").info();
  // Empty 4 cpu / 16Gi node: (3000/4000, 12/16) free -> 75, 75.
  auto empty = NodeBuilder("a").capacity("4", "16Gi").info();
  EXPECT_EQ(runScore(*fit, *pod, *empty), 75);
  // Half used after the pod: 50.
  auto half = NodeBuilder("b").capacity("4", "16Gi").info({PodBuilder("e").req("1", "4Gi").info()});
  EXPECT_EQ(runScore(*fit, *pod, *half), 50);
  // Over capacity scores 0 for that resource: cpu 0, memory (16-8)/16 = 50 -> 25.
  auto tight =
      NodeBuilder("c").capacity("1", "16Gi").info({PodBuilder("e").req("1", "4Gi").info()});
  EXPECT_EQ(runScore(*fit, *pod, *tight), 25);
}

TEST(NodeResourcesFitTest, MostAllocatedScoresAndWeights) {
  ProfileConfig config;
  config.fit.strategy = ScoringStrategy::kMostAllocated;
  Handle handle;
  auto fit = newNodeResourcesFit(config, handle);
  auto pod = PodBuilder("p").req("1", "4Gi").info();
  EXPECT_EQ(runScore(*fit, *pod, *NodeBuilder("a").capacity("4", "16Gi").info()), 25);
  auto half = NodeBuilder("b").capacity("4", "16Gi").info({PodBuilder("e").req("1", "4Gi").info()});
  EXPECT_EQ(runScore(*fit, *pod, *half), 50);
  // Requests above capacity are capped at 100.
  auto over = NodeBuilder("c").capacity("1", "4Gi").info({PodBuilder("e").req("1", "4Gi").info()});
  EXPECT_EQ(runScore(*fit, *pod, *over), 100);
  // cpu weight 3, memory 1: cpu 2/4 = 50, memory 4/16 = 25 -> (150+25)/4 = 43.
  config.fit.resources = {{"cpu", 3}, {"memory", 1}};
  auto weighted = newNodeResourcesFit(config, handle);
  auto one = NodeBuilder("d").capacity("4", "16Gi").info({PodBuilder("e").req("1", "0").info()});
  EXPECT_EQ(runScore(*weighted, *PodBuilder("p").req("1", "4Gi").info(), *one), 43);
}

TEST(NodeResourcesFitTest, ScoringUsesNonZeroDefaults) {
  ProfileConfig config;
  config.fit.strategy = ScoringStrategy::kMostAllocated;
  Handle handle;
  auto fit = newNodeResourcesFit(config, handle);
  // A pod without requests counts 100m / 200Mi: on a 1 cpu / 2000Mi node,
  // 10% and 10% -> 10.
  auto pod = PodBuilder("p").info();
  EXPECT_EQ(runScore(*fit, *pod, *NodeBuilder("a").capacity("1", "2000Mi").info()), 10);
  // Existing pods without requests count too.
  auto ni = NodeBuilder("b").capacity("1", "2000Mi").info({PodBuilder("e").info()});
  EXPECT_EQ(runScore(*fit, *pod, *ni), 20);
}

TEST(NodeResourcesFitTest, ExtendedResourceOnlyScoredWhenRequested) {
  ProfileConfig config;
  config.fit.strategy = ScoringStrategy::kMostAllocated;
  config.fit.resources = {{"cpu", 1}, {"memory", 1}, {"example.com/gpu", 2}};
  Handle handle;
  auto fit = newNodeResourcesFit(config, handle);
  auto node = NodeBuilder("a").capacity("4", "16Gi").allocatable("example.com/gpu", "4");
  // No gpu requested: only cpu (25) and memory (25) count.
  EXPECT_EQ(runScore(*fit, *PodBuilder("p").req("1", "4Gi").info(), *node.info()), 25);
  // gpu 2 of 4 -> 50 with weight 2: (25 + 25 + 100) / 4 = 37.
  EXPECT_EQ(
      runScore(*fit, *PodBuilder("p").req("1", "4Gi").reqResource("example.com/gpu", "2").info(),
               *node.info()),
      37);
}

TEST(BalancedAllocationTest, Scores) {
  ProfileConfig config;
  Handle handle;
  auto ba = newBalancedAllocation(config, handle);
  // cpu 3/4 = 0.75, memory 4/16 = 0.25: std 0.25 -> 75.
  auto ni = NodeBuilder("a").capacity("4", "16Gi").info({PodBuilder("e").req("2", "4Gi").info()});
  EXPECT_EQ(runScore(*ba, *PodBuilder("p").req("1").info(), *ni), 75);
  // Perfectly balanced: 100.
  auto even = NodeBuilder("b").capacity("4", "16Gi").info();
  EXPECT_EQ(runScore(*ba, *PodBuilder("p").req("2", "8Gi").info(), *even), 100);
  // Fractions are capped at 1: cpu 8/4 -> 1, memory 0 -> std 0.5 -> 50.
  EXPECT_EQ(runScore(*ba, *PodBuilder("p").req("8").info(), *even), 50);
  // Requests only (no defaults): a pod without requests on an empty node is balanced.
  EXPECT_EQ(runScore(*ba, *PodBuilder("p").info(), *even), 100);
  // Three resources use the population standard deviation.
  config.balanced.resources = {{"cpu", 1}, {"memory", 1}, {"example.com/gpu", 1}};
  auto three = newBalancedAllocation(config, handle);
  auto gpu = NodeBuilder("c").capacity("4", "16Gi").allocatable("example.com/gpu", "4").info();
  // cpu 1, memory 0.5, gpu 0.25 -> mean 0.583, std 0.312 -> 68.
  EXPECT_EQ(
      runScore(*three, *PodBuilder("p").req("4", "8Gi").reqResource("example.com/gpu", "1").info(),
               *gpu),
      68);
  // A scalar the pod does not request is left out: cpu 1, memory 0.5 -> 75.
  EXPECT_EQ(runScore(*three, *PodBuilder("p").req("4", "8Gi").info(), *gpu), 75);
}

}  // namespace
}  // namespace berth::scheduler
