#include "controllers/replicaset/replica_set_controller.h"

#include <gtest/gtest.h>

#include <set>

#include "api/kinds/access.h"
#include "api/object.h"
#include "client/fake_client.h"
#include "controllers/pod_util.h"

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

json::object labelsObj(std::initializer_list<std::pair<const char*, const char*>> kv) {
  json::object o;
  for (const auto& [k, v] : kv) o[k] = v;
  return o;
}

// The controller, a FakeClient and informers that are fed by hand
// (injectUpsert), as a watch would feed them.
class ReplicaSetTest : public ::testing::Test {
 protected:
  ReplicaSetTest()
      : clock_(t0()),
        fake_(clock_),
        informers_(fake_),
        recorder_(fake_, clock_, "replicaset-controller"),
        rs_kind_(client::kind("apps", "ReplicaSet")),
        pod_kind_(client::kind("", "Pod")) {}

  void SetUp() override {
    rsc_ = std::make_unique<ReplicaSetController>(fake_, informers_, recorder_, clock_, 1);
    informers_.forKind(rs_kind_).markSynced();
    informers_.forKind(pod_kind_).markSynced();
  }

  client::Informer& rsInformer() { return informers_.forKind(rs_kind_); }
  client::Informer& podInformer() { return informers_.forKind(pod_kind_); }

  Object rsObject(const std::string& name, int64_t replicas, int64_t min_ready = 0) {
    Object rs;
    rs["apiVersion"] = "apps/v1";
    rs["kind"] = "ReplicaSet";
    json::object meta;
    meta["name"] = name;
    meta["namespace"] = "default";
    meta["generation"] = 1;
    meta["labels"] = labelsObj({{"app", "web"}});
    rs["metadata"] = meta;
    json::object spec;
    spec["replicas"] = replicas;
    spec["minReadySeconds"] = min_ready;
    spec["selector"] = json::object{{"matchLabels", labelsObj({{"app", "web"}})}};
    json::object tmpl;
    tmpl["metadata"] = json::object{{"labels", labelsObj({{"app", "web"}, {"tier", "front"}})},
                                    {"annotations", labelsObj({{"note", "x"}})}};
    tmpl["spec"] = json::parse(R"({"containers":[{"name":"c","image":"nginx"}]})");
    spec["template"] = tmpl;
    rs["spec"] = spec;
    return rs;
  }

  // Seeds an object in the fake API and in the informer.
  ObjectPtr seed(const api::KindInfo& kind, Object obj) {
    ObjectPtr stored = fake_.add(kind, std::move(obj));
    informers_.forKind(kind).injectUpsert(stored);
    return stored;
  }

  Object podObject(const std::string& name, const ObjectPtr& owner, const std::string& node,
                   const std::string& phase, bool ready,
                   std::chrono::system_clock::time_point ready_since = {}) {
    Object pod;
    pod["apiVersion"] = "v1";
    pod["kind"] = "Pod";
    json::object meta;
    meta["name"] = name;
    meta["namespace"] = "default";
    meta["labels"] = labelsObj({{"app", "web"}, {"tier", "front"}});
    if (owner) meta["ownerReferences"] = json::array{newControllerRef(*owner, rs_kind_)};
    pod["metadata"] = meta;
    json::object spec;
    if (!node.empty()) spec["nodeName"] = node;
    spec["containers"] = json::parse(R"([{"name":"c","image":"nginx"}])");
    pod["spec"] = spec;
    json::object status;
    if (!phase.empty()) status["phase"] = phase;
    if (ready) {
      json::object c{{"type", "Ready"}, {"status", "True"}};
      c["lastTransitionTime"] = formatRfc3339(
          ready_since == std::chrono::system_clock::time_point{} ? clock_.now() : ready_since);
      status["conditions"] = json::array{c};
    }
    pod["status"] = status;
    return pod;
  }

