// RemoteClient: Status bodies to Errors, REST paths, server URLs and
// kubeconfig parsing, and the watch stream against a scripted API on the
// real HTTPS transport (127.0.0.1:0): resuming from the last revision when
// the server ends a stream, ERROR events, 410 at the start, request errors
// from watch(), and stop() while the server is silent. Verbs against the
// real API server are in tests/integration/client_test.cpp.
#include "client/remote_client.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "api/object.h"
#include "apiserver/auth/authenticator.h"
#include "apiserver/auth/certs.h"
#include "apiserver/http_server.h"
#include "apiserver/kubeconfig.h"

namespace berth::client {
namespace {

namespace json = boost::json;
using apiserver::Request;
using apiserver::Responder;
using apiserver::Response;
using apiserver::StreamWriter;

constexpr const char* kToken = "remote-client-test-token-0123456789";

const api::KindInfo& kindOf(const char* group, const char* version, const char* k) {
  const auto* info = api::KindRegistry::builtin().byKind(group, version, k);
  if (!info) std::abort();
  return *info;
}

TEST(RemoteClientErrors, StatusBodiesBecomeErrors) {
  Error e =
      errorFromResponse(422, R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
    "message":"ConfigMap \"Bad\" is invalid: metadata.name: Invalid value: \"Bad\"","reason":"Invalid",
    "details":{"name":"Bad","kind":"ConfigMap","causes":[{"reason":"FieldValueInvalid",
    "message":"Invalid value: \"Bad\"","field":"metadata.name"}]},"code":422})");
  EXPECT_EQ(e.code, ErrorCode::kInvalid);
  EXPECT_EQ(e.message, "ConfigMap \"Bad\" is invalid: metadata.name: Invalid value: \"Bad\"");
  EXPECT_EQ(e.name, "Bad");
  EXPECT_EQ(e.kind, "ConfigMap");
  ASSERT_EQ(e.causes.size(), 1u);
  EXPECT_EQ(e.causes[0].reason, "FieldValueInvalid");
  EXPECT_EQ(e.causes[0].field, "metadata.name");

  // AlreadyExists and Conflict share 409; the reason tells them apart.
  EXPECT_EQ(errorFromResponse(
                409, R"({"kind":"Status","reason":"AlreadyExists","message":"x","code":409})")
                .code,
            ErrorCode::kAlreadyExists);
  EXPECT_EQ(
      errorFromResponse(409, R"({"kind":"Status","reason":"Conflict","message":"x","code":409})")
          .code,
      ErrorCode::kConflict);
  // A watch ERROR event's Status: 410 Expired.
  Error gone = errorFromStatus(
      json::parse(R"({"kind":"Status","status":"Failure","message":"too old resource version",
    "reason":"Expired","code":410})")
          .as_object());
  EXPECT_EQ(gone.code, ErrorCode::kExpired);
  EXPECT_EQ(gone.message, "too old resource version");
  // Without a known reason the HTTP status decides.
  EXPECT_EQ(errorFromResponse(404, R"({"kind":"Status","message":"gone","code":404})").code,
            ErrorCode::kNotFound);
  Error busy = errorFromResponse(
      429, R"({"kind":"Status","reason":"TooManyRequests","message":"slow down"})", "7");
  EXPECT_EQ(busy.code, ErrorCode::kTooManyRequests);
  EXPECT_EQ(busy.retry_after_seconds, 7);
  Error proxy = errorFromResponse(502, "<html>bad gateway</html>");
  EXPECT_EQ(proxy.code, ErrorCode::kInternal);
  EXPECT_EQ(proxy.message, "the server responded with status 502: <html>bad gateway</html>");
  EXPECT_EQ(errorFromResponse(503, "").code, ErrorCode::kUnavailable);
}

TEST(RemoteClientPaths, RestPaths) {
  EXPECT_EQ(resourcePath(kindOf("", "v1", "Pod"), "default", "web-1", "binding"),
            "/api/v1/namespaces/default/pods/web-1/binding");
  EXPECT_EQ(resourcePath(kindOf("", "v1", "Pod"), ""), "/api/v1/pods");
  EXPECT_EQ(resourcePath(kindOf("apps", "v1", "Deployment"), "kube-system"),
            "/apis/apps/v1/namespaces/kube-system/deployments");
  // Cluster-scoped kinds ignore the namespace.
  EXPECT_EQ(resourcePath(kindOf("", "v1", "Node"), "default", "n1", "status"),
            "/api/v1/nodes/n1/status");
  EXPECT_EQ(resourcePath(kindOf("", "v1", "ConfigMap"), "default", "a b"),
            "/api/v1/namespaces/default/configmaps/a%20b");
}

