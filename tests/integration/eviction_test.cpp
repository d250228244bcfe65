// pods/eviction over the real Registry (SQLite + watch cache) and the API
// server's REST branch: the budget's answers (429 with upstream's message
// and DisruptionBudget cause, 500 for two budgets), the decrement and
// disruptedPods record of an allowed eviction, pods deleted without a budget
// check (Pending), unready pods, dry run, discovery; then the disruption
// controller over the in-process client opening a budget for an eviction.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "api/object.h"
#include "apiserver/api_server.h"
#include "apiserver/registry/registry.h"
#include "apiserver/timers.h"
#include "client/event_recorder.h"
#include "client/informer.h"
#include "client/inprocess_client.h"
#include "controllers/bootstrap/bootstrap.h"
#include "controllers/disruption/disruption_controller.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/watch_cache.h"

namespace berth {
namespace {

namespace json = boost::json;
using api::Object;
using apiserver::Registry;

std::chrono::system_clock::time_point t0() {
  std::chrono::system_clock::time_point t;
  parseRfc3339("2024-03-01T10:00:00Z", &t);
  return t;
}

const api::KindInfo& kindOf(const char* group, const char* version, const char* kind) {
  const auto* k = api::KindRegistry::builtin().byKind(group, version, kind);
  if (!k) std::abort();
  return *k;
}
const api::KindInfo& pods() { return kindOf("", "v1", "Pod"); }
const api::KindInfo& pdbs() { return kindOf("policy", "v1", "PodDisruptionBudget"); }

// Captures the single answer of ApiServer::handle.
class Capture : public apiserver::Responder {
 public:
  void respond(apiserver::Response r) override { response = std::move(r); }
  std::shared_ptr<apiserver::StreamWriter> startStream(
      int, std::vector<std::pair<std::string, std::string>>) override {
    return nullptr;
  }
  apiserver::Response response;
};

class EvictionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-eviction-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto backend = storage::SqliteStore::open(dir_ + "/state.db", {});
    ASSERT_TRUE(backend.ok()) << backend.error().message;
    backend_ = std::move(backend).value();
    const auto& kinds = api::KindRegistry::builtin();
    storage::WatchCacheOptions wo;
    wo.decorate = [&kinds](storage::KeyValue kv) {
      return Registry::decorate(kinds, std::move(kv));
    };
    auto cache = storage::WatchCache::create(backend_, wo);
    ASSERT_TRUE(cache.ok());
    cache_ = std::move(cache).value();
    registry_ = std::make_unique<Registry>(kinds, cache_, clock_, Registry::Options{});
    ASSERT_TRUE(controllers::bootstrapCluster(*registry_, {"10.0.0.1", 6443}).ok());
    timers_ = std::make_unique<apiserver::Timers>();
    api_ = std::make_shared<apiserver::ApiServer>(*registry_, *timers_,
                                                  apiserver::ApiServer::Options{});
    api_->setReady(true);
  }

