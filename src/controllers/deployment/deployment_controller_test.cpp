#include "controllers/deployment/deployment_controller.h"

#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "api/kinds/access.h"
#include "api/object.h"
#include "client/fake_client.h"
#include "controllers/deployment/deployment_util.h"
#include "controllers/pod_control.h"
#include "controllers/pod_util.h"

namespace berth::controllers {
namespace {

namespace json = boost::json;
namespace du = deploymentutil;
using api::Object;
using client::ObjectPtr;

std::chrono::system_clock::time_point t0() {
  std::chrono::system_clock::time_point t;
  parseRfc3339("2024-03-01T10:00:00Z", &t);
  return t;
}

// The Deployment controller against a FakeClient. The ReplicaSet controller
// is played by the test: settle() makes each replica set's status follow its
// spec, with as many available pods as the test says.
class DeploymentTest : public ::testing::Test {
 protected:
  DeploymentTest()
      : clock_(t0()),
        fake_(clock_),
        informers_(fake_),
        recorder_(fake_, clock_, "deployment-controller"),
        d_kind_(client::kind("apps", "Deployment")),
        rs_kind_(client::kind("apps", "ReplicaSet")),
        pod_kind_(client::kind("", "Pod")) {}

  void SetUp() override {
    dc_ = std::make_unique<DeploymentController>(fake_, informers_, recorder_, clock_, 1);
    for (const api::KindInfo* k : {&d_kind_, &rs_kind_, &pod_kind_})
      informers_.forKind(*k).markSynced();
  }

