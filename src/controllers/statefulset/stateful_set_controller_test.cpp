#include "controllers/statefulset/stateful_set_controller.h"

#include <gtest/gtest.h>

#include <set>

#include "api/kinds/access.h"
#include "api/object.h"
#include "client/fake_client.h"
#include "controllers/pod_util.h"
#include "controllers/statefulset/stateful_set_utils.h"

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

TEST(StatefulSetUtils, ParentAndOrdinal) {
  EXPECT_EQ(parentAndOrdinal("web-0").parent, "web");
  EXPECT_EQ(parentAndOrdinal("web-0").ordinal, 0);
  EXPECT_EQ(parentAndOrdinal("my-db-12").parent, "my-db");
  EXPECT_EQ(parentAndOrdinal("my-db-12").ordinal, 12);
  EXPECT_EQ(parentAndOrdinal("web").ordinal, -1);
  EXPECT_EQ(parentAndOrdinal("web-").ordinal, -1);
  EXPECT_EQ(parentAndOrdinal("web-x1").ordinal, -1);
  EXPECT_EQ(parentAndOrdinal("web-99999999999").ordinal, -1);
}

TEST(StatefulSetUtils, NewPodIdentityAndStorage) {
  Object set;
  set["apiVersion"] = "apps/v1";
  set["kind"] = "StatefulSet";
  set["metadata"] = json::object{{"name", "db"}, {"namespace", "prod"}, {"uid", "set-uid"}};
  set["spec"] = json::parse(R"({"serviceName":"db-headless","replicas":2,
      "selector":{"matchLabels":{"app":"db"}},
      "template":{"metadata":{"labels":{"app":"db"}},"spec":{"containers":[{"name":"c","image":"pg"}],
                  "volumes":[{"name":"data","emptyDir":{}},{"name":"conf","configMap":{"name":"c"}}]}},
      "volumeClaimTemplates":[{"metadata":{"name":"data","labels":{"tier":"storage"}},
                               "spec":{"accessModes":["ReadWriteOnce"]},"status":{"phase":"Pending"}}]})");
  Object pod = newStatefulSetPod(set, client::kind("apps", "StatefulSet"), 1);
  EXPECT_EQ(api::name(pod), "db-1");
  EXPECT_EQ(api::namespaceOf(pod), "prod");
  EXPECT_EQ(api::strAt(pod, {"metadata", "labels", kStatefulSetPodNameLabel}), "db-1");
  EXPECT_EQ(api::strAt(pod, {"metadata", "labels", kPodIndexLabel}), "1");
  EXPECT_EQ(api::strAt(pod, {"spec", "hostname"}), "db-1");
  EXPECT_EQ(api::strAt(pod, {"spec", "subdomain"}), "db-headless");
  EXPECT_EQ(controllerUid(pod), "set-uid");
  const json::array* vols = api::arrAt(pod, {"spec", "volumes"});
  ASSERT_NE(vols, nullptr);
  ASSERT_EQ(vols->size(), 2u);
  // The claim replaces the template's volume of the same name.
  EXPECT_EQ(api::strAt(vols->at(0).as_object(), {"name"}), "data");
  EXPECT_EQ(api::strAt(vols->at(0).as_object(), {"persistentVolumeClaim", "claimName"}),
            "data-db-1");
  EXPECT_EQ(api::strAt(vols->at(1).as_object(), {"name"}), "conf");
  EXPECT_TRUE(identityMatches(set, pod));
  EXPECT_TRUE(storageMatches(set, pod));

  auto claims = persistentVolumeClaims(set, 1);
  ASSERT_EQ(claims.size(), 1u);
  const Object& claim = claims[0].second;
  EXPECT_EQ(api::name(claim), "data-db-1");
  EXPECT_EQ(api::namespaceOf(claim), "prod");
  EXPECT_EQ(api::strAt(claim, {"metadata", "labels", "app"}), "db");
  EXPECT_EQ(api::strAt(claim, {"metadata", "labels", "tier"}), "storage");
  EXPECT_EQ(api::strAt(claim, {"kind"}), "PersistentVolumeClaim");
  EXPECT_EQ(claim.if_contains("status"), nullptr);

  Object broken = pod;
  broken["metadata"].as_object()["labels"].as_object().erase(kStatefulSetPodNameLabel);
  EXPECT_FALSE(identityMatches(set, broken));
  updateIdentity(set, broken);
  EXPECT_TRUE(identityMatches(set, broken));
  Object other_ns = pod;
  other_ns["metadata"].as_object()["namespace"] = "dev";
  EXPECT_FALSE(identityMatches(set, other_ns));
  Object no_vol = pod;
  no_vol["spec"].as_object().erase("volumes");
  EXPECT_FALSE(storageMatches(set, no_vol));
  updateStorage(set, no_vol);
  EXPECT_TRUE(storageMatches(set, no_vol));
}

