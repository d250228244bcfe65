#include "controllers/daemonset/daemon_set_controller.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <set>

#include "api/kinds/access.h"
#include "api/object.h"
#include "client/fake_client.h"
#include "controllers/daemonset/daemon_util.h"
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

class DaemonSetTest : public ::testing::Test {
 protected:
  DaemonSetTest()
      : clock_(t0()),
        fake_(clock_),
        informers_(fake_),
        recorder_(fake_, clock_, "daemonset-controller"),
        ds_kind_(client::kind("apps", "DaemonSet")),
        pod_kind_(client::kind("", "Pod")),
        node_kind_(client::kind("", "Node")),
        cr_kind_(client::kind("apps", "ControllerRevision")) {}

  void SetUp() override {
    dsc_ = std::make_unique<DaemonSetController>(fake_, informers_, recorder_, clock_, 1);
    for (const api::KindInfo* k : {&ds_kind_, &pod_kind_, &node_kind_, &cr_kind_})
      informers_.forKind(*k).markSynced();
  }

  Object dsObject(const std::string& name = "agent",
                  const char* strategy = R"({"type":"RollingUpdate",
                      "rollingUpdate":{"maxUnavailable":1,"maxSurge":0}})") {
    Object ds;
    ds["apiVersion"] = "apps/v1";
    ds["kind"] = "DaemonSet";
    ds["metadata"] = json::object{{"name", name}, {"namespace", "default"}, {"generation", 1}};
    json::object spec;
    spec["selector"] = json::object{{"matchLabels", json::object{{"app", name}}}};
    spec["template"] =
        json::object{{"metadata", json::object{{"labels", json::object{{"app", name}}}}},
                     {"spec", json::parse(R"({"containers":[{"name":"c","image":"agent:v1"}]})")}};
    spec["updateStrategy"] = json::parse(strategy);
    spec["revisionHistoryLimit"] = 10;
    ds["spec"] = spec;
    return ds;
  }

  Object nodeObject(const std::string& name, const char* labels = "{}", const char* taints = "[]") {
    Object n;
    n["apiVersion"] = "v1";
    n["kind"] = "Node";
    n["metadata"] = json::object{{"name", name}, {"labels", json::parse(labels)}};
    n["spec"] = json::object{{"taints", json::parse(taints)}};
    n["status"] = json::parse(R"({"conditions":[{"type":"Ready","status":"True"}]})");
    return n;
  }

  ObjectPtr seed(const api::KindInfo& kind, Object obj) {
    ObjectPtr stored = fake_.add(kind, std::move(obj));
    informers_.forKind(kind).injectUpsert(stored);
    return stored;
  }

  void seedNodes(int n) {
    for (int i = 1; i <= n; ++i) seed(node_kind_, nodeObject("node-" + std::to_string(i)));
  }

  // Feeds the informers with what the fake API holds now.
  void syncInformers() {
    for (const api::KindInfo* k : {&ds_kind_, &pod_kind_, &node_kind_, &cr_kind_}) {
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

  // A sync after the informers caught up.
  void syncNow(const std::string& key = "default/agent") {
    syncInformers();
    Status s = dsc_->sync(key);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }

  std::vector<ObjectPtr> pods() {
    auto list = fake_.list(pod_kind_, "default", {});
    return list.ok() ? list->items : std::vector<ObjectPtr>{};
  }
  std::map<std::string, ObjectPtr> podsByNode() {
    std::map<std::string, ObjectPtr> out;
    for (const auto& p : pods()) out[targetNodeName(*p).value_or("?")] = p;
    return out;
  }
  std::vector<ObjectPtr> revisions() {
    auto list = fake_.list(cr_kind_, "default", {});
    return list.ok() ? list->items : std::vector<ObjectPtr>{};
  }
  ObjectPtr getDs(const std::string& name = "agent") {
    return fake_.find(ds_kind_, "default", name);
  }
  int64_t status(const char* field, const std::string& name = "agent") {
    return api::intAt(*getDs(name), {"status", field}).value_or(0);
  }

  std::vector<client::Action> writesOf(const std::string& verb, const std::string& resource) {
    std::vector<client::Action> out;
    for (const auto& a : fake_.writes())
      if (a.verb == verb && a.resource == resource) out.push_back(a);
    return out;
  }

  // Marks a pod scheduled, running and ready (or not) in the fake API.
  void setPod(const ObjectPtr& pod, bool ready, const std::string& phase = "Running",
              std::chrono::system_clock::time_point ready_since = {}) {
    Object p = *fake_.find(pod_kind_, "default", api::name(*pod));
    json::object& spec = api::ensureObject(p, "spec");
    if (api::strAt(spec, {"nodeName"}).empty()) spec["nodeName"] = targetNodeName(p).value_or("");
    ASSERT_TRUE(fake_.update(pod_kind_, p).ok());
    p = *fake_.find(pod_kind_, "default", api::name(*pod));
    json::object st;
    st["phase"] = phase;
    if (ready_since == std::chrono::system_clock::time_point{}) ready_since = clock_.now();
    st["conditions"] =
        json::array{json::object{{"type", "Ready"},
                                 {"status", ready ? "True" : "False"},
                                 {"lastTransitionTime", formatRfc3339(ready_since)}}};
    p["status"] = st;
    ASSERT_TRUE(fake_.update(pod_kind_, p, client::Subresource::kStatus).ok());
  }
  void setAllPodsReady() {
    for (const auto& p : pods()) setPod(p, true);
  }

  void updateTemplateImage(const std::string& image) {
    Object ds = *getDs();
    json::object& c = ds["spec"]
                          .as_object()["template"]
                          .as_object()["spec"]
                          .as_object()["containers"]
                          .as_array()[0]
                          .as_object();
    c["image"] = image;
    ASSERT_TRUE(fake_.update(ds_kind_, ds).ok());
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
  bool hasEvent(const std::string& prefix) {
    for (const auto& e : events())
      if (e.rfind(prefix, 0) == 0) return true;
    return false;
  }

  FakeClock clock_;
  client::FakeClient fake_;
  client::InformerFactory informers_;
  client::EventRecorder recorder_;
  const api::KindInfo& ds_kind_;
  const api::KindInfo& pod_kind_;
  const api::KindInfo& node_kind_;
  const api::KindInfo& cr_kind_;
  std::unique_ptr<DaemonSetController> dsc_;
};

TEST_F(DaemonSetTest, CreatesOnePodPerNodeBoundByNodeAffinity) {
  seedNodes(3);
  ObjectPtr ds = seed(ds_kind_, dsObject());
  ASSERT_TRUE(dsc_->sync("default/agent").ok());

  auto by_node = podsByNode();
  ASSERT_EQ(by_node.size(), 3u);
  ASSERT_EQ(revisions().size(), 1u);
  const Object& rev = *revisions()[0];
  std::string hash = api::strAt(rev, {"metadata", "labels", kControllerRevisionHashLabel});
  EXPECT_EQ(api::name(rev), "agent-" + hash);
  EXPECT_EQ(api::intAt(rev, {"revision"}).value_or(0), 1);
  EXPECT_EQ(controllerUid(rev), api::uid(*ds));
  for (int i = 1; i <= 3; ++i) {
    std::string node = "node-" + std::to_string(i);
    ASSERT_TRUE(by_node.count(node)) << node;
    const Object& p = *by_node[node];
    // Unbound: the scheduler binds through the affinity.
    EXPECT_EQ(api::strAt(p, {"spec", "nodeName"}), "");
    EXPECT_EQ(api::strAt(p, {"metadata", "generateName"}), "agent-");
    EXPECT_EQ(api::strAt(p, {"metadata", "labels", "app"}), "agent");
    EXPECT_EQ(api::strAt(p, {"metadata", "labels", kControllerRevisionHashLabel}), hash);
    EXPECT_EQ(controllerUid(p), api::uid(*ds));
    EXPECT_EQ(api::arrAt(p, {"spec", "tolerations"})->size(), 6u);
  }
  EXPECT_EQ(dsc_->expectations().get("default/agent")->add, 3);
  EXPECT_EQ(status("desiredNumberScheduled"), 3);
  EXPECT_EQ(status("currentNumberScheduled"), 0);
  EXPECT_EQ(status("numberUnavailable"), 3);
  EXPECT_EQ(status("observedGeneration"), 1);
  EXPECT_TRUE(hasEvent("SuccessfulCreate: Created pod: agent-"));
}

TEST_F(DaemonSetTest, ExpectationsPreventDuplicatesUntilPodsAreObserved) {
  seedNodes(2);
  seed(ds_kind_, dsObject());
  ASSERT_TRUE(dsc_->sync("default/agent").ok());
  ASSERT_TRUE(dsc_->sync("default/agent").ok());
  EXPECT_EQ(writesOf("create", "pods").size(), 2u);
  syncInformers();
  EXPECT_TRUE(dsc_->expectations().satisfied("default/agent"));
  ASSERT_TRUE(dsc_->sync("default/agent").ok());
  EXPECT_EQ(writesOf("create", "pods").size(), 2u);
  EXPECT_EQ(status("currentNumberScheduled"), 2);
  EXPECT_EQ(status("updatedNumberScheduled"), 2);
  EXPECT_EQ(status("numberReady"), 0);
}

TEST_F(DaemonSetTest, StatusReportsReadyAndAvailableForRolloutStatus) {
  seedNodes(3);
  Object ds = dsObject();
  ds["spec"].as_object()["minReadySeconds"] = 10;
  seed(ds_kind_, ds);
  ASSERT_TRUE(dsc_->sync("default/agent").ok());
  auto ps = pods();
  setPod(ps[0], true, "Running", t0() - std::chrono::minutes(1));
  setPod(ps[1], true);  // ready, but not for minReadySeconds yet
  setPod(ps[2], false);
  syncNow();
  EXPECT_EQ(status("desiredNumberScheduled"), 3);
  EXPECT_EQ(status("currentNumberScheduled"), 3);
  EXPECT_EQ(status("numberReady"), 2);
  EXPECT_EQ(status("numberAvailable"), 1);
  EXPECT_EQ(status("numberUnavailable"), 2);
  EXPECT_EQ(status("updatedNumberScheduled"), 3);
  EXPECT_EQ(status("numberMisscheduled"), 0);
  // A resync after minReadySeconds catches the pod becoming available.
  EXPECT_EQ(dsc_->loop().lastDelay("default/agent").value_or(std::chrono::milliseconds(0)),
            std::chrono::seconds(10));
  // Later the second pod has been ready long enough and the third turns
  // ready.
  clock_.advance(std::chrono::seconds(11));
  setPod(ps[2], true, "Running", t0() - std::chrono::minutes(1));
  syncNow();
  EXPECT_EQ(status("numberAvailable"), 3);
  EXPECT_EQ(status("numberReady"), 3);
  EXPECT_EQ(status("numberUnavailable"), 0);
}

TEST_F(DaemonSetTest, NodeSelectorAndAffinityChooseNodes) {
  seed(node_kind_, nodeObject("edge-1", R"({"role":"edge","zone":"a"})"));
  seed(node_kind_, nodeObject("edge-2", R"({"role":"edge","zone":"b"})"));
  seed(node_kind_, nodeObject("core-1", R"({"role":"core","zone":"a"})"));
  Object ds = dsObject();
  json::object& tspec = ds["spec"].as_object()["template"].as_object()["spec"].as_object();
  tspec["nodeSelector"] = json::object{{"role", "edge"}};
  tspec["affinity"] =
      json::parse(R"({"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{
      "nodeSelectorTerms":[{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]}]}]}}})");
  seed(ds_kind_, ds);
  ASSERT_TRUE(dsc_->sync("default/agent").ok());
  auto by_node = podsByNode();
  ASSERT_EQ(by_node.size(), 1u);
  EXPECT_TRUE(by_node.count("edge-1"));
  // The user's affinity terms are replaced by the node pin.
  const json::array* terms = api::arrAt(
      *by_node["edge-1"], {"spec", "affinity", "nodeAffinity",
                           "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"});
  ASSERT_EQ(terms->size(), 1u);
  EXPECT_EQ(api::arrAt(terms->at(0).as_object(), {"matchExpressions"}), nullptr);
  EXPECT_EQ(status("desiredNumberScheduled"), 1);
}