  void TearDown() override {
    api_.reset();
    if (timers_) timers_->stop();
    timers_.reset();
    registry_.reset();
    cache_.reset();
    backend_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A pod with labels app=web, as its node agent reports it: `phase`, and
  // Ready when `ready`. `node` binds it (its deletion is then graceful).
  void createPod(const std::string& name, const std::string& phase, bool ready,
                 const std::string& node = "") {
    Object spec{{"containers", json::array{Object{{"name", "c"}, {"image", "busybox"}}}}};
    if (!node.empty()) spec["nodeName"] = node;
    Object p{{"apiVersion", "v1"},
             {"kind", "Pod"},
             {"metadata", Object{{"name", name}, {"labels", Object{{"app", "web"}}}}},
             {"spec", std::move(spec)}};
    ASSERT_TRUE(registry_->create(pods(), "default", std::move(p), {}).ok());
    auto set = registry_->mutate(
        pods(), "default", name,
        [&](Object& obj) -> Status {
          Object& st = api::ensureObject(obj, "status");
          st["phase"] = phase;
          st["conditions"] =
              json::array{Object{{"type", "Ready"}, {"status", ready ? "True" : "False"}}};
          return okStatus();
        },
        apiserver::Subresource::kStatus);
    ASSERT_TRUE(set.ok()) << set.error().message;
  }

  // A budget over app=web with the status a disruption controller wrote.
  void createPdb(const std::string& name, int64_t allowed, int64_t current, int64_t desired,
                 const std::string& policy = "", int64_t observed_generation = 1) {
    Object spec{{"minAvailable", desired},
                {"selector", Object{{"matchLabels", Object{{"app", "web"}}}}}};
    if (!policy.empty()) spec["unhealthyPodEvictionPolicy"] = policy;
    Object b{{"apiVersion", "policy/v1"},
             {"kind", "PodDisruptionBudget"},
             {"metadata", Object{{"name", name}}},
             {"spec", std::move(spec)}};
    auto created = registry_->create(pdbs(), "default", std::move(b), {});
    ASSERT_TRUE(created.ok()) << created.error().message;
    auto set = registry_->mutate(
        pdbs(), "default", name,
        [&](Object& obj) -> Status {
          obj["status"] = Object{{"observedGeneration", observed_generation},
                                 {"disruptionsAllowed", allowed},
                                 {"currentHealthy", current},
                                 {"desiredHealthy", desired},
                                 {"expectedPods", current}};
          return okStatus();
        },
        apiserver::Subresource::kStatus);
    ASSERT_TRUE(set.ok()) << set.error().message;
  }

  apiserver::Response request(const std::string& method, const std::string& path,
                              const std::string& body = "",
                              std::vector<std::pair<std::string, std::string>> query = {}) {
    apiserver::Request req;
    req.method = method;
    req.path = path;
    req.target = path;
    req.query = std::move(query);
    req.body = body;
    req.headers = {{"content-type", "application/json"}, {"accept", "application/json"}};
    req.user = apiserver::UserInfo{"admin", {"system:masters"}};
    auto capture = std::make_shared<Capture>();
    api_->handle(std::move(req), capture);
    return capture->response;
  }

  apiserver::Response evict(const std::string& name,
                            std::vector<std::pair<std::string, std::string>> query = {},
                            const std::string& delete_options = "") {
    std::string body = R"({"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":")" +
                       name + R"(","namespace":"default"})" +
                       (delete_options.empty() ? "" : R"(,"deleteOptions":)" + delete_options) +
                       "}";
    return request("POST", "/api/v1/namespaces/default/pods/" + name + "/eviction", body,
                   std::move(query));
  }

  static Object bodyOf(const apiserver::Response& r) {
    json::error_code ec;
    json::value v = json::parse(r.body, ec);
    return !ec && v.is_object() ? v.get_object() : Object();
  }

  Object pdbStatus(const std::string& name) {
    auto got = registry_->get(pdbs(), "default", name);
    if (!got.ok()) return Object();
    const Object* st = api::findObject(*got, "status");
    return st ? *st : Object();
  }

  bool podExists(const std::string& name) { return registry_->get(pods(), "default", name).ok(); }

  std::string dir_;
  FakeClock clock_{t0()};
  std::shared_ptr<storage::SqliteStore> backend_;
  std::shared_ptr<storage::WatchCache> cache_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<apiserver::Timers> timers_;
  std::shared_ptr<apiserver::ApiServer> api_;
};

TEST_F(EvictionTest, ExhaustedBudgetAnswers429WithTheBudgetCause) {
  createPdb("web", 0, 2, 2);
  createPod("a", "Running", true);
  auto r = evict("a");
  ASSERT_EQ(r.status, 429) << r.body;
  Object body = bodyOf(r);
  EXPECT_EQ(api::getString(body, "kind"), "Status");
  EXPECT_EQ(api::getString(body, "status"), "Failure");
  EXPECT_EQ(api::getString(body, "reason"), "TooManyRequests");
  EXPECT_EQ(api::getString(body, "message"),
            "Cannot evict pod as it would violate the pod's disruption budget.");
  EXPECT_EQ(api::getInt(body, "code"), 429);
  const json::array* causes = api::arrAt(body, {"details", "causes"});
  ASSERT_NE(causes, nullptr);
  ASSERT_EQ(causes->size(), 1u);
  EXPECT_EQ(api::getString(causes->at(0).as_object(), "reason"), "DisruptionBudget");
  EXPECT_EQ(api::getString(causes->at(0).as_object(), "message"),
            "The disruption budget web needs 2 healthy pods and has 2 currently");
  EXPECT_TRUE(podExists("a"));
  EXPECT_EQ(api::getInt(pdbStatus("web"), "disruptionsAllowed", -1), 0);
}

TEST_F(EvictionTest, StaleBudgetIsStillBeingProcessed) {
  createPdb("web", 3, 3, 0, "", /*observed_generation=*/0);
  createPod("a", "Running", true);
  auto r = evict("a");
  ASSERT_EQ(r.status, 429) << r.body;
  Object body = bodyOf(r);
  const json::array* causes = api::arrAt(body, {"details", "causes"});
  ASSERT_NE(causes, nullptr);
  EXPECT_EQ(api::getString(causes->at(0).as_object(), "message"),
            "The disruption budget web is still being processed by the server.");
  EXPECT_EQ(api::intAt(body, {"details", "retryAfterSeconds"}), 10);
  bool retry_after = false;
  for (const auto& [k, v] : r.headers)
    if (k == "Retry-After" && v == "10") retry_after = true;
  EXPECT_TRUE(retry_after);
  EXPECT_TRUE(podExists("a"));
}

