#include "controllers/resourcequota/resource_quota_controller.h"

#include <gtest/gtest.h>

#include <set>

#include "api/kinds/access.h"
#include "api/object.h"
#include "client/fake_client.h"

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

// The controller over a FakeClient, with informers fed by hand.
class ResourceQuotaTest : public ::testing::Test {
 protected:
  ResourceQuotaTest()
      : clock_(t0()),
        fake_(clock_),
        informers_(fake_),
        recorder_(fake_, clock_, "resourcequota-controller"),
        quota_kind_(client::kind("", "ResourceQuota")),
        pod_kind_(client::kind("", "Pod")) {}

  void SetUp() override {
    rq_ = std::make_unique<ResourceQuotaController>(fake_, informers_, recorder_, clock_);
    for (const char* k :
         {"ResourceQuota", "Pod", "Service", "PersistentVolumeClaim", "ConfigMap", "Secret"})
      informers_.forKind("", k).markSynced();
    informers_.forKind("apps", "Deployment").markSynced();
  }

  void TearDown() override { rq_->stop(); }

  ObjectPtr seed(const api::KindInfo& kind, Object obj) {
    if (!api::metadata(obj) || api::namespaceOf(obj).empty())
      api::mutableMetadata(obj)["namespace"] = "default";
    ObjectPtr stored = fake_.add(kind, std::move(obj));
    informers_.forKind(kind).injectUpsert(stored);
    return stored;
  }
  ObjectPtr seed(const char* group, const char* kind, Object obj) {
    return seed(client::kind(group, kind), obj);
  }

  Object named(const char* api_version, const char* kind, const std::string& name) {
    return Object{
        {"apiVersion", api_version}, {"kind", kind}, {"metadata", Object{{"name", name}}}};
  }

  Object quota(const std::string& name, Object hard, Object extra_spec = {}) {
    Object q = named("v1", "ResourceQuota", name);
    Object spec = std::move(extra_spec);
    spec["hard"] = std::move(hard);
    q["spec"] = std::move(spec);
    return q;
  }

  // A pod with one container; requests / limits as JSON objects.
  Object pod(const std::string& name, Object requests, Object limits = {},
             const char* phase = "Running") {
    Object p = named("v1", "Pod", name);
    Object resources;
    if (!requests.empty()) resources["requests"] = std::move(requests);
    if (!limits.empty()) resources["limits"] = std::move(limits);
    p["spec"] =
        Object{{"containers",
                json::array{Object{{"name", "c"}, {"image", "nginx"}, {"resources", resources}}}}};
    p["status"] = Object{{"phase", phase}};
    return p;
  }

  std::map<std::string, std::string> used(const std::string& name) {
    std::map<std::string, std::string> out;
    ObjectPtr q = fake_.find(quota_kind_, "default", name);
    if (!q) return out;
    if (const json::object* u = api::objAt(*q, {"status", "used"}))
      for (const auto& [k, v] : *u) out[std::string(k)] = api::asStr(&v);
    return out;
  }

  std::vector<std::string> drain() {
    std::vector<std::string> keys;
    std::string key;
    while (rq_->workQueue().size() > 0 && rq_->workQueue().get(&key)) {
      keys.push_back(key);
      rq_->workQueue().done(key);
    }
    return keys;
  }

  FakeClock clock_;
  client::FakeClient fake_;
  client::InformerFactory informers_;
  client::EventRecorder recorder_;
  const api::KindInfo& quota_kind_;
  const api::KindInfo& pod_kind_;
  std::unique_ptr<ResourceQuotaController> rq_;
};

using Used = std::map<std::string, std::string>;