TEST_F(DaemonSetTest, TaintsKeepPodsOffUnlessTolerated) {
  seed(node_kind_, nodeObject("plain"));
  seed(node_kind_,
       nodeObject("cordoned", "{}",
                  R"([{"key":"node.kubernetes.io/unschedulable","effect":"NoSchedule"}])"));
  seed(node_kind_, nodeObject("notready", "{}",
                              R"([{"key":"node.kubernetes.io/not-ready","effect":"NoExecute"}])"));
  seed(node_kind_,
       nodeObject("gpu", "{}", R"([{"key":"dedicated","value":"gpu","effect":"NoSchedule"}])"));
  seed(ds_kind_, dsObject());
  ASSERT_TRUE(dsc_->sync("default/agent").ok());
  auto by_node = podsByNode();
  EXPECT_EQ(by_node.size(), 3u);
  EXPECT_FALSE(by_node.count("gpu"));
  EXPECT_TRUE(by_node.count("cordoned"));
  EXPECT_TRUE(by_node.count("notready"));

  // Tolerating the taint brings the pod to the gpu node too.
  Object ds = *getDs();
  ds["spec"].as_object()["template"].as_object()["spec"].as_object()["tolerations"] =
      json::parse(R"([{"key":"dedicated","operator":"Exists"}])");
  ASSERT_TRUE(fake_.update(ds_kind_, ds).ok());
  syncNow();
  EXPECT_TRUE(podsByNode().count("gpu"));
}

