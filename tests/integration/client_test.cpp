// Both Client implementations through one set of assertions: the
// InProcessClient over a real Registry (SQLite + watch cache), and the
// RemoteClient over the real HTTPS transport and API server in front of the
// same Registry. CRUD, errors, selectors in list and watch, watches from a
// revision, 410 after compaction, bookmarks, scale and pods/binding. Then the
// REST side of pods/binding (legacy collection, protobuf body, discovery) and
// a RemoteClient built from the kubeconfig `berth server` writes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "api/object.h"
#include "apiserver/api_server.h"
#include "apiserver/auth/authenticator.h"
#include "apiserver/auth/certs.h"
#include "apiserver/http_server.h"
#include "apiserver/registry/registry.h"
#include "apiserver/timers.h"
#include "client/https_client.h"
#include "client/inprocess_client.h"
#include "client/remote_client.h"
#include "controllers/bootstrap/bootstrap.h"
#include "server/cluster_server.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/watch_cache.h"

namespace berth {
namespace {

namespace json = boost::json;
using api::Object;
using apiserver::Registry;
using client::Event;
using client::EventType;
using client::ObjectPtr;

constexpr const char* kToken = "client-test-token-0123456789abcdef";

const api::KindInfo& kindOf(const char* group, const char* version, const char* kind) {
  const auto* k = api::KindRegistry::builtin().byKind(group, version, kind);
  if (!k) std::abort();
  return *k;
}

const api::KindInfo& configMaps() { return kindOf("", "v1", "ConfigMap"); }
const api::KindInfo& pods() { return kindOf("", "v1", "Pod"); }

Object configMap(const std::string& name, Object labels = {}, const std::string& ns = "default") {
  return Object{
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata", Object{{"name", name}, {"namespace", ns}, {"labels", std::move(labels)}}},
      {"data", Object{{"k", "v"}}}};
}

// A pod no scheduler picks up: the tests bind it themselves.
Object pod(const std::string& name) {
  return Object{
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", Object{{"name", name}, {"namespace", "default"}}},
      {"spec", Object{{"schedulerName", "manual"},
                      {"containers", json::array{Object{{"name", "c"}, {"image", "busybox"}}}}}}};
}

Object binding(const std::string& pod_name, const std::string& node) {
  return Object{{"apiVersion", "v1"},
                {"kind", "Binding"},
                {"metadata",
                 Object{{"name", pod_name}, {"annotations", Object{{"bound-by", "client-test"}}}}},
                {"target", Object{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}}}};
}

// Collects watch events; waits with a generous deadline (a bound on
// failure, not a synchronization sleep).
class Events {
 public:
  client::WatchHandler handler() {
    return [this](const Event& e) {
      std::lock_guard lock(mu_);
      events_.push_back(e);
      cv_.notify_all();
    };
  }
  // The next n events; fewer if they do not come in time.
  std::vector<Event> next(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(15), [&] { return events_.size() >= taken_ + n; });
    std::vector<Event> out(events_.begin() + taken_,
                           events_.begin() + std::min(events_.size(), taken_ + n));
    taken_ += out.size();
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
  size_t taken_ = 0;
};

std::string nameOf(const Event& e) { return e.object ? api::name(*e.object) : ""; }

enum class Transport { kInProcess, kRemote };

class ClientTest : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-client-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto backend = storage::SqliteStore::open(dir_ + "/state.db", {});
    ASSERT_TRUE(backend.ok()) << backend.error().message;
    backend_ = std::move(backend).value();
    const auto& kinds = api::KindRegistry::builtin();
    storage::WatchCacheOptions wo;
    wo.decorate = [&kinds](storage::KeyValue kv) {
      return Registry::decorate(kinds, std::move(kv));
    };
    wo.bookmark_interval = std::chrono::milliseconds(0);  // the tests send bookmarks
    auto cache = storage::WatchCache::create(backend_, wo);
    ASSERT_TRUE(cache.ok());
    cache_ = std::move(cache).value();
    registry_ = std::make_unique<Registry>(kinds, cache_, clock_, Registry::Options{});
    ASSERT_TRUE(controllers::bootstrapCluster(*registry_, {"10.0.0.1", 6443}).ok());