TEST_F(ResourceQuotaTest, ComputeResourcesOfLivePods) {
  seed(quota_kind_, quota("compute", Object{{"pods", "10"},
                                            {"requests.cpu", "2"},
                                            {"requests.memory", "2Gi"},
                                            {"limits.cpu", "4"},
                                            {"limits.memory", "4Gi"},
                                            {"cpu", "2"},
                                            {"memory", "2Gi"},
                                            {"count/pods", "20"}}));
  seed(pod_kind_, pod("a", Object{{"cpu", "250m"}, {"memory", "512Mi"}},
                      Object{{"cpu", "500m"}, {"memory", "1Gi"}}));
  seed(pod_kind_, pod("b", Object{{"cpu", "250m"}, {"memory", "512Mi"}}));
  // Finished pods use no compute resources but still count as objects.
  seed(pod_kind_, pod("done", Object{{"cpu", "1"}}, {}, "Succeeded"));
  // Another namespace's pods are not this quota's.
  Object elsewhere = pod("x", Object{{"cpu", "1"}});
  api::mutableMetadata(elsewhere)["namespace"] = "other";
  seed(pod_kind_, std::move(elsewhere));

  ASSERT_TRUE(rq_->sync("default/compute").ok());
  EXPECT_EQ(used("compute"), (Used{{"pods", "2"},
                                   {"count/pods", "3"},
                                   {"requests.cpu", "500m"},
                                   {"cpu", "500m"},
                                   {"requests.memory", "1Gi"},
                                   {"memory", "1Gi"},
                                   {"limits.cpu", "500m"},
                                   {"limits.memory", "1Gi"}}));
  ObjectPtr q = fake_.find(quota_kind_, "default", "compute");
  EXPECT_EQ(json::serialize(*api::at(*q, {"status", "hard"})),
            json::serialize(*api::at(*q, {"spec", "hard"})));
}

TEST_F(ResourceQuotaTest, PodsPastTheirDeletionGracePeriodStopCounting) {
  seed(quota_kind_, quota("q", Object{{"pods", "10"}, {"count/pods", "10"}}));
  Object p = pod("a", {});
  api::mutableMetadata(p)["deletionTimestamp"] = formatRfc3339(clock_.now());
  api::mutableMetadata(p)["deletionGracePeriodSeconds"] = 30;
  seed(pod_kind_, std::move(p));
  ASSERT_TRUE(rq_->sync("default/q").ok());
  EXPECT_EQ(used("q"), (Used{{"pods", "1"}, {"count/pods", "1"}}));
  clock_.advance(std::chrono::seconds(31));
  informers_.forKind(quota_kind_).injectUpsert(fake_.find(quota_kind_, "default", "q"));
  ASSERT_TRUE(rq_->sync("default/q").ok());
  EXPECT_EQ(used("q"), (Used{{"pods", "0"}, {"count/pods", "1"}}));
}

TEST_F(ResourceQuotaTest, InitContainersAndSidecarsAsPodRequests) {
  Object p = pod("a", Object{{"cpu", "100m"}});
  p["spec"].as_object()["initContainers"] = json::parse(R"([
    {"name":"sidecar","image":"x","restartPolicy":"Always","resources":{"requests":{"cpu":"200m"}}},
    {"name":"init","image":"x","resources":{"requests":{"cpu":"400m","memory":"64Mi"}}}])");
  // 100m + 200m for the running containers; the init container runs beside
  // the sidecar: 400m + 200m = 600m is the peak.
  ResourceList reqs = podRequests(p);
  EXPECT_EQ(reqs.at("cpu").toString(), "600m");
  EXPECT_EQ(reqs.at("memory").toString(), "64Mi");
}