class StatefulSetTest : public ::testing::Test {
 protected:
  StatefulSetTest()
      : clock_(t0()),
        fake_(clock_),
        informers_(fake_),
        recorder_(fake_, clock_, "statefulset-controller"),
        set_kind_(client::kind("apps", "StatefulSet")),
        pod_kind_(client::kind("", "Pod")),
        pvc_kind_(client::kind("", "PersistentVolumeClaim")),
        cr_kind_(client::kind("apps", "ControllerRevision")) {}

  void SetUp() override {
    ssc_ = std::make_unique<StatefulSetController>(fake_, informers_, recorder_, clock_, 1);
    for (const api::KindInfo* k : {&set_kind_, &pod_kind_, &pvc_kind_, &cr_kind_})
      informers_.forKind(*k).markSynced();
  }

  Object setObject(
      int64_t replicas, const std::string& policy = "OrderedReady",
      const char* strategy = R"({"type":"RollingUpdate","rollingUpdate":{"partition":0}})") {
    Object set;
    set["apiVersion"] = "apps/v1";
    set["kind"] = "StatefulSet";
    set["metadata"] = json::object{{"name", "web"}, {"namespace", "default"}, {"generation", 1}};
    json::object spec;
    spec["replicas"] = replicas;
    spec["serviceName"] = "web";
    spec["podManagementPolicy"] = policy;
    spec["selector"] = json::object{{"matchLabels", json::object{{"app", "web"}}}};
    spec["template"] =
        json::object{{"metadata", json::object{{"labels", json::object{{"app", "web"}}}}},
                     {"spec", json::parse(R"({"containers":[{"name":"c","image":"web:v1"}]})")}};
    spec["updateStrategy"] = json::parse(strategy);
    spec["revisionHistoryLimit"] = 10;
    set["spec"] = spec;
    return set;
  }

  ObjectPtr seed(const api::KindInfo& kind, Object obj) {
    ObjectPtr stored = fake_.add(kind, std::move(obj));
    informers_.forKind(kind).injectUpsert(stored);
    return stored;
  }

  // The API server gives new pods phase Pending; then the informers catch
  // up with the fake API.
  void syncInformers() {
    auto pods = fake_.list(pod_kind_, "", {});
    ASSERT_TRUE(pods.ok());
    for (const auto& p : pods->items)
      if (api::strAt(*p, {"status", "phase"}).empty()) {
        Object q = *p;
        q["status"] = json::object{{"phase", "Pending"}};
        ASSERT_TRUE(fake_.update(pod_kind_, q, client::Subresource::kStatus).ok());
      }
    for (const api::KindInfo* k : {&set_kind_, &pod_kind_, &pvc_kind_, &cr_kind_}) {
      auto list = fake_.list(*k, "", {});
      ASSERT_TRUE(list.ok());
      std::set<std::string> keys;
      for (const auto& o : list->items) {
        keys.insert(client::keyOf(*o));
        informers_.forKind(*k).injectUpsert(o);
      }
      for (const auto& o : informers_.forKind(*k).list())
        if (!keys.count(client::keyOf(*o))) informers_.forKind(*k).injectDelete(client::keyOf(*o));
    }
  }

  void syncNow() {
    syncInformers();
    Status s = ssc_->sync("default/web");
    ASSERT_TRUE(s.ok()) << s.error().message;
  }