TEST(RemoteClientConfig, ServerUrls) {
  for (const char* good : {"https://127.0.0.1:6443", "https://[::1]:6443", "https://example.test",
                           "http://127.0.0.1:80/"}) {
    auto c = RemoteClient::create(good, "", "t");
    EXPECT_TRUE(c.ok()) << good << ": " << c.error().message;
  }
  for (const char* bad : {"127.0.0.1:6443", "ftp://x", "https://", "https://[::1:6443",
                          "https://h:99999", "https://u@h"}) {
    auto c = RemoteClient::create(bad, "", "t");
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_EQ(c.error().code, ErrorCode::kBadRequest);
  }
}

TEST(RemoteClientConfig, KubeconfigAsBerthWritesIt) {
  apiserver::KubeconfigOptions ko;
  ko.host = "127.0.0.1";
  ko.port = 7443;
  ko.ca_pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  ko.token = "abc";
  auto o = RemoteClient::parseKubeconfig(apiserver::renderKubeconfig(ko));
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->server, "https://127.0.0.1:7443");
  EXPECT_EQ(o->ca_pem, ko.ca_pem);
  EXPECT_EQ(o->bearer_token, "abc");
}

TEST(RemoteClientConfig, KubeconfigFilesRelativeToItsDirectory) {
  char tmpl[] = "/tmp/berth-kubeconfig-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  struct Cleanup {
    std::string dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }
  } cleanup{dir};
  auto ca = apiserver::auth::generateCa();
  ASSERT_TRUE(ca.ok());
  std::ofstream(dir + "/ca.crt") << ca->cert_pem;
  std::ofstream(dir + "/token") << "from-file\n";
  std::ofstream(dir + "/config") << R"(apiVersion: v1
kind: Config
current-context: second
clusters:
- name: one
  cluster: {server: "https://one:1"}
- name: two
  cluster:
    server: https://two:6443
    certificate-authority: ca.crt
contexts:
- name: first
  context: {cluster: one, user: u1}
- name: second
  context: {cluster: two, user: u2}
users:
- name: u1
  user: {token: nope}
- name: u2
  user: {tokenFile: token}
)";
  auto c = RemoteClient::fromKubeconfig(dir + "/config");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ((*c)->options().server, "https://two:6443");
  EXPECT_EQ((*c)->options().ca_pem, ca->cert_pem);
  EXPECT_EQ((*c)->options().bearer_token, "from-file");
  auto missing = RemoteClient::parseKubeconfig("current-context: nowhere\ncontexts: []\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "kubeconfig: no context \"nowhere\"");
}

// ---- watch streams against a scripted API ----------------------------------------

// Answers list probes with resourceVersion 7 and each watch request with the
// next scripted reply; without one, it holds the stream open silently.
class ScriptedApi : public apiserver::Handler {
 public:
  struct Reply {
    int status = 200;
    std::vector<std::string> lines;  // for a non-200 status: the body
    bool hold = false;               // keep the stream open after the lines
  };

  void script(Reply r) {
    std::lock_guard lock(mu_);
    replies_.push_back(std::move(r));
  }

