#include "controllers/pod_control.h"

#include <gtest/gtest.h>

#include "api/kinds/access.h"
#include "api/object.h"
#include "client/fake_client.h"
#include "controllers/pod_util.h"

namespace berth::controllers {
namespace {

namespace json = boost::json;
using api::Object;
using client::ObjectPtr;

Object owner(const std::string& name = "web-5d4f7c9b8") {
  Object rs;
  rs["apiVersion"] = "apps/v1";
  rs["kind"] = "ReplicaSet";
  rs["metadata"] = json::object{{"name", name}, {"namespace", "default"}, {"uid", "rs-uid"}};
  rs["spec"] =
      json::object{{"selector", json::object{{"matchLabels", json::object{{"app", "web"}}}}}};
  return rs;
}

json::object tmpl() {
  return json::parse(R"({
    "metadata": {"labels": {"app": "web", "pod-template-hash": "5d4f7c9b8"},
                 "annotations": {"a": "b"}, "finalizers": ["example.com/f"], "name": "ignored"},
    "spec": {"containers": [{"name": "c", "image": "nginx"}], "restartPolicy": "Always"}})")
      .as_object();
}

TEST(PodControl, NewControllerRef) {
  json::object ref = newControllerRef(owner(), client::kind("apps", "ReplicaSet"));
  EXPECT_EQ(json::serialize(ref),
            R"({"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-5d4f7c9b8","uid":"rs-uid",)"
            R"("controller":true,"blockOwnerDeletion":true})");
}

TEST(PodControl, PodFromTemplateCopiesMetadataAndSpec) {
  Object o = owner();
  json::object ref = newControllerRef(o, client::kind("apps", "ReplicaSet"));
  Object pod = podFromTemplate(tmpl(), o, &ref);
  EXPECT_EQ(api::strAt(pod, {"kind"}), "Pod");
  EXPECT_EQ(api::strAt(pod, {"metadata", "generateName"}), "web-5d4f7c9b8-");
  EXPECT_EQ(api::strAt(pod, {"metadata", "name"}), "");  // the template's name is not copied
  EXPECT_EQ(api::strAt(pod, {"metadata", "labels", "pod-template-hash"}), "5d4f7c9b8");
  EXPECT_EQ(api::strAt(pod, {"metadata", "annotations", "a"}), "b");
  ASSERT_NE(api::arrAt(pod, {"metadata", "finalizers"}), nullptr);
  EXPECT_EQ(api::arrAt(pod, {"metadata", "finalizers"})->at(0).as_string(), "example.com/f");
  ASSERT_NE(controllerRef(pod), nullptr);
  EXPECT_EQ(api::strAt(pod, {"spec", "restartPolicy"}), "Always");

  // Without a controller ref and without template metadata.
  json::object bare = json::parse(R"({"spec":{"containers":[]}})").as_object();
  Object p2 = podFromTemplate(bare, o, nullptr);
  EXPECT_EQ(api::arrAt(p2, {"metadata", "ownerReferences"}), nullptr);
  ASSERT_NE(api::objAt(p2, {"metadata", "labels"}), nullptr);
  EXPECT_TRUE(api::objAt(p2, {"metadata", "labels"})->empty());
  // A name whose "<name>-" prefix is not valid keeps the bare name.
  Object weird = owner("Bad_Name");
  EXPECT_EQ(api::strAt(podFromTemplate(bare, weird, nullptr), {"metadata", "generateName"}),
            "Bad_Name");
}

class PodControlTest : public ::testing::Test {
 protected:
  PodControlTest()
      : fake_(clock_),
        recorder_(fake_, clock_, "replicaset-controller"),
        control_(fake_, recorder_) {}

