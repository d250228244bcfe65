// The registry and the in-process controllers over the real SQLite store and
// watch cache, without HTTP: create/update/patch/delete semantics, selectors,
// pagination, finalizers, garbage collection and namespace lifecycle.
#include "apiserver/registry/registry.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "api/object.h"
#include "controllers/bootstrap/bootstrap.h"
#include "controllers/garbagecollector/garbage_collector.h"
#include "controllers/namespace/namespace_controller.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/watch_cache.h"

namespace berth {
namespace {

namespace json = boost::json;
using api::Object;
using apiserver::Registry;

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-registry-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto backend = storage::SqliteStore::open(dir_ + "/state.db", {});
    ASSERT_TRUE(backend.ok()) << backend.error().message;
    backend_ = std::move(backend).value();
    storage::WatchCacheOptions wo;
    const auto& kinds = api::KindRegistry::builtin();
    wo.decorate = [&kinds](storage::KeyValue kv) { return Registry::decorate(kinds, std::move(kv)); };
    auto cache = storage::WatchCache::create(backend_, wo);
    ASSERT_TRUE(cache.ok());
    cache_ = std::move(cache).value();
    registry_ = std::make_unique<Registry>(kinds, cache_, clock_, Registry::Options{});
    ASSERT_TRUE(controllers::bootstrapCluster(*registry_, {"10.0.0.1", 6443}).ok());
  }

  void TearDown() override {
    gc_.reset();
    ns_.reset();
    registry_.reset();
    cache_.reset();
    backend_.reset();
    std::filesystem::remove_all(dir_);
  }

  const api::KindInfo& kind(const char* group, const char* version, const char* k) {
    const auto* info = api::KindRegistry::builtin().byKind(group, version, k);
    EXPECT_NE(info, nullptr) << k;
    return *info;
  }

  Object configMap(const std::string& name, json::object labels = {}) {
    return Object{{"apiVersion", "v1"},
                  {"kind", "ConfigMap"},
                  {"metadata", Object{{"name", name}, {"labels", labels}}},
                  {"data", Object{{"k", "v"}}}};
  }

