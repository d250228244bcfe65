// pods/{name}/log: PodLogOptions decoding and validation, container
// defaulting and node addresses with upstream's messages, then the REST
// handler over a Registry (SQLite in a temp dir) proxying to a fake node
// agent: an HttpServer on 127.0.0.1:0 that checks the API server's client
// certificate and answers as the test tells it.
#include "apiserver/pod_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "api/object.h"
#include "apiserver/api_server.h"
#include "apiserver/auth/authenticator.h"
#include "apiserver/auth/certs.h"
#include "apiserver/http_server.h"
#include "apiserver/registry/registry.h"
#include "apiserver/status.h"
#include "apiserver/timers.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/watch_cache.h"

namespace berth::apiserver {
namespace {

namespace json = boost::json;
using api::Object;
using Query = std::vector<std::pair<std::string, std::string>>;

constexpr auto kDeadline = std::chrono::seconds(20);

// ---- pure functions -----------------------------------------------------------

TEST(PodLogOptions, DecodesLikeTheParameterCodec) {
  auto o = decodePodLogOptions({{"container", "c"},
                                {"follow", ""},
                                {"previous", "FALSE"},
                                {"timestamps", "yes"},
                                {"tailLines", "+5"},
                                {"limitBytes", "100"},
                                {"sinceSeconds", "30"}});
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->container, "c");
  EXPECT_TRUE(o->follow);  // an empty value is true
  EXPECT_FALSE(o->previous);
  EXPECT_TRUE(o->timestamps);
  EXPECT_EQ(o->tail_lines, 5);
  EXPECT_EQ(o->limit_bytes, 100);
  EXPECT_EQ(o->since_seconds, 30);
  EXPECT_FALSE(o->since_time);

  auto zero = decodePodLogOptions({{"follow", "0"}, {"follow", "true"}, {"sinceTime", "null"}});
  ASSERT_TRUE(zero.ok());
  EXPECT_FALSE(zero->follow);  // the first value counts
  EXPECT_FALSE(zero->since_time);

  auto t = decodePodLogOptions({{"sinceTime", "2024-03-01T10:00:00Z"}});
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t->since_time);
  EXPECT_EQ(formatRfc3339(*t->since_time), "2024-03-01T10:00:00Z");

  auto bad = decodePodLogOptions({{"tailLines", "ten"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(bad.error().message, "strconv.ParseInt: parsing \"ten\": invalid syntax");
  auto sign = decodePodLogOptions({{"limitBytes", "+-1"}});
  ASSERT_FALSE(sign.ok());
  EXPECT_EQ(sign.error().message, "strconv.ParseInt: parsing \"+-1\": invalid syntax");
  auto big = decodePodLogOptions({{"sinceSeconds", "99999999999999999999"}});
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().message,
            "strconv.ParseInt: parsing \"99999999999999999999\": value out of range");
  auto when = decodePodLogOptions({{"sinceTime", "yesterday"}});
  ASSERT_FALSE(when.ok());
  EXPECT_EQ(when.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(
      when.error().message.rfind("parsing time \"yesterday\" as \"2006-01-02T15:04:05Z07:00\"", 0),
      0u);
}

TEST(PodLogOptions, ValidationAnswersInvalidWithUpstreamMessages) {
  PodLogOptions ok;
  ok.tail_lines = 0;
  ok.limit_bytes = 1;
  ok.since_seconds = 1;
  EXPECT_TRUE(validatePodLogOptions(ok, "web").ok());

  PodLogOptions tail;
  tail.tail_lines = -1;
  auto e = validatePodLogOptions(tail, "web");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, ErrorCode::kInvalid);
  EXPECT_EQ(e.error().kind, "PodLogOptions");
  EXPECT_EQ(e.error().name, "web");
  EXPECT_EQ(e.error().message,
            "PodLogOptions \"web\" is invalid: tailLines: Invalid value: -1: must be greater than "
            "or equal to 0");
  ASSERT_EQ(e.error().causes.size(), 1u);
  EXPECT_EQ(e.error().causes[0].field, "tailLines");
  EXPECT_EQ(e.error().causes[0].reason, "FieldValueInvalid");

  PodLogOptions two;
  two.tail_lines = -2;
  two.limit_bytes = 0;
  e = validatePodLogOptions(two, "web");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message,
            "PodLogOptions \"web\" is invalid: [tailLines: Invalid value: -2: must be greater than "
            "or equal to 0, "
            "limitBytes: Invalid value: 0: must be greater than 0]");

  PodLogOptions both;
  both.since_seconds = -5;  // only the conflict is reported
  both.since_time = std::chrono::system_clock::now();
  e = validatePodLogOptions(both, "web");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message,
            "PodLogOptions \"web\" is invalid: : Forbidden: at most one of `sinceTime` or "
            "`sinceSeconds` may be "
            "specified");
  EXPECT_EQ(e.error().causes[0].reason, "FieldValueForbidden");