  // Feeds the informers with what the fake API holds now, as watch events
  // would: upserts for every object, deletes for what is gone.
  void syncInformers() {
    for (const api::KindInfo* k : {&rs_kind_, &pod_kind_}) {
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

  std::vector<client::Action> writesOf(const std::string& verb, const std::string& resource) {
    std::vector<client::Action> out;
    for (const auto& a : fake_.writes())
      if (a.verb == verb && a.resource == resource) out.push_back(a);
    return out;
  }

  std::vector<ObjectPtr> pods() {
    auto list = fake_.list(pod_kind_, "default", {});
    return list.ok() ? list->items : std::vector<ObjectPtr>{};
  }

  ObjectPtr getRs(const std::string& name) {
    auto r = fake_.get(rs_kind_, "default", name);
    return r.ok() ? *r : nullptr;
  }

  // Events written by the recorder as "reason: message".
  std::vector<std::string> events() {
    recorder_.flush();
    std::vector<std::string> out;
    auto list = fake_.list(client::kind("", "Event"), "", {});
    if (!list.ok()) return out;
    for (const auto& e : list->items)
      out.push_back(api::strAt(*e, {"reason"}) + ": " + api::strAt(*e, {"message"}));
    return out;
  }

  FakeClock clock_;
  client::FakeClient fake_;
  client::InformerFactory informers_;
  client::EventRecorder recorder_;
  const api::KindInfo& rs_kind_;
  const api::KindInfo& pod_kind_;
  std::unique_ptr<ReplicaSetController> rsc_;
};

TEST(SlowStartBatch, DoublesBatchesAndStopsAfterAFailingBatch) {
  int calls = 0;
  auto res = slowStartBatch(10, 1, [&]() -> Status {
    ++calls;
    if (calls == 4) return makeError(ErrorCode::kForbidden, "quota");
    return okStatus();
  });
  // Batches 1, 2, 4: the failure is in the third batch, whose calls all run.
  EXPECT_EQ(calls, 7);
  EXPECT_EQ(res.successes, 6);
  ASSERT_FALSE(res.error.ok());
  EXPECT_EQ(res.error.error().message, "quota");

  calls = 0;
  auto all = slowStartBatch(5, 1, [&]() -> Status {
    ++calls;
    return okStatus();
  });
  EXPECT_EQ(calls, 5);
  EXPECT_EQ(all.successes, 5);
  EXPECT_TRUE(all.error.ok());
}

TEST_F(ReplicaSetTest, ScaleUpCreatesPodsFromTheTemplateWithControllerRef) {
  ObjectPtr rs = seed(rs_kind_, rsObject("web", 3));
  ASSERT_TRUE(rsc_->sync("default/web").ok());

  auto created = pods();
  ASSERT_EQ(created.size(), 3u);
  for (const auto& p : created) {
    EXPECT_EQ(api::strAt(*p, {"metadata", "generateName"}), "web-");
    EXPECT_EQ(api::name(*p).rfind("web-", 0), 0u);
    EXPECT_EQ(api::strAt(*p, {"metadata", "labels", "tier"}), "front");
    EXPECT_EQ(api::strAt(*p, {"metadata", "annotations", "note"}), "x");
    const json::object* ref = controllerRef(*p);
    ASSERT_NE(ref, nullptr);
    EXPECT_EQ(api::strAt(*ref, {"kind"}), "ReplicaSet");
    EXPECT_EQ(api::strAt(*ref, {"apiVersion"}), "apps/v1");
    EXPECT_EQ(api::strAt(*ref, {"uid"}), api::uid(*rs));
    EXPECT_TRUE(api::boolAt(*ref, {"blockOwnerDeletion"}).value_or(false));
    EXPECT_EQ(api::arrAt(*p, {"spec", "containers"})->size(), 1u);
  }
  // Expectations: three creations not yet observed.
  auto exp = rsc_->expectations().get("default/web");
  ASSERT_TRUE(exp.has_value());
  EXPECT_EQ(exp->add, 3);
  EXPECT_FALSE(rsc_->expectations().satisfied("default/web"));

  // Status written with the observed generation (pods not yet in the cache).
  ObjectPtr cur = getRs("web");
  EXPECT_EQ(api::intAt(*cur, {"status", "observedGeneration"}).value_or(-1), 1);
  EXPECT_EQ(api::intAt(*cur, {"status", "replicas"}).value_or(-1), 0);

  int created_events = 0;
  for (const auto& e : events())
    if (e.rfind("SuccessfulCreate: Created pod: web-", 0) == 0) ++created_events;
  EXPECT_EQ(created_events, 3);
}

TEST_F(ReplicaSetTest, ExpectationsPreventDoubleCreationUntilObserved) {
  seed(rs_kind_, rsObject("web", 3));
  ASSERT_TRUE(rsc_->sync("default/web").ok());
  ASSERT_EQ(writesOf("create", "pods").size(), 3u);

  // The informer has not seen the pods: another sync must not create more.
  rsInformer().injectUpsert(getRs("web"));
  ASSERT_TRUE(rsc_->sync("default/web").ok());
  EXPECT_EQ(writesOf("create", "pods").size(), 3u);

  // The pods arrive: the add handler observes each creation.
  syncInformers();
  EXPECT_TRUE(rsc_->expectations().satisfied("default/web"));
  auto exp = rsc_->expectations().get("default/web");
  ASSERT_TRUE(exp.has_value());
  EXPECT_EQ(exp->add, 0);
  EXPECT_GT(rsc_->workQueue().size(), 0u);

  ASSERT_TRUE(rsc_->sync("default/web").ok());
  EXPECT_EQ(writesOf("create", "pods").size(), 3u);
  EXPECT_EQ(api::intAt(*getRs("web"), {"status", "replicas"}).value_or(-1), 3);
  EXPECT_EQ(api::intAt(*getRs("web"), {"status", "fullyLabeledReplicas"}).value_or(-1), 3);
}

TEST_F(ReplicaSetTest, ExpectationsExpireAfterFiveMinutes) {
  seed(rs_kind_, rsObject("web", 2));
  ASSERT_TRUE(rsc_->sync("default/web").ok());
  ASSERT_EQ(writesOf("create", "pods").size(), 2u);
  // The watch events are lost (never injected).
  clock_.advance(std::chrono::minutes(4));
  ASSERT_TRUE(rsc_->sync("default/web").ok());
  EXPECT_EQ(writesOf("create", "pods").size(), 2u);
  clock_.advance(std::chrono::minutes(1) + std::chrono::seconds(1));
  EXPECT_TRUE(rsc_->expectations().satisfied("default/web"));
  ASSERT_TRUE(rsc_->sync("default/web").ok());
  // The cache still shows no pods, so the controller creates again.
  EXPECT_EQ(writesOf("create", "pods").size(), 4u);
}

TEST_F(ReplicaSetTest, CreateFailureSetsReplicaFailureAndRecovers) {
  seed(rs_kind_, rsObject("web", 3));
  bool quota_exceeded = true;
  fake_.prependReactor(
      "create", "pods", [&](const client::Action&) -> std::optional<Result<ObjectPtr>> {
        if (!quota_exceeded) return std::nullopt;
        return Result<ObjectPtr>(
            makeError(ErrorCode::kForbidden,
                      "pods \"web-abcde\" is forbidden: exceeded quota: q, requested: pods=1, "
                      "used: pods=2, limited: pods=2"));
      });
  Status s = rsc_->sync("default/web");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kForbidden);
  // Slow start: one attempt, then the run stops.
  int attempts = 0;
  for (const auto& a : fake_.actions())
    if (a.verb == "create" && a.resource == "pods") ++attempts;
  EXPECT_EQ(attempts, 1);
  // The skipped and failed creations are not expected.
  EXPECT_TRUE(rsc_->expectations().satisfied("default/web"));

  ObjectPtr cur = getRs("web");
  const json::array* conds = api::arrAt(*cur, {"status", "conditions"});
  ASSERT_NE(conds, nullptr);
  ASSERT_EQ(conds->size(), 1u);
  const json::object& c = conds->at(0).as_object();
  EXPECT_EQ(api::strAt(c, {"type"}), "ReplicaFailure");
  EXPECT_EQ(api::strAt(c, {"status"}), "True");
  EXPECT_EQ(api::strAt(c, {"reason"}), "FailedCreate");
  EXPECT_EQ(api::strAt(c, {"lastTransitionTime"}), "2024-03-01T10:00:00Z");
  EXPECT_NE(api::strAt(c, {"message"}).find("exceeded quota"), std::string::npos);
  bool failed_event = false;
  for (const auto& e : events())
    if (e.rfind("FailedCreate: Error creating: pods \"web-abcde\" is forbidden: exceeded quota",
                0) == 0)
      failed_event = true;
  EXPECT_TRUE(failed_event);

  // Quota freed: the next sync creates all three pods and drops the condition.
  quota_exceeded = false;
  rsInformer().injectUpsert(cur);
  ASSERT_TRUE(rsc_->sync("default/web").ok());
  EXPECT_EQ(pods().size(), 3u);
  EXPECT_EQ(api::arrAt(*getRs("web"), {"status", "conditions"}), nullptr);
}

TEST_F(ReplicaSetTest, BurstReplicasLimitsCreatesPerSync) {
  seed(rs_kind_, rsObject("web", 5));
  rsc_->setBurstReplicas(2);
  ASSERT_TRUE(rsc_->sync("default/web").ok());
  EXPECT_EQ(writesOf("create", "pods").size(), 2u);
  syncInformers();
  ASSERT_TRUE(rsc_->sync("default/web").ok());
  EXPECT_EQ(writesOf("create", "pods").size(), 4u);
}

TEST_F(ReplicaSetTest, ScaleDownDeletesInRankingOrder) {
  ObjectPtr rs = seed(rs_kind_, rsObject("web", 1));
  seed(pod_kind_,
       podObject("ready-old", rs, "node-a", "Running", true, t0() - std::chrono::hours(2)));
  seed(pod_kind_, podObject("unscheduled", rs, "", "Pending", false));
  seed(pod_kind_, podObject("pending", rs, "node-a", "Pending", false));
  seed(pod_kind_, podObject("running-notready", rs, "node-b", "Running", false));
  seed(pod_kind_,
       podObject("ready-new", rs, "node-c", "Running", true, t0() - std::chrono::seconds(30)));

  ASSERT_TRUE(rsc_->sync("default/web").ok());
  auto deletes = writesOf("delete", "pods");
  ASSERT_EQ(deletes.size(), 4u);
  std::vector<std::string> names;
  for (const auto& d : deletes) names.push_back(d.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"unscheduled", "pending", "running-notready", "ready-new"}));
  // Deletions are tracked per pod key.
  auto pending = rsc_->expectations().pendingDeletions("default/web");
  EXPECT_EQ(pending.size(), 4u);
  EXPECT_TRUE(pending.count("default/unscheduled"));

  bool deleted_event = false;
  for (const auto& e : events())
    if (e == "SuccessfulDelete: Deleted pod: unscheduled") deleted_event = true;
  EXPECT_TRUE(deleted_event);
}

