// `kubectl logs` end to end inside one process: the API server pieces
// (SQLite registry, ApiServer with its AgentProxy, the HTTPS transport with
// token and client-certificate authentication) and an AgentServer, both on
// 127.0.0.1:0 and sharing a test cluster CA; a Node object pointing at the
// agent, a Pod bound to it, CRI log files written by CriLogWriter, and
// client::HttpsClient in kubectl's place (bearer token, GET pods/log).
// Needs no root; labelled integration with the agent's other *_itest.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "agent/server/agent_server.h"
#include "api/object.h"
#include "apiserver/api_server.h"
#include "apiserver/auth/authenticator.h"
#include "apiserver/auth/certs.h"
#include "apiserver/http_server.h"
#include "apiserver/pod_log.h"
#include "apiserver/registry/registry.h"
#include "apiserver/timers.h"
#include "client/https_client.h"
#include "runtime/logs/cri_log.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/watch_cache.h"

namespace berth::agent::server {
namespace {

namespace json = boost::json;
using api::Object;

constexpr auto kDeadline = std::chrono::seconds(20);
constexpr const char* kToken = "admin-token-for-pod-log-itest";

template <class F>
bool eventually(F condition) {
  auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

const api::KindInfo& coreKind(const char* kind) {
  const auto* k = api::KindRegistry::builtin().byKind("", "v1", kind);
  if (!k) std::abort();
  return *k;
}

// What the lead's pod workers answer: the current and previous attempt of
// each container, by name.
class Attempts : public ContainerLogSource {
 public:
  Result<ContainerLogRef> containerLog(const std::string& ns, const std::string& pod,
                                       const std::string& container, bool previous) override {
    std::lock_guard lock(mu_);
    auto it = refs_.find(container + (previous ? "/previous" : ""));
    if (it != refs_.end()) return it->second;
    if (previous)
      return makeError(ErrorCode::kBadRequest, "previous terminated container \"" + container +
                                                   "\" in pod \"" + pod + "\" not found");
    return makeError(ErrorCode::kBadRequest, "container \"" + container + "\" in pod \"" + pod +
                                                 "\" is waiting to start: ContainerCreating");
  }
  void set(const std::string& key, ContainerLogRef ref) {
    std::lock_guard lock(mu_);
    refs_[key] = std::move(ref);
  }

 private:
  std::mutex mu_;
  std::map<std::string, ContainerLogRef> refs_;
};

class PodLogIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-podlog-itest-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto backend = storage::SqliteStore::open(dir_ + "/state.db", {});
    ASSERT_TRUE(backend.ok()) << backend.error().message;
    backend_ = std::move(backend).value();
    const auto& kinds = api::KindRegistry::builtin();
    storage::WatchCacheOptions wo;
    wo.decorate = [&kinds](storage::KeyValue kv) {
      return apiserver::Registry::decorate(kinds, std::move(kv));
    };
    auto cache = storage::WatchCache::create(backend_, wo);
    ASSERT_TRUE(cache.ok());
    cache_ = std::move(cache).value();
    registry_ = std::make_unique<apiserver::Registry>(kinds, cache_, RealClock::instance(),
                                                      apiserver::Registry::Options{});

    auto ca = apiserver::auth::generateCa("berth-ca");
    ASSERT_TRUE(ca.ok());
    ca_ = *ca;

    // The agent: the cluster CA as its client CA, a self-signed serving
    // certificate, CRI logs of the "app" container.
    log_ = std::make_unique<runtime::CriLogWriter>(
        dir_ + "/app-1.log", runtime::CriLogWriterOptions{}, RealClock::instance());
    ASSERT_TRUE(log_->open().ok());
    for (const char* line : {"starting\n", "listening on :8080\n", "ready\n"})
      ASSERT_TRUE(log_->write(runtime::LogStream::kStdout, line).ok());
    runtime::CriLogWriter old(dir_ + "/app-0.log", {}, RealClock::instance());
    ASSERT_TRUE(old.open().ok());
    ASSERT_TRUE(old.write(runtime::LogStream::kStderr, "panic: out of cheese\n").ok());
    attempts_.set("app", {dir_ + "/app-1.log", true});
    attempts_.set("app/previous", {dir_ + "/app-0.log", false});
    AgentServerOptions ao;
    ao.listen = "127.0.0.1:0";
    ao.client_ca_pem = ca_.cert_pem;
    ao.source = &attempts_;
    ao.state_check_period = std::chrono::milliseconds(10);
    agent_ = std::make_unique<AgentServer>(ao);
    auto agent_port = agent_->start();
    ASSERT_TRUE(agent_port.ok()) << agent_port.error().message;

    // The API server, as ClusterServer wires it.
    auto client_cert = apiserver::issueAgentClientCertificate(ca_);
    ASSERT_TRUE(client_cert.ok());
    apiserver::AgentProxyOptions po;
    po.client_cert_pem = client_cert->cert_pem;
    po.client_key_pem = client_cert->key_pem;
    proxy_ = std::make_shared<apiserver::AgentProxy>(po);
    ASSERT_TRUE(proxy_->start().ok());
    apiserver::ApiServer::Options opts;
    opts.agent_proxy = proxy_;
    api_ = std::make_shared<apiserver::ApiServer>(*registry_, timers_, opts);
    api_->setReady(true);
    auto serving =
        apiserver::auth::generateServingCert(ca_, "apiserver", {{"localhost"}, {"127.0.0.1"}});
    ASSERT_TRUE(serving.ok());
    auto tokens = std::make_shared<apiserver::auth::TokenAuthenticator>();
    tokens->addToken(kToken, apiserver::UserInfo{"admin", {"system:masters"}});
    apiserver::HttpServerOptions ho;
    ho.cert_pem = serving->cert_pem;
    ho.key_pem = serving->key_pem;
    ho.client_ca_pem = ca_.cert_pem;
    ho.handler_threads = 2;
    ho.authenticator = std::make_shared<apiserver::auth::UnionAuthenticator>(
        std::vector<std::shared_ptr<const apiserver::auth::Authenticator>>{
            tokens, std::make_shared<apiserver::auth::ClientCertAuthenticator>()});
    http_ = std::make_unique<apiserver::HttpServer>(ho, api_);
    auto port = http_->start();
    ASSERT_TRUE(port.ok()) << port.error().message;
    api_port_ = *port;

    // The objects: a namespace, the agent's Node, a Pod bound to it.
    ASSERT_TRUE(registry_
                    ->create(coreKind("Namespace"), "",
                             Object{{"apiVersion", "v1"},
                                    {"kind", "Namespace"},
                                    {"metadata", Object{{"name", "default"}}}},
                             {})
                    .ok());
    ASSERT_TRUE(registry_
                    ->create(coreKind("Node"), "",
                             Object{{"apiVersion", "v1"},
                                    {"kind", "Node"},
                                    {"metadata", Object{{"name", "node-1"}}}},
                             {})
                    .ok());
    auto status = registry_->mutate(
        coreKind("Node"), "", "node-1",
        [&](Object& node) -> Status {
          Object& st = api::ensureObject(node, "status");
          st["addresses"] = json::array{Object{{"type", "InternalIP"}, {"address", "127.0.0.1"}},
                                        Object{{"type", "Hostname"}, {"address", "node-1"}}};
          st["daemonEndpoints"] = Object{{"kubeletEndpoint", Object{{"Port", *agent_port}}}};
          return okStatus();
        },
        apiserver::Subresource::kStatus);
    ASSERT_TRUE(status.ok()) << status.error().message;
    Object pod{
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata", Object{{"name", "web"}}},
        {"spec",
         Object{{"nodeName", "node-1"},
                {"initContainers", json::array{Object{{"name", "setup"}, {"image", "busybox"}}}},
                {"containers", json::array{Object{{"name", "app"}, {"image", "busybox"}}}}}}};
    auto created = registry_->create(coreKind("Pod"), "default", std::move(pod), {});
    ASSERT_TRUE(created.ok()) << created.error().message;
  }