  // Polls until pred() (controllers run on their own threads).
  template <class Pred>
  bool eventually(Pred pred) {
    for (int i = 0; i < 500; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  std::string dir_;
  RealClock clock_;
  std::shared_ptr<storage::SqliteStore> backend_;
  std::shared_ptr<storage::WatchCache> cache_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<controllers::GarbageCollector> gc_;
  std::unique_ptr<controllers::NamespaceController> ns_;
};

TEST_F(RegistryTest, BootstrapCreatesSystemObjects) {
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"})
    EXPECT_TRUE(registry_->get(kind("", "v1", "Namespace"), "", ns).ok()) << ns;
  auto svc = registry_->get(kind("", "v1", "Service"), "default", "kubernetes");
  ASSERT_TRUE(svc.ok());
  EXPECT_EQ(api::getStringPath(*svc, "spec.clusterIP"), "10.96.0.1");
  auto ep = registry_->get(kind("", "v1", "Endpoints"), "default", "kubernetes");
  ASSERT_TRUE(ep.ok());
  EXPECT_NE(json::serialize(*ep).find("10.0.0.1"), std::string::npos);
  EXPECT_TRUE(registry_->get(kind("discovery.k8s.io", "v1", "EndpointSlice"), "default", "kubernetes").ok());
  // Bootstrapping again changes nothing.
  int64_t rev = cache_->currentRevision();
  ASSERT_TRUE(controllers::bootstrapCluster(*registry_, {"10.0.0.1", 6443}).ok());
  EXPECT_EQ(cache_->currentRevision(), rev);
}

TEST_F(RegistryTest, CreateSetsServerFieldsAndRejectsDuplicates) {
  auto& cm = kind("", "v1", "ConfigMap");
  auto created = registry_->create(cm, "default", configMap("a"), {});
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_FALSE(api::uid(*created).empty());
  EXPECT_FALSE(api::getStringPath(*created, "metadata.creationTimestamp").empty());
  EXPECT_FALSE(api::getStringPath(*created, "metadata.resourceVersion").empty());
  auto dup = registry_->create(cm, "default", configMap("a"), {});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(dup.error().message, "configmaps \"a\" already exists");
  auto missing_ns = registry_->create(cm, "nope", configMap("a"), {});
  ASSERT_FALSE(missing_ns.ok());
  EXPECT_EQ(missing_ns.error().code, ErrorCode::kNotFound);
}

TEST_F(RegistryTest, GenerateNameAndDryRun) {
  auto& cm = kind("", "v1", "ConfigMap");
  Object obj = configMap("");
  api::mutableMetadata(obj).erase("name");
  api::mutableMetadata(obj)["generateName"] = "gen-";
  auto created = registry_->create(cm, "default", obj, {});
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(api::name(*created).rfind("gen-", 0), 0u);
  EXPECT_EQ(api::name(*created).size(), 9u);
  apiserver::WriteOptions dry;
  dry.dry_run = true;
  ASSERT_TRUE(registry_->create(cm, "default", configMap("dry"), dry).ok());
  EXPECT_FALSE(registry_->get(cm, "default", "dry").ok());
}

TEST_F(RegistryTest, UpdateWithStaleResourceVersionConflicts) {
  auto& cm = kind("", "v1", "ConfigMap");
  auto created = registry_->create(cm, "default", configMap("a"), {});
  ASSERT_TRUE(created.ok());
  Object v1 = *created;
  Object v2 = v1;
  v2["data"] = Object{{"k", "v2"}};
  auto up = registry_->update(cm, "default", "a", v2, {});
  ASSERT_TRUE(up.ok()) << up.error().message;
  EXPECT_NE(api::getStringPath(*up, "metadata.resourceVersion"), api::getStringPath(v1, "metadata.resourceVersion"));
  Object stale = v1;
  stale["data"] = Object{{"k", "v3"}};
  auto conflict = registry_->update(cm, "default", "a", stale, {});
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, ErrorCode::kConflict);
  // A no-op update keeps the resourceVersion.
  auto same = registry_->update(cm, "default", "a", *up, {});
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(api::getStringPath(*same, "metadata.resourceVersion"), api::getStringPath(*up, "metadata.resourceVersion"));
}

TEST_F(RegistryTest, PatchTypes) {
  auto& cm = kind("", "v1", "ConfigMap");
  ASSERT_TRUE(registry_->create(cm, "default", configMap("a"), {}).ok());
  auto merged = registry_->patch(cm, "default", "a", apiserver::PatchType::kMerge,
                                 R"({"metadata":{"labels":{"x":"1"}},"data":{"k":null,"n":"m"}})", {});
  ASSERT_TRUE(merged.ok()) << merged.error().message;
  EXPECT_EQ(api::labels(*merged).at("x"), "1");
  EXPECT_EQ(json::serialize(merged->at("data")), R"({"n":"m"})");
  auto jp = registry_->patch(cm, "default", "a", apiserver::PatchType::kJson,
                             R"([{"op":"replace","path":"/data/n","value":"z"}])", {});
  ASSERT_TRUE(jp.ok()) << jp.error().message;
  EXPECT_EQ(api::getStringPath(*jp, "data.n"), "z");
  auto bad = registry_->patch(cm, "default", "a", apiserver::PatchType::kJson,
                              R"([{"op":"test","path":"/data/n","value":"nope"}])", {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalid);
}

TEST_F(RegistryTest, DeploymentGenerationAndStatusIsolation) {
  auto& dep = kind("apps", "v1", "Deployment");
  json::value manifest = json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"web"},
    "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},
      "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}},
    "status":{"replicas":99}})");
  auto created = registry_->create(dep, "default", manifest.as_object(), {});
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(api::getInt(*api::metadata(*created), "generation"), 1);
  EXPECT_EQ(api::findPath(*created, "status.replicas"), nullptr);  // status ignored on create
  auto scaled = registry_->patch(dep, "default", "web", apiserver::PatchType::kMerge, R"({"spec":{"replicas":3}})", {});
  ASSERT_TRUE(scaled.ok());
  EXPECT_EQ(api::getInt(*api::metadata(*scaled), "generation"), 2);
  apiserver::WriteOptions status_opts;
  status_opts.subresource = apiserver::Subresource::kStatus;
  auto st = registry_->patch(dep, "default", "web", apiserver::PatchType::kMerge,
                             R"({"status":{"replicas":3},"spec":{"replicas":7}})", status_opts);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(api::getInt(*api::findObject(*st, "status"), "replicas"), 3);
  EXPECT_EQ(api::getInt(*api::findObject(*st, "spec"), "replicas"), 3);
  EXPECT_EQ(api::getInt(*api::metadata(*st), "generation"), 2);
}