    if (GetParam() == Transport::kInProcess) {
      client_ = std::make_unique<client::InProcessClient>(*registry_);
      return;
    }
    auto ca = apiserver::auth::generateCa();
    ASSERT_TRUE(ca.ok());
    ca_pem_ = ca->cert_pem;
    auto serving = apiserver::auth::generateServingCert(*ca, "kube-apiserver",
                                                        apiserver::auth::defaultServingSans({}));
    ASSERT_TRUE(serving.ok());
    timers_ = std::make_unique<apiserver::Timers>();
    api_ = std::make_shared<apiserver::ApiServer>(*registry_, *timers_,
                                                  apiserver::ApiServer::Options{});
    api_->setReady(true);
    auto tokens = std::make_shared<apiserver::auth::TokenAuthenticator>();
    tokens->addToken(kToken, apiserver::UserInfo{"admin", {"system:masters"}});
    apiserver::HttpServerOptions ho;
    ho.listen = "127.0.0.1:0";
    ho.cert_pem = serving->cert_pem;
    ho.key_pem = serving->key_pem;
    ho.authenticator = tokens;
    http_ = std::make_unique<apiserver::HttpServer>(ho, api_);
    auto port = http_->start();
    ASSERT_TRUE(port.ok()) << port.error().message;
    port_ = *port;
    auto remote =
        client::RemoteClient::create("https://127.0.0.1:" + std::to_string(port_), ca_pem_, kToken);
    ASSERT_TRUE(remote.ok()) << remote.error().message;
    client_ = std::move(remote).value();
  }

  void TearDown() override {
    client_.reset();
    if (http_) http_->stop();
    if (timers_) timers_->stop();
    http_.reset();
    api_.reset();
    timers_.reset();
    registry_.reset();
    cache_.reset();
    backend_.reset();
    std::filesystem::remove_all(dir_);
  }

  ObjectPtr mustCreate(const api::KindInfo& kind, Object obj) {
    auto created = client_->create(kind, std::move(obj));
    EXPECT_TRUE(created.ok()) << created.error().message;
    return created.ok() ? *created : nullptr;
  }

  std::string dir_;
  RealClock clock_;
  std::shared_ptr<storage::SqliteStore> backend_;
  std::shared_ptr<storage::WatchCache> cache_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<apiserver::Timers> timers_;
  std::shared_ptr<apiserver::ApiServer> api_;
  std::unique_ptr<apiserver::HttpServer> http_;
  std::string ca_pem_;
  int port_ = 0;
  std::unique_ptr<client::Client> client_;
};

