#include "controllers/disruption/disruption_controller.h"

#include <gtest/gtest.h>

#include <set>

#include "api/kinds/access.h"
#include "api/object.h"
#include "client/fake_client.h"
#include "controllers/pod_control.h"

namespace berth::controllers {
namespace {

namespace json = boost::json;
using api::Object;
using client::ObjectPtr;

std::chrono::system_clock::time_point t0() {
  std::chrono::system_clock::time_point t;
  parseRfc3339("2024-03-01T10:00:00Z", &t);
  return t;
}

// The controller over a FakeClient, with informers fed by hand
// (injectUpsert) as a watch would feed them.
class DisruptionTest : public ::testing::Test {
 protected:
  DisruptionTest()
      : clock_(t0()),
        fake_(clock_),
        informers_(fake_),
        recorder_(fake_, clock_, "controllermanager"),
        pdb_kind_(client::kind("policy", "PodDisruptionBudget")),
        pod_kind_(client::kind("", "Pod")),
        rs_kind_(client::kind("apps", "ReplicaSet")),
        deploy_kind_(client::kind("apps", "Deployment")),
        ss_kind_(client::kind("apps", "StatefulSet")),
        rc_kind_(client::kind("", "ReplicationController")) {}

  void SetUp() override {
    dc_ = std::make_unique<DisruptionController>(fake_, informers_, recorder_, clock_);
    for (const api::KindInfo* k :
         {&pdb_kind_, &pod_kind_, &rs_kind_, &deploy_kind_, &ss_kind_, &rc_kind_})
      informers_.forKind(*k).markSynced();
  }

  void TearDown() override {
    dc_->stop();
    recorder_.flush();
  }

  ObjectPtr seed(const api::KindInfo& kind, Object obj) {
    ObjectPtr stored = fake_.add(kind, std::move(obj));
    informers_.forKind(kind).injectUpsert(stored);
    return stored;
  }

  // What the fake API holds now, pushed into the informer (a watch event).
  ObjectPtr refresh(const api::KindInfo& kind, const std::string& name) {
    ObjectPtr cur = fake_.find(kind, "default", name);
    if (cur) informers_.forKind(kind).injectUpsert(cur);
    return cur;
  }

  Object pdb(const std::string& name, const char* field, json::value value,
             int64_t generation = 1) {
    Object o{{"apiVersion", "policy/v1"}, {"kind", "PodDisruptionBudget"}};
    o["metadata"] = Object{{"name", name}, {"namespace", "default"}, {"generation", generation}};
    Object spec{{"selector", Object{{"matchLabels", Object{{"app", "web"}}}}}};
    spec[field] = std::move(value);
    o["spec"] = std::move(spec);
    return o;
  }

  Object workload(const api::KindInfo& kind, const std::string& name, int64_t replicas,
                  const ObjectPtr& owner = nullptr, const api::KindInfo* owner_kind = nullptr) {
    Object o{{"apiVersion", kind.groupVersion()}, {"kind", kind.kind}};
    Object md{{"name", name}, {"namespace", "default"}, {"generation", 1}};
    if (owner) md["ownerReferences"] = json::array{newControllerRef(*owner, *owner_kind)};
    o["metadata"] = std::move(md);
    o["spec"] = Object{{"replicas", replicas}};
    return o;
  }

  Object pod(const std::string& name, bool ready, const ObjectPtr& owner = nullptr,
             const api::KindInfo* owner_kind = nullptr, const std::string& app = "web") {
    Object o{{"apiVersion", "v1"}, {"kind", "Pod"}};
    Object md{{"name", name}, {"namespace", "default"}, {"labels", Object{{"app", app}}}};
    if (owner) md["ownerReferences"] = json::array{newControllerRef(*owner, *owner_kind)};
    o["metadata"] = std::move(md);
    o["spec"] = json::parse(R"({"containers":[{"name":"c","image":"nginx"}]})");
    Object status{{"phase", "Running"}};
    status["conditions"] = json::array{Object{{"type", "Ready"},
                                              {"status", ready ? "True" : "False"},
                                              {"lastTransitionTime", formatRfc3339(clock_.now())}}};
    o["status"] = std::move(status);
    return o;
  }