TEST_F(RegistryTest, ListSelectorsAndPagination) {
  auto& cm = kind("", "v1", "ConfigMap");
  for (int i = 0; i < 25; ++i)
    ASSERT_TRUE(registry_->create(cm, "default", configMap("cm-" + std::to_string(100 + i),
                                                           Object{{"parity", i % 2 ? "odd" : "even"}}), {}).ok());
  apiserver::ListParams p;
  p.label_selector = "parity=odd";
  auto odd = registry_->list(cm, "default", p);
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->items.size(), 12u);
  p.label_selector = "parity in (odd,even)";
  p.field_selector = "metadata.name=cm-105";
  auto one = registry_->list(cm, "default", p);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->items.size(), 1u);
  p = {};
  p.field_selector = "spec.bogus=1";
  auto bad = registry_->list(cm, "default", p);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kBadRequest);
  // Pages of 10 over 25 (+ kube-root-ca.crt is not there: no namespace controller here).
  p = {};
  p.label_selector = "parity";
  p.limit = 10;
  size_t seen = 0;
  int pages = 0;
  do {
    auto page = registry_->list(cm, "default", p);
    ASSERT_TRUE(page.ok()) << page.error().message;
    seen += page->items.size();
    p.continue_token = page->continue_token;
    ++pages;
  } while (!p.continue_token.empty() && pages < 10);
  EXPECT_EQ(seen, 25u);
  EXPECT_EQ(pages, 3);
}

TEST_F(RegistryTest, FinalizersHoldDeletion) {
  auto& cm = kind("", "v1", "ConfigMap");
  Object obj = configMap("held");
  api::mutableMetadata(obj)["finalizers"] = json::array{"example.com/hold"};
  ASSERT_TRUE(registry_->create(cm, "default", obj, {}).ok());
  auto del = registry_->remove(cm, "default", "held", {});
  ASSERT_TRUE(del.ok());
  EXPECT_FALSE(del->deleted);
  auto cur = registry_->get(cm, "default", "held");
  ASSERT_TRUE(cur.ok());
  EXPECT_TRUE(api::metadata(*cur)->contains("deletionTimestamp"));
  auto cleared = registry_->patch(cm, "default", "held", apiserver::PatchType::kMerge,
                                  R"({"metadata":{"finalizers":null}})", {});
  ASSERT_TRUE(cleared.ok()) << cleared.error().message;
  EXPECT_FALSE(registry_->get(cm, "default", "held").ok());
}

