// AgentServer over HTTPS on 127.0.0.1:0: CRI log files written by
// CriLogWriter in a temp dir, a fake ContainerLogSource, client
// certificates from a test cluster CA (and from a stranger's CA), and
// client::HttpsClient as the API server.
#include "agent/server/agent_server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "apiserver/auth/certs.h"
#include "apiserver/pod_log.h"
#include "client/https_client.h"
#include "runtime/logs/cri_log.h"

namespace berth::agent::server {
namespace {

namespace json = boost::json;
using apiserver::auth::CertKeyPair;

constexpr auto kDeadline = std::chrono::seconds(20);

std::chrono::system_clock::time_point t0() {
  std::chrono::system_clock::time_point t;
  parseRfc3339("2024-03-01T10:00:00Z", &t);
  return t;
}

// Bounded wait for a condition another thread makes true.
template <class F>
bool eventually(F condition) {
  auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Containers by name; "previous" attempts under "<name>/previous".
class FakeSource : public ContainerLogSource {
 public:
  Result<ContainerLogRef> containerLog(const std::string& ns, const std::string& pod,
                                       const std::string& container, bool previous) override {
    std::lock_guard lock(mu_);
    ++calls_;
    last_ = ns + "/" + pod + "/" + container + (previous ? " previous" : "");
    std::string key = container + (previous ? "/previous" : "");
    if (auto e = errors_.find(key); e != errors_.end()) return e->second;
    if (auto r = refs_.find(key); r != refs_.end()) return r->second;
    return makeError(ErrorCode::kBadRequest,
                     "container \"" + container + "\" in pod \"" + pod + "\" is not available");
  }
  void set(const std::string& key, ContainerLogRef ref) {
    std::lock_guard lock(mu_);
    refs_[key] = std::move(ref);
  }
  void setRunning(const std::string& key, bool running) {
    std::lock_guard lock(mu_);
    refs_[key].running = running;
  }
  void setError(const std::string& key, Error e) {
    std::lock_guard lock(mu_);
    errors_[key] = std::move(e);
  }
  int calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::string last() {
    std::lock_guard lock(mu_);
    return last_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, ContainerLogRef> refs_;
  std::map<std::string, Error> errors_;
  int calls_ = 0;
  std::string last_;
};

class AgentServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-agent-server-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto ca = apiserver::auth::generateCa("cluster-ca");
    ASSERT_TRUE(ca.ok());
    ca_ = *ca;
    auto cert =
        apiserver::auth::generateClientCert(ca_, std::string(apiserver::kAgentClientUser), {});
    ASSERT_TRUE(cert.ok());
    apiserver_cert_ = *cert;

    // The current attempt: three stdout lines a second apart and a stderr
    // line; the previous attempt: one line.
    clock_.set(t0());
    log_ = std::make_unique<runtime::CriLogWriter>(dir_ + "/app.log",
                                                   runtime::CriLogWriterOptions{}, clock_);
    ASSERT_TRUE(log_->open().ok());
    for (const char* line : {"one\n", "two\n", "three\n"}) {
      ASSERT_TRUE(log_->write(runtime::LogStream::kStdout, line).ok());
      clock_.advance(std::chrono::seconds(1));
    }
    ASSERT_TRUE(log_->write(runtime::LogStream::kStderr, "err\n").ok());
    runtime::CriLogWriter old(dir_ + "/app-0.log", {}, clock_);
    ASSERT_TRUE(old.open().ok());
    ASSERT_TRUE(old.write(runtime::LogStream::kStdout, "old\n").ok());
    source_.set("app", {dir_ + "/app.log", false});
    source_.set("app/previous", {dir_ + "/app-0.log", false});
    startServer(256);
  }

  void startServer(int max_streams) {
    server_.reset();
    AgentServerOptions o;
    o.listen = "127.0.0.1:0";
    o.client_ca_pem = ca_.cert_pem;
    o.source = &source_;
    o.clock = &clock_;
    o.max_log_streams = max_streams;
    o.state_check_period = std::chrono::milliseconds(5);
    server_ = std::make_unique<AgentServer>(o);
    auto port = server_->start();
    ASSERT_TRUE(port.ok()) << port.error().message;
    EXPECT_EQ(*port, server_->port());
  }

  void TearDown() override {
    server_.reset();
    log_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<client::HttpsClient> client(const CertKeyPair* cert) {
    client::ClientOptions co;
    co.host = "127.0.0.1";
    co.port = server_->port();
    co.ca_pem = server_->servingCaPem();  // the self-signed certificate's CA
    if (cert) {
      co.client_cert_pem = cert->cert_pem;
      co.client_key_pem = cert->key_pem;
    }
    return std::make_unique<client::HttpsClient>(co);
  }

  // GET as the API server; the whole answer.
  client::ClientResponse get(const std::string& target) {
    auto c = client(&apiserver_cert_);
    auto r = c->request("GET", target);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : client::ClientResponse{};
  }

  static json::object body(const client::ClientResponse& r) {
    json::error_code ec;
    auto v = json::parse(r.body, ec);
    return !ec && v.is_object() ? v.get_object() : json::object{};
  }
  static std::string message(const client::ClientResponse& r) {
    auto b = body(r);
    auto* m = b.if_contains("message");
    return m && m->is_string() ? std::string(m->get_string()) : "";
  }

  std::string dir_;
  FakeClock clock_;
  CertKeyPair ca_;
  CertKeyPair apiserver_cert_;
  std::unique_ptr<runtime::CriLogWriter> log_;
  FakeSource source_;
  std::unique_ptr<AgentServer> server_;
};

TEST_F(AgentServerTest, ServesTheLogWithTheReadOptions) {
  const std::string base = "/containerLogs/default/web/app";
  auto all = get(base);
  EXPECT_EQ(all.status, 200);
  EXPECT_EQ(all.header("content-type"), "text/plain");
  EXPECT_EQ(all.body, "one\ntwo\nthree\nerr\n");
  EXPECT_EQ(source_.last(), "default/web/app");

  EXPECT_EQ(get(base + "?tailLines=2").body, "three\nerr\n");
  EXPECT_EQ(get(base + "?tailLines=0").body, "");
  EXPECT_EQ(get(base + "?timestamps=true&tailLines=1").body,
            formatRfc3339Nano(t0() + std::chrono::seconds(3)) + " err\n");
  EXPECT_EQ(get(base + "?limitBytes=6").body, "one\ntw");
  EXPECT_EQ(get(base + "?sinceTime=2024-03-01T10%3A00%3A02Z").body, "three\nerr\n");
  // sinceSeconds counts back from the agent's clock (now t0+3s).
  EXPECT_EQ(get(base + "?sinceSeconds=2").body, "two\nthree\nerr\n");
  // The kubelet's legacy "tail" parameter.
  EXPECT_EQ(get(base + "?tail=1").body, "err\n");
  EXPECT_EQ(get(base + "?tail=all&tailLines=1").body, "one\ntwo\nthree\nerr\n");

  EXPECT_EQ(get(base + "?previous=true").body, "old\n");
  EXPECT_EQ(source_.last(), "default/web/app previous");
}

TEST_F(AgentServerTest, ErrorsAreStatusAnswers) {
  source_.setError("gone", makeError(ErrorCode::kNotFound, "pod \"web\" does not exist"));
  auto gone = get("/containerLogs/default/web/gone");
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(message(gone), "pod \"web\" does not exist");
  EXPECT_EQ(json::value_to<std::string>(body(gone).at("reason")), "NotFound");

  auto waiting = get("/containerLogs/default/web/app?previous=1&tailLines=x");
  EXPECT_EQ(waiting.status, 400);
  EXPECT_EQ(message(waiting), "Unable to decode query.");
  auto invalid = get("/containerLogs/default/web/app?limitBytes=0");
  EXPECT_EQ(invalid.status, 422);
  EXPECT_EQ(message(invalid), "Invalid request.");

  auto unknown = get("/containerLogs/default/web/db");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(message(unknown), "container \"db\" in pod \"web\" is not available");

  source_.set("nofile", {dir_ + "/missing.log", true});
  auto nofile = get("/containerLogs/default/web/nofile");
  EXPECT_EQ(nofile.status, 400);
  EXPECT_NE(message(nofile).find("failed to open log file"), std::string::npos);

  for (const char* path :
       {"/containerLogs/default/web", "/containerLogs/default//app", "/stats/summary", "/"}) {
    auto r = get(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(message(r), "the server could not find the requested resource") << path;
  }
  auto c = client(&apiserver_cert_);
  auto post = c->request("POST", "/containerLogs/default/web/app");
  ASSERT_TRUE(post.ok());
  EXPECT_EQ(post->status, 405);
}

TEST_F(AgentServerTest, OnlyTheApiServerMayCall) {
  int calls = source_.calls();
  auto anonymous = client(nullptr);
  auto health = anonymous->request("GET", "/healthz");
  ASSERT_TRUE(health.ok()) << health.error().message;
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok");

  auto no_cert = anonymous->request("GET", "/containerLogs/default/web/app");
  ASSERT_TRUE(no_cert.ok());
  EXPECT_EQ(no_cert->status, 401);
  EXPECT_EQ(message(*no_cert), "Unauthorized");

  // The right name from a CA the agent does not trust.
  auto stranger_ca = apiserver::auth::generateCa("stranger-ca");
  ASSERT_TRUE(stranger_ca.ok());
  auto forged = apiserver::auth::generateClientCert(*stranger_ca,
                                                    std::string(apiserver::kAgentClientUser), {});
  ASSERT_TRUE(forged.ok());
  auto wrong_ca = client(&*forged)->request("GET", "/containerLogs/default/web/app");
  ASSERT_TRUE(wrong_ca.ok());
  EXPECT_EQ(wrong_ca->status, 401);

  // A user of the cluster CA who is not the API server.
  auto admin = apiserver::auth::generateClientCert(ca_, "admin", {"system:masters"});
  ASSERT_TRUE(admin.ok());
  auto forbidden = client(&*admin)->request("GET", "/containerLogs/default/web/app");
  ASSERT_TRUE(forbidden.ok());
  EXPECT_EQ(forbidden->status, 403);
  EXPECT_EQ(message(*forbidden),
            "Forbidden (user=admin, verb=get, resource=nodes, subresource=proxy)");
  EXPECT_EQ(source_.calls(), calls);
}

TEST_F(AgentServerTest, FollowStreamsNewLinesUntilTheContainerStops) {
  source_.setRunning("app", true);
  auto c = client(&apiserver_cert_);
  auto head = c->openStream("GET", "/containerLogs/default/web/app?follow=true&tailLines=1");
  ASSERT_TRUE(head.ok()) << head.error().message;
  ASSERT_EQ(head->status, 200);
  std::vector<std::string> lines;
  auto reader = std::async(std::launch::async, [&] {
    return c->readStream([&](std::string_view line) {
      lines.emplace_back(line);
      // Each line read is answered by the container writing the next.
      if (line == "err") {
        EXPECT_TRUE(log_->write(runtime::LogStream::kStdout, "live\n").ok());
      }
      if (line == "live") {
        EXPECT_TRUE(log_->write(runtime::LogStream::kStdout, "last words\n").ok());
      }
      if (line == "last words") source_.setRunning("app", false);
      return true;
    });
  });
  if (reader.wait_for(kDeadline) != std::future_status::ready) {
    c->cancel();
    reader.wait();
    FAIL() << "the stream did not end when the container stopped";
  }
  EXPECT_TRUE(reader.get().ok());
  EXPECT_EQ(lines, (std::vector<std::string>{"err", "live", "last words"}));
  EXPECT_TRUE(eventually([&] { return server_->activeLogStreams() == 0; }));
}

TEST_F(AgentServerTest, FollowEndsWhenANewAttemptReplacesTheContainer) {
  source_.setRunning("app", true);
  auto c = client(&apiserver_cert_);
  auto head = c->openStream("GET", "/containerLogs/default/web/app?follow=1&tailLines=0");
  ASSERT_TRUE(head.ok());
  ASSERT_EQ(head->status, 200);
  // The container restarted: its current log is another file, running.
  source_.set("app", {dir_ + "/app-0.log", true});
  auto reader = std::async(std::launch::async,
                           [&] { return c->readStream([](std::string_view) { return true; }); });
  if (reader.wait_for(kDeadline) != std::future_status::ready) {
    c->cancel();
    reader.wait();
    FAIL() << "the stream did not end when the attempt was replaced";
  }
  EXPECT_TRUE(reader.get().ok());
}

TEST_F(AgentServerTest, AClientGoingAwayEndsItsReader) {
  source_.setRunning("app", true);
  {
    auto c = client(&apiserver_cert_);
    auto head = c->openStream("GET", "/containerLogs/default/web/app?follow=true");
    ASSERT_TRUE(head.ok());
    ASSERT_EQ(head->status, 200);
    std::string first;
    size_t readers = 0;
    // Returning false hangs up at once.
    ASSERT_TRUE(c->readStream([&](std::string_view line) {
                   first = line;
                   readers = server_->activeLogStreams();
                   return false;
                 }).ok());
    EXPECT_EQ(first, "one");
    EXPECT_EQ(readers, 1u);
  }
  // The container still runs; only the hang-up ends the reader.
  EXPECT_TRUE(eventually([&] { return server_->activeLogStreams() == 0; }));
}

TEST_F(AgentServerTest, StopEndsFollowersAndRefusesMoreThanTheLimit) {
  startServer(1);
  source_.setRunning("app", true);
  auto c = client(&apiserver_cert_);
  auto head = c->openStream("GET", "/containerLogs/default/web/app?follow=true&tailLines=0");
  ASSERT_TRUE(head.ok());
  ASSERT_EQ(head->status, 200);
  ASSERT_TRUE(eventually([&] { return server_->activeLogStreams() == 1; }));
  auto second = get("/containerLogs/default/web/app?follow=true");
  EXPECT_EQ(second.status, 429);
  auto reader = std::async(std::launch::async,
                           [&] { return c->readStream([](std::string_view) { return true; }); });
  server_->stop();
  EXPECT_EQ(server_->activeLogStreams(), 0u);
  ASSERT_EQ(reader.wait_for(kDeadline), std::future_status::ready);
  EXPECT_TRUE(reader.get().ok());
}

TEST_F(AgentServerTest, GivenServingCertificateIsUsedAndNeedsTheCa) {
  auto serving = apiserver::auth::generateServingCert(ca_, "node-1", {{}, {"127.0.0.1"}});
  ASSERT_TRUE(serving.ok());
  AgentServerOptions o;
  o.listen = "127.0.0.1:0";
  o.client_ca_pem = ca_.cert_pem;
  o.cert_pem = serving->cert_pem;
  o.key_pem = serving->key_pem;
  o.source = &source_;
  AgentServer s(o);
  ASSERT_TRUE(s.start().ok());
  EXPECT_EQ(s.servingCaPem(), "");
  client::ClientOptions co;
  co.port = s.port();
  co.ca_pem = ca_.cert_pem;
  co.client_cert_pem = apiserver_cert_.cert_pem;
  co.client_key_pem = apiserver_cert_.key_pem;
  client::HttpsClient c(co);
  auto r = c.request("GET", "/containerLogs/default/web/app?tailLines=1");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->body, "err\n");

  AgentServerOptions no_ca;
  no_ca.listen = "127.0.0.1:0";
  AgentServer refused(no_ca);
  EXPECT_FALSE(refused.start().ok());
}

}  // namespace
}  // namespace berth::agent::server