  PodLogOptions since;
  since.since_seconds = 0;
  e = validatePodLogOptions(since, "web");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(
      e.error().message,
      "PodLogOptions \"web\" is invalid: sinceSeconds: Invalid value: 0: must be greater than 0");
}

TEST(PodLogOptions, AgentQueryIsSortedAndEncoded) {
  PodLogOptions o;
  EXPECT_EQ(agentLogQuery(o), "");
  o.container = "ignored";  // the container is part of the path
  o.follow = o.previous = o.timestamps = true;
  o.tail_lines = 10;
  o.limit_bytes = 2048;
  o.since_seconds = 60;
  std::chrono::system_clock::time_point t;
  ASSERT_TRUE(parseRfc3339("2024-03-01T10:00:00.5Z", &t));
  o.since_time = t;
  EXPECT_EQ(agentLogQuery(o),
            "follow=true&limitBytes=2048&previous=true&sinceSeconds=60&sinceTime=2024-03-01T10%"
            "3A00%3A00Z&"
            "tailLines=10&timestamps=true");
}

Object podWith(std::vector<std::string> init, std::vector<std::string> regular,
               std::vector<std::string> ephemeral = {}) {
  auto list = [](const std::vector<std::string>& names) {
    json::array a;
    for (const auto& n : names) a.push_back(Object{{"name", n}, {"image", "busybox"}});
    return a;
  };
  Object spec{{"containers", list(regular)}};
  if (!init.empty()) spec["initContainers"] = list(init);
  if (!ephemeral.empty()) spec["ephemeralContainers"] = list(ephemeral);
  return Object{{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata", Object{{"name", "web"}, {"namespace", "default"}}},
                {"spec", std::move(spec)}};
}

TEST(PodLogContainer, DefaultsAndMessagesAsValidateContainer) {
  auto one = podLogContainer(podWith({"setup"}, {"app"}), "");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, "app");  // init containers do not count for the default

  auto many = podLogContainer(podWith({"setup"}, {"app", "sidecar"}, {"debug"}), "");
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(
      many.error().message,
      "a container name must be specified for pod web, choose one of: [setup app sidecar debug]");

  auto none = podLogContainer(podWith({}, {}), "");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().message, "a container name must be specified for pod web");

  auto init = podLogContainer(podWith({"setup"}, {"app", "sidecar"}, {"debug"}), "setup");
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(*init, "setup");
  EXPECT_TRUE(podLogContainer(podWith({}, {"app"}, {"debug"}), "debug").ok());

  auto unknown = podLogContainer(podWith({}, {"app"}), "db");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(unknown.error().message, "container db is not valid for pod web");
}

Object nodeWith(json::array addresses, int64_t port) {
  Object status{{"addresses", std::move(addresses)}};
  if (port) status["daemonEndpoints"] = Object{{"kubeletEndpoint", Object{{"Port", port}}}};
  return Object{{"metadata", Object{{"name", "n1"}}}, {"status", std::move(status)}};
}

TEST(NodeAgentAddress, PrefersAddressTypesInOrderAndDefaultsThePort) {
  std::vector<std::string> prefs = {"InternalIP", "ExternalIP", "Hostname"};
  json::array addrs{Object{{"type", "Hostname"}, {"address", "n1"}},
                    Object{{"type", "ExternalIP"}, {"address", "192.0.2.7"}},
                    Object{{"type", "InternalIP"}, {"address", "10.0.0.7"}}};
  auto a = nodeAgentAddress(nodeWith(addrs, 10555), prefs);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "10.0.0.7");
  EXPECT_EQ(a->port, 10555);

  auto b = nodeAgentAddress(
      nodeWith(json::array{Object{{"type", "Hostname"}, {"address", "n1"}}}, 0), prefs);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "n1");
  EXPECT_EQ(b->port, kDefaultAgentPort);

  auto c = nodeAgentAddress(
      nodeWith(json::array{Object{{"type", "Hostname"}, {"address", "n1"}}}, 0), {"InternalIP"});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message, "no preferred addresses found; known addresses: [{Hostname n1}]");
  auto d = nodeAgentAddress(nodeWith(json::array{}, 0), prefs);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().message, "no preferred addresses found; known addresses: []");
}