  Object deploymentObject(int64_t replicas, const std::string& image, json::value surge = 1,
                          json::value unavailable = 1) {
    Object d = json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
      "metadata":{"name":"web","namespace":"default"},
      "spec":{"selector":{"matchLabels":{"app":"web"}},
              "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web"}]}},
              "strategy":{"type":"RollingUpdate","rollingUpdate":{}},
              "revisionHistoryLimit":10,"progressDeadlineSeconds":600}})")
                   .as_object();
    auto& spec = d["spec"].as_object();
    spec["replicas"] = replicas;
    spec["template"]
        .as_object()["spec"]
        .as_object()["containers"]
        .as_array()[0]
        .as_object()["image"] = image;
    auto& ru = spec["strategy"].as_object()["rollingUpdate"].as_object();
    ru["maxSurge"] = surge;
    ru["maxUnavailable"] = unavailable;
    return d;
  }

  void createDeployment(Object d) {
    auto created = fake_.create(d_kind_, std::move(d));
    ASSERT_TRUE(created.ok()) << created.error().message;
    syncInformers();
  }

  // Changes the deployment as a user would (spec changes bump generation).
  void editDeployment(const std::function<void(Object&)>& fn) {
    clock_.advance(std::chrono::seconds(10));
    Object d = *deployment();
    fn(d);
    auto updated = fake_.update(d_kind_, d);
    ASSERT_TRUE(updated.ok()) << updated.error().message;
    syncInformers();
  }

  void setImage(const std::string& image) {
    editDeployment([&](Object& d) {
      d["spec"]
          .as_object()["template"]
          .as_object()["spec"]
          .as_object()["containers"]
          .as_array()[0]
          .as_object()["image"] = image;
    });
  }

  ObjectPtr deployment() { return *fake_.get(d_kind_, "default", "web"); }

  // Feeds the informers with what the fake API holds, as watches would.
  void syncInformers() {
    for (const api::KindInfo* k : {&d_kind_, &rs_kind_, &pod_kind_}) {
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

  Status syncD() { return dc_->sync("default/web"); }

  std::vector<ObjectPtr> replicaSets() {
    auto list = fake_.list(rs_kind_, "default", {});
    std::vector<ObjectPtr> out = list.ok() ? list->items : std::vector<ObjectPtr>{};
    du::sortByCreation(out);
    return out;
  }

  ObjectPtr rsWithImage(const std::string& image) {
    for (const auto& rs : replicaSets()) {
      const json::array* c = api::arrAt(*rs, {"spec", "template", "spec", "containers"});
      if (c && !c->empty() && api::strAt(c->at(0).as_object(), {"image"}) == image) return rs;
    }
    return nullptr;
  }

  int64_t specOf(const std::string& image) {
    ObjectPtr rs = rsWithImage(image);
    return rs ? du::replicas(*rs) : -1;
  }

  // The ReplicaSet controller's part: status follows spec; `available`
  // says how many pods of a replica set are available (default: all).
  void settle(const std::function<int64_t(const Object& rs)>& available = nullptr) {
    for (const auto& rs : replicaSets()) {
      Object o = *rs;
      int64_t spec = du::replicas(o);
      int64_t avail = available ? std::min(available(o), spec) : spec;
      json::object status;
      du::setStatusCount(status, "replicas", spec);
      du::setStatusCount(status, "fullyLabeledReplicas", spec);
      du::setStatusCount(status, "readyReplicas", avail);
      du::setStatusCount(status, "availableReplicas", avail);
      du::setStatusCount(status, "observedGeneration",
                         api::intAt(o, {"metadata", "generation"}).value_or(0));
      o["status"] = status;
      ASSERT_TRUE(fake_.update(rs_kind_, o, client::Subresource::kStatus).ok());
    }
    syncInformers();
  }

  int64_t totalSpec() { return du::replicaCount(replicaSets()); }
  int64_t totalAvailable() { return du::availableReplicaCount(replicaSets()); }

  // kubectl's DeploymentStatusViewer (rollout status), over the deployment.
  std::string rolloutStatus() {
    ObjectPtr d = deployment();
    const json::object empty;
    const json::object* s = api::objAt(*d, {"status"});
    const json::object& st = s ? *s : empty;
    int64_t gen = api::intAt(*d, {"metadata", "generation"}).value_or(0);
    if (gen > du::statusCount(st, "observedGeneration"))
      return "Waiting for deployment spec update to be observed...";
    const json::object* cond = du::getCondition(st, "Progressing");
    if (cond && api::strAt(*cond, {"reason"}) == du::kTimedOutReason)
      return "error: deployment \"web\" exceeded its progress deadline";
    int64_t want = du::replicas(*d), updated = du::statusCount(st, "updatedReplicas");
    int64_t replicas = du::statusCount(st, "replicas"),
            available = du::statusCount(st, "availableReplicas");
    if (updated < want)
      return "Waiting for deployment \"web\" rollout to finish: " + std::to_string(updated) +
             " out of " + std::to_string(want) + " new replicas have been updated...";
    if (replicas > updated)
      return "Waiting for deployment \"web\" rollout to finish: " +
             std::to_string(replicas - updated) + " old replicas are pending termination...";
    if (available < updated)
      return "Waiting for deployment \"web\" rollout to finish: " + std::to_string(available) +
             " of " + std::to_string(updated) + " updated replicas are available...";
    return "deployment \"web\" successfully rolled out";
  }

  // Syncs until the rollout is complete, pods becoming available at once.
  void rollOut() {
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(syncD().ok());
      syncInformers();
      settle();
      if (rolloutStatus() == "deployment \"web\" successfully rolled out") {
        // One more sync to observe the final state (cleanup, conditions).
        ASSERT_TRUE(syncD().ok());
        syncInformers();
        return;
      }
    }
    FAIL() << "rollout did not complete: " << rolloutStatus();
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

  bool hasEvent(const std::string& e) {
    auto all = events();
    return std::find(all.begin(), all.end(), e) != all.end();
  }

  const json::object* condition(const std::string& type) {
    static thread_local ObjectPtr keep;
    keep = deployment();
    const json::object* s = api::objAt(*keep, {"status"});
    return s ? du::getCondition(*s, type) : nullptr;
  }

  FakeClock clock_;
  client::FakeClient fake_;
  client::InformerFactory informers_;
  client::EventRecorder recorder_;
  const api::KindInfo& d_kind_;
  const api::KindInfo& rs_kind_;
  const api::KindInfo& pod_kind_;
  std::unique_ptr<DeploymentController> dc_;
};

TEST_F(DeploymentTest, NewDeploymentCreatesAHashedReplicaSet) {
  createDeployment(deploymentObject(3, "nginx:1.25"));
  ASSERT_TRUE(syncD().ok());
  auto rss = replicaSets();
  ASSERT_EQ(rss.size(), 1u);
  const Object& rs = *rss[0];
  json::object tmpl = *api::objAt(*deployment(), {"spec", "template"});
  std::string hash = du::computeHash(tmpl, std::nullopt);
  EXPECT_EQ(api::name(rs), "web-" + hash);
  EXPECT_EQ(api::strAt(rs, {"metadata", "labels", "pod-template-hash"}), hash);
  EXPECT_EQ(api::strAt(rs, {"spec", "selector", "matchLabels", "pod-template-hash"}), hash);
  EXPECT_EQ(api::strAt(rs, {"spec", "selector", "matchLabels", "app"}), "web");
  EXPECT_EQ(api::strAt(rs, {"spec", "template", "metadata", "labels", "pod-template-hash"}), hash);
  EXPECT_EQ(du::replicas(rs), 3);
  EXPECT_EQ(du::annotation(rs, du::kRevisionAnnotation), "1");
  EXPECT_EQ(du::annotation(rs, du::kDesiredReplicasAnnotation), "3");
  EXPECT_EQ(du::annotation(rs, du::kMaxReplicasAnnotation), "4");
  const json::object* ref = controllerRef(rs);
  ASSERT_NE(ref, nullptr);
  EXPECT_EQ(api::strAt(*ref, {"kind"}), "Deployment");
  EXPECT_EQ(api::strAt(*ref, {"uid"}), api::uid(*deployment()));

  EXPECT_TRUE(hasEvent("ScalingReplicaSet: Scaled up replica set web-" + hash + " from 0 to 3"));
  EXPECT_EQ(du::annotation(*deployment(), du::kRevisionAnnotation), "1");
  const json::object* progressing = condition("Progressing");
  ASSERT_NE(progressing, nullptr);
  EXPECT_EQ(api::strAt(*progressing, {"reason"}), "NewReplicaSetCreated");
  EXPECT_EQ(api::strAt(*progressing, {"message"}), "Created new replica set \"web-" + hash + "\"");

  // Pods come up: the rollout completes as kubectl rollout status sees it.
  syncInformers();
  EXPECT_EQ(rolloutStatus(),
            "Waiting for deployment \"web\" rollout to finish: 0 out of 3 new replicas have been "
            "updated...");
  settle([](const Object&) { return 1; });
  ASSERT_TRUE(syncD().ok());
  syncInformers();
  EXPECT_EQ(
      rolloutStatus(),
      "Waiting for deployment \"web\" rollout to finish: 1 of 3 updated replicas are available...");
  const json::object* available = condition("Available");
  ASSERT_NE(available, nullptr);
  EXPECT_EQ(api::strAt(*available, {"status"}), "False");
  EXPECT_EQ(api::strAt(*available, {"reason"}), "MinimumReplicasUnavailable");
  settle();
  ASSERT_TRUE(syncD().ok());
  syncInformers();
  EXPECT_EQ(rolloutStatus(), "deployment \"web\" successfully rolled out");
  ObjectPtr d = deployment();
  EXPECT_EQ(api::intAt(*d, {"status", "replicas"}).value_or(-1), 3);
  EXPECT_EQ(api::intAt(*d, {"status", "updatedReplicas"}).value_or(-1), 3);
  EXPECT_EQ(api::intAt(*d, {"status", "readyReplicas"}).value_or(-1), 3);
  EXPECT_EQ(api::intAt(*d, {"status", "availableReplicas"}).value_or(-1), 3);
  EXPECT_FALSE(api::intAt(*d, {"status", "unavailableReplicas"}).has_value());
  EXPECT_EQ(api::intAt(*d, {"status", "observedGeneration"}).value_or(-1), 1);
  EXPECT_EQ(api::strAt(*condition("Available"), {"reason"}), "MinimumReplicasAvailable");
  EXPECT_EQ(api::strAt(*condition("Progressing"), {"reason"}), "NewReplicaSetAvailable");
  EXPECT_EQ(api::strAt(*condition("Progressing"), {"message"}),
            "ReplicaSet \"web-" + hash + "\" has successfully progressed.");
}

TEST_F(DeploymentTest, RollingUpdateStaysWithinSurgeAndUnavailability) {
  // 10 replicas, 25%/25%: at most 13 pods, at least 8 available.
  createDeployment(deploymentObject(10, "v1", "25%", "25%"));
  rollOut();
  ASSERT_EQ(specOf("v1"), 10);
  std::string old_name = api::name(*rsWithImage("v1"));

  setImage("v2");
  bool done = false;
  int steps = 0;
  for (; steps < 40 && !done; ++steps) {
    ASSERT_TRUE(syncD().ok());
    syncInformers();
    EXPECT_LE(totalSpec(), 13) << "step " << steps;
    // Pods follow the specs at once; removed old pods stop being available,
    // new pods are not available yet.
    std::map<std::string, int64_t> before;
    for (const auto& rs : replicaSets())
      before[api::name(*rs)] = api::intAt(*rs, {"status", "availableReplicas"}).value_or(0);
    settle([&](const Object& rs) { return before[api::name(rs)]; });
    EXPECT_GE(totalAvailable(), 8) << "step " << steps;
    // Then the new pods become available.
    settle();
    done = rolloutStatus() == "deployment \"web\" successfully rolled out" && specOf("v1") == 0;
  }
  ASSERT_TRUE(done) << rolloutStatus();
  EXPECT_GT(steps, 2);  // it took several steps, not one jump
  EXPECT_EQ(specOf("v2"), 10);
  std::string new_name = api::name(*rsWithImage("v2"));
  EXPECT_EQ(du::annotation(*rsWithImage("v2"), du::kRevisionAnnotation), "2");
  EXPECT_EQ(du::annotation(*rsWithImage("v1"), du::kRevisionAnnotation), "1");
  ASSERT_TRUE(syncD().ok());
  EXPECT_EQ(du::annotation(*deployment(), du::kRevisionAnnotation), "2");
  EXPECT_EQ(api::intAt(*deployment(), {"status", "observedGeneration"}).value_or(-1), 2);
  // First step: surge by 3 (13 - 10), then old replicas go as new ones are up.
  EXPECT_TRUE(hasEvent("ScalingReplicaSet: Scaled up replica set " + new_name + " from 0 to 3"));
  EXPECT_TRUE(hasEvent("ScalingReplicaSet: Scaled down replica set " + old_name + " from 10 to 8"));
}

TEST_F(DeploymentTest, RollingUpdateFirstStepWithAbsoluteFenceposts) {
  createDeployment(deploymentObject(4, "v1", 1, 1));
  rollOut();
  setImage("v2");
  ASSERT_TRUE(syncD().ok());
  syncInformers();
  // New replica set: 4 + 1 surge - 4 running = 1; old: 4 available - 3
  // needed = 1 can go at once.
  EXPECT_EQ(specOf("v2"), 1);
  EXPECT_EQ(specOf("v1"), 3);
  EXPECT_EQ(rolloutStatus(),
            "Waiting for deployment \"web\" rollout to finish: 0 out of 4 new replicas have been "
            "updated...");
  const json::object* progressing = condition("Progressing");
  ASSERT_NE(progressing, nullptr);
  EXPECT_EQ(api::strAt(*progressing, {"reason"}), "NewReplicaSetCreated");
  // A crash-looping new revision: the surge lets the new replica set grow
  // to 2 (5 pods), but no old pod goes, since the unavailable new pods count
  // against the budget of 3 that must stay available.
  for (int i = 0; i < 3; ++i) {
    settle([](const Object& rs) {
      return du::annotation(rs, du::kRevisionAnnotation) == "2" ? 0 : 99;
    });
    ASSERT_TRUE(syncD().ok());
    syncInformers();
    EXPECT_EQ(specOf("v1"), 3);
    EXPECT_EQ(specOf("v2"), 2);
  }
}

TEST_F(DeploymentTest, RecreateScalesDownThenWaitsForOldPods) {
  Object d = deploymentObject(3, "v1");
  d["spec"].as_object()["strategy"] = json::object{{"type", "Recreate"}};
  createDeployment(std::move(d));
  ASSERT_TRUE(syncD().ok());
  syncInformers();
  ASSERT_EQ(specOf("v1"), 3);
  ObjectPtr v1 = rsWithImage("v1");
  // The v1 pods.
  for (int i = 0; i < 3; ++i) {
    Object pod = podFromTemplate(*api::objAt(*v1, {"spec", "template"}), *v1, nullptr);
    api::mutableMetadata(pod)["name"] = "web-v1-" + std::to_string(i);
    api::mutableMetadata(pod)["namespace"] = "default";
    api::mutableMetadata(pod)["ownerReferences"] = json::array{newControllerRef(*v1, rs_kind_)};
    pod["status"] = json::object{{"phase", "Running"}};
    fake_.add(pod_kind_, pod);
  }
  settle();
  rollOut();

  setImage("v2");
  ASSERT_TRUE(syncD().ok());
  syncInformers();
  EXPECT_EQ(specOf("v1"), 0);
  EXPECT_EQ(rsWithImage("v2"), nullptr);  // not before the old pods are gone
  EXPECT_TRUE(
      hasEvent("ScalingReplicaSet: Scaled down replica set " + api::name(*v1) + " from 3 to 0"));

  // The old replica set still reports pods.
  ASSERT_TRUE(syncD().ok());
  EXPECT_EQ(rsWithImage("v2"), nullptr);
  // It reports none, but the pods are still running (terminating).
  settle();
  ASSERT_TRUE(syncD().ok());
  EXPECT_EQ(rsWithImage("v2"), nullptr);

  // The last pod goes: the controller is woken and creates the new set.
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(fake_.remove(pod_kind_, "default", "web-v1-" + std::to_string(i)).ok());
  std::string key;
  while (dc_->workQueue().size() > 0 && dc_->workQueue().get(&key)) dc_->workQueue().done(key);
  syncInformers();
  EXPECT_EQ(dc_->workQueue().size(), 1u);
  ASSERT_TRUE(syncD().ok());
  syncInformers();
  ASSERT_NE(rsWithImage("v2"), nullptr);
  EXPECT_EQ(specOf("v2"), 3);
  EXPECT_TRUE(hasEvent("ScalingReplicaSet: Scaled up replica set " + api::name(*rsWithImage("v2")) +
                       " from 0 to 3"));
}

TEST_F(DeploymentTest, KubectlRolloutUndoReusesTheOldReplicaSet) {
  createDeployment(deploymentObject(2, "v1", 1, 0));
  rollOut();
  std::string v1_name = api::name(*rsWithImage("v1"));
  setImage("v2");
  rollOut();
  ASSERT_EQ(replicaSets().size(), 2u);
  ASSERT_EQ(specOf("v1"), 0);

  // kubectl rollout undo: the template of revision 1 without the hash label
  // and its annotations, patched onto the deployment.
  ObjectPtr v1 = rsWithImage("v1");
  editDeployment([&](Object& d) {
    json::object tmpl = *api::objAt(*v1, {"spec", "template"});
    tmpl["metadata"].as_object()["labels"].as_object().erase("pod-template-hash");
    d["spec"].as_object()["template"] = tmpl;
  });
  rollOut();
  auto rss = replicaSets();
  ASSERT_EQ(rss.size(), 2u);  // no third replica set
  EXPECT_EQ(specOf("v1"), 2);
  EXPECT_EQ(specOf("v2"), 0);
  ObjectPtr reused = rsWithImage("v1");
  EXPECT_EQ(api::name(*reused), v1_name);
  EXPECT_EQ(du::annotation(*reused, du::kRevisionAnnotation), "3");
  EXPECT_EQ(du::annotation(*reused, du::kRevisionHistoryAnnotation), "1");
  EXPECT_EQ(du::annotation(*rsWithImage("v2"), du::kRevisionAnnotation), "2");
  EXPECT_EQ(du::annotation(*deployment(), du::kRevisionAnnotation), "3");
  EXPECT_EQ(rolloutStatus(), "deployment \"web\" successfully rolled out");
}

TEST_F(DeploymentTest, RollbackToAnnotationCopiesTheTemplateBack) {
  createDeployment(deploymentObject(2, "v1", 1, 0));
  rollOut();
  setImage("v2");
  rollOut();
  editDeployment([](Object& d) { du::setAnnotation(d, du::kRollbackToAnnotation, "0"); });
  ASSERT_TRUE(syncD().ok());
  ObjectPtr d = deployment();
  EXPECT_EQ(du::annotation(*d, du::kRollbackToAnnotation), "");
  const json::array* c = api::arrAt(*d, {"spec", "template", "spec", "containers"});
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(api::strAt(c->at(0).as_object(), {"image"}), "v1");
  EXPECT_EQ(api::strAt(*d, {"spec", "template", "metadata", "labels", "pod-template-hash"}), "");
  EXPECT_TRUE(hasEvent("DeploymentRollback: Rolled back deployment \"web\" to revision 1"));
  syncInformers();
  rollOut();
  EXPECT_EQ(replicaSets().size(), 2u);
  EXPECT_EQ(specOf("v1"), 2);

  // A revision that does not exist.
  editDeployment([](Object& d) { du::setAnnotation(d, du::kRollbackToAnnotation, "42"); });
  ASSERT_TRUE(syncD().ok());
  EXPECT_TRUE(
      hasEvent("DeploymentRollbackRevisionNotFound: Unable to find the revision to rollback to."));
  EXPECT_EQ(du::annotation(*deployment(), du::kRollbackToAnnotation), "");
}

TEST_F(DeploymentTest, PausedDeploymentDoesNotRollOutButScales) {
  createDeployment(deploymentObject(2, "v1", 1, 0));
  rollOut();
  std::string v1_name = api::name(*rsWithImage("v1"));
  editDeployment([](Object& d) {
    d["spec"].as_object()["paused"] = true;
    d["spec"]
        .as_object()["template"]
        .as_object()["spec"]
        .as_object()["containers"]
        .as_array()[0]
        .as_object()["image"] = "v2";
  });
  ASSERT_TRUE(syncD().ok());
  syncInformers();
  EXPECT_EQ(rsWithImage("v2"), nullptr);
  const json::object* progressing = condition("Progressing");
  ASSERT_NE(progressing, nullptr);
  EXPECT_EQ(api::strAt(*progressing, {"status"}), "Unknown");
  EXPECT_EQ(api::strAt(*progressing, {"reason"}), "DeploymentPaused");
  EXPECT_EQ(api::strAt(*progressing, {"message"}), "Deployment is paused");
  // Status is still kept current.
  EXPECT_EQ(api::intAt(*deployment(), {"status", "observedGeneration"}).value_or(-1),
            api::intAt(*deployment(), {"metadata", "generation"}).value_or(-2));
  EXPECT_EQ(api::intAt(*deployment(), {"status", "updatedReplicas"}).value_or(0), 0);

  // Scaling while paused scales the current replica set.
  editDeployment([](Object& d) { d["spec"].as_object()["replicas"] = 4; });
  ASSERT_TRUE(syncD().ok());
  syncInformers();
  EXPECT_EQ(specOf("v1"), 4);
  EXPECT_TRUE(hasEvent("ScalingReplicaSet: Scaled up replica set " + v1_name + " from 2 to 4"));
  settle();
  ASSERT_TRUE(syncD().ok());  // status catches up while paused
  syncInformers();
  EXPECT_EQ(api::intAt(*deployment(), {"status", "availableReplicas"}).value_or(-1), 4);

  // kubectl rollout resume.
  editDeployment([](Object& d) { d["spec"].as_object()["paused"] = false; });
  ASSERT_TRUE(syncD().ok());
  syncInformers();
  ASSERT_NE(rsWithImage("v2"), nullptr);
  progressing = condition("Progressing");
  EXPECT_EQ(api::strAt(*progressing, {"status"}), "True");
  EXPECT_EQ(api::strAt(*progressing, {"reason"}), "NewReplicaSetCreated");
  rollOut();
  EXPECT_EQ(specOf("v2"), 4);
}

TEST_F(DeploymentTest, ResumeIsRecordedBeforeTheRollout) {
  Object d = deploymentObject(2, "v1", 1, 0);
  d["spec"].as_object()["paused"] = true;
  createDeployment(std::move(d));
  ASSERT_TRUE(syncD().ok());
  syncInformers();
  // Paused from the start: nothing is created.
  EXPECT_TRUE(replicaSets().empty());
  EXPECT_EQ(api::strAt(*condition("Progressing"), {"reason"}), "DeploymentPaused");
  editDeployment([](Object& d) { d["spec"].as_object()["paused"] = false; });
  fake_.clearActions();
  ASSERT_TRUE(syncD().ok());
  // The first write records the resume.
  bool resumed = false;
  for (const auto& a : fake_.writes()) {
    if (a.resource == "deployments" && a.subresource == "status" && a.object) {
      const json::object* s = api::objAt(*a.object, {"status"});
      const json::object* c = s ? du::getCondition(*s, "Progressing") : nullptr;
      if (c && api::strAt(*c, {"reason"}) == "DeploymentResumed") resumed = true;
      break;
    }
  }
  EXPECT_TRUE(resumed);
  EXPECT_EQ(replicaSets().size(), 1u);
}

TEST_F(DeploymentTest, RestartAnnotationIsATemplateChange) {
  createDeployment(deploymentObject(2, "v1", 1, 0));
  rollOut();
  editDeployment([](Object& d) {
    api::ensureObject(d["spec"].as_object()["template"].as_object()["metadata"].as_object(),
                      "annotations")["kubectl.kubernetes.io/restartedAt"] = "2024-03-01T10:00:30Z";
  });
  rollOut();
  auto rss = replicaSets();
  ASSERT_EQ(rss.size(), 2u);
  EXPECT_EQ(du::replicas(*rss[0]), 0);
  EXPECT_EQ(du::replicas(*rss[1]), 2);
  EXPECT_EQ(api::strAt(*rss[1], {"spec", "template", "metadata", "annotations",
                                 "kubectl.kubernetes.io/restartedAt"}),
            "2024-03-01T10:00:30Z");
  EXPECT_EQ(du::annotation(*rss[1], du::kRevisionAnnotation), "2");
}

TEST_F(DeploymentTest, RevisionHistoryLimitDeletesTheOldestScaledDownSets) {
  Object d = deploymentObject(1, "v1", 1, 0);
  d["spec"].as_object()["revisionHistoryLimit"] = 1;
  createDeployment(std::move(d));
  rollOut();
  setImage("v2");
  rollOut();
  setImage("v3");
  rollOut();
  setImage("v4");
  rollOut();
  ASSERT_TRUE(syncD().ok());
  syncInformers();
  auto rss = replicaSets();
  std::vector<std::string> images;
  for (const auto& rs : rss)
    images.push_back(api::strAt(
        api::arrAt(*rs, {"spec", "template", "spec", "containers"})->at(0).as_object(), {"image"}));
  EXPECT_EQ(images, (std::vector<std::string>{"v3", "v4"}));
  EXPECT_EQ(du::annotation(*rsWithImage("v4"), du::kRevisionAnnotation), "4");
}

TEST_F(DeploymentTest, ProgressDeadlineExceeded) {
  Object d = deploymentObject(2, "v1", 1, 0);
  d["spec"].as_object()["progressDeadlineSeconds"] = 60;
  createDeployment(std::move(d));
  ASSERT_TRUE(syncD().ok());
  syncInformers();
  std::string rs_name = api::name(*rsWithImage("v1"));
  // Pods exist but never become available.
  settle([](const Object&) { return 0; });
  ASSERT_TRUE(syncD().ok());
  syncInformers();
  EXPECT_EQ(api::strAt(*condition("Progressing"), {"reason"}), "ReplicaSetUpdated");
  EXPECT_EQ(api::strAt(*condition("Progressing"), {"message"}),
            "ReplicaSet \"" + rs_name + "\" is progressing.");

  // No progress: the controller asks to look again when the deadline would
  // pass (60s after the last progress, +1s).
  clock_.advance(std::chrono::seconds(30));
  ASSERT_TRUE(syncD().ok());
  syncInformers();
  EXPECT_EQ(dc_->lastProgressRequeue("default/web"), std::chrono::milliseconds(31000));
  EXPECT_EQ(api::strAt(*condition("Progressing"), {"status"}), "True");

  clock_.advance(std::chrono::seconds(31));
  ASSERT_TRUE(syncD().ok());
  syncInformers();
  const json::object* c = condition("Progressing");
  EXPECT_EQ(api::strAt(*c, {"status"}), "False");
  EXPECT_EQ(api::strAt(*c, {"reason"}), "ProgressDeadlineExceeded");
  EXPECT_EQ(api::strAt(*c, {"message"}),
            "ReplicaSet \"" + rs_name + "\" has timed out progressing.");
  EXPECT_EQ(rolloutStatus(), "error: deployment \"web\" exceeded its progress deadline");

  // Late recovery still completes the rollout.
  settle();
  ASSERT_TRUE(syncD().ok());
  syncInformers();
  EXPECT_EQ(api::strAt(*condition("Progressing"), {"reason"}), "NewReplicaSetAvailable");
  EXPECT_EQ(rolloutStatus(), "deployment \"web\" successfully rolled out");
}

TEST_F(DeploymentTest, ScalingMidRolloutIsProportional) {
  createDeployment(deploymentObject(4, "v1", 1, 1));
  rollOut();
  setImage("v2");
  ASSERT_TRUE(syncD().ok());
  syncInformers();
  ASSERT_EQ(specOf("v1"), 3);
  ASSERT_EQ(specOf("v2"), 1);
  settle(
      [](const Object& rs) { return du::annotation(rs, du::kRevisionAnnotation) == "2" ? 0 : 99; });

  // 4 -> 8 replicas (9 allowed with the surge): 5 more spread by size.
  editDeployment([](Object& d) { d["spec"].as_object()["replicas"] = 8; });
  ASSERT_TRUE(syncD().ok());
  syncInformers();
  // old: round(3 * 9 / 5) - 3 = +2 and the leftover +2; new: round(1 * 9 / 5) - 1 = +1.
  EXPECT_EQ(specOf("v1"), 7);
  EXPECT_EQ(specOf("v2"), 2);
  for (const auto& rs : replicaSets()) {
    EXPECT_EQ(du::annotation(*rs, du::kDesiredReplicasAnnotation), "8");
    EXPECT_EQ(du::annotation(*rs, du::kMaxReplicasAnnotation), "9");
  }
  EXPECT_TRUE(hasEvent("ScalingReplicaSet: Scaled up replica set " + api::name(*rsWithImage("v1")) +
                       " from 3 to 7"));
  rollOut();
  EXPECT_EQ(specOf("v2"), 8);
  EXPECT_EQ(specOf("v1"), 0);
}

TEST_F(DeploymentTest, HashCollisionBumpsCollisionCount) {
  Object d = deploymentObject(1, "v1");
  json::object tmpl = d["spec"].as_object()["template"].as_object();
  std::string hash = du::computeHash(tmpl, std::nullopt);
  // Someone else's replica set already has the name.
  Object squatter = json::parse(R"({"apiVersion":"apps/v1","kind":"ReplicaSet",
    "metadata":{"namespace":"default","labels":{"app":"other"}},
    "spec":{"replicas":0,"selector":{"matchLabels":{"app":"other"}},
            "template":{"metadata":{"labels":{"app":"other"}},"spec":{"containers":[{"name":"x","image":"y"}]}}}})")
                        .as_object();
  api::mutableMetadata(squatter)["name"] = "web-" + hash;
  fake_.add(rs_kind_, squatter);
  createDeployment(std::move(d));

  Status s = syncD();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(api::intAt(*deployment(), {"status", "collisionCount"}).value_or(-1), 1);
  syncInformers();
  ASSERT_TRUE(syncD().ok());
  std::string hash1 = du::computeHash(tmpl, 1);
  EXPECT_NE(hash1, hash);
  auto created = fake_.get(rs_kind_, "default", "web-" + hash1);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(api::strAt(**created, {"metadata", "labels", "pod-template-hash"}), hash1);
}