  std::vector<std::string> events() {
    recorder_.flush();
    std::vector<std::string> out;
    auto list = fake_.list(client::kind("", "Event"), "", {});
    if (!list.ok()) return out;
    for (const auto& e : list->items) {
      out.push_back(api::strAt(*e, {"type"}) + " " + api::strAt(*e, {"reason"}) + ": " +
                    api::strAt(*e, {"message"}));
      EXPECT_EQ(api::strAt(*e, {"involvedObject", "name"}), "web-5d4f7c9b8");
      EXPECT_EQ(api::strAt(*e, {"source", "component"}), "replicaset-controller");
    }
    return out;
  }

  FakeClock clock_;
  client::FakeClient fake_;
  client::EventRecorder recorder_;
  PodControl control_;
};

TEST_F(PodControlTest, CreatePodRecordsSuccessfulCreate) {
  Object o = owner();
  auto created = control_.createPod("default", tmpl(), o,
                                    newControllerRef(o, client::kind("apps", "ReplicaSet")));
  ASSERT_TRUE(created.ok()) << created.error().message;
  std::string name = api::name(**created);
  EXPECT_EQ(name.rfind("web-5d4f7c9b8-", 0), 0u);
  EXPECT_EQ(api::namespaceOf(**created), "default");
  EXPECT_EQ(events(), (std::vector<std::string>{"Normal SuccessfulCreate: Created pod: " + name}));
}

TEST_F(PodControlTest, CreatePodRejectsBadRefsAndEmptyLabels) {
  Object o = owner();
  json::object ref = newControllerRef(o, client::kind("apps", "ReplicaSet"));
  ref["blockOwnerDeletion"] = false;
  auto r1 = control_.createPod("default", tmpl(), o, ref);
  ASSERT_FALSE(r1.ok());
  EXPECT_EQ(r1.error().message, "controllerRef.BlockOwnerDeletion is not set");
  json::object no_labels = json::parse(R"({"spec":{"containers":[]}})").as_object();
  auto r2 = control_.createPod("default", no_labels, o,
                               newControllerRef(o, client::kind("apps", "ReplicaSet")));
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().message, "unable to create pods, no labels");
  EXPECT_TRUE(fake_.writes().empty());
}

TEST_F(PodControlTest, CreateFailureRecordsFailedCreateUnlessNamespaceTerminating) {
  Object o = owner();
  bool terminating = false;
  fake_.prependReactor(
      "create", "pods", [&](const client::Action&) -> std::optional<Result<ObjectPtr>> {
        Error e =
            makeError(ErrorCode::kForbidden, "pods \"x\" is forbidden: exceeded quota: compute");
        if (terminating) {
          e.message =
              "pods \"x\" is forbidden: unable to create new content in namespace default because "
              "it is "
              "being terminated";
          e.causes.push_back({kNamespaceTerminatingCause, "namespace default is being terminated",
                              "metadata.namespace"});
        }
        return Result<ObjectPtr>(e);
      });
  auto ref = newControllerRef(o, client::kind("apps", "ReplicaSet"));
  ASSERT_FALSE(control_.createPod("default", tmpl(), o, ref).ok());
  terminating = true;
  auto r = control_.createPod("default", tmpl(), o, ref);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(hasNamespaceTerminatingCause(r.error()));
  EXPECT_EQ(events(), (std::vector<std::string>{"Warning FailedCreate: Error creating: pods \"x\" "
                                                "is forbidden: exceeded quota: compute"}));
}

TEST_F(PodControlTest, DeletePodEvents) {
  Object o = owner();
  Object pod = podFromTemplate(tmpl(), o, nullptr);
  api::mutableMetadata(pod)["name"] = "p1";
  api::mutableMetadata(pod)["namespace"] = "default";
  api::mutableMetadata(pod).erase("finalizers");  // deleted at once
  fake_.add(client::kind("", "Pod"), pod);
  ASSERT_TRUE(control_.deletePod("default", "p1", o).ok());
  Status missing = control_.deletePod("default", "p1", o);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  fake_.prependReactor("delete", "pods",
                       [](const client::Action&) -> std::optional<Result<ObjectPtr>> {
                         return Result<ObjectPtr>(makeError(ErrorCode::kInternal, "etcd down"));
                       });
  Status failed = control_.deletePod("default", "p2", o);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message, "unable to delete pods: etcd down");
  EXPECT_EQ(events(),
            (std::vector<std::string>{"Normal SuccessfulDelete: Deleted pod: p1",
                                      "Warning FailedDelete: Error deleting: etcd down"}));
}