  ObjectPtr pod(const std::string& name) { return fake_.find(pod_kind_, "default", name); }
  std::set<std::string> podNames() {
    std::set<std::string> out;
    auto list = fake_.list(pod_kind_, "default", {});
    for (const auto& p : list->items) out.insert(api::name(*p));
    return out;
  }
  ObjectPtr getSet() { return fake_.find(set_kind_, "default", "web"); }
  int64_t status(const char* field) { return api::intAt(*getSet(), {"status", field}).value_or(0); }
  std::string statusStr(const char* field) { return api::strAt(*getSet(), {"status", field}); }

  // The agent runs the pod: scheduled, Running, Ready (or not).
  void runPod(const std::string& name, bool ready = true,
              std::chrono::system_clock::time_point since = {}) {
    Object p = *pod(name);
    api::ensureObject(p, "spec")["nodeName"] = "node-1";
    ASSERT_TRUE(fake_.update(pod_kind_, p).ok());
    p = *pod(name);
    if (since == std::chrono::system_clock::time_point{}) since = clock_.now();
    p["status"] = json::object{
        {"phase", "Running"},
        {"conditions", json::array{json::object{{"type", "Ready"},
                                                {"status", ready ? "True" : "False"},
                                                {"lastTransitionTime", formatRfc3339(since)}}}}};
    ASSERT_TRUE(fake_.update(pod_kind_, p, client::Subresource::kStatus).ok());
  }
  void setPhase(const std::string& name, const std::string& phase) {
    Object p = *pod(name);
    p["status"] = json::object{{"phase", phase}};
    ASSERT_TRUE(fake_.update(pod_kind_, p, client::Subresource::kStatus).ok());
  }
  // The controller's writes so far; the test's own writes are left out.
  const std::vector<client::Action>& controllerWrites() {
    for (auto& a : fake_.writes()) history_.push_back(a);
    fake_.clearActions();
    return history_;
  }
  // Finishes a graceful deletion (or deletes at once), as the agent would.
  void reap(const std::string& name) {
    controllerWrites();
    client::DeleteOptions now;
    now.grace_period_seconds = 0;
    ASSERT_TRUE(fake_.remove(pod_kind_, "default", name, now).ok());
    fake_.clearActions();
  }
  // Drives the set until every pod runs and is ready.
  void bringUp(int n) {
    for (int i = 0; i < n; ++i) {
      syncNow();
      runPod("web-" + std::to_string(i));
    }
    syncNow();
  }
  void setImage(const std::string& image) {
    Object set = *getSet();
    set["spec"]
        .as_object()["template"]
        .as_object()["spec"]
        .as_object()["containers"]
        .as_array()[0]
        .as_object()["image"] = image;
    ASSERT_TRUE(fake_.update(set_kind_, set).ok());
  }
  void setSpec(const std::string& field, json::value v) {
    Object set = *getSet();
    set["spec"].as_object()[field] = std::move(v);
    ASSERT_TRUE(fake_.update(set_kind_, set).ok());
  }

  std::vector<std::string> deletes() {
    std::vector<std::string> out;
    for (const auto& a : controllerWrites())
      if (a.verb == "delete" && a.resource == "pods") out.push_back(a.name);
    return out;
  }
  std::vector<std::string> creates(const std::string& resource = "pods") {
    std::vector<std::string> out;
    for (const auto& a : controllerWrites())
      if (a.verb == "create" && a.resource == resource) out.push_back(api::name(*a.object));
    return out;
  }
  std::vector<std::string> events() {
    recorder_.flush();
    std::vector<std::string> out;
    auto list = fake_.list(client::kind("", "Event"), "", {});
    if (!list.ok()) return out;
    for (const auto& e : list->items)
      out.push_back(api::strAt(*e, {"reason"}) + ": " + api::strAt(*e, {"message"}));
    return out;
  }
  bool hasEvent(const std::string& text) {
    for (const auto& e : events())
      if (e == text) return true;
    return false;
  }

  FakeClock clock_;
  client::FakeClient fake_;
  client::InformerFactory informers_;
  client::EventRecorder recorder_;
  const api::KindInfo& set_kind_;
  const api::KindInfo& pod_kind_;
  const api::KindInfo& pvc_kind_;
  const api::KindInfo& cr_kind_;
  std::unique_ptr<StatefulSetController> ssc_;
  std::vector<client::Action> history_;
};