TEST_F(ReplicaSetTest, GracefulDeletionCountsOnceAndTerminatingPodsAreNotActive) {
  ObjectPtr rs = seed(rs_kind_, rsObject("web", 1));
  seed(pod_kind_, podObject("a", rs, "node-a", "Running", true, t0() - std::chrono::hours(1)));
  seed(pod_kind_, podObject("b", rs, "node-a", "Running", true, t0() - std::chrono::minutes(1)));
  ASSERT_TRUE(rsc_->sync("default/web").ok());
  ASSERT_EQ(writesOf("delete", "pods").size(), 1u);
  EXPECT_EQ(writesOf("delete", "pods")[0].name, "b");  // ready for less time
  EXPECT_FALSE(rsc_->expectations().satisfied("default/web"));

  // The pod is on a node: deletion is graceful (deletionTimestamp set).
  syncInformers();
  auto b = podInformer().get("default", "b");
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(hasDeletionTimestamp(*b));
  EXPECT_TRUE(rsc_->expectations().satisfied("default/web"));
  // Observing the final removal does not lower the count twice.
  podInformer().injectDelete("default/b");
  auto exp = rsc_->expectations().get("default/web");
  ASSERT_TRUE(exp.has_value());
  EXPECT_EQ(exp->del, 0);

  // A terminating pod does not count as a replica: with "a" terminating
  // too, the controller creates a replacement.
  Object a = *podInformer().get("default", "a");
  api::mutableMetadata(a)["deletionTimestamp"] = formatRfc3339(clock_.now());
  api::mutableMetadata(a)["resourceVersion"] = "100000";  // a new version, as a watch event carries
  podInformer().injectUpsert(std::make_shared<const Object>(a));
  ASSERT_TRUE(rsc_->sync("default/web").ok());
  EXPECT_EQ(writesOf("create", "pods").size(), 1u);
  EXPECT_EQ(api::intAt(*getRs("web"), {"status", "replicas"}).value_or(-1), 0);
}