TEST_F(EvictionTest, AllowedEvictionDecrementsRecordsAndDeletes) {
  createPdb("web", 1, 3, 2);
  createPod("a", "Running", true, "node-1");
  auto r = evict("a");
  ASSERT_EQ(r.status, 201) << r.body;
  Object body = bodyOf(r);
  EXPECT_EQ(api::getString(body, "kind"), "Status");
  EXPECT_EQ(api::getString(body, "status"), "Success");

  Object st = pdbStatus("web");
  EXPECT_EQ(api::getInt(st, "disruptionsAllowed", -1), 0);
  EXPECT_EQ(api::getStringPath(st, "disruptedPods.a"), "2024-03-01T10:00:00Z");
  const json::array* conds = api::arrAt(st, {"conditions"});
  ASSERT_NE(conds, nullptr);
  EXPECT_EQ(api::getString(conds->at(0).as_object(), "type"), "DisruptionAllowed");
  EXPECT_EQ(api::getString(conds->at(0).as_object(), "status"), "False");
  EXPECT_EQ(api::getString(conds->at(0).as_object(), "reason"), "InsufficientPods");

  // A bound pod terminates gracefully, marked as evicted.
  auto pod = registry_->get(pods(), "default", "a");
  ASSERT_TRUE(pod.ok());
  EXPECT_FALSE(api::getStringPath(*pod, "metadata.deletionTimestamp").empty());
  bool marked = false;
  for (const auto& c : *api::arrAt(*pod, {"status", "conditions"}))
    if (api::getString(c.as_object(), "type") == "DisruptionTarget") {
      marked = true;
      EXPECT_EQ(api::getString(c.as_object(), "status"), "True");
      EXPECT_EQ(api::getString(c.as_object(), "reason"), "EvictionByEvictionAPI");
      EXPECT_EQ(api::getString(c.as_object(), "message"), "Eviction API: evicting");
    }
  EXPECT_TRUE(marked);

  // The budget is spent: the next pod is refused.
  createPod("b", "Running", true, "node-1");
  EXPECT_EQ(evict("b").status, 429);
}