TEST_F(DaemonSetTest, NoExecuteTaintRemovesPodNoScheduleKeepsIt) {
  seedNodes(2);
  seed(ds_kind_, dsObject());
  ASSERT_TRUE(dsc_->sync("default/agent").ok());
  setAllPodsReady();
  syncNow();
  ASSERT_EQ(pods().size(), 2u);

  Object n1 = *fake_.find(node_kind_, "", "node-1");
  n1["spec"].as_object()["taints"] =
      json::parse(R"([{"key":"maintenance","effect":"NoSchedule"}])");
  ASSERT_TRUE(fake_.update(node_kind_, n1).ok());
  syncNow();
  // Still there, but no longer desired: misscheduled.
  EXPECT_EQ(pods().size(), 2u);
  EXPECT_EQ(writesOf("delete", "pods").size(), 0u);
  EXPECT_EQ(status("desiredNumberScheduled"), 1);
  EXPECT_EQ(status("numberMisscheduled"), 1);

  n1 = *fake_.find(node_kind_, "", "node-1");
  n1["spec"].as_object()["taints"] = json::parse(R"([{"key":"maintenance","effect":"NoExecute"}])");
  ASSERT_TRUE(fake_.update(node_kind_, n1).ok());
  syncNow();
  auto deletes = writesOf("delete", "pods");
  ASSERT_EQ(deletes.size(), 1u);
  EXPECT_EQ(targetNodeName(*fake_.find(pod_kind_, "default", deletes[0].name)).value_or(""),
            "node-1");
  EXPECT_TRUE(hasEvent("SuccessfulDelete: Deleted pod: agent-"));
}