TEST_F(StatefulSetTest, OrderedReadyCreatesOnePodAtATime) {
  ObjectPtr set = seed(set_kind_, setObject(3));
  ASSERT_TRUE(ssc_->sync("default/web").ok());
  EXPECT_EQ(podNames(), (std::set<std::string>{"web-0"}));
  ObjectPtr p0 = pod("web-0");
  EXPECT_EQ(controllerUid(*p0), api::uid(*set));
  EXPECT_EQ(api::strAt(*p0, {"spec", "hostname"}), "web-0");
  EXPECT_EQ(api::strAt(*p0, {"spec", "subdomain"}), "web");
  EXPECT_EQ(api::strAt(*p0, {"metadata", "labels", kStatefulSetPodNameLabel}), "web-0");
  EXPECT_EQ(api::strAt(*p0, {"metadata", "labels", kPodIndexLabel}), "0");
  std::string rev = podRevision(*p0);
  EXPECT_EQ(rev.rfind("web-", 0), 0u);
  EXPECT_EQ(statusStr("updateRevision"), rev);
  EXPECT_EQ(statusStr("currentRevision"), rev);
  EXPECT_EQ(status("observedGeneration"), 1);
  EXPECT_TRUE(hasEvent("SuccessfulCreate: create Pod web-0 in StatefulSet web successful"));

  // Pending: the next pod waits.
  syncNow();
  EXPECT_EQ(podNames().size(), 1u);
  EXPECT_EQ(status("replicas"), 1);
  // Running but not ready: still waiting.
  runPod("web-0", false);
  syncNow();
  EXPECT_EQ(podNames().size(), 1u);
  runPod("web-0", true);
  syncNow();
  EXPECT_EQ(podNames(), (std::set<std::string>{"web-0", "web-1"}));
  EXPECT_EQ(status("readyReplicas"), 1);
  runPod("web-1");
  syncNow();
  runPod("web-2");
  syncNow();
  EXPECT_EQ(podNames().size(), 3u);
  EXPECT_EQ(status("replicas"), 3);
  EXPECT_EQ(status("readyReplicas"), 3);
  EXPECT_EQ(status("availableReplicas"), 3);
  EXPECT_EQ(status("currentReplicas"), 3);
  EXPECT_EQ(status("updatedReplicas"), 3);
  EXPECT_EQ(creates(), (std::vector<std::string>{"web-0", "web-1", "web-2"}));
}

TEST_F(StatefulSetTest, ParallelCreatesAndDeletesAllAtOnce) {
  seed(set_kind_, setObject(3, "Parallel"));
  ASSERT_TRUE(ssc_->sync("default/web").ok());
  EXPECT_EQ(podNames(), (std::set<std::string>{"web-0", "web-1", "web-2"}));
  syncNow();
  EXPECT_EQ(status("replicas"), 3);
  setSpec("replicas", 1);
  syncNow();
  std::vector<std::string> deleted_list = deletes();
  std::set<std::string> deleted(deleted_list.begin(), deleted_list.end());
  EXPECT_EQ(deleted, (std::set<std::string>{"web-1", "web-2"}));
}

TEST_F(StatefulSetTest, VolumeClaimsAreCreatedBeforePodsAndNeverTwice) {
  Object set = setObject(1);
  set["spec"].as_object()["volumeClaimTemplates"] = json::parse(
      R"([{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],
          "resources":{"requests":{"storage":"1Gi"}}}}])");
  seed(set_kind_, set);
  ASSERT_TRUE(ssc_->sync("default/web").ok());
  ObjectPtr pvc = fake_.find(pvc_kind_, "default", "data-web-0");
  ASSERT_NE(pvc, nullptr);
  EXPECT_EQ(api::strAt(*pvc, {"metadata", "labels", "app"}), "web");
  EXPECT_EQ(api::strAt(*pvc, {"spec", "resources", "requests", "storage"}), "1Gi");
  // The claim was created first.
  std::vector<std::string> order;
  for (const auto& a : controllerWrites())
    if (a.verb == "create" && (a.resource == "pods" || a.resource == "persistentvolumeclaims"))
      order.push_back(a.resource);
  ASSERT_GE(order.size(), 2u);
  EXPECT_EQ(order[0], "persistentvolumeclaims");
  EXPECT_EQ(order[1], "pods");
  EXPECT_EQ(api::strAt(api::arrAt(*pod("web-0"), {"spec", "volumes"})->at(0).as_object(),
                       {"persistentVolumeClaim", "claimName"}),
            "data-web-0");
  EXPECT_TRUE(
      hasEvent("SuccessfulCreate: create Claim data-web-0 Pod web-0 in StatefulSet web success"));

  // The pod is deleted and recreated: the claim stays, not created again.
  reap("web-0");
  syncNow();
  ASSERT_NE(pod("web-0"), nullptr);
  EXPECT_EQ(creates("persistentvolumeclaims").size(), 1u);
  // Scaling down keeps the claim (Retain).
  setSpec("replicas", 0);
  syncNow();
  EXPECT_NE(fake_.find(pvc_kind_, "default", "data-web-0"), nullptr);
}