TEST_P(ClientTest, CreateGetUpdatePatchRemove) {
  auto created = mustCreate(configMaps(), configMap("a", Object{{"app", "web"}}));
  ASSERT_TRUE(created);
  EXPECT_FALSE(api::uid(*created).empty());
  std::string rv = api::getStringPath(*created, "metadata.resourceVersion");
  ASSERT_FALSE(rv.empty());

  auto got = client_->get(configMaps(), "default", "a");
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(api::getStringPath(**got, "metadata.resourceVersion"), rv);
  EXPECT_EQ(api::getStringPath(**got, "data.k"), "v");
  EXPECT_EQ(api::getString(**got, "kind"), "ConfigMap");

  Object changed = **got;
  changed["data"] = Object{{"k", "w"}};
  auto updated = client_->update(configMaps(), changed);
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(api::getStringPath(**updated, "data.k"), "w");
  EXPECT_NE(api::getStringPath(**updated, "metadata.resourceVersion"), rv);

  // The first version's resourceVersion is stale now: 409 Conflict.
  auto stale = client_->update(configMaps(), changed);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ErrorCode::kConflict);
  EXPECT_EQ(stale.error().message,
            "Operation cannot be fulfilled on configmaps \"a\": the object has been modified; "
            "please apply your "
            "changes to the latest version and try again");

  auto patched = client_->patch(configMaps(), "default", "a", client::PatchType::kMerge,
                                R"({"data":{"x":"1"}})");
  ASSERT_TRUE(patched.ok()) << patched.error().message;
  EXPECT_EQ(api::getStringPath(**patched, "data.x"), "1");
  EXPECT_EQ(api::getStringPath(**patched, "data.k"), "w");

  auto dup = client_->create(configMaps(), configMap("a"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(dup.error().message, "configmaps \"a\" already exists");

  auto removed = client_->remove(configMaps(), "default", "a");
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(api::name(**removed), "a");
  auto gone = client_->get(configMaps(), "default", "a");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(gone.error().message, "configmaps \"a\" not found");
  EXPECT_EQ(gone.error().name, "a");
}

TEST_P(ClientTest, InvalidObjectsCarryCauses) {
  auto bad = client_->create(configMaps(), configMap("Bad_Name"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalid);
  ASSERT_FALSE(bad.error().causes.empty());
  EXPECT_EQ(bad.error().causes[0].field, "metadata.name");
  EXPECT_EQ(bad.error().causes[0].reason, "FieldValueInvalid");
  EXPECT_EQ(bad.error().message.rfind(
                "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value:", 0),
            0u)
      << bad.error().message;
  auto no_ns = client_->create(configMaps(), configMap("a", {}, "missing"));
  ASSERT_FALSE(no_ns.ok());
  EXPECT_EQ(no_ns.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(no_ns.error().message, "namespaces \"missing\" not found");
}

TEST_P(ClientTest, ListFiltersBySelectorsAndPages) {
  for (int i = 0; i < 5; ++i)
    mustCreate(configMaps(),
               configMap("cm-" + std::to_string(i), Object{{"app", i % 2 ? "db" : "web"}}));
  client::ListOptions web;
  web.label_selector = "app=web";
  auto l = client_->list(configMaps(), "default", web);
  ASSERT_TRUE(l.ok()) << l.error().message;
  ASSERT_EQ(l->items.size(), 3u);
  EXPECT_EQ(api::name(*l->items[0]), "cm-0");
  EXPECT_EQ(api::getString(*l->items[0], "kind"), "ConfigMap");
  EXPECT_GT(l->revision, 0);

  client::ListOptions by_name;
  by_name.field_selector = "metadata.name=cm-3";
  auto one = client_->list(configMaps(), "", by_name);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->items.size(), 1u);
  EXPECT_EQ(api::namespaceOf(*one->items[0]), "default");

  client::ListOptions bad;
  bad.field_selector = "data.k=v";
  auto refused = client_->list(configMaps(), "default", bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kBadRequest);

  client::ListOptions page;
  page.limit = 2;
  std::vector<std::string> names;
  for (int round = 0; round < 5; ++round) {
    auto p = client_->list(configMaps(), "default", page);
    ASSERT_TRUE(p.ok()) << p.error().message;
    for (auto& item : p->items) names.push_back(api::name(*item));
    if (p->continue_token.empty()) break;
    page.continue_token = p->continue_token;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"cm-0", "cm-1", "cm-2", "cm-3", "cm-4"}));
}