TEST_F(DeploymentTest, AdoptsOrphanReplicaSetsAndFindsThemNew) {
  Object d = deploymentObject(2, "v1", 1, 0);
  json::object tmpl = d["spec"].as_object()["template"].as_object();
  // An orphan replica set with the deployment's template (kubectl delete
  // deployment --cascade=orphan, then re-create).
  Object orphan;
  orphan["apiVersion"] = "apps/v1";
  orphan["kind"] = "ReplicaSet";
  orphan["metadata"] =
      json::object{{"name", "web-old"},
                   {"namespace", "default"},
                   {"labels", json::object{{"app", "web"}, {"pod-template-hash", "old"}}},
                   {"annotations", json::object{{du::kRevisionAnnotation, "5"}}}};
  json::object otmpl = tmpl;
  otmpl["metadata"].as_object()["labels"].as_object()["pod-template-hash"] = "old";
  orphan["spec"] = json::object{
      {"replicas", 2},
      {"selector",
       json::object{{"matchLabels", json::object{{"app", "web"}, {"pod-template-hash", "old"}}}}},
      {"template", otmpl}};
  fake_.add(rs_kind_, orphan);
  createDeployment(std::move(d));
  ASSERT_TRUE(syncD().ok());
  syncInformers();
  auto rss = replicaSets();
  ASSERT_EQ(rss.size(), 1u);
  const json::object* ref = controllerRef(*rss[0]);
  ASSERT_NE(ref, nullptr);
  EXPECT_EQ(api::strAt(*ref, {"uid"}), api::uid(*deployment()));
  // The next sync sees it as the new replica set of revision 5.
  settle();
  rollOut();
  EXPECT_EQ(replicaSets().size(), 1u);
  EXPECT_EQ(du::annotation(*deployment(), du::kRevisionAnnotation), "5");
  EXPECT_EQ(api::strAt(*condition("Progressing"), {"reason"}), "NewReplicaSetAvailable");
}