TEST_F(ReplicaSetTest, AdoptsMatchingOrphansAndReleasesNonMatchingPods) {
  ObjectPtr rs = seed(rs_kind_, rsObject("web", 2));
  seed(pod_kind_, podObject("orphan", nullptr, "node-a", "Running", true));
  Object stray = podObject("stray", rs, "node-a", "Running", true);
  api::mutableMetadata(stray)["labels"] = labelsObj({{"app", "other"}});
  seed(pod_kind_, std::move(stray));
  // A pod owned by another controller is left alone.
  Object foreign = podObject("foreign", nullptr, "node-a", "Running", true);
  json::object other_ref{{"apiVersion", "apps/v1"},
                         {"kind", "ReplicaSet"},
                         {"name", "x"},
                         {"uid", "other-uid"},
                         {"controller", true}};
  api::mutableMetadata(foreign)["ownerReferences"] = json::array{other_ref};
  seed(pod_kind_, std::move(foreign));

  ASSERT_TRUE(rsc_->sync("default/web").ok());
  auto patches = writesOf("patch", "pods");
  ASSERT_EQ(patches.size(), 2u);
  std::map<std::string, std::string> by_name;
  for (const auto& p : patches) by_name[p.name] = p.patch;
  ASSERT_TRUE(by_name.count("orphan"));
  ASSERT_TRUE(by_name.count("stray"));
  EXPECT_NE(by_name["orphan"].find("\"controller\":true"), std::string::npos);
  EXPECT_NE(by_name["stray"].find("\"$patch\":\"delete\""), std::string::npos);

  // The orphan is now owned; the stray no longer is.
  auto orphan = fake_.get(pod_kind_, "default", "orphan");
  ASSERT_TRUE(orphan.ok());
  const json::object* ref = controllerRef(**orphan);
  ASSERT_NE(ref, nullptr);
  EXPECT_EQ(api::strAt(*ref, {"uid"}), api::uid(*rs));
  auto released = fake_.get(pod_kind_, "default", "stray");
  ASSERT_TRUE(released.ok());
  EXPECT_EQ(controllerRef(**released), nullptr);

  // Only the adopted pod counts: one more is created to reach 2.
  EXPECT_EQ(writesOf("create", "pods").size(), 1u);
}