TEST(AgentClientCertificate, IsTheAgentClientUserSignedByTheClusterCa) {
  auto ca = auth::generateCa("test-ca");
  ASSERT_TRUE(ca.ok());
  auto cert = issueAgentClientCertificate(*ca);
  ASSERT_TRUE(cert.ok());
  EXPECT_TRUE(auth::verifyCertificate(cert->cert_pem, ca->cert_pem).ok());
  auto other = auth::generateCa("other-ca");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(auth::verifyCertificate(cert->cert_pem, other->cert_pem).ok());
}

// ---- the REST handler and the proxy ---------------------------------------------

// A StreamWriter that keeps what it is given; hangUp() plays the client
// going away.
class CaptureWriter : public StreamWriter {
 public:
  bool write(std::shared_ptr<const std::string> chunk) override {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    data_ += *chunk;
    cv_.notify_all();
    return true;
  }
  size_t pendingBytes() const override { return 0; }
  void finish() override {
    std::lock_guard lock(mu_);
    finished_ = true;
    cv_.notify_all();
  }
  void onClosed(std::function<void()> cb) override {
    std::lock_guard lock(mu_);
    on_closed_ = std::move(cb);
  }
  void hangUp() {
    std::function<void()> cb;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      cb = std::move(on_closed_);
    }
    if (cb) cb();
  }
  bool waitForData(const std::string& want) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return data_ == want; });
  }
  bool waitFinished() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return finished_; });
  }
  std::string data() {
    std::lock_guard lock(mu_);
    return data_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string data_;
  bool finished_ = false;
  bool closed_ = false;
  std::function<void()> on_closed_;
};

class CaptureResponder : public Responder {
 public:
  void respond(Response r) override {
    std::lock_guard lock(mu_);
    response_ = std::move(r);
    answered_ = true;
    cv_.notify_all();
  }
  std::shared_ptr<StreamWriter> startStream(
      int status, std::vector<std::pair<std::string, std::string>> headers) override {
    std::lock_guard lock(mu_);
    response_.status = status;
    response_.headers = std::move(headers);
    streamed_ = answered_ = true;
    cv_.notify_all();
    return writer;
  }
  // The answer (for a stream: its status and headers).
  Response wait() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, kDeadline, [&] { return answered_; });
    return response_;
  }
  bool streamed() {
    std::lock_guard lock(mu_);
    return streamed_;
  }
  std::shared_ptr<CaptureWriter> writer = std::make_shared<CaptureWriter>();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  Response response_;
  bool answered_ = false;
  bool streamed_ = false;
};

// The fake node agent: records each request and answers with `answer`.
class FakeAgent : public Handler {
 public:
  struct Seen {
    std::string target;
    std::string user;
  };
  void handle(Request req, std::shared_ptr<Responder> responder) override {
    {
      std::lock_guard lock(mu_);
      seen_.push_back({req.target, req.user.name});
    }
    if (mode == "stream") {
      auto w = responder->startStream(200, {{"Content-Type", "text/plain"}});
      w->onClosed([this] {
        std::lock_guard lock(mu_);
        client_gone_ = true;
        cv_.notify_all();
      });
      w->write(std::string("one\n"));
      std::lock_guard lock(mu_);
      writer_ = w;
      cv_.notify_all();
      return;
    }
    responder->respond(answer);
  }
  std::shared_ptr<StreamWriter> waitWriter() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, kDeadline, [&] { return writer_ != nullptr; });
    return writer_;
  }
  bool waitClientGone() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return client_gone_; });
  }
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

  std::string mode = "answer";
  Response answer;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Seen> seen_;
  std::shared_ptr<StreamWriter> writer_;
  bool client_gone_ = false;
};

const api::KindInfo& coreKind(const char* kind) {
  const auto* k = api::KindRegistry::builtin().byKind("", "v1", kind);
  if (!k) std::abort();
  return *k;
}

class PodLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-podlog-XXXXXX";
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
    registry_ =
        std::make_unique<Registry>(kinds, cache_, RealClock::instance(), Registry::Options{});
    ASSERT_TRUE(registry_
                    ->create(coreKind("Namespace"), "",
                             Object{{"apiVersion", "v1"},
                                    {"kind", "Namespace"},
                                    {"metadata", Object{{"name", "default"}}}},
                             {})
                    .ok());

    auto cluster_ca = auth::generateCa("cluster-ca");
    ASSERT_TRUE(cluster_ca.ok());
    cluster_ca_ = *cluster_ca;
    auto agent_ca = auth::generateCa("agent-ca");
    ASSERT_TRUE(agent_ca.ok());
    agent_ca_ = *agent_ca;
    auth::SubjectAltNames sans;
    sans.ips = {"127.0.0.1"};
    auto serving = auth::generateServingCert(agent_ca_, "agent", sans);
    ASSERT_TRUE(serving.ok());

    agent_ = std::make_shared<FakeAgent>();
    HttpServerOptions ho;
    ho.cert_pem = serving->cert_pem;
    ho.key_pem = serving->key_pem;
    ho.client_ca_pem = cluster_ca_.cert_pem;
    ho.authenticator = std::make_shared<auth::ClientCertAuthenticator>();
    ho.anonymous_paths = {};
    ho.handler_threads = 2;
    ho.shutdown_grace = std::chrono::seconds(1);
    agent_server_ = std::make_unique<HttpServer>(ho, agent_);
    auto port = agent_server_->start();
    ASSERT_TRUE(port.ok()) << port.error().message;
    agent_port_ = *port;
    startApi("");
  }

  void startApi(const std::string& agent_ca_pem) {
    api_.reset();
    auto client = issueAgentClientCertificate(cluster_ca_);
    ASSERT_TRUE(client.ok());
    AgentProxyOptions po;
    po.client_cert_pem = client->cert_pem;
    po.client_key_pem = client->key_pem;
    po.agent_ca_pem = agent_ca_pem;
    proxy_ = std::make_shared<AgentProxy>(po);
    ASSERT_TRUE(proxy_->start().ok());
    ApiServer::Options ao;
    ao.agent_proxy = proxy_;
    api_ = std::make_unique<ApiServer>(*registry_, timers_, ao);
  }

  void TearDown() override {
    if (agent_server_) agent_server_->stop();
    api_.reset();
    proxy_.reset();
    agent_server_.reset();
    timers_.stop();
    registry_.reset();
    cache_.reset();
    backend_.reset();
    std::filesystem::remove_all(dir_);
  }

  void createPod(const std::string& name, const std::string& node,
                 std::vector<std::string> containers = {"c"}) {
    Object pod = podWith({}, std::move(containers));
    api::mutableMetadata(pod)["name"] = name;
    if (!node.empty()) pod["spec"].as_object()["nodeName"] = node;
    auto created = registry_->create(coreKind("Pod"), "default", std::move(pod), {});
    ASSERT_TRUE(created.ok()) << created.error().message;
  }

  void createNode(const std::string& name, json::array addresses, int64_t port) {
    ASSERT_TRUE(registry_
                    ->create(coreKind("Node"), "",
                             Object{{"apiVersion", "v1"},
                                    {"kind", "Node"},
                                    {"metadata", Object{{"name", name}}}},
                             {})
                    .ok());
    auto set = registry_->mutate(
        coreKind("Node"), "", name,
        [&](Object& obj) -> Status {
          Object& st = api::ensureObject(obj, "status");
          st["addresses"] = addresses;
          st["daemonEndpoints"] = Object{{"kubeletEndpoint", Object{{"Port", port}}}};
          return okStatus();
        },
        Subresource::kStatus);
    ASSERT_TRUE(set.ok()) << set.error().message;
  }

  void createLocalNode(int port) {
    createNode("n1", json::array{Object{{"type", "InternalIP"}, {"address", "127.0.0.1"}}}, port);
  }

  std::shared_ptr<CaptureResponder> get(const std::string& pod, Query query,
                                        const std::string& method = "GET") {
    Request req;
    req.method = method;
    req.path = "/api/v1/namespaces/default/pods/" + pod + "/log";
    req.target = req.path;
    req.query = std::move(query);
    req.user.name = "admin";
    auto responder = std::make_shared<CaptureResponder>();
    api_->handle(std::move(req), responder);
    return responder;
  }

  static Object body(const Response& r) {
    json::error_code ec;
    auto v = json::parse(r.body, ec);
    return !ec && v.is_object() ? v.get_object() : Object{};
  }

  std::string dir_;
  std::shared_ptr<storage::SqliteStore> backend_;
  std::shared_ptr<storage::WatchCache> cache_;
  std::unique_ptr<Registry> registry_;
  Timers timers_;
  auth::CertKeyPair cluster_ca_;
  auth::CertKeyPair agent_ca_;
  std::shared_ptr<FakeAgent> agent_;
  std::unique_ptr<HttpServer> agent_server_;
  int agent_port_ = 0;
  std::shared_ptr<AgentProxy> proxy_;
  std::unique_ptr<ApiServer> api_;
};