TEST_F(DaemonSetTest, NodeHandlersEnqueueOnlyForRelevantChanges) {
  seed(ds_kind_, dsObject());
  std::string key;
  while (dsc_->loop().queue().size() > 0) {
    dsc_->loop().queue().get(&key);
    dsc_->loop().queue().done(key);
  }
  ObjectPtr n = seed(node_kind_, nodeObject("node-1"));
  EXPECT_EQ(dsc_->loop().queue().size(), 1u);
  dsc_->loop().queue().get(&key);
  dsc_->loop().queue().done(key);
  EXPECT_EQ(key, "default/agent");
  // A heartbeat (condition timestamps only) does not wake the DaemonSet.
  Object hb = *n;
  hb["status"] =
      json::parse(R"({"conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":"x"}]})");
  api::mutableMetadata(hb)["resourceVersion"] = "999";
  informers_.forKind(node_kind_).injectUpsert(std::make_shared<const Object>(hb));
  EXPECT_EQ(dsc_->loop().queue().size(), 0u);
  // A label that changes eligibility does.
  Object sel = dsObject("picky");
  sel["spec"].as_object()["template"].as_object()["spec"].as_object()["nodeSelector"] =
      json::object{{"x", "y"}};
  seed(ds_kind_, sel);
  while (dsc_->loop().queue().size() > 0) {
    dsc_->loop().queue().get(&key);
    dsc_->loop().queue().done(key);
  }
  Object labelled = hb;
  labelled["metadata"].as_object()["labels"] = json::object{{"x", "y"}};
  labelled["metadata"].as_object()["resourceVersion"] = "1000";
  informers_.forKind(node_kind_).injectUpsert(std::make_shared<const Object>(labelled));
  ASSERT_EQ(dsc_->loop().queue().size(), 1u);
  dsc_->loop().queue().get(&key);
  EXPECT_EQ(key, "default/picky");
  dsc_->loop().queue().done(key);
}

