#include <gtest/gtest.h>

#include "scheduler/plugins/plugins.h"
#include "scheduler/test_util.h"

namespace berth::scheduler {
namespace {

using testing::NodeBuilder;
using testing::PodBuilder;
namespace json = boost::json;

struct Env {
  std::shared_ptr<Snapshot> snap;
  ProfileConfig config;
  Handle handle;
  std::shared_ptr<Plugin> plugin;

  explicit Env(std::vector<NodeInfoPtr> nodes) : snap(Snapshot::fromNodeInfos(std::move(nodes))) {
    handle.snapshot = snap.get();
    handle.namespace_labels = [](const std::string& ns) {
      return ns == "team-x" ? LabelMap{{"team", "x"}} : LabelMap{};
    };
    handle.namespaces_matching = [](const api::LabelSelector& sel) {
      std::vector<std::string> out;
      if (sel.matches(LabelMap{{"team", "x"}})) out.push_back("team-x");
      if (sel.matches(LabelMap{})) out.push_back("default");
      return out;
    };
    plugin = newInterPodAffinity(config, handle);
  }

  PreFilterPlugin& pf() { return dynamic_cast<PreFilterPlugin&>(*plugin); }
  FilterPlugin& f() { return dynamic_cast<FilterPlugin&>(*plugin); }