TEST_F(DeploymentTest, MinReadySecondsIsCopiedToTheReplicaSets) {
  Object d = deploymentObject(2, "v1", 1, 0);
  d["spec"].as_object()["minReadySeconds"] = 10;
  createDeployment(std::move(d));
  ASSERT_TRUE(syncD().ok());
  syncInformers();
  EXPECT_EQ(du::minReadySeconds(*rsWithImage("v1")), 10);
  // Changing it is not a new revision: the replica set is updated in place.
  editDeployment([](Object& d) { d["spec"].as_object()["minReadySeconds"] = 30; });
  ASSERT_TRUE(syncD().ok());
  syncInformers();
  EXPECT_EQ(replicaSets().size(), 1u);
  EXPECT_EQ(du::minReadySeconds(*rsWithImage("v1")), 30);
  EXPECT_EQ(du::annotation(*rsWithImage("v1"), du::kRevisionAnnotation), "1");
}

TEST_F(DeploymentTest, SelectingEverythingIsRefused) {
  Object d = deploymentObject(1, "v1");
  d["spec"].as_object()["selector"] = json::object();
  createDeployment(std::move(d));
  ASSERT_TRUE(syncD().ok());
  EXPECT_TRUE(replicaSets().empty());
  EXPECT_TRUE(hasEvent(
      "SelectingAll: This deployment is selecting all pods. A non-empty selector is required."));
  EXPECT_EQ(api::intAt(*deployment(), {"status", "observedGeneration"}).value_or(-1), 1);
}

TEST_F(DeploymentTest, ReplicaSetEventsEnqueueTheOwner) {
  createDeployment(deploymentObject(1, "v1"));
  std::string key;
  auto drain = [&] {
    std::set<std::string> keys;
    while (dc_->workQueue().size() > 0 && dc_->workQueue().get(&key)) {
      keys.insert(key);
      dc_->workQueue().done(key);
    }
    return keys;
  };
  EXPECT_EQ(drain(), (std::set<std::string>{"default/web"}));
  ASSERT_TRUE(syncD().ok());
  drain();
  // The replica set arriving (and its status changing) wakes the deployment.
  syncInformers();
  EXPECT_EQ(drain(), (std::set<std::string>{"default/web"}));
  settle();
  EXPECT_EQ(drain(), (std::set<std::string>{"default/web"}));
}

}  // namespace
}  // namespace berth::controllers