TEST_F(DaemonSetTest, FailedPodsAreReplacedWithBackoff) {
  seedNodes(1);
  seed(ds_kind_, dsObject());
  ASSERT_TRUE(dsc_->sync("default/agent").ok());
  setPod(pods()[0], false, "Failed");
  syncNow();
  ASSERT_EQ(writesOf("delete", "pods").size(), 1u);
  EXPECT_TRUE(hasEvent("FailedDaemonPod: Found failed daemon pod default/agent-"));
  // The replacement is created on the next sync.
  syncNow();
  ASSERT_EQ(pods().size(), 1u);
  EXPECT_EQ(writesOf("create", "pods").size(), 2u);
  // It fails too, at once: the back-off (1s) holds the deletion.
  setPod(pods()[0], false, "Failed");
  syncNow();
  EXPECT_EQ(writesOf("delete", "pods").size(), 1u);
  EXPECT_EQ(dsc_->loop().lastDelay("default/agent").value_or(std::chrono::milliseconds(0)),
            std::chrono::seconds(1));
  clock_.advance(std::chrono::seconds(2));
  syncNow();
  EXPECT_EQ(writesOf("delete", "pods").size(), 2u);
}

TEST_F(DaemonSetTest, SucceededAndDuplicatePodsAreDeleted) {
  seedNodes(2);
  ObjectPtr ds = seed(ds_kind_, dsObject());
  ASSERT_TRUE(dsc_->sync("default/agent").ok());
  syncInformers();
  auto by_node = podsByNode();
  setPod(by_node["node-1"], false, "Succeeded");
  // A second pod on node-2, newer than the first.
  clock_.advance(std::chrono::seconds(5));
  Object dup = *by_node["node-2"];
  api::mutableMetadata(dup).erase("uid");
  api::mutableMetadata(dup).erase("resourceVersion");
  api::mutableMetadata(dup).erase("creationTimestamp");
  api::mutableMetadata(dup)["name"] = "agent-dup";
  ASSERT_TRUE(fake_.create(pod_kind_, dup).ok());
  syncNow();
  std::set<std::string> deleted;
  for (const auto& a : writesOf("delete", "pods")) deleted.insert(a.name);
  EXPECT_EQ(deleted.size(), 2u);
  EXPECT_TRUE(deleted.count(api::name(*by_node["node-1"])));
  EXPECT_TRUE(deleted.count("agent-dup"));
  EXPECT_TRUE(hasEvent("SucceededDaemonPod: Found succeeded daemon pod"));
}