TEST_F(PodLogTest, LookupAndValidationErrorsComeInUpstreamOrder) {
  // Options are validated before the pod is looked up.
  auto invalid = get("missing", {{"tailLines", "-1"}})->wait();
  EXPECT_EQ(invalid.status, 422);
  EXPECT_EQ(api::getString(body(invalid), "reason"), "Invalid");
  auto undecodable = get("missing", {{"limitBytes", "x"}})->wait();
  EXPECT_EQ(undecodable.status, 400);
  EXPECT_EQ(api::getString(body(undecodable), "message"),
            "strconv.ParseInt: parsing \"x\": invalid syntax");

  auto missing = get("missing", {})->wait();
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(api::getString(body(missing), "message"), "pods \"missing\" not found");

  createPod("two", "n1", {"a", "b"});
  auto choose = get("two", {})->wait();
  EXPECT_EQ(choose.status, 400);
  EXPECT_EQ(api::getString(body(choose), "message"),
            "a container name must be specified for pod two, choose one of: [a b]");
  auto wrong = get("two", {{"container", "z"}})->wait();
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(api::getString(body(wrong), "message"), "container z is not valid for pod two");

  auto post = get("two", {{"container", "a"}}, "POST")->wait();
  EXPECT_EQ(post.status, 405);
  EXPECT_TRUE(agent_->seen().empty());
}

TEST_F(PodLogTest, UnscheduledPodHasNoContent) {
  createPod("pending", "");
  auto r = get("pending", {{"follow", "true"}})->wait();
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.body, "");
  EXPECT_TRUE(agent_->seen().empty());
}

TEST_F(PodLogTest, NodeLookupFailures) {
  createPod("p", "n1");
  auto no_node = get("p", {})->wait();
  EXPECT_EQ(no_node.status, 404);
  EXPECT_EQ(api::getString(body(no_node), "message"), "nodes \"n1\" not found");

  // Hostname is a preferred type by default; a proxy that asks for IPs
  // only finds no address (and no name is looked up in tests).
  createNode("n1", json::array{Object{{"type", "Hostname"}, {"address", "n1"}}}, 10250);
  auto client = issueAgentClientCertificate(cluster_ca_);
  ASSERT_TRUE(client.ok());
  AgentProxyOptions only_ip;
  only_ip.client_cert_pem = client->cert_pem;
  only_ip.client_key_pem = client->key_pem;
  only_ip.preferred_address_types = {"InternalIP"};
  api_.reset();
  proxy_ = std::make_shared<AgentProxy>(only_ip);
  ASSERT_TRUE(proxy_->start().ok());
  ApiServer::Options ao;
  ao.agent_proxy = proxy_;
  api_ = std::make_unique<ApiServer>(*registry_, timers_, ao);
  auto no_address = get("p", {})->wait();
  EXPECT_EQ(no_address.status, 500);
  Object b = body(no_address);
  EXPECT_EQ(api::getString(b, "message"),
            "no preferred addresses found; known addresses: [{Hostname n1}]");
  EXPECT_FALSE(b.contains("reason"));  // upstream's StatusReasonUnknown
}

TEST_F(PodLogTest, StreamsTheAgentAnswerAsItArrives) {
  agent_->mode = "stream";
  createLocalNode(agent_port_);
  createPod("p", "n1");
  auto r = get(
      "p", {{"follow", "true"}, {"tailLines", "2"}, {"timestamps", "1"}, {"sinceSeconds", "60"}});
  auto head = r->wait();
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(r->streamed());
  // The first line reaches the client while the agent's stream is open.
  ASSERT_TRUE(r->writer->waitForData("one\n"));
  auto seen = agent_->seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].target,
            "/containerLogs/default/p/c?follow=true&sinceSeconds=60&tailLines=2&timestamps=true");
  EXPECT_EQ(seen[0].user, kAgentClientUser);
  auto w = agent_->waitWriter();
  ASSERT_TRUE(w);
  w->write(std::string("two\n"));
  ASSERT_TRUE(r->writer->waitForData("one\ntwo\n"));
  w->finish();
  EXPECT_TRUE(r->writer->waitFinished());
}