  void handle(Request req, std::shared_ptr<Responder> responder) override {
    if (req.queryParam("watch") != "1") {
      responder->respond(Response{
          200,
          {{"Content-Type", "application/json"}},
          R"({"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"7"},)"
          R"("items":[]})"});
      return;
    }
    Reply r;
    {
      std::lock_guard lock(mu_);
      watch_versions_.emplace_back(req.queryParam("resourceVersion"));
      selectors_.emplace_back(req.queryParam("labelSelector"));
      cv_.notify_all();
      if (replies_.empty()) {
        r.hold = true;
      } else {
        r = std::move(replies_.front());
        replies_.pop_front();
      }
    }
    if (r.status != 200) {
      responder->respond(Response{
          r.status, {{"Content-Type", "application/json"}}, r.lines.empty() ? "" : r.lines[0]});
      return;
    }
    auto writer = responder->startStream(200, {{"Content-Type", "application/json"}});
    for (auto& line : r.lines) writer->write(line + "\n");
    if (r.hold) {
      std::lock_guard lock(mu_);
      held_.push_back(writer);
    } else {
      writer->finish();
    }
  }

  // The resourceVersion of each watch request so far, once there are n.
  std::vector<std::string> watchVersions(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(15), [&] { return watch_versions_.size() >= n; });
    return watch_versions_;
  }
  std::vector<std::string> selectors() {
    std::lock_guard lock(mu_);
    return selectors_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Reply> replies_;
  std::vector<std::string> watch_versions_;
  std::vector<std::string> selectors_;
  std::vector<std::shared_ptr<StreamWriter>> held_;
};

std::string eventLine(const char* type, const std::string& name, int rv) {
  return std::string(R"({"type":")") + type +
         R"(","object":{"kind":"ConfigMap","apiVersion":"v1",)" + R"("metadata":{"name":")" + name +
         R"(","namespace":"default","resourceVersion":")" + std::to_string(rv) + R"("}}})";
}

class Recorder {
 public:
  WatchHandler handler() {
    return [this](const Event& e) {
      std::lock_guard lock(mu_);
      events_.push_back(e);
      cv_.notify_all();
    };
  }
  std::vector<Event> waitFor(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(15), [&] { return events_.size() >= n; });
    return events_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
};

class RemoteWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = apiserver::auth::generateCa();
    ASSERT_TRUE(ca.ok());
    auto serving = apiserver::auth::generateServingCert(*ca, "kube-apiserver",
                                                        apiserver::auth::defaultServingSans({}));
    ASSERT_TRUE(serving.ok());
    auto tokens = std::make_shared<apiserver::auth::TokenAuthenticator>();
    tokens->addToken(kToken, apiserver::UserInfo{"agent", {}});
    apiserver::HttpServerOptions o;
    o.listen = "127.0.0.1:0";
    o.cert_pem = serving->cert_pem;
    o.key_pem = serving->key_pem;
    o.authenticator = tokens;
    o.shutdown_grace = std::chrono::milliseconds(100);
    api_ = std::make_shared<ScriptedApi>();
    server_ = std::make_unique<apiserver::HttpServer>(o, api_);
    auto port = server_->start();
    ASSERT_TRUE(port.ok()) << port.error().message;
    RemoteClientOptions ro;
    ro.server = "https://127.0.0.1:" + std::to_string(*port);
    ro.ca_pem = ca->cert_pem;
    ro.bearer_token = kToken;
    ro.watch_retry_delay = std::chrono::milliseconds(1);
    auto c = RemoteClient::create(ro);
    ASSERT_TRUE(c.ok());
    client_ = std::move(c).value();
  }

  void TearDown() override {
    client_.reset();
    if (server_) server_->stop();
  }

  const api::KindInfo& configMaps() { return kindOf("", "v1", "ConfigMap"); }

  std::shared_ptr<ScriptedApi> api_;
  std::unique_ptr<apiserver::HttpServer> server_;
  std::unique_ptr<RemoteClient> client_;
};

TEST_F(RemoteWatchTest, ResumesFromTheLastRevisionWhenTheServerEndsTheStream) {
  api_->script(
      {200,
       {eventLine("ADDED", "a", 8), R"({"type":"BOOKMARK","object":{"kind":"ConfigMap",)"
                                    R"("apiVersion":"v1","metadata":{"resourceVersion":"12"}}})"}});
  api_->script({200, {eventLine("MODIFIED", "a", 13)}, true});
  Recorder events;
  ListOptions opts;
  opts.label_selector = "app=web";
  auto w = client_->watch(configMaps(), "default", opts, events.handler());
  ASSERT_TRUE(w.ok()) << w.error().message;
  auto got = events.waitFor(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].type, EventType::kAdded);
  EXPECT_EQ(got[0].revision, 8);
  EXPECT_EQ(api::name(*got[0].object), "a");
  EXPECT_EQ(got[1].type, EventType::kBookmark);
  EXPECT_EQ(got[1].revision, 12);
  EXPECT_EQ(got[2].type, EventType::kModified);
  EXPECT_EQ(got[2].revision, 13);
  // "" starts from the revision a one-item list reports; the resume starts
  // after the bookmark.
  EXPECT_EQ(api_->watchVersions(2), (std::vector<std::string>{"7", "12"}));
  EXPECT_EQ(api_->selectors(), (std::vector<std::string>{"app=web", "app=web"}));
  // The second stream is held open and silent: stop() must still return.
  (*w)->stop();
}