TEST_F(DaemonSetTest, AdoptsOrphansAndDeletesPodsForMissingNodes) {
  seedNodes(1);
  ObjectPtr ds = seed(ds_kind_, dsObject());
  Object orphan;
  orphan["apiVersion"] = "v1";
  orphan["kind"] = "Pod";
  orphan["metadata"] = json::object{
      {"name", "orphan"}, {"namespace", "default"}, {"labels", json::object{{"app", "agent"}}}};
  orphan["spec"] =
      json::parse(R"({"nodeName":"node-1","containers":[{"name":"c","image":"agent:v1"}]})");
  seed(pod_kind_, orphan);
  Object ghost = orphan;
  ghost["metadata"].as_object()["name"] = "ghost";
  ghost["metadata"].as_object()["ownerReferences"] = json::array{newControllerRef(*ds, ds_kind_)};
  json::object& gspec = ghost["spec"].as_object();
  gspec.erase("nodeName");
  replaceNodeNameAffinity(gspec, "node-gone");
  seed(pod_kind_, ghost);
  ASSERT_TRUE(dsc_->sync("default/agent").ok());
  // The orphan was adopted and counts for node-1: nothing created there.
  EXPECT_EQ(controllerUid(*fake_.find(pod_kind_, "default", "orphan")), api::uid(*ds));
  EXPECT_EQ(writesOf("create", "pods").size(), 0u);
  auto deletes = writesOf("delete", "pods");
  ASSERT_EQ(deletes.size(), 1u);
  EXPECT_EQ(deletes[0].name, "ghost");
}

TEST_F(DaemonSetTest, SelectingAllIsRefused) {
  seedNodes(1);
  Object ds = dsObject();
  ds["spec"].as_object()["selector"] = json::object();
  seed(ds_kind_, ds);
  ASSERT_TRUE(dsc_->sync("default/agent").ok());
  EXPECT_TRUE(pods().empty());
  EXPECT_TRUE(hasEvent(
      "SelectingAll: This daemon set is selecting all pods. A non-empty selector is required."));
}

TEST_F(DaemonSetTest, RollingUpdateReplacesWithinMaxUnavailable) {
  seedNodes(3);
  seed(ds_kind_, dsObject());
  ASSERT_TRUE(dsc_->sync("default/agent").ok());
  setAllPodsReady();
  syncNow();
  std::string old_hash =
      api::strAt(*revisions()[0], {"metadata", "labels", kControllerRevisionHashLabel});
  EXPECT_EQ(status("updatedNumberScheduled"), 3);

  updateTemplateImage("agent:v2");
  syncNow();
  ASSERT_EQ(revisions().size(), 2u);
  std::string new_hash;
  for (const auto& r : revisions())
    if (api::intAt(*r, {"revision"}).value_or(0) == 2)
      new_hash = api::strAt(*r, {"metadata", "labels", kControllerRevisionHashLabel});
  ASSERT_FALSE(new_hash.empty());
  EXPECT_NE(new_hash, old_hash);
  // One old pod deleted (maxUnavailable 1); its pod was on a node and is
  // terminating (graceful).
  EXPECT_EQ(writesOf("delete", "pods").size(), 1u);
  EXPECT_EQ(status("updatedNumberScheduled"), 0);
  EXPECT_EQ(status("observedGeneration"), 2);

  // Nothing more while that node has no available pod.
  syncNow();
  EXPECT_EQ(writesOf("delete", "pods").size(), 1u);

  // The terminating pod goes away; the manage loop creates the new one.
  for (const auto& p : pods())
    if (hasDeletionTimestamp(*p)) {
      client::DeleteOptions now;
      now.grace_period_seconds = 0;
      ASSERT_TRUE(fake_.remove(pod_kind_, "default", api::name(*p), now).ok());
    }
  fake_.clearActions();
  syncNow();
  int new_pods = 0;
  for (const auto& p : pods())
    if (api::strAt(*p, {"metadata", "labels", kControllerRevisionHashLabel}) == new_hash)
      ++new_pods;
  EXPECT_EQ(new_pods, 1);
  EXPECT_EQ(writesOf("delete", "pods").size(), 0u);

  // Once it is available, the next old pod goes.
  for (const auto& p : pods())
    if (api::strAt(*p, {"metadata", "labels", kControllerRevisionHashLabel}) == new_hash)
      setPod(p, true);
  syncNow();
  EXPECT_EQ(writesOf("delete", "pods").size(), 1u);
  EXPECT_EQ(status("updatedNumberScheduled"), 1);
}