class RefManagerTest : public ::testing::Test {
 protected:
  RefManagerTest() : fake_(clock_) {}

  ObjectPtr addPod(const std::string& name, const std::string& app, const json::object* ref,
                   bool deleting = false) {
    Object pod;
    pod["metadata"] = json::object{
        {"name", name}, {"namespace", "default"}, {"labels", json::object{{"app", app}}}};
    if (ref) api::mutableMetadata(pod)["ownerReferences"] = json::array{*ref};
    if (deleting) api::mutableMetadata(pod)["deletionTimestamp"] = "2024-01-01T00:00:00Z";
    pod["spec"] = json::object{{"containers", json::array{}}};
    return fake_.add(client::kind("", "Pod"), pod);
  }

  FakeClock clock_;
  client::FakeClient fake_;
};

TEST_F(RefManagerTest, PatchesMirrorUpstream) {
  ControllerRefManager cm(fake_, owner(), client::kind("apps", "ReplicaSet"), api::LabelSelector(),
                          nullptr);
  Object pod{{"metadata", json::object{{"name", "p"}, {"uid", "pod-uid"}}}};
  EXPECT_EQ(
      cm.adoptPatch(pod),
      R"({"metadata":{"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-5d4f7c9b8",)"
      R"("uid":"rs-uid","controller":true,"blockOwnerDeletion":true}],"uid":"pod-uid"}})");
  EXPECT_EQ(
      cm.releasePatch(pod),
      R"({"metadata":{"ownerReferences":[{"$patch":"delete","uid":"rs-uid"}],"uid":"pod-uid"}})");
  ControllerRefManager job_cm(fake_, owner(), client::kind("batch", "Job"), api::LabelSelector(),
                              nullptr, {"batch.kubernetes.io/job-tracking"});
  EXPECT_NE(job_cm.adoptPatch(pod).find(R"("finalizers":["batch.kubernetes.io/job-tracking"])"),
            std::string::npos);
  EXPECT_NE(job_cm.releasePatch(pod).find(
                R"("$deleteFromPrimitiveList/finalizers":["batch.kubernetes.io/job-tracking"])"),
            std::string::npos);
}

TEST_F(RefManagerTest, ClaimAdoptsReleasesAndIgnores) {
  Object o = owner();
  const auto& rs_kind = client::kind("apps", "ReplicaSet");
  json::object mine = newControllerRef(o, rs_kind);
  json::object theirs = mine;
  theirs["uid"] = "someone-else";
  std::vector<ObjectPtr> pods{
      addPod("owned", "web", &mine),      addPod("orphan", "web", nullptr),
      addPod("stale", "db", &mine),       addPod("foreign", "web", &theirs),
      addPod("unrelated", "db", nullptr), addPod("dying-orphan", "web", nullptr, true),
  };
  auto sel = api::LabelSelector::parse("app=web");
  ASSERT_TRUE(sel.ok());
  int can_adopt_calls = 0;
  ControllerRefManager cm(fake_, o, rs_kind, *sel, [&]() -> Status {
    ++can_adopt_calls;
    return okStatus();
  });
  auto claimed = cm.claimPods(pods);
  ASSERT_TRUE(claimed.ok()) << claimed.error().message;
  std::vector<std::string> names;
  for (const auto& p : *claimed) names.push_back(api::name(*p));
  EXPECT_EQ(names, (std::vector<std::string>{"owned", "orphan"}));
  EXPECT_EQ(can_adopt_calls, 1);

  auto orphan = fake_.get(client::kind("", "Pod"), "default", "orphan");
  ASSERT_TRUE(orphan.ok());
  ASSERT_NE(controllerRef(**orphan), nullptr);
  EXPECT_EQ(api::strAt(*controllerRef(**orphan), {"uid"}), "rs-uid");
  auto stale = fake_.get(client::kind("", "Pod"), "default", "stale");
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(controllerRef(**stale), nullptr);
  auto foreign = fake_.get(client::kind("", "Pod"), "default", "foreign");
  EXPECT_EQ(api::strAt(*controllerRef(**foreign), {"uid"}), "someone-else");
  int patches = 0;
  for (const auto& a : fake_.writes())
    if (a.verb == "patch") ++patches;
  EXPECT_EQ(patches, 2);
}