TEST_F(RemoteWatchTest, AnErrorEventEndsTheWatch) {
  api_->script({200,
                {eventLine("ADDED", "a", 8),
                 R"j({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1",)j"
                 R"j("metadata":{},"status":"Failure","message":"too old resource )j"
                 R"j(version: 8 (20)","reason":"Expired","code":410}})j"},
                true});
  Recorder events;
  ListOptions opts;
  opts.resource_version = "5";
  auto w = client_->watch(configMaps(), "default", opts, events.handler());
  ASSERT_TRUE(w.ok()) << w.error().message;
  auto got = events.waitFor(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].type, EventType::kError);
  EXPECT_EQ(got[1].error.code, ErrorCode::kExpired);
  EXPECT_EQ(got[1].error.message, "too old resource version: 8 (20)");
  EXPECT_EQ(api_->watchVersions(1), (std::vector<std::string>{"5"}));
}

TEST_F(RemoteWatchTest, GoneAtTheStartIsAnErrorEventOtherErrorsAreReturned) {
  api_->script({410,
                {R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
                 R"("message":"too old resource version","reason":"Expired","code":410})"}});
  Recorder events;
  ListOptions opts;
  opts.resource_version = "3";
  auto w = client_->watch(configMaps(), "default", opts, events.handler());
  ASSERT_TRUE(w.ok()) << w.error().message;
  auto got = events.waitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, EventType::kError);
  EXPECT_EQ(got[0].error.code, ErrorCode::kExpired);

  api_->script({400,
                {R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
                 R"("message":"unable to parse requirement","reason":"BadRequest","code":400})"}});
  auto bad = client_->watch(configMaps(), "default", opts, events.handler());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(bad.error().message, "unable to parse requirement");
}

TEST_F(RemoteWatchTest, AResumeTheServerRefusesEndsTheWatch) {
  api_->script({200, {eventLine("ADDED", "a", 8)}});
  api_->script(
      {410,
       {R"({"kind":"Status","message":"too old resource version","reason":"Expired","code":410})"}});
  Recorder events;
  ListOptions opts;
  opts.resource_version = "5";
  auto w = client_->watch(configMaps(), "default", opts, events.handler());
  ASSERT_TRUE(w.ok());
  auto got = events.waitFor(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].type, EventType::kAdded);
  EXPECT_EQ(got[1].type, EventType::kError);
  EXPECT_EQ(got[1].error.code, ErrorCode::kExpired);
  EXPECT_EQ(api_->watchVersions(2), (std::vector<std::string>{"5", "8"}));
}

TEST_F(RemoteWatchTest, AWatchOutlivingItsClientIsStopped) {
  Recorder events;
  auto w = client_->watch(configMaps(), "default", {}, events.handler());
  ASSERT_TRUE(w.ok());
  api_->watchVersions(1);
  client_.reset();  // stops the held, silent watch
  (*w)->stop();
  EXPECT_TRUE(events.waitFor(0).empty());
}

TEST_F(RemoteWatchTest, StoppingAWatchTwiceRightAfterItStartsIsSafe) {
  // stop() usually reaches a fresh watch before its thread has begun
  // reading; a second stop() (the owner's, then the client's destructor)
  // must not reach the stream that thread has freed meanwhile.
  Recorder events;
  for (int i = 0; i < 10; ++i) {
    auto w = client_->watch(configMaps(), "default", {}, events.handler());
    ASSERT_TRUE(w.ok()) << w.error().message;
    (*w)->stop();
    (*w)->stop();
  }
  EXPECT_EQ(api_->watchVersions(10).size(), 10u);
  client_.reset();
  EXPECT_TRUE(events.waitFor(0).empty());
}

}  // namespace
}  // namespace berth::client