TEST_F(ReplicaSetTest, NoAdoptionWhileTheReplicaSetIsBeingDeleted) {
  Object obj = rsObject("web", 1);
  api::mutableMetadata(obj)["finalizers"] = json::array{"foregroundDeletion"};
  ObjectPtr rs = seed(rs_kind_, std::move(obj));
  ASSERT_TRUE(fake_.remove(rs_kind_, "default", "web").ok());
  syncInformers();
  seed(pod_kind_, podObject("orphan", nullptr, "node-a", "Running", true));
  fake_.clearActions();
  ASSERT_TRUE(rsc_->sync("default/web").ok());
  EXPECT_TRUE(writesOf("patch", "pods").empty());
  EXPECT_TRUE(writesOf("create", "pods").empty());
}

TEST_F(ReplicaSetTest, ReadyAndAvailableFollowMinReadySeconds) {
  ObjectPtr rs = seed(rs_kind_, rsObject("web", 2, /*min_ready=*/10));
  seed(pod_kind_, podObject("a", rs, "node-a", "Running", true, clock_.now()));
  Object partial = podObject("b", rs, "node-a", "Running", false);
  api::mutableMetadata(partial)["labels"] = labelsObj({{"app", "web"}});  // lacks tier=front
  seed(pod_kind_, std::move(partial));

  ASSERT_TRUE(rsc_->sync("default/web").ok());
  ObjectPtr cur = getRs("web");
  EXPECT_EQ(api::intAt(*cur, {"status", "replicas"}).value_or(-1), 2);
  EXPECT_EQ(api::intAt(*cur, {"status", "fullyLabeledReplicas"}).value_or(-1), 1);
  EXPECT_EQ(api::intAt(*cur, {"status", "readyReplicas"}).value_or(-1), 1);
  EXPECT_FALSE(api::intAt(*cur, {"status", "availableReplicas"}).has_value());

  clock_.advance(std::chrono::seconds(11));
  rsInformer().injectUpsert(cur);
  ASSERT_TRUE(rsc_->sync("default/web").ok());
  EXPECT_EQ(api::intAt(*getRs("web"), {"status", "availableReplicas"}).value_or(-1), 1);
}