TEST_F(StatefulSetTest, OrderedScaleDownGoesFromTheTopAndWaits) {
  seed(set_kind_, setObject(3));
  bringUp(3);
  setSpec("replicas", 1);
  syncNow();
  EXPECT_EQ(deletes(), (std::vector<std::string>{"web-2"}));
  EXPECT_TRUE(hasEvent("SuccessfulDelete: delete Pod web-2 in StatefulSet web successful"));
  // web-2 is terminating (graceful): web-1 waits.
  ASSERT_TRUE(hasDeletionTimestamp(*pod("web-2")));
  syncNow();
  EXPECT_EQ(deletes().size(), 1u);
  reap("web-2");
  syncNow();
  EXPECT_EQ(deletes(), (std::vector<std::string>{"web-2", "web-1"}));
  reap("web-1");
  syncNow();
  EXPECT_EQ(status("replicas"), 1);
  EXPECT_EQ(status("readyReplicas"), 1);
}

TEST_F(StatefulSetTest, OrderedScaleDownBlocksOnUnhealthyPods) {
  seed(set_kind_, setObject(3));
  bringUp(3);
  runPod("web-0", false);
  setSpec("replicas", 1);
  syncNow();
  EXPECT_TRUE(deletes().empty());
  runPod("web-0", true);
  syncNow();
  EXPECT_EQ(deletes(), (std::vector<std::string>{"web-2"}));
}

TEST_F(StatefulSetTest, RollingUpdateReplacesFromTheHighestOrdinal) {
  seed(set_kind_, setObject(3));
  bringUp(3);
  std::string rev1 = statusStr("currentRevision");
  setImage("web:v2");
  syncNow();
  std::string rev2 = statusStr("updateRevision");
  EXPECT_NE(rev1, rev2);
  EXPECT_EQ(statusStr("currentRevision"), rev1);
  EXPECT_EQ(deletes(), (std::vector<std::string>{"web-2"}));
  EXPECT_EQ(status("observedGeneration"), 2);
  // The revisions are both recorded.
  auto revs = fake_.list(cr_kind_, "default", {});
  EXPECT_EQ(revs->items.size(), 2u);

  reap("web-2");
  syncNow();
  ObjectPtr new2 = pod("web-2");
  ASSERT_NE(new2, nullptr);
  EXPECT_EQ(podRevision(*new2), rev2);
  EXPECT_EQ(api::strAt(api::arrAt(*new2, {"spec", "containers"})->at(0).as_object(), {"image"}),
            "web:v2");
  // Not ready yet: web-1 waits.
  syncNow();
  EXPECT_EQ(deletes().size(), 1u);
  runPod("web-2");
  syncNow();
  EXPECT_EQ(deletes(), (std::vector<std::string>{"web-2", "web-1"}));
  reap("web-1");
  syncNow();
  runPod("web-1");
  syncNow();
  reap("web-0");
  syncNow();
  runPod("web-0");
  syncNow();
  EXPECT_EQ(deletes().size(), 3u);
  // All updated and ready: the rollout is complete.
  EXPECT_EQ(statusStr("currentRevision"), rev2);
  EXPECT_EQ(statusStr("updateRevision"), rev2);
  EXPECT_EQ(status("currentReplicas"), 3);
  EXPECT_EQ(status("updatedReplicas"), 3);
}