  const json::object& statusOf(const std::string& name) {
    ObjectPtr cur = fake_.find(pdb_kind_, "default", name);
    static const json::object kEmpty;
    if (!cur) return kEmpty;
    held_ = cur;
    const json::object* st = api::objAt(*held_, {"status"});
    return st ? *st : kEmpty;
  }

  int64_t field(const std::string& name, const char* key) {
    return api::intAt(statusOf(name), {key}).value_or(-1);
  }

  std::string condition(const std::string& name, const char* what) {
    const json::array* conds = api::arrAt(statusOf(name), {"conditions"});
    if (!conds) return "";
    for (const auto& c : *conds)
      if (api::strAt(c.as_object(), {"type"}) == "DisruptionAllowed")
        return api::strAt(c.as_object(), {what});
    return "";
  }

  std::vector<std::string> drain(WorkQueue& q) {
    std::vector<std::string> keys;
    std::string key;
    while (q.size() > 0 && q.get(&key)) {
      keys.push_back(key);
      q.done(key);
    }
    return keys;
  }

  std::vector<std::string> eventReasons() {
    recorder_.flush();
    std::vector<std::string> out;
    auto list = fake_.list(client::kind("", "Event"), "", {});
    if (!list.ok()) return out;
    for (const auto& e : list->items) out.push_back(api::strAt(*e, {"reason"}));
    return out;
  }

  bool hasEvent(const std::string& reason) {
    auto r = eventReasons();
    return std::find(r.begin(), r.end(), reason) != r.end();
  }