TEST_P(ClientTest, WatchDeliversSelectedEventsInOrder) {
  Events events;
  client::ListOptions opts;
  opts.label_selector = "app=web";
  auto w = client_->watch(configMaps(), "default", opts, events.handler());
  ASSERT_TRUE(w.ok()) << w.error().message;
  mustCreate(configMaps(), configMap("other", Object{{"app", "db"}}));
  mustCreate(configMaps(), configMap("a", Object{{"app", "web"}}));
  // Leaving the selection is a DELETED, coming back an ADDED (upstream's cacher).
  ASSERT_TRUE(client_
                  ->patch(configMaps(), "default", "a", client::PatchType::kMerge,
                          R"({"metadata":{"labels":{"app":"db"}}})")
                  .ok());
  ASSERT_TRUE(client_
                  ->patch(configMaps(), "default", "a", client::PatchType::kMerge,
                          R"({"metadata":{"labels":{"app":"web"}}})")
                  .ok());
  ASSERT_TRUE(
      client_
          ->patch(configMaps(), "default", "a", client::PatchType::kMerge, R"({"data":{"k":"2"}})")
          .ok());
  ASSERT_TRUE(client_->remove(configMaps(), "default", "a").ok());
  auto got = events.next(5);
  ASSERT_EQ(got.size(), 5u);
  std::vector<EventType> types;
  for (auto& e : got) types.push_back(e.type);
  EXPECT_EQ(types,
            (std::vector<EventType>{EventType::kAdded, EventType::kDeleted, EventType::kAdded,
                                    EventType::kModified, EventType::kDeleted}));
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(nameOf(got[i]), "a");
    EXPECT_EQ(got[i].revision,
              std::stoll(api::getStringPath(*got[i].object, "metadata.resourceVersion")));
    if (i > 0) EXPECT_GT(got[i].revision, got[i - 1].revision);
  }
  EXPECT_EQ(api::getStringPath(*got[1].object, "metadata.labels.app"), "db");
  EXPECT_EQ(api::getStringPath(*got[3].object, "data.k"), "2");
  (*w)->stop();
}

TEST_P(ClientTest, WatchResumesFromARevisionAndSendsBookmarks) {
  auto a = mustCreate(configMaps(), configMap("a"));
  mustCreate(configMaps(), configMap("b"));
  Events events;
  client::ListOptions opts;
  opts.resource_version = api::getStringPath(*a, "metadata.resourceVersion");
  auto w = client_->watch(configMaps(), "default", opts, events.handler());
  ASSERT_TRUE(w.ok()) << w.error().message;
  auto first = events.next(1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].type, EventType::kAdded);
  EXPECT_EQ(nameOf(first[0]), "b");
  cache_->sendBookmarks();
  auto bookmark = events.next(1);
  ASSERT_EQ(bookmark.size(), 1u);
  EXPECT_EQ(bookmark[0].type, EventType::kBookmark);
  EXPECT_EQ(bookmark[0].revision, cache_->currentRevision());
  ASSERT_TRUE(bookmark[0].object);
  EXPECT_EQ(api::getString(*bookmark[0].object, "kind"), "ConfigMap");
  mustCreate(configMaps(), configMap("c"));
  auto later = events.next(1);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(nameOf(later[0]), "c");
}

TEST_P(ClientTest, WatchFromACompactedRevisionEndsWithExpired) {
  auto a = mustCreate(configMaps(), configMap("a"));
  mustCreate(configMaps(), configMap("b"));
  ASSERT_TRUE(cache_->compact(cache_->currentRevision()).ok());
  Events events;
  client::ListOptions opts;
  opts.resource_version = api::getStringPath(*a, "metadata.resourceVersion");
  auto w = client_->watch(configMaps(), "default", opts, events.handler());
  ASSERT_TRUE(w.ok()) << w.error().message;
  auto got = events.next(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, EventType::kError);
  EXPECT_EQ(got[0].error.code, ErrorCode::kExpired);
  EXPECT_NE(got[0].error.message.find("compacted"), std::string::npos) << got[0].error.message;
}

TEST_P(ClientTest, WatchRejectsBadSelectors) {
  Events events;
  client::ListOptions opts;
  opts.label_selector = "app in (";
  auto w = client_->watch(configMaps(), "default", opts, events.handler());
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, ErrorCode::kBadRequest);
}