TEST_F(ResourceQuotaTest, ObjectCountsServicesAndClaims) {
  seed(quota_kind_,
       quota("objects", Object{{"configmaps", "5"},
                               {"count/configmaps", "5"},
                               {"secrets", "3"},
                               {"services", "4"},
                               {"services.nodeports", "4"},
                               {"services.loadbalancers", "1"},
                               {"count/deployments.apps", "2"},
                               {"persistentvolumeclaims", "2"},
                               {"requests.storage", "10Gi"},
                               {"gold.storageclass.storage.k8s.io/requests.storage", "5Gi"},
                               {"resourcequotas", "1"},
                               {"example.com/unknown", "1"}}));
  seed("", "ConfigMap", named("v1", "ConfigMap", "c1"));
  seed("", "ConfigMap", named("v1", "ConfigMap", "c2"));
  Object np = named("v1", "Service", "np");
  np["spec"] = json::parse(R"({"type":"NodePort","ports":[{"port":80},{"port":443}]})");
  seed("", "Service", std::move(np));
  Object lb = named("v1", "Service", "lb");
  lb["spec"] = json::parse(R"({"type":"LoadBalancer","ports":[{"port":80}]})");
  seed("", "Service", std::move(lb));
  Object cip = named("v1", "Service", "cip");
  cip["spec"] = json::parse(R"({"type":"ClusterIP","ports":[{"port":80}]})");
  seed("", "Service", std::move(cip));
  seed("apps", "Deployment", named("apps/v1", "Deployment", "d"));
  Object gold = named("v1", "PersistentVolumeClaim", "gold");
  gold["spec"] =
      json::parse(R"({"storageClassName":"gold","resources":{"requests":{"storage":"1Gi"}}})");
  seed("", "PersistentVolumeClaim", std::move(gold));
  Object plain = named("v1", "PersistentVolumeClaim", "plain");
  plain["spec"] = json::parse(R"({"resources":{"requests":{"storage":"500Mi"}}})");
  seed("", "PersistentVolumeClaim", std::move(plain));

  ASSERT_TRUE(rq_->sync("default/objects").ok());
  EXPECT_EQ(used("objects"), (Used{{"configmaps", "2"},
                                   {"count/configmaps", "2"},
                                   {"secrets", "0"},
                                   {"services", "3"},
                                   {"services.nodeports", "3"},
                                   {"services.loadbalancers", "1"},
                                   {"count/deployments.apps", "1"},
                                   {"persistentvolumeclaims", "2"},
                                   {"requests.storage", "1524Mi"},
                                   {"gold.storageclass.storage.k8s.io/requests.storage", "1Gi"},
                                   {"resourcequotas", "1"}}));
}