  FakeClock clock_;
  client::FakeClient fake_;
  client::InformerFactory informers_;
  client::EventRecorder recorder_;
  const api::KindInfo& pdb_kind_;
  const api::KindInfo& pod_kind_;
  const api::KindInfo& rs_kind_;
  const api::KindInfo& deploy_kind_;
  const api::KindInfo& ss_kind_;
  const api::KindInfo& rc_kind_;
  std::unique_ptr<DisruptionController> dc_;
  ObjectPtr held_;
};

TEST_F(DisruptionTest, IntegerMinAvailableExpectsTheMatchingPods) {
  seed(pdb_kind_, pdb("web", "minAvailable", 2));
  seed(pod_kind_, pod("a", true));
  seed(pod_kind_, pod("b", true));
  seed(pod_kind_, pod("c", true));
  seed(pod_kind_, pod("other", true, nullptr, nullptr, "db"));
  ASSERT_TRUE(dc_->sync("default/web").ok());
  EXPECT_EQ(field("web", "expectedPods"), 3);
  EXPECT_EQ(field("web", "desiredHealthy"), 2);
  EXPECT_EQ(field("web", "currentHealthy"), 3);
  EXPECT_EQ(field("web", "disruptionsAllowed"), 1);
  EXPECT_EQ(field("web", "observedGeneration"), 1);
  EXPECT_EQ(condition("web", "status"), "True");
  EXPECT_EQ(condition("web", "reason"), "SufficientPods");
  EXPECT_EQ(condition("web", "lastTransitionTime"), "2024-03-01T10:00:00Z");
}

TEST_F(DisruptionTest, UnreadyPodsAreNotHealthy) {
  seed(pdb_kind_, pdb("web", "minAvailable", 2));
  seed(pod_kind_, pod("a", true));
  seed(pod_kind_, pod("b", false));
  ASSERT_TRUE(dc_->sync("default/web").ok());
  EXPECT_EQ(field("web", "currentHealthy"), 1);
  EXPECT_EQ(field("web", "disruptionsAllowed"), 0);
  EXPECT_EQ(condition("web", "status"), "False");
  EXPECT_EQ(condition("web", "reason"), "InsufficientPods");
}

TEST_F(DisruptionTest, NoMatchingPodsAllowsNothing) {
  seed(pdb_kind_, pdb("web", "minAvailable", 0));
  ASSERT_TRUE(dc_->sync("default/web").ok());
  // expectedPods 0 keeps the budget closed until pods show up.
  EXPECT_EQ(field("web", "expectedPods"), 0);
  EXPECT_EQ(field("web", "disruptionsAllowed"), 0);
  EXPECT_TRUE(hasEvent("NoPods"));
}

TEST_F(DisruptionTest, MaxUnavailablePercentUsesTheReplicaSetScaleRoundedUp) {
  ObjectPtr rs = seed(rs_kind_, workload(rs_kind_, "web-1", 4));
  seed(pdb_kind_, pdb("web", "maxUnavailable", "30%"));
  for (const char* n : {"a", "b", "c"}) seed(pod_kind_, pod(n, true, rs, &rs_kind_));
  ASSERT_TRUE(dc_->sync("default/web").ok());
  // Four replicas expected although three pods exist; 30% of 4 rounds up to 2.
  EXPECT_EQ(field("web", "expectedPods"), 4);
  EXPECT_EQ(field("web", "desiredHealthy"), 2);
  EXPECT_EQ(field("web", "disruptionsAllowed"), 1);
}

TEST_F(DisruptionTest, PercentMinAvailableUsesTheDeploymentScale) {
  ObjectPtr d = seed(deploy_kind_, workload(deploy_kind_, "web", 5));
  ObjectPtr rs = seed(rs_kind_, workload(rs_kind_, "web-1", 7, d, &deploy_kind_));
  seed(pdb_kind_, pdb("web", "minAvailable", "50%"));
  for (const char* n : {"a", "b", "c", "d", "e"}) seed(pod_kind_, pod(n, true, rs, &rs_kind_));
  ASSERT_TRUE(dc_->sync("default/web").ok());
  // The Deployment's 5 replicas, not the ReplicaSet's 7; 50% of 5 is 3.
  EXPECT_EQ(field("web", "expectedPods"), 5);
  EXPECT_EQ(field("web", "desiredHealthy"), 3);
  EXPECT_EQ(field("web", "disruptionsAllowed"), 2);
}

TEST_F(DisruptionTest, StatefulSetAndReplicationControllerScalesAreSummed) {
  ObjectPtr ss = seed(ss_kind_, workload(ss_kind_, "db", 3));
  ObjectPtr rc = seed(rc_kind_, workload(rc_kind_, "legacy", 2));
  seed(pdb_kind_, pdb("web", "maxUnavailable", 1));
  seed(pod_kind_, pod("ss-0", true, ss, &ss_kind_));
  seed(pod_kind_, pod("ss-1", true, ss, &ss_kind_));
  seed(pod_kind_, pod("rc-a", true, rc, &rc_kind_));
  ASSERT_TRUE(dc_->sync("default/web").ok());
  EXPECT_EQ(field("web", "expectedPods"), 5);
  EXPECT_EQ(field("web", "desiredHealthy"), 4);
  EXPECT_EQ(field("web", "currentHealthy"), 3);
  EXPECT_EQ(field("web", "disruptionsAllowed"), 0);
}

TEST_F(DisruptionTest, UnmanagedPodsWithMaxUnavailableAreReported) {
  seed(pdb_kind_, pdb("web", "maxUnavailable", 1));
  seed(pod_kind_, pod("a", true));
  ASSERT_TRUE(dc_->sync("default/web").ok());
  EXPECT_EQ(field("web", "expectedPods"), 0);
  EXPECT_EQ(field("web", "disruptionsAllowed"), 0);
  EXPECT_TRUE(hasEvent("UnmanagedPods"));
}

TEST_F(DisruptionTest, MissingControllerFailsSafe) {
  // The owner is not in any cache and not in the API.
  seed(pdb_kind_, pdb("web", "maxUnavailable", 1));
  Object p = pod("a", true);
  api::mutableMetadata(p)["ownerReferences"] = json::array{Object{{"apiVersion", "apps/v1"},
                                                                  {"kind", "ReplicaSet"},
                                                                  {"name", "gone"},
                                                                  {"uid", "uid-gone"},
                                                                  {"controller", true}}};
  seed(pod_kind_, std::move(p));
  // failSafe's write succeeds, so the sync counts as done.
  ASSERT_TRUE(dc_->sync("default/web").ok());
  EXPECT_EQ(field("web", "disruptionsAllowed"), 0);
  EXPECT_EQ(condition("web", "status"), "False");
  EXPECT_EQ(condition("web", "reason"), "SyncFailed");
  EXPECT_EQ(condition("web", "message"), "found no controllers for pod \"a\"");
  EXPECT_TRUE(hasEvent("CalculateExpectedPodCountFailed"));
}

TEST_F(DisruptionTest, DisruptedPodsAreNotHealthyUntilTheyExpire) {
  Object budget = pdb("web", "minAvailable", 1);
  budget["status"] =
      Object{{"disruptedPods", Object{{"a", formatRfc3339(clock_.now() - std::chrono::seconds(10))},
                                      {"vanished", formatRfc3339(clock_.now())}}},
             {"disruptionsAllowed", 1}};
  seed(pdb_kind_, std::move(budget));
  for (const char* n : {"a", "b", "c"}) seed(pod_kind_, pod(n, true));
  ASSERT_TRUE(dc_->sync("default/web").ok());
  EXPECT_EQ(field("web", "currentHealthy"), 2);
  EXPECT_EQ(field("web", "disruptionsAllowed"), 1);
  // The entry of a pod that no longer exists is dropped at once.
  const json::object* disrupted = api::objAt(statusOf("web"), {"disruptedPods"});
  ASSERT_NE(disrupted, nullptr);
  EXPECT_EQ(disrupted->size(), 1u);
  EXPECT_TRUE(disrupted->contains("a"));
  ASSERT_TRUE(dc_->recheckTime("default/web").has_value());
  EXPECT_EQ(*dc_->recheckTime("default/web"),
            t0() - std::chrono::seconds(10) + std::chrono::minutes(2));

  // Two minutes later the pod was not deleted: it counts again.
  clock_.advance(std::chrono::minutes(3));
  refresh(pdb_kind_, "web");
  ASSERT_TRUE(dc_->sync("default/web").ok());
  EXPECT_EQ(field("web", "currentHealthy"), 3);
  EXPECT_EQ(field("web", "disruptionsAllowed"), 2);
  EXPECT_EQ(api::objAt(statusOf("web"), {"disruptedPods"}), nullptr);
  EXPECT_FALSE(dc_->recheckTime("default/web").has_value());
  EXPECT_TRUE(hasEvent("NotDeleted"));
}

TEST_F(DisruptionTest, TerminatingPodsAreNotHealthy) {
  seed(pdb_kind_, pdb("web", "minAvailable", 1));
  seed(pod_kind_, pod("a", true));
  Object b = pod("b", true);
  api::mutableMetadata(b)["deletionTimestamp"] = formatRfc3339(clock_.now());
  seed(pod_kind_, std::move(b));
  ASSERT_TRUE(dc_->sync("default/web").ok());
  EXPECT_EQ(field("web", "expectedPods"), 2);
  EXPECT_EQ(field("web", "currentHealthy"), 1);
  EXPECT_EQ(field("web", "disruptionsAllowed"), 0);
}

TEST_F(DisruptionTest, UpToDateStatusIsNotWrittenAgainButANewGenerationIs) {
  seed(pdb_kind_, pdb("web", "minAvailable", 1));
  seed(pod_kind_, pod("a", true));
  seed(pod_kind_, pod("b", true));
  ASSERT_TRUE(dc_->sync("default/web").ok());
  ObjectPtr written = refresh(pdb_kind_, "web");
  fake_.clearActions();
  ASSERT_TRUE(dc_->sync("default/web").ok());
  EXPECT_TRUE(fake_.writes().empty());

  // A spec change bumps the generation; status follows it.
  Object next = *written;
  api::mutableMetadata(next)["generation"] = 2;
  seed(pdb_kind_, std::move(next));
  ASSERT_TRUE(dc_->sync("default/web").ok());
  ASSERT_EQ(fake_.writes().size(), 1u);
  EXPECT_EQ(fake_.writes()[0].subresource, "status");
  EXPECT_EQ(field("web", "observedGeneration"), 2);
}

TEST_F(DisruptionTest, ConflictIsReturnedWithoutFailSafe) {
  seed(pdb_kind_, pdb("web", "minAvailable", 1));
  seed(pod_kind_, pod("a", true));
  seed(pod_kind_, pod("b", true));
  fake_.prependReactor("update", "poddisruptionbudgets", [](const client::Action&) {
    return std::optional<Result<ObjectPtr>>(makeError(ErrorCode::kConflict, "conflict"));
  });
  Status s = dc_->sync("default/web");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);
  // One attempt only: the failSafe write was not tried.
  int updates = 0;
  for (const auto& a : fake_.actions())
    if (a.verb == "update") ++updates;
  EXPECT_EQ(updates, 1);
}

TEST_F(DisruptionTest, DeletedBudgetIsANoOp) {
  EXPECT_TRUE(dc_->sync("default/nope").ok());
  EXPECT_TRUE(fake_.writes().empty());
}

TEST_F(DisruptionTest, HandlersEnqueueTheBudgetsOfAPod) {
  seed(pdb_kind_, pdb("web", "minAvailable", 1));
  Object all = pdb("all", "minAvailable", 1);
  all["spec"].as_object()["selector"] = Object();  // an empty selector matches every pod here
  seed(pdb_kind_, std::move(all));
  drain(dc_->workQueue());

  seed(pod_kind_, pod("a", true));
  auto keys = drain(dc_->workQueue());
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()),
            (std::set<std::string>{"default/web", "default/all"}));
  EXPECT_TRUE(hasEvent("MultiplePodDisruptionBudgets"));

  // A pod in another namespace reaches neither.
  Object elsewhere = pod("x", true);
  api::mutableMetadata(elsewhere)["namespace"] = "other";
  seed(pod_kind_, std::move(elsewhere));
  EXPECT_TRUE(drain(dc_->workQueue()).empty());
}