TEST_F(EvictionTest, DeleteOptionsOfTheEvictionApply) {
  createPdb("web", 2, 3, 1);
  createPod("a", "Running", true, "node-1");
  // A stale uid precondition fails the delete.
  auto stale = evict("a", {}, R"({"preconditions":{"uid":"not-the-uid"}})");
  EXPECT_EQ(stale.status, 409) << stale.body;
  EXPECT_TRUE(podExists("a"));
  // Grace period 0 deletes the bound pod at once.
  auto r = evict("a", {}, R"({"gracePeriodSeconds":0})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_FALSE(podExists("a"));
}

TEST_F(EvictionTest, PendingPodIsDeletedWithoutTheBudget) {
  createPdb("web", 0, 2, 2);
  createPod("a", "Pending", false);
  auto r = evict("a");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_FALSE(podExists("a"));
  Object st = pdbStatus("web");
  EXPECT_EQ(api::getInt(st, "disruptionsAllowed", -1), 0);
  EXPECT_EQ(api::findObject(st, "disruptedPods"), nullptr);
}

TEST_F(EvictionTest, TwoBudgetsAreRefusedWith500) {
  createPdb("one", 1, 2, 1);
  createPdb("two", 1, 2, 1);
  createPod("a", "Running", true);
  auto r = evict("a");
  ASSERT_EQ(r.status, 500) << r.body;
  Object body = bodyOf(r);
  EXPECT_EQ(api::getString(body, "status"), "Failure");
  EXPECT_EQ(api::getString(body, "message"),
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does "
            "not support.");
  EXPECT_TRUE(podExists("a"));
  EXPECT_EQ(api::getInt(pdbStatus("one"), "disruptionsAllowed", -1), 1);
}

TEST_F(EvictionTest, UnreadyPodsFollowTheUnhealthyPodEvictionPolicy) {
  // IfHealthyBudget (default): the application is healthy, the unready pod
  // goes without taking from the budget.
  createPdb("web", 0, 2, 2);
  createPod("a", "Running", false);
  ASSERT_EQ(evict("a").status, 201);
  EXPECT_FALSE(podExists("a"));
  EXPECT_EQ(api::findObject(pdbStatus("web"), "disruptedPods"), nullptr);
  ASSERT_TRUE(registry_->remove(pdbs(), "default", "web", {}).ok());

  // The application is not healthy: refused.
  createPdb("sick", 0, 1, 2);
  createPod("b", "Running", false);
  EXPECT_EQ(evict("b").status, 429);
  EXPECT_TRUE(podExists("b"));
  ASSERT_TRUE(registry_->remove(pdbs(), "default", "sick", {}).ok());

  // AlwaysAllow: unready pods go whatever the budget says.
  createPdb("always", 0, 1, 2, "AlwaysAllow");
  ASSERT_EQ(evict("b").status, 201);
  EXPECT_FALSE(podExists("b"));
}

TEST_F(EvictionTest, DryRunChangesNothing) {
  createPdb("web", 1, 3, 2);
  createPod("a", "Running", true);
  auto r = evict("a", {{"dryRun", "All"}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(podExists("a"));
  EXPECT_EQ(api::getInt(pdbStatus("web"), "disruptionsAllowed", -1), 1);
  // dryRun in the eviction's deleteOptions counts the same.
  ASSERT_EQ(evict("a", {}, R"({"dryRun":["All"]})").status, 201);
  EXPECT_TRUE(podExists("a"));
}

TEST_F(EvictionTest, BadRequestsAndMissingPods) {
  auto missing = evict("nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(api::getString(bodyOf(missing), "message"), "pods \"nope\" not found");
  createPod("a", "Running", true);
  auto mismatch =
      request("POST", "/api/v1/namespaces/default/pods/a/eviction",
              R"({"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"b"}})");
  EXPECT_EQ(mismatch.status, 400);
  EXPECT_EQ(api::getString(bodyOf(mismatch), "message"),
            "name in URL does not match name in Eviction object");
  EXPECT_EQ(request("GET", "/api/v1/namespaces/default/pods/a/eviction").status, 405);
  // policy/v1beta1 bodies are accepted too; no budget: the pod goes.
  auto beta =
      request("POST", "/api/v1/namespaces/default/pods/a/eviction",
              R"({"apiVersion":"policy/v1beta1","kind":"Eviction","metadata":{"name":"a"}})");
  EXPECT_EQ(beta.status, 201) << beta.body;
  EXPECT_FALSE(podExists("a"));
}

TEST_F(EvictionTest, DiscoveryNamesTheEvictionSubresource) {
  auto r = request("GET", "/api/v1");
  ASSERT_EQ(r.status, 200);
  Object body = bodyOf(r);
  const json::array* resources = api::arrAt(body, {"resources"});
  ASSERT_NE(resources, nullptr) << r.body;
  bool found = false;
  for (const auto& res : *resources) {
    const Object& o = res.as_object();
    if (api::getString(o, "name") != "pods/eviction") continue;
    found = true;
    // kubectl drain needs group and version to build its Eviction.
    EXPECT_EQ(api::getString(o, "group"), "policy");
    EXPECT_EQ(api::getString(o, "version"), "v1");
    EXPECT_EQ(api::getString(o, "kind"), "Eviction");
    EXPECT_EQ(json::serialize(o.at("verbs")), R"(["create"])");
  }
  EXPECT_TRUE(found);
}

// The disruption controller over the in-process client keeps the budget's
// status; evictions then follow it.
TEST_F(EvictionTest, DisruptionControllerOpensTheBudget) {
  client::InProcessClient client(*registry_);
  client::InformerFactory informers(client);
  client::EventRecorder recorder(client, clock_, "controllermanager");
  controllers::DisruptionController dc(client, informers, recorder, clock_);
  Object b{{"apiVersion", "policy/v1"},
           {"kind", "PodDisruptionBudget"},
           {"metadata", Object{{"name", "web"}}},
           {"spec", Object{{"minAvailable", 1},
                           {"selector", Object{{"matchLabels", Object{{"app", "web"}}}}}}}};
  ASSERT_TRUE(registry_->create(pdbs(), "default", std::move(b), {}).ok());
  createPod("a", "Running", true);
  createPod("b", "Running", true);
  informers.start();
  dc.start();
  // Polls with a deadline: the controller runs on its own threads.
  auto eventually = [](auto pred) {
    for (int i = 0; i < 1000; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  EXPECT_TRUE(
      eventually([&] { return api::getInt(pdbStatus("web"), "disruptionsAllowed", -1) == 1; }));
  EXPECT_EQ(api::getInt(pdbStatus("web"), "expectedPods", -1), 2);
  ASSERT_EQ(evict("a").status, 201);
  EXPECT_EQ(evict("b").status, 429);
  // The controller sees the pod gone and the budget spent.
  EXPECT_TRUE(eventually([&] {
    Object st = pdbStatus("web");
    return api::getInt(st, "expectedPods", -1) == 1 && api::getInt(st, "currentHealthy", -1) == 1 &&
           api::getInt(st, "disruptionsAllowed", -1) == 0;
  }));
  dc.stop();
  informers.stop();
  recorder.flush();
}

}  // namespace
}  // namespace berth