TEST_F(DaemonSetTest, RollingUpdateWithSurgeStartsNewPodBeforeDeletingOld) {
  seedNodes(2);
  seed(ds_kind_,
       dsObject("agent",
                R"({"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":0,"maxSurge":1}})"));
  ASSERT_TRUE(dsc_->sync("default/agent").ok());
  setAllPodsReady();
  syncNow();
  updateTemplateImage("agent:v2");
  syncNow();
  // One surge pod, no deletion.
  EXPECT_EQ(writesOf("create", "pods").size(), 3u);
  EXPECT_EQ(writesOf("delete", "pods").size(), 0u);
  ObjectPtr surge;
  std::string new_hash;
  for (const auto& r : revisions())
    if (api::intAt(*r, {"revision"}).value_or(0) == 2)
      new_hash = api::strAt(*r, {"metadata", "labels", kControllerRevisionHashLabel});
  for (const auto& p : pods())
    if (api::strAt(*p, {"metadata", "labels", kControllerRevisionHashLabel}) == new_hash) surge = p;
  ASSERT_NE(surge, nullptr);
  std::string surge_node = targetNodeName(*surge).value_or("");
  // Not yet available: both stay.
  syncNow();
  EXPECT_EQ(writesOf("delete", "pods").size(), 0u);
  EXPECT_EQ(writesOf("create", "pods").size(), 3u);
  setPod(surge, true);
  syncNow();
  auto deletes = writesOf("delete", "pods");
  ASSERT_EQ(deletes.size(), 1u);
  ObjectPtr deleted = fake_.find(pod_kind_, "default", deletes[0].name);
  ASSERT_NE(deleted, nullptr);  // graceful: still terminating
  EXPECT_EQ(targetNodeName(*deleted).value_or(""), surge_node);
  EXPECT_NE(api::strAt(*deleted, {"metadata", "labels", kControllerRevisionHashLabel}), new_hash);
}

TEST_F(DaemonSetTest, OnDeleteWaitsForTheUser) {
  seedNodes(2);
  seed(ds_kind_, dsObject("agent", R"({"type":"OnDelete"})"));
  ASSERT_TRUE(dsc_->sync("default/agent").ok());
  setAllPodsReady();
  syncNow();
  updateTemplateImage("agent:v2");
  syncNow();
  syncNow();
  EXPECT_EQ(writesOf("delete", "pods").size(), 0u);
  EXPECT_EQ(status("updatedNumberScheduled"), 0);
  EXPECT_EQ(status("currentNumberScheduled"), 2);
  // The user deletes one pod: its replacement has the new revision.
  client::DeleteOptions now;
  now.grace_period_seconds = 0;
  ASSERT_TRUE(fake_.remove(pod_kind_, "default", api::name(*pods()[0]), now).ok());
  syncNow();
  syncNow();
  EXPECT_EQ(pods().size(), 2u);
  EXPECT_EQ(status("updatedNumberScheduled"), 1);
}