TEST_F(RefManagerTest, FilterNarrowsMatching) {
  Object o = owner();
  const auto& rs_kind = client::kind("apps", "ReplicaSet");
  json::object mine = newControllerRef(o, rs_kind);
  std::vector<ObjectPtr> pods{addPod("keep", "web", &mine), addPod("drop", "web", &mine)};
  auto sel = api::LabelSelector::parse("app=web");
  ControllerRefManager cm(fake_, o, rs_kind, *sel, nullptr);
  auto claimed = cm.claimPods(pods, [](const Object& p) { return api::name(p) == "keep"; });
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  // The owned pod failing the filter is released.
  auto drop = fake_.get(client::kind("", "Pod"), "default", "drop");
  EXPECT_EQ(controllerRef(**drop), nullptr);
}

TEST_F(RefManagerTest, CanAdoptFailureFailsAdoptionButKeepsOwned) {
  Object o = owner();
  const auto& rs_kind = client::kind("apps", "ReplicaSet");
  json::object mine = newControllerRef(o, rs_kind);
  std::vector<ObjectPtr> pods{addPod("owned", "web", &mine), addPod("orphan", "web", nullptr)};
  auto sel = api::LabelSelector::parse("app=web");
  Object deleted = o;
  api::mutableMetadata(deleted)["deletionTimestamp"] = "2024-01-01T00:00:00Z";
  auto fresh = std::make_shared<const Object>(deleted);
  ControllerRefManager cm(fake_, o, rs_kind, *sel,
                          recheckDeletionTimestamp([&]() -> Result<ObjectPtr> { return fresh; }));
  auto claimed = cm.claimPods(pods);
  ASSERT_FALSE(claimed.ok());
  EXPECT_EQ(claimed.error().message,
            "can't adopt Pod default/orphan (" + api::uid(*pods[1]) +
                "): default/web-5d4f7c9b8 has just been deleted at 2024-01-01T00:00:00Z");
  auto orphan = fake_.get(client::kind("", "Pod"), "default", "orphan");
  EXPECT_EQ(controllerRef(**orphan), nullptr);
}

TEST_F(RefManagerTest, BeingDeletedControllerNeitherAdoptsNorReleases) {
  Object o = owner();
  api::mutableMetadata(o)["deletionTimestamp"] = "2024-01-01T00:00:00Z";
  const auto& rs_kind = client::kind("apps", "ReplicaSet");
  json::object mine = newControllerRef(o, rs_kind);
  std::vector<ObjectPtr> pods{addPod("owned", "web", &mine), addPod("stale", "db", &mine),
                              addPod("orphan", "web", nullptr)};
  auto sel = api::LabelSelector::parse("app=web");
  ControllerRefManager cm(fake_, o, rs_kind, *sel, nullptr);
  auto claimed = cm.claimPods(pods);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ(api::name(*claimed->at(0)), "owned");
  EXPECT_TRUE(fake_.writes().empty());
}

TEST(Aggregate, Messages) {
  EXPECT_EQ(aggregateErrors({makeError(ErrorCode::kConflict, "a")}).message, "a");
  Error two =
      aggregateErrors({makeError(ErrorCode::kConflict, "a"), makeError(ErrorCode::kInternal, "b")});
  EXPECT_EQ(two.message, "[a, b]");
  EXPECT_EQ(two.code, ErrorCode::kConflict);
}

}  // namespace
}  // namespace berth::controllers