TEST_F(PodLogTest, ClientHangingUpClosesTheAgentConnection) {
  agent_->mode = "stream";
  createLocalNode(agent_port_);
  createPod("p", "n1");
  auto r = get("p", {{"follow", "true"}});
  ASSERT_TRUE(r->writer->waitForData("one\n"));
  EXPECT_EQ(proxy_->activeCount(), 1u);
  r->writer->hangUp();
  EXPECT_TRUE(agent_->waitClientGone());
}

TEST_F(PodLogTest, AgentStatusAnswersPassThrough) {
  agent_->answer = errorResponse(
      makeError(ErrorCode::kBadRequest,
                "container \"c\" in pod \"p\" is waiting to start: ContainerCreating"));
  createLocalNode(agent_port_);
  createPod("p", "n1");
  auto r = get("p", {{"previous", "true"}})->wait();
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(api::getString(body(r), "message"),
            "container \"c\" in pod \"p\" is waiting to start: ContainerCreating");
  EXPECT_EQ(agent_->seen().at(0).target, "/containerLogs/default/p/c?previous=true");
}

TEST_F(PodLogTest, OtherAgentAnswersAreWrappedAsGenericHttpResponseChecker) {
  createLocalNode(agent_port_);
  createPod("p", "n1");
  agent_->answer = Response{500, {{"Content-Type", "text/plain"}}, "boom"};
  auto internal = get("p", {})->wait();
  EXPECT_EQ(internal.status, 500);
  EXPECT_EQ(api::getString(body(internal), "message"), "Internal error occurred: boom");
  EXPECT_EQ(api::getString(body(internal), "reason"), "InternalError");

  agent_->answer = Response{404, {{"Content-Type", "text/plain"}}, "404 page not found"};
  auto missing = get("p", {})->wait();
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(api::getString(body(missing), "message"),
            "the server could not find the requested resource ( pods/log p)");
  EXPECT_EQ(api::getString(body(missing), "reason"), "NotFound");

  agent_->answer = Response{400, {{"Content-Type", "text/plain"}}, "bad"};
  auto bad = get("p", {})->wait();
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(api::getString(body(bad), "message"), "bad");
}

TEST_F(PodLogTest, UnreachableAgentIsA500WithGoDialText) {
  // A port nothing listens on: bind one, note it, close it.
  int port = 0;
  {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  createLocalNode(port);
  createPod("p", "n1");
  auto r = get("p", {{"follow", "true"}})->wait();
  EXPECT_EQ(r.status, 500);
  Object b = body(r);
  std::string url =
      "https://127.0.0.1:" + std::to_string(port) + "/containerLogs/default/p/c?follow=true";
  EXPECT_EQ(api::getString(b, "message"), "Get \"" + url +
                                              "\": dial tcp 127.0.0.1:" + std::to_string(port) +
                                              ": connect: connection refused");
  EXPECT_FALSE(b.contains("reason"));
}

TEST_F(PodLogTest, AgentCertificateIsVerifiedWhenTheProxyHasItsCa) {
  agent_->answer = Response{200, {{"Content-Type", "text/plain"}}, "hello\n"};
  createLocalNode(agent_port_);
  createPod("p", "n1");
  startApi(agent_ca_.cert_pem);
  auto good = get("p", {});
  EXPECT_EQ(good->wait().status, 200);
  EXPECT_TRUE(good->writer->waitForData("hello\n"));
  EXPECT_TRUE(good->writer->waitFinished());

  startApi(cluster_ca_.cert_pem);  // not the CA that signed the agent's certificate
  auto refused = get("p", {})->wait();
  EXPECT_EQ(refused.status, 500);
  EXPECT_NE(api::getString(body(refused), "message").find("tls: "), std::string::npos);
  // insecureSkipTLSVerifyBackend skips the check, as upstream's insecure transport.
  auto skipped = get("p", {{"insecureSkipTLSVerifyBackend", "true"}});
  EXPECT_EQ(skipped->wait().status, 200);
  EXPECT_TRUE(skipped->writer->waitForData("hello\n"));
}

TEST_F(PodLogTest, WithoutAnAgentProxyBoundPodsAreUnavailable) {
  api_ = std::make_unique<ApiServer>(*registry_, timers_, ApiServer::Options{});
  createPod("p", "n1");
  auto r = get("p", {})->wait();
  EXPECT_EQ(r.status, 503);
}

}  // namespace
}  // namespace berth::apiserver