TEST_F(RegistryTest, ServiceAllocationRejectsDuplicates) {
  auto& svc = kind("", "v1", "Service");
  auto mk = [](const std::string& name, const std::string& ip, int node_port) {
    Object port{{"port", 80}};
    if (node_port) port["nodePort"] = node_port;
    Object spec{{"type", node_port ? "NodePort" : "ClusterIP"}, {"ports", json::array{port}},
                {"selector", Object{{"app", "x"}}}};
    if (!ip.empty()) spec["clusterIP"] = ip;
    return Object{{"apiVersion", "v1"}, {"kind", "Service"}, {"metadata", Object{{"name", name}}}, {"spec", spec}};
  };
  auto a = registry_->create(svc, "default", mk("a", "", 0), {});
  ASSERT_TRUE(a.ok()) << a.error().message;
  std::string ip = api::getStringPath(*a, "spec.clusterIP");
  EXPECT_EQ(ip.rfind("10.", 0), 0u);
  auto dup = registry_->create(svc, "default", mk("b", ip, 0), {});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kInvalid);
  auto np = registry_->create(svc, "default", mk("c", "", 30080), {});
  ASSERT_TRUE(np.ok()) << np.error().message;
  auto np_dup = registry_->create(svc, "default", mk("d", "", 30080), {});
  ASSERT_FALSE(np_dup.ok());
  ASSERT_TRUE(registry_->remove(svc, "default", "c", {}).ok());
  EXPECT_TRUE(registry_->create(svc, "default", mk("d", "", 30080), {}).ok());
  EXPECT_TRUE(registry_->create(svc, "default", mk("e", ip, 0), {}).ok() == false);
  ASSERT_TRUE(registry_->remove(svc, "default", "a", {}).ok());
  EXPECT_TRUE(registry_->create(svc, "default", mk("e", ip, 0), {}).ok());
}

Object owned(const std::string& name, const Object& owner) {
  Object ref{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", api::name(owner)}, {"uid", api::uid(owner)},
             {"blockOwnerDeletion", true}};
  return Object{{"apiVersion", "v1"},
                {"kind", "ConfigMap"},
                {"metadata", Object{{"name", name}, {"ownerReferences", json::array{ref}}}}};
}

TEST_F(RegistryTest, GarbageCollectorPropagationModes) {
  gc_ = std::make_unique<controllers::GarbageCollector>(*registry_);
  ASSERT_TRUE(gc_->start().ok());
  auto& cm = kind("", "v1", "ConfigMap");
  auto exists = [&](const char* n) { return registry_->get(cm, "default", n).ok(); };
  // Background.
  auto owner = registry_->create(cm, "default", configMap("bg-owner"), {});
  ASSERT_TRUE(owner.ok());
  ASSERT_TRUE(registry_->create(cm, "default", owned("bg-dep", *owner), {}).ok());
  ASSERT_TRUE(registry_->remove(cm, "default", "bg-owner", {}).ok());
  EXPECT_TRUE(eventually([&] { return !exists("bg-dep"); }));
  // Orphan.
  owner = registry_->create(cm, "default", configMap("or-owner"), {});
  ASSERT_TRUE(registry_->create(cm, "default", owned("or-dep", *owner), {}).ok());
  apiserver::DeleteOptions orphan;
  orphan.propagation = apiserver::Propagation::kOrphan;
  ASSERT_TRUE(registry_->remove(cm, "default", "or-owner", orphan).ok());
  EXPECT_TRUE(eventually([&] { return !exists("or-owner"); }));
  auto dep = registry_->get(cm, "default", "or-dep");
  ASSERT_TRUE(dep.ok());
  EXPECT_FALSE(api::metadata(*dep)->contains("ownerReferences"));
  // Foreground: the owner stays until its dependent is gone.
  owner = registry_->create(cm, "default", configMap("fg-owner"), {});
  Object d = owned("fg-dep", *owner);
  api::mutableMetadata(d)["finalizers"] = json::array{"example.com/slow"};
  ASSERT_TRUE(registry_->create(cm, "default", d, {}).ok());
  apiserver::DeleteOptions fg;
  fg.propagation = apiserver::Propagation::kForeground;
  ASSERT_TRUE(registry_->remove(cm, "default", "fg-owner", fg).ok());
  EXPECT_TRUE(eventually([&] {
    auto o = registry_->get(cm, "default", "fg-dep");
    return o.ok() && api::metadata(*o)->contains("deletionTimestamp");
  }));
  EXPECT_TRUE(exists("fg-owner"));
  ASSERT_TRUE(registry_->patch(cm, "default", "fg-dep", apiserver::PatchType::kMerge,
                               R"({"metadata":{"finalizers":null}})", {}).ok());
  EXPECT_TRUE(eventually([&] { return !exists("fg-owner"); }));
}