TEST_F(ReplicaSetTest, StatusUnchangedWritesNothing) {
  ObjectPtr rs = seed(rs_kind_, rsObject("web", 1));
  seed(pod_kind_, podObject("a", rs, "node-a", "Running", true));
  ASSERT_TRUE(rsc_->sync("default/web").ok());
  syncInformers();
  fake_.clearActions();
  ASSERT_TRUE(rsc_->sync("default/web").ok());
  EXPECT_TRUE(fake_.writes().empty());
}

TEST_F(ReplicaSetTest, DeletedReplicaSetForgetsExpectations) {
  seed(rs_kind_, rsObject("web", 2));
  ASSERT_TRUE(rsc_->sync("default/web").ok());
  EXPECT_TRUE(rsc_->expectations().get("default/web").has_value());
  rsInformer().injectDelete("default/web");
  EXPECT_FALSE(rsc_->expectations().get("default/web").has_value());
  ASSERT_TRUE(rsc_->sync("default/web").ok());
}

// Drains the work queue without workers; returns the keys that were queued.
std::set<std::string> drain(ReplicaSetController& c) {
  std::set<std::string> keys;
  std::string key;
  while (c.workQueue().size() > 0 && c.workQueue().get(&key)) {
    keys.insert(key);
    c.workQueue().done(key);
  }
  return keys;
}