TEST_F(DisruptionTest, WorkloadScaleChangeEnqueuesTheNamespaceBudgets) {
  ObjectPtr rs = seed(rs_kind_, workload(rs_kind_, "web-1", 2));
  seed(pdb_kind_, pdb("web", "maxUnavailable", 1));
  drain(dc_->workQueue());
  Object same = *rs;
  api::mutableMetadata(same)["labels"] = Object{{"x", "y"}};
  seed(rs_kind_, same);
  EXPECT_TRUE(drain(dc_->workQueue()).empty());
  Object scaled = same;
  scaled["spec"].as_object()["replicas"] = 5;
  seed(rs_kind_, std::move(scaled));
  EXPECT_EQ(drain(dc_->workQueue()), std::vector<std::string>{"default/web"});
}

TEST_F(DisruptionTest, StaleDisruptionTargetIsResetAfterTimeout) {
  Object p = pod("a", true);
  p["status"].as_object()["conditions"].as_array().push_back(
      Object{{"type", "DisruptionTarget"},
             {"status", "True"},
             {"reason", "EvictionByEvictionAPI"},
             {"message", "Eviction API: evicting"},
             {"lastTransitionTime", formatRfc3339(clock_.now())}});
  seed(pod_kind_, std::move(p));
  // Not stale yet: nothing written.
  clock_.advance(std::chrono::minutes(1));
  ASSERT_TRUE(dc_->syncStalePodDisruption("default/a").ok());
  EXPECT_TRUE(fake_.writes().empty());

  clock_.advance(std::chrono::minutes(2));
  ASSERT_TRUE(dc_->syncStalePodDisruption("default/a").ok());
  ASSERT_EQ(fake_.writes().size(), 1u);
  ObjectPtr cur = fake_.find(pod_kind_, "default", "a");
  const json::array* conds = api::arrAt(*cur, {"status", "conditions"});
  ASSERT_NE(conds, nullptr);
  bool found = false;
  for (const auto& c : *conds) {
    if (api::strAt(c.as_object(), {"type"}) != "DisruptionTarget") continue;
    found = true;
    EXPECT_EQ(api::strAt(c.as_object(), {"status"}), "False");
    EXPECT_EQ(api::strAt(c.as_object(), {"reason"}), "");
    EXPECT_EQ(api::strAt(c.as_object(), {"lastTransitionTime"}), "2024-03-01T10:03:00Z");
  }
  EXPECT_TRUE(found);
}

TEST_F(DisruptionTest, KubeletDisruptionTargetIsNeverStale) {
  Object p = pod("a", true);
  p["status"].as_object()["conditions"].as_array().push_back(
      Object{{"type", "DisruptionTarget"},
             {"status", "True"},
             {"reason", "TerminationByKubelet"},
             {"lastTransitionTime", formatRfc3339(clock_.now())}});
  seed(pod_kind_, std::move(p));
  clock_.advance(std::chrono::minutes(10));
  ASSERT_TRUE(dc_->syncStalePodDisruption("default/a").ok());
  EXPECT_TRUE(fake_.writes().empty());
}

}  // namespace
}  // namespace berth::controllers