  void TearDown() override {
    // The transport first (it feeds the proxy), then the agent.
    if (http_) http_->stop();
    http_.reset();
    api_.reset();
    proxy_.reset();
    agent_.reset();
    timers_.stop();
    registry_.reset();
    cache_.reset();
    backend_.reset();
    log_.reset();
    std::filesystem::remove_all(dir_);
  }

  // kubectl: the admin's bearer token, the cluster CA.
  std::unique_ptr<client::HttpsClient> kubectl() {
    client::ClientOptions co;
    co.port = api_port_;
    co.ca_pem = ca_.cert_pem;
    co.bearer_token = kToken;
    return std::make_unique<client::HttpsClient>(co);
  }

  client::ClientResponse logs(const std::string& query) {
    auto r = kubectl()->request("GET", "/api/v1/namespaces/default/pods/web/log" + query);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : client::ClientResponse{};
  }

  static std::string message(const client::ClientResponse& r) {
    json::error_code ec;
    auto v = json::parse(r.body, ec);
    return !ec && v.is_object() ? api::getString(v.get_object(), "message") : "";
  }

  std::string dir_;
  std::shared_ptr<storage::SqliteStore> backend_;
  std::shared_ptr<storage::WatchCache> cache_;
  std::unique_ptr<apiserver::Registry> registry_;
  apiserver::Timers timers_;
  apiserver::auth::CertKeyPair ca_;
  std::unique_ptr<runtime::CriLogWriter> log_;
  Attempts attempts_;
  std::unique_ptr<AgentServer> agent_;
  std::shared_ptr<apiserver::AgentProxy> proxy_;
  std::shared_ptr<apiserver::ApiServer> api_;
  std::unique_ptr<apiserver::HttpServer> http_;
  int api_port_ = 0;
};

TEST_F(PodLogIntegrationTest, ReadsLogsWithTheOptionsKubectlSends) {
  auto all = logs("");
  EXPECT_EQ(all.status, 200);
  EXPECT_EQ(all.body, "starting\nlistening on :8080\nready\n");
  EXPECT_EQ(logs("?container=app&tailLines=1").body, "ready\n");
  EXPECT_EQ(logs("?limitBytes=5").body, "start");

  auto stamped = logs("?timestamps=true&tailLines=2");
  ASSERT_EQ(stamped.status, 200);
  // "<RFC 3339 nano> listening on :8080\n<RFC 3339 nano> ready\n"
  size_t nl = stamped.body.find('\n');
  ASSERT_NE(nl, std::string::npos);
  std::string first = stamped.body.substr(0, nl);
  size_t space = first.find(' ');
  ASSERT_NE(space, std::string::npos);
  std::chrono::system_clock::time_point t;
  EXPECT_TRUE(parseRfc3339(first.substr(0, space), &t)) << first;
  EXPECT_EQ(first.substr(space + 1), "listening on :8080");

  auto previous = logs("?previous=true");
  EXPECT_EQ(previous.status, 200);
  EXPECT_EQ(previous.body, "panic: out of cheese\n");
  EXPECT_EQ(logs("?sinceSeconds=3600").body, "starting\nlistening on :8080\nready\n");
}

TEST_F(PodLogIntegrationTest, FollowShowsLinesAsTheyAreWrittenUntilTheContainerExits) {
  auto k = kubectl();
  auto head =
      k->openStream("GET", "/api/v1/namespaces/default/pods/web/log?follow=true&tailLines=1");
  ASSERT_TRUE(head.ok()) << head.error().message;
  ASSERT_EQ(head->status, 200);
  std::vector<std::string> lines;
  auto reader = std::async(std::launch::async, [&] {
    return k->readStream([&](std::string_view line) {
      lines.emplace_back(line);
      // The container writes its next line only once the last one arrived
      // through the API server: the stream is live, not buffered.
      if (line == "ready") {
        EXPECT_TRUE(log_->write(runtime::LogStream::kStdout, "GET /healthz 200\n").ok());
      }
      if (line == "GET /healthz 200") {
        EXPECT_TRUE(log_->write(runtime::LogStream::kStderr, "shutting down\n").ok());
        attempts_.set("app", {dir_ + "/app-1.log", false});
      }
      return true;
    });
  });
  if (reader.wait_for(kDeadline) != std::future_status::ready) {
    k->cancel();
    reader.wait();
    FAIL() << "the follow did not end when the container exited";
  }
  EXPECT_TRUE(reader.get().ok());
  EXPECT_EQ(lines, (std::vector<std::string>{"ready", "GET /healthz 200", "shutting down"}));
  EXPECT_TRUE(
      eventually([&] { return agent_->activeLogStreams() == 0 && proxy_->activeCount() == 0; }));
}

TEST_F(PodLogIntegrationTest, KubectlHangingUpEndsTheProxyAndTheAgentReader) {
  {
    auto k = kubectl();
    auto head = k->openStream("GET", "/api/v1/namespaces/default/pods/web/log?follow=true");
    ASSERT_TRUE(head.ok());
    ASSERT_EQ(head->status, 200);
    std::string first;
    size_t readers = 0, proxied = 0;
    // Returning false hangs up at once.
    ASSERT_TRUE(k->readStream([&](std::string_view line) {
                   first = line;
                   readers = agent_->activeLogStreams();
                   proxied = proxy_->activeCount();
                   return false;
                 }).ok());
    EXPECT_EQ(first, "starting");
    EXPECT_EQ(readers, 1u);
    EXPECT_EQ(proxied, 1u);
  }
  // The container still runs: only the hang-up ends both.
  EXPECT_TRUE(eventually([&] { return proxy_->activeCount() == 0; }));
  EXPECT_TRUE(eventually([&] { return agent_->activeLogStreams() == 0; }));
}

TEST_F(PodLogIntegrationTest, ErrorsFromTheApiServerAndFromTheAgent) {
  // The API server answers what it can decide itself.
  auto choose = logs("?container=db");
  EXPECT_EQ(choose.status, 400);
  EXPECT_EQ(message(choose), "container db is not valid for pod web");
  auto invalid = logs("?tailLines=-1");
  EXPECT_EQ(invalid.status, 422);
  EXPECT_EQ(message(invalid),
            "PodLogOptions \"web\" is invalid: tailLines: Invalid value: -1: must be greater than "
            "or equal to 0");
  // The agent's answers pass through.
  auto waiting = logs("?container=setup");
  EXPECT_EQ(waiting.status, 400);
  EXPECT_EQ(message(waiting),
            "container \"setup\" in pod \"web\" is waiting to start: ContainerCreating");
  auto no_previous = logs("?container=setup&previous=true");
  EXPECT_EQ(no_previous.status, 400);
  EXPECT_EQ(message(no_previous),
            "previous terminated container \"setup\" in pod \"web\" not found");

  // An agent that is gone: Go's dial error text, 500.
  int port = agent_->port();
  agent_->stop();
  auto refused = logs("");
  EXPECT_EQ(refused.status, 500);
  EXPECT_EQ(message(refused), "Get \"https://127.0.0.1:" + std::to_string(port) +
                                  "/containerLogs/default/web/app\": dial tcp 127.0.0.1:" +
                                  std::to_string(port) + ": connect: connection refused");
}

}  // namespace
}  // namespace berth::agent::server