TEST_F(RegistryTest, NamespaceLifecycle) {
  ns_ = std::make_unique<controllers::NamespaceController>(*registry_, "CA PEM");
  ASSERT_TRUE(ns_->start().ok());
  auto& nsk = kind("", "v1", "Namespace");
  auto& cm = kind("", "v1", "ConfigMap");
  auto& sa = kind("", "v1", "ServiceAccount");
  Object ns{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", Object{{"name", "team"}}}};
  ASSERT_TRUE(registry_->create(nsk, "", ns, {}).ok());
  EXPECT_TRUE(eventually([&] { return registry_->get(sa, "team", "default").ok(); }));
  EXPECT_TRUE(eventually([&] { return registry_->get(cm, "team", "kube-root-ca.crt").ok(); }));
  // A deleted root CA ConfigMap comes back.
  ASSERT_TRUE(registry_->remove(cm, "team", "kube-root-ca.crt", {}).ok());
  EXPECT_TRUE(eventually([&] { return registry_->get(cm, "team", "kube-root-ca.crt").ok(); }));
  ASSERT_TRUE(registry_->create(cm, "team", configMap("data"), {}).ok());
  auto del = registry_->remove(nsk, "", "team", {});
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(api::getStringPath(del->object, "status.phase"), "Terminating");
  auto refused = registry_->create(cm, "team", configMap("late"), {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kForbidden);
  EXPECT_TRUE(eventually([&] { return !registry_->get(nsk, "", "team").ok(); }));
  EXPECT_FALSE(registry_->get(cm, "team", "data").ok());
}

// Pod create admission: Priority (class → priority and preemptionPolicy,
// globalDefault, unknown class and a mismatched priority Forbidden) and
// DefaultTolerationSeconds (300 s not-ready / unreachable, unless tolerated).
class PodAdmissionTest : public RegistryTest {
 protected:
  Result<Object> createPod(const std::string& name, Object spec_extra = {}) {
    Object spec{{"containers", json::array{Object{{"name", "c"}, {"image", "busybox"}}}}};
    for (auto& [k, v] : spec_extra) spec[k] = v;
    return registry_->create(kind("", "v1", "Pod"), "default",
                             Object{{"apiVersion", "v1"},
                                    {"kind", "Pod"},
                                    {"metadata", Object{{"name", name}}},
                                    {"spec", spec}},
                             {});
  }
  void createClass(const std::string& name, int64_t value, bool global_default = false,
                   const std::string& policy = "") {
    Object pc{{"apiVersion", "scheduling.k8s.io/v1"},
              {"kind", "PriorityClass"},
              {"metadata", Object{{"name", name}}},
              {"value", value},
              {"globalDefault", global_default}};
    if (!policy.empty()) pc["preemptionPolicy"] = policy;
    auto r = registry_->create(kind("scheduling.k8s.io", "v1", "PriorityClass"), "", pc, {});
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  // "key:seconds" for each toleration of the pod.
  static std::vector<std::string> tolerations(const Object& pod) {
    std::vector<std::string> out;
    const auto* arr = api::findPath(pod, "spec.tolerations");
    if (!arr || !arr->is_array()) return out;
    for (const auto& t : arr->as_array()) {
      const auto& o = t.as_object();
      out.push_back(api::getString(o, "key") + ":" + api::getString(o, "effect") + ":" +
                    std::to_string(api::getInt(o, "tolerationSeconds", -1)));
    }
    return out;
  }
};

TEST_F(PodAdmissionTest, SystemPriorityClassesAreBootstrapped) {
  auto& pcs = kind("scheduling.k8s.io", "v1", "PriorityClass");
  auto node = registry_->get(pcs, "", "system-node-critical");
  ASSERT_TRUE(node.ok());
  EXPECT_EQ(api::getInt(*node, "value"), 2000001000);
  auto cluster = registry_->get(pcs, "", "system-cluster-critical");
  ASSERT_TRUE(cluster.ok());
  EXPECT_EQ(api::getInt(*cluster, "value"), 2000000000);
}

TEST_F(PodAdmissionTest, PriorityClassResolvesPriorityAndPolicy) {
  createClass("high", 1000, false, "Never");
  auto pod = createPod("p", Object{{"priorityClassName", "high"}});
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  EXPECT_EQ(api::getInt(*api::findObject(*pod, "spec"), "priority"), 1000);
  EXPECT_EQ(api::getStringPath(*pod, "spec.preemptionPolicy"), "Never");

  auto critical = createPod("crit", Object{{"priorityClassName", "system-node-critical"}});
  ASSERT_TRUE(critical.ok()) << critical.error().message;
  EXPECT_EQ(api::getInt(*api::findObject(*critical, "spec"), "priority"), 2000001000);
  EXPECT_EQ(api::getStringPath(*critical, "spec.preemptionPolicy"), "PreemptLowerPriority");

  auto plain = createPod("plain");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(api::getInt(*api::findObject(*plain, "spec"), "priority", -1), 0);
  EXPECT_EQ(api::getStringPath(*plain, "spec.priorityClassName"), "");
}

TEST_F(PodAdmissionTest, UnknownClassAndMismatchedPriorityAreForbidden) {
  auto unknown = createPod("u", Object{{"priorityClassName", "nope"}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kForbidden);
  EXPECT_EQ(unknown.error().message, "pods \"u\" is forbidden: no PriorityClass with name nope was found");

  createClass("mid", 500);
  auto mismatch = createPod("m", Object{{"priorityClassName", "mid"}, {"priority", 7}});
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.error().code, ErrorCode::kForbidden);
  EXPECT_EQ(mismatch.error().message,
            "pods \"m\" is forbidden: the integer value of priority (7) must not be provided in pod spec; "
            "priority admission controller computed 500 from the given PriorityClass name");
  EXPECT_FALSE(registry_->get(kind("", "v1", "Pod"), "default", "m").ok());
  // The same value as the class is accepted.
  EXPECT_TRUE(createPod("same", Object{{"priorityClassName", "mid"}, {"priority", 500}}).ok());
}

TEST_F(PodAdmissionTest, GlobalDefaultClassAppliesToPodsWithoutOne) {
  createClass("fallback", 42, true);
  auto pod = createPod("d");
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  EXPECT_EQ(api::getStringPath(*pod, "spec.priorityClassName"), "fallback");
  EXPECT_EQ(api::getInt(*api::findObject(*pod, "spec"), "priority"), 42);
}

TEST_F(PodAdmissionTest, DefaultTolerationSeconds) {
  auto pod = createPod("t");
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  EXPECT_EQ(tolerations(*pod), (std::vector<std::string>{"node.kubernetes.io/not-ready:NoExecute:300",
                                                        "node.kubernetes.io/unreachable:NoExecute:300"}));
  // A pod that already tolerates unreachable keeps its own toleration and
  // gets only the not-ready one.
  auto own = createPod("own", Object{{"tolerations", json::array{Object{{"key", "node.kubernetes.io/unreachable"},
                                                                        {"operator", "Exists"},
                                                                        {"effect", "NoExecute"},
                                                                        {"tolerationSeconds", 5}}}}});
  ASSERT_TRUE(own.ok()) << own.error().message;
  EXPECT_EQ(tolerations(*own), (std::vector<std::string>{"node.kubernetes.io/unreachable:NoExecute:5",
                                                        "node.kubernetes.io/not-ready:NoExecute:300"}));
  // An empty-key Exists toleration tolerates everything: nothing is added.
  auto all = createPod("all", Object{{"tolerations", json::array{Object{{"operator", "Exists"}}}}});
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_EQ(tolerations(*all), (std::vector<std::string>{":" ":-1"}));
}

}  // namespace
}  // namespace berth