  std::vector<std::string> filter(const PodInfo& pod) {
    CycleState state;
    PluginStatus s = pf().preFilter(state, pod, nullptr);
    std::vector<std::string> out;
    for (NodeInfo* n : snap->list()) {
      if (s.isSkip()) {
        out.push_back("skip");
        continue;
      }
      if (!s.isSuccess()) {
        out.push_back(s.message());
        continue;
      }
      PluginStatus r = f().filter(state, pod, *n);
      out.push_back(r.isSuccess() ? "" : r.message());
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

NodeBuilder zoned(const std::string& name, const std::string& zone) {
  return NodeBuilder(name).label("zone", zone);
}
PodInfoPtr app(const std::string& name, const std::string& value,
               const std::string& ns = "default") {
  return PodBuilder(name, ns).label("app", value).info();
}

const char* kAffinity = "node(s) didn't match pod affinity rules";
const char* kAnti = "node(s) didn't match pod anti-affinity rules";
const char* kExisting = "node(s) didn't satisfy existing pods anti-affinity rules";

TEST(InterPodAffinityTest, RequiredAffinityByZone) {
  Env env({zoned("a", "z1").info({app("db", "db")}), zoned("b", "z1").info(),
           zoned("c", "z2").info(), NodeBuilder("nolabel").info()});
  auto pod = PodBuilder("web").podAffinity(false, "app", "db", "zone").info();
  EXPECT_EQ(env.filter(*pod), (std::vector<std::string>{"", "", kAffinity, kAffinity}));
  CycleState state;
  ASSERT_TRUE(env.pf().preFilter(state, *pod, nullptr).isSuccess());
  EXPECT_EQ(env.f().filter(state, *pod, *env.snap->get("c")).code(),
            Code::kUnschedulableAndUnresolvable);
}

TEST(InterPodAffinityTest, FirstPodOfASelfAffineGroupMayGoAnywhereWithTheKey) {
  Env env({zoned("a", "z1").info(), NodeBuilder("nolabel").info()});
  auto pod = PodBuilder("web").label("app", "web").podAffinity(false, "app", "web", "zone").info();
  EXPECT_EQ(env.filter(*pod), (std::vector<std::string>{"", kAffinity}));
  // Without matching its own term it has to wait for a matching pod.
  auto other = PodBuilder("web").podAffinity(false, "app", "web", "zone").info();
  EXPECT_EQ(env.filter(*other)[0], kAffinity);
}

TEST(InterPodAffinityTest, AffinityIsNamespaced) {
  Env env({zoned("a", "z1").info({app("db", "db", "other")}),
           zoned("b", "z2").info({app("db2", "db", "team-x")})});
  auto pod = PodBuilder("web").podAffinity(false, "app", "db", "zone").info();
  EXPECT_EQ(env.filter(*pod), (std::vector<std::string>{kAffinity, kAffinity}));
  // A namespace selector resolves to the namespaces whose labels match.
  json::object term{
      {"labelSelector", json::object{{"matchLabels", json::object{{"app", "db"}}}}},
      {"namespaceSelector", json::object{{"matchLabels", json::object{{"team", "x"}}}}},
      {"topologyKey", "zone"}};
  auto sel = PodBuilder("web")
                 .affinity("podAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                           json::array{term})
                 .info();
  EXPECT_EQ(env.filter(*sel), (std::vector<std::string>{kAffinity, ""}));
}

TEST(InterPodAffinityTest, RequiredAntiAffinity) {
  Env env({NodeBuilder("a").info({app("w1", "web")}), NodeBuilder("b").info({app("d1", "db")})});
  auto pod = PodBuilder("web")
                 .label("app", "web")
                 .podAffinity(true, "app", "web", "kubernetes.io/hostname")
                 .info();
  EXPECT_EQ(env.filter(*pod), (std::vector<std::string>{kAnti, ""}));
  CycleState state;
  ASSERT_TRUE(env.pf().preFilter(state, *pod, nullptr).isSuccess());
  EXPECT_EQ(env.f().filter(state, *pod, *env.snap->get("a")).code(), Code::kUnschedulable);
}

TEST(InterPodAffinityTest, ExistingPodsAntiAffinity) {
  auto guard = PodBuilder("guard").podAffinity(true, "app", "web", "zone").info();
  Env env({zoned("a", "z1").info({guard}), zoned("b", "z1").info(), zoned("c", "z2").info()});
  EXPECT_EQ(env.filter(*app("web", "web")), (std::vector<std::string>{kExisting, kExisting, ""}));
  // A pod the guard's term does not match is fine anywhere.
  EXPECT_EQ(env.filter(*app("db", "db")), (std::vector<std::string>{"", "", ""}));
}

TEST(InterPodAffinityTest, SkipsWithoutAnyAffinity) {
  Env env({NodeBuilder("a").info({app("w1", "web")})});
  EXPECT_EQ(env.filter(*app("x", "web")), (std::vector<std::string>{"skip"}));
}

TEST(InterPodAffinityTest, ParseErrorIsUnresolvable) {
  Env env({NodeBuilder("a").info()});
  json::object term{{"labelSelector",
                     json::object{{"matchExpressions", json::array{json::object{
                                                           {"key", "a"}, {"operator", "Bogus"}}}}}},
                    {"topologyKey", "zone"}};
  auto pod = PodBuilder("p")
                 .affinity("podAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                           json::array{term})
                 .info();
  CycleState state;
  PluginStatus s = env.pf().preFilter(state, *pod, nullptr);
  EXPECT_EQ(s.code(), Code::kUnschedulableAndUnresolvable);
  EXPECT_EQ(s.message().rfind("parsing pod: ", 0), 0u);
}

TEST(InterPodAffinityTest, AddRemovePodExtensions) {
  auto db = app("db", "db");
  Env env({zoned("a", "z1").info({db}), zoned("b", "z2").info()});
  auto pod = PodBuilder("web").label("app", "web").podAffinity(false, "app", "db", "zone").info();
  CycleState state;
  ASSERT_TRUE(env.pf().preFilter(state, *pod, nullptr).isSuccess());
  NodeInfo& a = *env.snap->get("a");
  EXPECT_TRUE(env.f().filter(state, *pod, a).isSuccess());
  CycleState copy = state.clone();
  auto a2 = a.clone();
  a2->removePod(db->uid);
  ASSERT_TRUE(env.pf().removePod(copy, *pod, db, *a2).isSuccess());
  // No db pod left anywhere, and the pod does not match its own term.
  EXPECT_FALSE(env.f().filter(copy, *pod, *a2).isSuccess());
  EXPECT_TRUE(env.f().filter(state, *pod, a).isSuccess());
  // Adding a pod with anti-affinity against web on b blocks zone z2.
  auto guard = PodBuilder("guard").podAffinity(true, "app", "web", "zone").info();
  NodeInfo& b = *env.snap->get("b");
  ASSERT_TRUE(env.pf().addPod(copy, *pod, guard, b).isSuccess());
  ASSERT_TRUE(env.pf().addPod(copy, *pod, app("db3", "db"), b).isSuccess());
  EXPECT_EQ(env.f().filter(copy, *pod, b).message(), kExisting);
}

TEST(InterPodAffinityTest, PreferredAffinityScore) {
  Env env(
      {zoned("a", "z1").info({app("db", "db")}), zoned("b", "z1").info(), zoned("c", "z2").info()});
  auto pod = PodBuilder("web").preferredPodAffinity(false, "app", "db", "zone", 5).info();
  EXPECT_EQ(env.scores(*pod), (std::vector<int64_t>{100, 100, 0}));
  auto anti =
      PodBuilder("web").preferredPodAffinity(true, "app", "db", "kubernetes.io/hostname", 5).info();
  EXPECT_EQ(env.scores(*anti), (std::vector<int64_t>{0, 100, 100}));
  // Both: a = +5 -5 = 0, b = +5, c = 0 -> min 0 max 5.
  auto both = PodBuilder("web")
                  .preferredPodAffinity(false, "app", "db", "zone", 5)
                  .preferredPodAffinity(true, "app", "db", "kubernetes.io/hostname", 5)
                  .info();
  EXPECT_EQ(env.scores(*both), (std::vector<int64_t>{0, 100, 0}));
}

TEST(InterPodAffinityTest, ExistingPodsTermsScore) {
  // The existing pod on a requires affinity to web (hardPodAffinityWeight 1)
  // and the one on c prefers to stay away from web (weight 3).
  auto lover = PodBuilder("lover").podAffinity(false, "app", "web", "zone").info();
  auto hater = PodBuilder("hater").preferredPodAffinity(true, "app", "web", "zone", 3).info();
  Env env({zoned("a", "z1").info({lover}), zoned("b", "z1").info(), zoned("c", "z2").info({hater}),
           zoned("d", "z3").info()});
  // Raw: z1 +1, z2 -3, z3 0 -> min -3, max 1.
  EXPECT_EQ(env.scores(*app("web", "web")), (std::vector<int64_t>{100, 100, 0, 75}));
  // A pod none of the terms match: nothing to score.
  EXPECT_TRUE(env.scores(*app("db", "db")).empty());
}

}  // namespace
}  // namespace berth::scheduler