TEST_F(ResourceQuotaTest, ScopesSelectPods) {
  Object best_effort = pod("be", {});
  Object burstable = pod("burst", Object{{"cpu", "100m"}});
  Object high = pod("high", Object{{"cpu", "100m"}});
  high["spec"].as_object()["priorityClassName"] = "high";
  Object terminating = pod("job", Object{{"cpu", "100m"}});
  terminating["spec"].as_object()["activeDeadlineSeconds"] = 60;
  for (Object* p : {&best_effort, &burstable, &high, &terminating}) seed(pod_kind_, *p);

  seed(quota_kind_,
       quota("be", Object{{"pods", "10"}}, Object{{"scopes", json::array{"BestEffort"}}}));
  seed(quota_kind_, quota("not-be-not-term", Object{{"pods", "10"}, {"requests.cpu", "1"}},
                          Object{{"scopes", json::array{"NotBestEffort", "NotTerminating"}}}));
  seed(quota_kind_, quota("high", Object{{"pods", "10"}},
                          Object{{"scopeSelector", json::parse(R"({"matchExpressions":[
               {"scopeName":"PriorityClass","operator":"In","values":["high"]}]})")}}));
  seed(quota_kind_, quota("not-high", Object{{"pods", "10"}},
                          Object{{"scopeSelector", json::parse(R"({"matchExpressions":[
               {"scopeName":"PriorityClass","operator":"NotIn","values":["high"]}]})")}}));
  // Object counts have no scopes: a scoped quota counts none.
  seed(quota_kind_, quota("scoped-count", Object{{"configmaps", "1"}},
                          Object{{"scopes", json::array{"BestEffort"}}}));
  seed("", "ConfigMap", named("v1", "ConfigMap", "c1"));

  for (const char* q : {"be", "not-be-not-term", "high", "not-high", "scoped-count"})
    ASSERT_TRUE(rq_->sync(std::string("default/") + q).ok()) << q;
  EXPECT_EQ(used("be"), (Used{{"pods", "1"}}));
  EXPECT_EQ(used("not-be-not-term"), (Used{{"pods", "2"}, {"requests.cpu", "200m"}}));
  EXPECT_EQ(used("high"), (Used{{"pods", "1"}}));
  EXPECT_EQ(used("not-high"), (Used{{"pods", "3"}}));
  EXPECT_EQ(used("scoped-count"), (Used{{"configmaps", "0"}}));
}

TEST_F(ResourceQuotaTest, UnchangedUsageIsNotWrittenAgain) {
  seed(quota_kind_, quota("q", Object{{"pods", "10"}}));
  seed(pod_kind_, pod("a", {}));
  ASSERT_TRUE(rq_->sync("default/q").ok());
  informers_.forKind(quota_kind_).injectUpsert(fake_.find(quota_kind_, "default", "q"));
  fake_.clearActions();
  ASSERT_TRUE(rq_->sync("default/q").ok());
  EXPECT_TRUE(fake_.writes().empty());
  // A new pod changes usage: written.
  seed(pod_kind_, pod("b", {}));
  ASSERT_TRUE(rq_->sync("default/q").ok());
  ASSERT_EQ(fake_.writes().size(), 1u);
  EXPECT_EQ(fake_.writes()[0].subresource, "status");
  EXPECT_EQ(used("q"), (Used{{"pods", "2"}}));
}

TEST_F(ResourceQuotaTest, UnsyncedCacheKeepsTheOldValueAndFails) {
  // Replication controllers' informer is created by the quota on first use
  // and has not listed yet.
  Object q = quota("q", Object{{"pods", "10"}, {"replicationcontrollers", "5"}});
  q["status"] = Object{{"hard", Object{{"pods", "10"}, {"replicationcontrollers", "5"}}},
                       {"used", Object{{"pods", "0"}, {"replicationcontrollers", "2"}}}};
  seed(quota_kind_, std::move(q));
  seed(pod_kind_, pod("a", {}));
  Status s = rq_->sync("default/q");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(used("q"), (Used{{"pods", "1"}, {"replicationcontrollers", "2"}}));
}

TEST_F(ResourceQuotaTest, HandlersEnqueueQuotasThatTrackTheChange) {
  seed(quota_kind_, quota("pods", Object{{"pods", "10"}}));
  seed(quota_kind_, quota("maps", Object{{"configmaps", "10"}}));
  EXPECT_EQ(drain().size(), 2u);
  // The trackers' informers exist once a sync asked for them.
  ASSERT_TRUE(rq_->sync("default/pods").ok());
  ASSERT_TRUE(rq_->sync("default/maps").ok());
  drain();

  ObjectPtr a = seed(pod_kind_, pod("a", {}));
  EXPECT_EQ(drain(), std::vector<std::string>{"default/pods"});
  // A condition change does not move usage; a phase change does.
  Object ready = *a;
  ready["status"].as_object()["conditions"] = json::parse(R"([{"type":"Ready","status":"True"}])");
  seed(pod_kind_, ready);
  EXPECT_TRUE(drain().empty());
  Object done = ready;
  done["status"].as_object()["phase"] = "Succeeded";
  seed(pod_kind_, std::move(done));
  EXPECT_EQ(drain(), std::vector<std::string>{"default/pods"});
  informers_.forKind(pod_kind_).injectDelete("default/a");
  EXPECT_EQ(drain(), std::vector<std::string>{"default/pods"});

  seed("", "ConfigMap", named("v1", "ConfigMap", "c"));
  EXPECT_EQ(drain(), std::vector<std::string>{"default/maps"});

  // A status-only quota update (this controller's own write) is ignored; a
  // spec change is not.
  ObjectPtr q = fake_.find(quota_kind_, "default", "maps");
  Object status_only = *q;
  status_only["status"] = Object{{"used", Object{{"configmaps", "9"}}}};
  seed(quota_kind_, status_only);
  EXPECT_TRUE(drain().empty());
  Object spec_change = status_only;
  spec_change["spec"].as_object()["hard"].as_object()["configmaps"] = "20";
  seed(quota_kind_, std::move(spec_change));
  EXPECT_EQ(drain(), std::vector<std::string>{"default/maps"});

  rq_->resyncAll();
  auto all = drain();
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()),
            (std::set<std::string>{"default/pods", "default/maps"}));
}

}  // namespace
}  // namespace berth::controllers