TEST_F(StatefulSetTest, PartitionKeepsLowOrdinalsAtTheCurrentRevision) {
  seed(set_kind_,
       setObject(3, "OrderedReady", R"({"type":"RollingUpdate","rollingUpdate":{"partition":2}})"));
  bringUp(3);
  std::string rev1 = statusStr("currentRevision");
  setImage("web:v2");
  syncNow();
  EXPECT_EQ(deletes(), (std::vector<std::string>{"web-2"}));
  reap("web-2");
  syncNow();
  runPod("web-2");
  syncNow();
  EXPECT_EQ(deletes().size(), 1u);
  EXPECT_EQ(status("updatedReplicas"), 1);
  EXPECT_EQ(status("currentReplicas"), 2);
  EXPECT_EQ(statusStr("currentRevision"), rev1);
  // A pod below the partition deleted by hand comes back at the current
  // revision.
  reap("web-1");
  syncNow();
  ASSERT_NE(pod("web-1"), nullptr);
  EXPECT_EQ(podRevision(*pod("web-1")), rev1);
  EXPECT_EQ(
      api::strAt(api::arrAt(*pod("web-1"), {"spec", "containers"})->at(0).as_object(), {"image"}),
      "web:v1");
}

TEST_F(StatefulSetTest, OnDeleteWaitsForManualDeletion) {
  seed(set_kind_, setObject(2, "OrderedReady", R"({"type":"OnDelete"})"));
  bringUp(2);
  setImage("web:v2");
  syncNow();
  syncNow();
  EXPECT_TRUE(deletes().empty());
  std::string rev2 = statusStr("updateRevision");
  EXPECT_EQ(status("updatedReplicas"), 0);
  reap("web-0");
  syncNow();
  EXPECT_EQ(podRevision(*pod("web-0")), rev2);
}

TEST_F(StatefulSetTest, FailedPodsAreDeletedAndRecreated) {
  seed(set_kind_, setObject(2));
  bringUp(2);
  setPhase("web-1", "Failed");
  syncNow();
  EXPECT_EQ(deletes(), (std::vector<std::string>{"web-1"}));
  EXPECT_TRUE(hasEvent("SuccessfulDelete: delete Pod web-1 in StatefulSet web successful"));
  // A failed pod is deleted at once (no grace): recreated next time.
  syncNow();
  syncInformers();
  ASSERT_NE(pod("web-1"), nullptr);
  EXPECT_EQ(api::strAt(*pod("web-1"), {"status", "phase"}), "Pending");
  EXPECT_EQ(creates().size(), 3u);
}

TEST_F(StatefulSetTest, IdentityIsRepairedOnRunningPods) {
  seed(set_kind_, setObject(1));
  bringUp(1);
  Object p = *pod("web-0");
  p["metadata"].as_object()["labels"].as_object().erase(kStatefulSetPodNameLabel);
  ASSERT_TRUE(fake_.update(pod_kind_, p).ok());
  syncNow();
  EXPECT_EQ(api::strAt(*pod("web-0"), {"metadata", "labels", kStatefulSetPodNameLabel}), "web-0");
  EXPECT_TRUE(hasEvent("SuccessfulUpdate: update Pod web-0 in StatefulSet web successful"));
}

TEST_F(StatefulSetTest, AdoptsOrphanPodsAndRevisionsButNotStrangers) {
  ObjectPtr set = seed(set_kind_, setObject(1));
  for (const char* name : {"web-0", "other-0"}) {
    Object p;
    p["apiVersion"] = "v1";
    p["kind"] = "Pod";
    p["metadata"] = json::object{
        {"name", name}, {"namespace", "default"}, {"labels", json::object{{"app", "web"}}}};
    p["spec"] = json::parse(R"({"containers":[{"name":"c","image":"web:v1"}]})");
    p["status"] = json::object{{"phase", "Pending"}};
    seed(pod_kind_, p);
  }
  Object orphan_rev;
  orphan_rev["apiVersion"] = "apps/v1";
  orphan_rev["kind"] = "ControllerRevision";
  orphan_rev["metadata"] = json::object{
      {"name", "web-old"}, {"namespace", "default"}, {"labels", json::object{{"app", "web"}}}};
  orphan_rev["data"] = json::parse(R"({"spec":{"template":{"$patch":"replace"}}})");
  orphan_rev["revision"] = 1;
  seed(cr_kind_, orphan_rev);
  ASSERT_TRUE(ssc_->sync("default/web").ok());
  EXPECT_EQ(controllerUid(*pod("web-0")), api::uid(*set));
  EXPECT_EQ(controllerUid(*pod("other-0")), "");
  EXPECT_EQ(controllerUid(*fake_.find(cr_kind_, "default", "web-old")), api::uid(*set));
  // web-0 exists (adopted): not created again.
  EXPECT_TRUE(creates().empty());
}