TEST_F(ReplicaSetTest, PodEventsEnqueueTheOwnerOrMatchingReplicaSets) {
  ObjectPtr web = seed(rs_kind_, rsObject("web", 0));
  Object other = rsObject("other", 0);
  other["spec"].as_object()["selector"] = json::object{{"matchLabels", labelsObj({{"app", "db"}})}};
  seed(rs_kind_, std::move(other));
  EXPECT_EQ(drain(*rsc_), (std::set<std::string>{"default/other", "default/web"}));

  // An orphan wakes the ReplicaSets whose selector matches it.
  seed(pod_kind_, podObject("orphan", nullptr, "node-a", "Running", false));
  EXPECT_EQ(drain(*rsc_), (std::set<std::string>{"default/web"}));

  // An owned pod wakes its owner only, and counts as an observed creation.
  rsc_->expectations().expectCreations("default/web", 1);
  Object owned = podObject("owned", web, "node-a", "Running", false);
  api::mutableMetadata(owned)["labels"] = labelsObj({{"app", "db"}});
  seed(pod_kind_, std::move(owned));
  EXPECT_EQ(drain(*rsc_), (std::set<std::string>{"default/web"}));
  EXPECT_EQ(rsc_->expectations().get("default/web")->add, 0);

  // A resync (same resourceVersion) enqueues nothing.
  podInformer().injectUpsert(podInformer().get("default", "owned"));
  EXPECT_TRUE(drain(*rsc_).empty());
}

class ReplicationManagerTest : public ReplicaSetTest {};

TEST_F(ReplicationManagerTest, ManagesReplicationControllersWithMapSelectors) {
  const api::KindInfo& rc_kind = client::kind("", "ReplicationController");
  client::EventRecorder rc_recorder(fake_, clock_, "replication-controller");
  ReplicationManager rm(fake_, informers_, rc_recorder, clock_, 1);
  informers_.forKind(rc_kind).markSynced();

  Object rc;
  rc["apiVersion"] = "v1";
  rc["kind"] = "ReplicationController";
  rc["metadata"] = json::object{{"name", "legacy"}, {"namespace", "default"}, {"generation", 2}};
  json::object spec;
  spec["replicas"] = 2;
  spec["selector"] = labelsObj({{"app", "legacy"}});
  spec["template"] =
      json::object{{"metadata", json::object{{"labels", labelsObj({{"app", "legacy"}})}}},
                   {"spec", json::parse(R"({"containers":[{"name":"c","image":"busybox"}]})")}};
  rc["spec"] = spec;
  ObjectPtr stored = fake_.add(rc_kind, rc);
  informers_.forKind(rc_kind).injectUpsert(stored);

  ASSERT_TRUE(rm.sync("default/legacy").ok());
  auto created = pods();
  ASSERT_EQ(created.size(), 2u);
  for (const auto& p : created) {
    const json::object* ref = controllerRef(*p);
    ASSERT_NE(ref, nullptr);
    EXPECT_EQ(api::strAt(*ref, {"kind"}), "ReplicationController");
    EXPECT_EQ(api::strAt(*ref, {"apiVersion"}), "v1");
    EXPECT_EQ(api::strAt(*p, {"metadata", "generateName"}), "legacy-");
  }
  // The pods arrive in the cache and are counted.
  for (const auto& p : created) podInformer().injectUpsert(p);
  EXPECT_TRUE(rm.expectations().satisfied("default/legacy"));
  auto cur = fake_.get(rc_kind, "default", "legacy");
  ASSERT_TRUE(cur.ok());
  informers_.forKind(rc_kind).injectUpsert(*cur);
  ASSERT_TRUE(rm.sync("default/legacy").ok());
  cur = fake_.get(rc_kind, "default", "legacy");
  EXPECT_EQ(api::intAt(**cur, {"status", "replicas"}).value_or(-1), 2);
  EXPECT_EQ(api::intAt(**cur, {"status", "observedGeneration"}).value_or(-1), 2);
  // The ReplicaSet controller ignores pods of a ReplicationController.
  ASSERT_TRUE(rsc_->sync("default/legacy").ok());
  EXPECT_EQ(pods().size(), 2u);
}

}  // namespace
}  // namespace berth::controllers