TEST_F(DaemonSetTest, RollbackReusesTheOldRevisionAndHistoryIsTrimmed) {
  seedNodes(1);
  Object ds = dsObject();
  ds["spec"].as_object()["revisionHistoryLimit"] = 1;
  seed(ds_kind_, ds);
  ASSERT_TRUE(dsc_->sync("default/agent").ok());
  syncInformers();
  std::string v1_name = api::name(*revisions()[0]);
  updateTemplateImage("agent:v2");
  syncNow();
  updateTemplateImage("agent:v3");
  syncNow();
  syncInformers();
  // Pods are deleted and recreated as the rollout goes; drop them all so no
  // revision stays live.
  for (const auto& p : pods()) {
    client::DeleteOptions now;
    now.grace_period_seconds = 0;
    ASSERT_TRUE(fake_.remove(pod_kind_, "default", api::name(*p), now).ok());
  }
  updateTemplateImage("agent:v1");
  syncNow();
  // The v1 revision (if kept) or a new one is current with the highest
  // revision number; only one old revision is kept.
  auto revs = revisions();
  ASSERT_LE(revs.size(), 2u);
  int64_t max_rev = 0;
  std::string max_name;
  for (const auto& r : revs)
    if (int64_t n = api::intAt(*r, {"revision"}).value_or(0); n > max_rev) {
      max_rev = n;
      max_name = api::name(*r);
    }
  EXPECT_EQ(max_rev, 4);
  EXPECT_EQ(max_name, v1_name);
}

TEST_F(DaemonSetTest, DeletedDaemonSetForgetsExpectations) {
  seedNodes(1);
  seed(ds_kind_, dsObject());
  ASSERT_TRUE(dsc_->sync("default/agent").ok());
  EXPECT_TRUE(dsc_->expectations().get("default/agent").has_value());
  informers_.forKind(ds_kind_).injectDelete("default/agent");
  EXPECT_FALSE(dsc_->expectations().get("default/agent").has_value());
  EXPECT_TRUE(dsc_->sync("default/agent").ok());
}

// The controller as the server runs it: informers watching the (fake) API,
// workers started; a DaemonSet lands one pod per node without any sync
// called by hand.
TEST(DaemonSetControllerRunning, LandsOnePodPerNode) {
  FakeClock clock(t0());
  client::FakeClient fake(clock);
  const api::KindInfo& pod_kind = client::kind("", "Pod");
  for (const char* name : {"n1", "n2", "n3"}) {
    Object n;
    n["metadata"] = json::object{{"name", name}};
    n["spec"] = json::object();
    fake.add(client::kind("", "Node"), n);
  }
  std::mutex mu;
  std::condition_variable cv;
  auto count_pods = [&] {
    auto list = fake.list(pod_kind, "default", {});
    return list.ok() ? list->items.size() : 0u;
  };
  auto watch = fake.watch(pod_kind, "", {}, [&](const client::Event&) {
    std::lock_guard lock(mu);
    cv.notify_all();
  });
  ASSERT_TRUE(watch.ok());
  {
    client::InformerFactory informers(fake);
    client::EventRecorder recorder(fake, clock, "daemonset-controller");
    DaemonSetController dsc(fake, informers, recorder, clock, 2);
    informers.start();
    dsc.start();
    Object ds;
    ds["apiVersion"] = "apps/v1";
    ds["kind"] = "DaemonSet";
    ds["metadata"] = json::object{{"name", "agent"}, {"namespace", "default"}};
    ds["spec"] = json::parse(R"({"selector":{"matchLabels":{"app":"agent"}},
        "template":{"metadata":{"labels":{"app":"agent"}},"spec":{"containers":[{"name":"c","image":"x"}]}},
        "updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1}}})");
    ASSERT_TRUE(fake.create(client::kind("apps", "DaemonSet"), ds).ok());
    {
      std::unique_lock lock(mu);
      ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return count_pods() >= 3; }));
    }
    dsc.stop();
    informers.stop();
  }
  (*watch)->stop();
  std::set<std::string> nodes;
  auto list = fake.list(pod_kind, "default", {});
  for (const auto& p : list->items) nodes.insert(targetNodeName(*p).value_or(""));
  EXPECT_EQ(nodes, (std::set<std::string>{"n1", "n2", "n3"}));
  EXPECT_EQ(list->items.size(), 3u);
}

}  // namespace
}  // namespace berth::controllers