TEST_P(ClientTest, ScaleSubresource) {
  const auto& deployments = kindOf("apps", "v1", "Deployment");
  Object d{
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", Object{{"name", "web"}, {"namespace", "default"}}},
      {"spec",
       Object{
           {"replicas", 1},
           {"selector", Object{{"matchLabels", Object{{"app", "web"}}}}},
           {"template",
            Object{{"metadata", Object{{"labels", Object{{"app", "web"}}}}},
                   {"spec", Object{{"containers", json::array{Object{{"name", "c"},
                                                                     {"image", "busybox"}}}}}}}}}}};
  ASSERT_TRUE(mustCreate(deployments, d));
  auto scaled = client_->patch(deployments, "default", "web", client::PatchType::kMerge,
                               R"({"spec":{"replicas":3}})", client::Subresource::kScale);
  ASSERT_TRUE(scaled.ok()) << scaled.error().message;
  EXPECT_EQ(api::getString(**scaled, "kind"), "Scale");
  EXPECT_EQ(api::getStringPath(**scaled, "status.selector"), "app=web");
  auto got = client_->get(deployments, "default", "web");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(api::findPath(**got, "spec.replicas")->as_int64(), 3);
  Object scale = **scaled;
  scale["spec"] = Object{{"replicas", 5}};
  auto put = client_->update(deployments, scale, client::Subresource::kScale);
  ASSERT_TRUE(put.ok()) << put.error().message;
  EXPECT_EQ(api::findPath(**put, "spec.replicas")->as_int64(), 5);
  // The Scale read before the PUT is stale now.
  auto stale = client_->update(deployments, scale, client::Subresource::kScale);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ErrorCode::kConflict);
}