TEST_F(StatefulSetTest, HistoryIsTrimmedToTheLimit) {
  Object set = setObject(1);
  set["spec"].as_object()["revisionHistoryLimit"] = 1;
  set["spec"].as_object()["updateStrategy"] = json::parse(R"({"type":"OnDelete"})");
  seed(set_kind_, set);
  bringUp(1);
  for (const char* image : {"web:v2", "web:v3", "web:v4"}) {
    setImage(image);
    syncNow();
    syncNow();
  }
  // Live: the current revision (web-0's) and the update revision; one more
  // kept as history.
  auto revs = fake_.list(cr_kind_, "default", {});
  EXPECT_EQ(revs->items.size(), 3u);
  int64_t max_rev = 0;
  for (const auto& r : revs->items)
    max_rev = std::max(max_rev, api::intAt(*r, {"revision"}).value_or(0));
  EXPECT_EQ(max_rev, 4);
}

TEST_F(StatefulSetTest, MinReadySecondsDelaysAvailability) {
  Object set = setObject(1);
  set["spec"].as_object()["minReadySeconds"] = 30;
  seed(set_kind_, set);
  syncNow();
  runPod("web-0");
  syncNow();
  EXPECT_EQ(status("readyReplicas"), 1);
  EXPECT_EQ(status("availableReplicas"), 0);
  EXPECT_EQ(ssc_->loop().lastDelay("default/web").value_or(std::chrono::milliseconds(0)),
            std::chrono::seconds(30));
  clock_.advance(std::chrono::seconds(31));
  syncNow();
  EXPECT_EQ(status("availableReplicas"), 1);
}

TEST_F(StatefulSetTest, StartOrdinalShiftsPodNames) {
  Object set = setObject(2, "Parallel");
  set["spec"].as_object()["ordinals"] = json::object{{"start", 5}};
  seed(set_kind_, set);
  ASSERT_TRUE(ssc_->sync("default/web").ok());
  EXPECT_EQ(podNames(), (std::set<std::string>{"web-5", "web-6"}));
  EXPECT_EQ(api::strAt(*pod("web-5"), {"metadata", "labels", kPodIndexLabel}), "5");
}

TEST_F(StatefulSetTest, PodHandlersEnqueueTheOwner) {
  ObjectPtr set = seed(set_kind_, setObject(1));
  std::string key;
  while (ssc_->loop().queue().size() > 0) {
    ssc_->loop().queue().get(&key);
    ssc_->loop().queue().done(key);
  }
  Object p;
  p["apiVersion"] = "v1";
  p["kind"] = "Pod";
  p["metadata"] = json::object{{"name", "web-0"},
                               {"namespace", "default"},
                               {"ownerReferences", json::array{newControllerRef(*set, set_kind_)}}};
  seed(pod_kind_, p);
  ASSERT_EQ(ssc_->loop().queue().size(), 1u);
  ssc_->loop().queue().get(&key);
  EXPECT_EQ(key, "default/web");
  ssc_->loop().queue().done(key);
  // A pod of nobody with unrelated labels wakes nobody.
  Object stranger = p;
  stranger["metadata"] = json::object{{"name", "x-0"}, {"namespace", "default"}};
  seed(pod_kind_, stranger);
  EXPECT_EQ(ssc_->loop().queue().size(), 0u);
}

TEST_F(StatefulSetTest, DeletedSetIsANoop) {
  EXPECT_TRUE(ssc_->sync("default/web").ok());
  EXPECT_TRUE(fake_.writes().empty());
}

}  // namespace
}  // namespace berth::controllers