TEST_P(ClientTest, BindingAssignsThePodOnce) {
  auto created = mustCreate(pods(), pod("p"));
  ASSERT_TRUE(created);
  auto status =
      client_->createSubresource(pods(), "default", "p", "binding", binding("p", "node-1"));
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(api::getString(**status, "kind"), "Status");
  EXPECT_EQ(api::getString(**status, "status"), "Success");
  EXPECT_EQ(api::getInt(**status, "code"), 201);

  auto bound = client_->get(pods(), "default", "p");
  ASSERT_TRUE(bound.ok());
  EXPECT_EQ(api::getStringPath(**bound, "spec.nodeName"), "node-1");
  EXPECT_EQ(api::getStringPath(**bound, "metadata.annotations.bound-by"), "client-test");
  const json::array* conditions = api::findArray(*api::findObject(**bound, "status"), "conditions");
  ASSERT_NE(conditions, nullptr);
  bool scheduled = false;
  for (auto& c : *conditions) {
    if (api::getString(c.as_object(), "type") != "PodScheduled") continue;
    scheduled = api::getString(c.as_object(), "status") == "True";
    EXPECT_FALSE(api::getString(c.as_object(), "lastTransitionTime").empty());
  }
  EXPECT_TRUE(scheduled);

  auto again =
      client_->createSubresource(pods(), "default", "p", "binding", binding("p", "node-2"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_EQ(again.error().message,
            "Operation cannot be fulfilled on pods/binding \"p\": pod p is already assigned to "
            "node \"node-1\"");

  auto missing =
      client_->createSubresource(pods(), "default", "nope", "binding", binding("nope", "node-1"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message, "pods \"nope\" not found");

  mustCreate(pods(), pod("q"));
  Object to_pod = binding("q", "node-1");
  to_pod["target"].as_object()["kind"] = "Pod";
  auto wrong_kind = client_->createSubresource(pods(), "default", "q", "binding", to_pod);
  ASSERT_FALSE(wrong_kind.ok());
  EXPECT_EQ(wrong_kind.error().code, ErrorCode::kInternal);
  EXPECT_EQ(wrong_kind.error().message,
            "target.kind: Unsupported value: \"Pod\": supported values: \"Node\", \"<empty>\"");

  // The binding's uid is a precondition on the pod.
  Object wrong_uid = binding("q", "node-1");
  wrong_uid["metadata"].as_object()["uid"] = "not-the-uid";
  auto precondition = client_->createSubresource(pods(), "default", "q", "binding", wrong_uid);
  ASSERT_FALSE(precondition.ok());
  EXPECT_EQ(precondition.error().code, ErrorCode::kConflict);
  EXPECT_NE(
      precondition.error().message.find("Precondition failed: UID in precondition: not-the-uid"),
      std::string::npos);
}

TEST_P(ClientTest, BindingRefusesAPodBeingDeleted) {
  Object p = pod("p");
  p["metadata"].as_object()["finalizers"] = json::array{"example.com/hold"};
  mustCreate(pods(), p);
  auto deleting = client_->remove(pods(), "default", "p");
  ASSERT_TRUE(deleting.ok()) << deleting.error().message;
  auto refused =
      client_->createSubresource(pods(), "default", "p", "binding", binding("p", "node-1"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_EQ(refused.error().message,
            "Operation cannot be fulfilled on pods/binding \"p\": pod p is being deleted, cannot "
            "be assigned to a "
            "host");
  ASSERT_TRUE(client_
                  ->patch(pods(), "default", "p", client::PatchType::kMerge,
                          R"({"metadata":{"finalizers":null}})")
                  .ok());
}

TEST_P(ClientTest, WatchSeesBindingAsModified) {
  mustCreate(pods(), pod("p"));
  Events events;
  client::ListOptions unassigned;
  unassigned.field_selector = "spec.nodeName=";
  auto w = client_->watch(pods(), "default", unassigned, events.handler());
  ASSERT_TRUE(w.ok()) << w.error().message;
  ASSERT_TRUE(
      client_->createSubresource(pods(), "default", "p", "binding", binding("p", "n1")).ok());
  // The scheduler's view: a bound pod leaves the unassigned selection.
  auto got = events.next(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, EventType::kDeleted);
  EXPECT_EQ(api::getStringPath(*got[0].object, "spec.nodeName"), "n1");
}

TEST_P(ClientTest, EvictionDeletesAPodWithoutABudget) {
  mustCreate(pods(), pod("e"));
  Object eviction{{"apiVersion", "policy/v1"},
                  {"kind", "Eviction"},
                  {"metadata", Object{{"name", "e"}, {"namespace", "default"}}}};
  auto answer = client_->createSubresource(pods(), "default", "e", "eviction", eviction);
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  EXPECT_EQ(api::getString(**answer, "kind"), "Status");
  EXPECT_EQ(api::getString(**answer, "status"), "Success");
  auto gone = client_->get(pods(), "default", "e");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
  auto missing = client_->createSubresource(pods(), "default", "e", "eviction", eviction);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Clients, ClientTest,
                         ::testing::Values(Transport::kInProcess, Transport::kRemote),
                         [](const ::testing::TestParamInfo<Transport>& info) {
                           return info.param == Transport::kInProcess ? "InProcess" : "Remote";
                         });

// ---- the REST side of pods/binding, and kubeconfig -----------------------------

class BindingRestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-binding-XXXXXX";
    dir_ = mkdtemp(tmpl);
    server::ServerConfig config;
    config.data_dir = dir_ + "/data";
    config.listen = "127.0.0.1:0";
    config.advertise_address = "10.0.0.1";
    auto s = server::ClusterServer::start(config);
    ASSERT_TRUE(s.ok()) << s.error().message;
    server_ = std::move(s).value();
    client::ClientOptions o;
    o.port = server_->port();
    o.ca_pem = server_->caPem();
    o.bearer_token = server_->adminToken();
    http_ = std::make_unique<client::HttpsClient>(o);
  }

  void TearDown() override {
    http_.reset();
    if (server_) server_->stop();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  std::unique_ptr<server::ClusterServer> server_;
  std::unique_ptr<client::HttpsClient> http_;
};

// Kubernetes protobuf framing: "k8s\0" + runtime.Unknown{typeMeta, raw}.
std::string protoField(int tag, const std::string& bytes) {
  std::string out(1, static_cast<char>(tag << 3 | 2));
  size_t n = bytes.size();
  while (n >= 0x80) {
    out += static_cast<char>((n & 0x7f) | 0x80);
    n >>= 7;
  }
  out += static_cast<char>(n);
  return out + bytes;
}

TEST_F(BindingRestTest, RemoteClientFromKubeconfigBindsThroughTheApi) {
  auto remote = client::RemoteClient::fromKubeconfig(server_->kubeconfigPath());
  ASSERT_TRUE(remote.ok()) << remote.error().message;
  auto& c = **remote;
  auto ns = c.get(kindOf("", "v1", "Namespace"), "", "default");
  ASSERT_TRUE(ns.ok()) << ns.error().message;
  ASSERT_TRUE(c.create(pods(), pod("p")).ok());
  auto status = c.createSubresource(pods(), "default", "p", "binding", binding("p", "node-1"));
  ASSERT_TRUE(status.ok()) << status.error().message;
  auto bound = c.get(pods(), "default", "p");
  ASSERT_TRUE(bound.ok());
  EXPECT_EQ(api::getStringPath(**bound, "spec.nodeName"), "node-1");
}

TEST_F(BindingRestTest, SubresourceLegacyCollectionAndProtobuf) {
  auto post = [&](const std::string& path, const std::string& body,
                  const std::string& ct = "application/json") {
    auto r = http_->request("POST", path, body, {{"Content-Type", ct}});
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : client::ClientResponse{};
  };
  for (const char* name : {"a", "b", "c"})
    ASSERT_EQ(post("/api/v1/namespaces/default/pods", json::serialize(pod(name))).status, 201);

  auto r = post("/api/v1/namespaces/default/pods/a/binding", json::serialize(binding("a", "n1")));
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.body,
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","code":201})");
  r = post("/api/v1/namespaces/default/pods/a/binding", json::serialize(binding("a", "n2")));
  EXPECT_EQ(r.status, 409) << r.body;
  auto body = json::parse(r.body).as_object();
  EXPECT_EQ(body["reason"], "Conflict");
  EXPECT_EQ(body["message"],
            "Operation cannot be fulfilled on pods/binding \"a\": pod a is already assigned to "
            "node \"n1\"");
  EXPECT_EQ(body["details"].as_object()["kind"], "pods/binding");

  // The URL names a different pod than the body.
  r = post("/api/v1/namespaces/default/pods/b/binding", json::serialize(binding("a", "n1")));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("name in URL does not match name in Binding object"), std::string::npos);

  // Legacy: POST namespaces/{ns}/bindings names the pod in the body.
  r = post("/api/v1/namespaces/default/bindings", json::serialize(binding("b", "n1")));
  EXPECT_EQ(r.status, 201) << r.body;

  // A protobuf Binding, as client-go's scheduler sends it.
  std::string meta = protoField(1, "c");                             // ObjectMeta.name
  std::string target = protoField(1, "Node") + protoField(3, "n3");  // ObjectReference kind, name
  std::string raw = protoField(1, meta) + protoField(2, target);     // Binding
  std::string type_meta = protoField(1, "v1") + protoField(2, "Binding");  // TypeMeta
  std::string unknown = protoField(1, type_meta) + protoField(2, raw);
  r = post("/api/v1/namespaces/default/pods/c/binding", std::string("k8s\0", 4) + unknown,
           "application/vnd.kubernetes.protobuf");
  EXPECT_EQ(r.status, 201) << r.body;

  for (auto [name, node] : {std::pair{"b", "n1"}, std::pair{"c", "n3"}}) {
    auto got = http_->request("GET", std::string("/api/v1/namespaces/default/pods/") + name);
    ASSERT_TRUE(got.ok());
    auto obj = json::parse(got->body).as_object();
    EXPECT_EQ(api::getStringPath(obj, "spec.nodeName"), node) << name;
  }

  auto get = http_->request("GET", "/api/v1/namespaces/default/pods/a/binding");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->status, 405);

  auto discovery = http_->request("GET", "/api/v1");
  ASSERT_TRUE(discovery.ok());
  EXPECT_NE(discovery->body.find(
                R"({"name":"pods/binding","singularName":"","namespaced":true,"kind":"Binding",)"
                R"("verbs":["create"]})"),
            std::string::npos)
      << discovery->body.substr(0, 400);
}

}  // namespace
}  // namespace berth
