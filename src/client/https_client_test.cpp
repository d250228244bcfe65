// HttpsClient against the real HttpServer over TLS on 127.0.0.1:0, plus
// curl and kubectl as independent clients of the same server.
#include "client/https_client.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include "apiserver/auth/authenticator.h"
#include "apiserver/auth/certs.h"
#include "apiserver/http_server.h"
#include "apiserver/kubeconfig.h"

namespace berth::client {
namespace {

using apiserver::HttpServer;
using apiserver::HttpServerOptions;
using apiserver::Request;
using apiserver::Responder;
using apiserver::Response;
using apiserver::StreamWriter;

constexpr const char* kToken = "secret-token-0123456789";

// Answers a few fixed paths; streams are driven by the test through the
// writer it publishes.
class TestHandler : public apiserver::Handler {
 public:
  void handle(Request req, std::shared_ptr<Responder> responder) override {
    if (req.path == "/version") {
      responder->respond(Response{
          200,
          {{"Content-Type", "application/json"}},
          R"({"major":"1","minor":"32","gitVersion":"v1.32.0","platform":"linux/amd64"})"});
    } else if (req.path == "/healthz" || req.path.rfind("/readyz", 0) == 0) {
      responder->respond(Response{200, {{"Content-Type", "text/plain"}}, "ok"});
    } else if (req.path == "/echo" || req.path.rfind("/echo/", 0) == 0) {
      boost::json::object o;
      o["method"] = req.method;
      o["path"] = req.path;
      o["target"] = req.target;
      boost::json::array q;
      for (const auto& [k, v] : req.query)
        q.push_back(boost::json::array{boost::json::string(k), boost::json::string(v)});
      o["query"] = q;
      o["user"] = req.user.name;
      boost::json::array groups;
      for (const auto& g : req.user.groups) groups.emplace_back(g);
      o["groups"] = groups;
      o["body_size"] = req.body.size();
      o["remote"] = req.remote_address;
      o["x_test"] = std::string(req.header("x-test"));
      responder->respond(
          Response{200, {{"Content-Type", "application/json"}}, boost::json::serialize(o)});
    } else if (req.path == "/stream") {
      auto writer = responder->startStream(200, {{"Content-Type", "application/json"}});
      writer->onClosed([this] { closed_.set_value(); });
      {
        std::lock_guard lock(mu_);
        writer_ = writer;
      }
      writer->write(std::string("{\"n\":0}\n"));
    } else if (req.path == "/slow") {
      entered_slow_.set_value();
      release_slow_.get_future().wait();
      responder->respond(Response{200, {{"Content-Type", "text/plain"}}, "slow"});
    } else if (req.path == "/throw") {
      throw std::runtime_error("boom");
    } else if (req.path == "/drop") {
      // Never answers: the transport must answer 500 for it.
    } else {
      responder->respond(Response{404, {}, "not found"});
    }
  }

  std::shared_ptr<StreamWriter> writer() {
    std::lock_guard lock(mu_);
    return writer_;
  }

  std::promise<void> closed_;
  std::promise<void> entered_slow_;
  std::promise<void> release_slow_;

 private:
  std::mutex mu_;
  std::shared_ptr<StreamWriter> writer_;
};

class HttpsClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = apiserver::auth::generateCa();
    ASSERT_TRUE(ca.ok()) << ca.error().message;
    ca_ = *ca;
    auto serving = apiserver::auth::generateServingCert(ca_, "kube-apiserver",
                                                        apiserver::auth::defaultServingSans({}));
    ASSERT_TRUE(serving.ok()) << serving.error().message;
    serving_ = *serving;
    startServer(true);
  }

  void TearDown() override {
    if (server_) server_->stop();
  }

  void startServer(bool tls, size_t io_threads = 2) {
    auto tokens = std::make_shared<apiserver::auth::TokenAuthenticator>();
    tokens->addToken(kToken, apiserver::UserInfo{"alice", {"devs"}});
    auto authn = std::make_shared<apiserver::auth::UnionAuthenticator>(
        std::vector<std::shared_ptr<const apiserver::auth::Authenticator>>{
            std::make_shared<apiserver::auth::ClientCertAuthenticator>(), tokens});
    HttpServerOptions o;
    o.listen = "127.0.0.1:0";
    o.tls = tls;
    o.cert_pem = serving_.cert_pem;
    o.key_pem = serving_.key_pem;
    o.client_ca_pem = ca_.cert_pem;
    o.io_threads = static_cast<int>(io_threads);
    o.authenticator = authn;
    handler_ = std::make_shared<TestHandler>();
    server_ = std::make_unique<HttpServer>(o, handler_);
    auto port = server_->start();
    ASSERT_TRUE(port.ok()) << port.error().message;
    port_ = *port;
    ASSERT_GT(port_, 0);
  }

  ClientOptions clientOptions(bool with_token = true) {
    ClientOptions o;
    o.host = "127.0.0.1";
    o.port = port_;
    o.ca_pem = ca_.cert_pem;
    if (with_token) o.bearer_token = kToken;
    o.request_timeout = std::chrono::seconds(20);
    return o;
  }

  static boost::json::object parse(const std::string& s) {
    return boost::json::parse(s).as_object();
  }

  apiserver::auth::CertKeyPair ca_;
  apiserver::auth::CertKeyPair serving_;
  std::shared_ptr<TestHandler> handler_;
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
};

TEST_F(HttpsClientTest, NoCredentialsIsUnauthorizedWithKubernetesStatus) {
  HttpsClient client(clientOptions(false));
  auto r = client.request("GET", "/echo");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->header("content-type"), "application/json");
  auto body = parse(r->body);
  EXPECT_EQ(body["kind"], "Status");
  EXPECT_EQ(body["apiVersion"], "v1");
  EXPECT_EQ(body["status"], "Failure");
  EXPECT_EQ(body["message"], "Unauthorized");
  EXPECT_EQ(body["reason"], "Unauthorized");
  EXPECT_EQ(body["code"], 401);
  EXPECT_TRUE(body["metadata"].as_object().empty());
}

TEST_F(HttpsClientTest, BearerTokenAuthenticatesAndRequestIsParsed) {
  HttpsClient client(clientOptions());
  auto r = client.request("POST", "/echo/a%20b?labelSelector=app%3Dweb%2Ctier+in+(x)&x=1&x=2&flag",
                          "hello", {{"X-Test", "v"}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->status, 200) << r->body;
  auto body = parse(r->body);
  EXPECT_EQ(body["method"], "POST");
  EXPECT_EQ(body["path"], "/echo/a b");
  EXPECT_EQ(body["target"], "/echo/a%20b?labelSelector=app%3Dweb%2Ctier+in+(x)&x=1&x=2&flag");
  EXPECT_EQ(boost::json::serialize(body["query"]),
            R"j([["labelSelector","app=web,tier in (x)"],["x","1"],["x","2"],["flag",""]])j");
  EXPECT_EQ(body["user"], "alice");
  EXPECT_EQ(boost::json::serialize(body["groups"]), R"(["devs","system:authenticated"])");
  EXPECT_EQ(body["body_size"], 5);
  EXPECT_EQ(body["x_test"], "v");
  EXPECT_EQ(std::string(body["remote"].as_string()).substr(0, 10), "127.0.0.1:");
}

TEST_F(HttpsClientTest, AnonymousPathsAndInvalidTokens) {
  HttpsClient anonymous(clientOptions(false));
  auto healthz = anonymous.request("GET", "/healthz");
  ASSERT_TRUE(healthz.ok());
  EXPECT_EQ(healthz->status, 200);
  EXPECT_EQ(healthz->body, "ok");
  auto ping = anonymous.request("GET", "/readyz/ping");
  ASSERT_TRUE(ping.ok());
  EXPECT_EQ(ping->status, 200);
  auto version = anonymous.request("GET", "/version");
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version->status, 200);
  // A prefix of a public path is not public.
  auto other = anonymous.request("GET", "/healthzfoo");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->status, 401);

  // A wrong token is never treated as anonymous (upstream does the same).
  auto opts = clientOptions(false);
  opts.bearer_token = "wrong";
  HttpsClient bad(opts);
  auto r = bad.request("GET", "/healthz");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401);
}

TEST_F(HttpsClientTest, ClientCertificateAuthenticates) {
  auto cert = apiserver::auth::generateClientCert(ca_, "bob", {"system:masters", "ops"});
  ASSERT_TRUE(cert.ok());
  auto opts = clientOptions(false);
  opts.client_cert_pem = cert->cert_pem;
  opts.client_key_pem = cert->key_pem;
  HttpsClient client(opts);
  auto r = client.request("GET", "/echo");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->status, 200);
  auto body = parse(r->body);
  EXPECT_EQ(body["user"], "bob");
  EXPECT_EQ(boost::json::serialize(body["groups"]),
            R"(["system:masters","ops","system:authenticated"])");

  // A certificate from another CA is rejected with 401, not a TLS failure.
  auto other_ca = apiserver::auth::generateCa("other");
  ASSERT_TRUE(other_ca.ok());
  auto foreign = apiserver::auth::generateClientCert(*other_ca, "mallory", {"system:masters"});
  ASSERT_TRUE(foreign.ok());
  opts.client_cert_pem = foreign->cert_pem;
  opts.client_key_pem = foreign->key_pem;
  HttpsClient intruder(opts);
  auto denied = intruder.request("GET", "/echo");
  ASSERT_TRUE(denied.ok()) << denied.error().message;
  EXPECT_EQ(denied->status, 401);
}

TEST_F(HttpsClientTest, ServerCertificateIsVerified) {
  auto other_ca = apiserver::auth::generateCa("other");
  ASSERT_TRUE(other_ca.ok());
  auto opts = clientOptions();
  opts.ca_pem = other_ca->cert_pem;
  HttpsClient client(opts);
  auto r = client.request("GET", "/version");
  EXPECT_FALSE(r.ok());
}

TEST_F(HttpsClientTest, BodyLimitGives413) {
  HttpsClient client(clientOptions());
  std::string big(4 * 1024 * 1024, 'x');
  auto r = client.request("POST", "/echo", big);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 413);
  auto body = parse(r->body);
  EXPECT_EQ(body["reason"], "RequestEntityTooLarge");
  EXPECT_EQ(body["code"], 413);

  // Just under the limit is accepted (the client reconnects after the 413
  // closed the connection).
  std::string fits(3 * 1024 * 1024 - 10, 'y');
  auto ok = client.request("PUT", "/echo", fits);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(parse(ok->body)["body_size"], fits.size());
}

TEST_F(HttpsClientTest, KeepAliveReusesOneConnection) {
  HttpsClient client(clientOptions());
  for (int i = 0; i < 50; ++i) {
    auto r = client.request("GET", "/version");
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ(r->status, 200);
  }
  EXPECT_EQ(client.connectionsOpened(), 1);
  EXPECT_EQ(server_->connectionCount(), 1u);
}

TEST_F(HttpsClientTest, HandlerFailuresBecome500) {
  HttpsClient client(clientOptions());
  auto thrown = client.request("GET", "/throw");
  ASSERT_TRUE(thrown.ok());
  EXPECT_EQ(thrown->status, 500);
  auto dropped = client.request("GET", "/drop");
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(dropped->status, 500);
  EXPECT_EQ(parse(dropped->body)["reason"], "InternalError");
  auto after = client.request("GET", "/version");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, 200);
}

// Each line is written only after the client received the previous one, so
// the stream can only complete if chunks are flushed one by one.
TEST_F(HttpsClientTest, StreamDeliversChunksBeforeTheEnd) {
  HttpsClient client(clientOptions());
  std::vector<std::string> lines;
  auto r = client.stream("GET", "/stream?watch=true", [&](std::string_view line) {
    lines.emplace_back(line);
    auto w = handler_->writer();
    if (lines.size() < 5) {
      EXPECT_TRUE(w->write("{\"n\":" + std::to_string(lines.size()) + "}\n"));
    } else {
      w->finish();
    }
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("transfer-encoding"), "chunked");
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[4], "{\"n\":4}");
  // The connection is reusable after the terminating chunk.
  auto after = client.request("GET", "/version");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, 200);
  EXPECT_EQ(client.connectionsOpened(), 1);
}

TEST_F(HttpsClientTest, ClientDisconnectFiresOnClosed) {
  auto closed = handler_->closed_.get_future();
  HttpsClient client(clientOptions());
  auto r = client.stream("GET", "/stream", [&](std::string_view) { return false; });
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(closed.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  auto w = handler_->writer();
  ASSERT_TRUE(w);
  EXPECT_FALSE(w->write(std::string("late\n")));
}

// openStream() returns at the header, before any line is read: an error
// answer comes with its whole body; a 2xx body is then read by
// readStream(), and the connection serves the next request.
TEST_F(HttpsClientTest, OpenStreamThenReadStream) {
  HttpsClient client(clientOptions());
  auto missing = client.openStream("GET", "/nowhere");
  ASSERT_TRUE(missing.ok()) << missing.error().message;
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->body, "not found");
  EXPECT_EQ(client.readStream([](std::string_view) { return true; }).error().code,
            ErrorCode::kInternal);  // nothing is open

  auto opened = client.openStream("GET", "/stream");
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened->status, 200);
  std::vector<std::string> lines;
  Status st = client.readStream([&](std::string_view line) {
    lines.emplace_back(line);
    if (lines.size() < 3)
      handler_->writer()->write("{\"n\":" + std::to_string(lines.size()) + "}\n");
    else
      handler_->writer()->finish();
    return true;
  });
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"n\":0}", "{\"n\":1}", "{\"n\":2}"}));
  auto after = client.request("GET", "/version");
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ(after->status, 200);
  EXPECT_EQ(client.connectionsOpened(), 1);
}

// A stream whose server stays silent ends when another thread cancels the
// client; every later call fails at once.
TEST_F(HttpsClientTest, CancelEndsASilentStreamFromAnotherThread) {
  auto closed = handler_->closed_.get_future();
  HttpsClient client(clientOptions());
  std::promise<void> first_line;
  std::thread canceller([&] {
    first_line.get_future().wait();
    client.cancel();
  });
  std::vector<std::string> lines;
  auto r = client.stream("GET", "/stream", [&](std::string_view line) {
    lines.emplace_back(line);
    if (lines.size() == 1) first_line.set_value();
    return true;
  });
  canceller.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(lines.size(), 1u);
  // The server sees the connection go.
  EXPECT_EQ(closed.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  auto later = client.request("GET", "/version");
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(client.connectionsOpened(), 1);
}

TEST_F(HttpsClientTest, GracefulStopClosesOpenStream) {
  auto closed = handler_->closed_.get_future();
  std::promise<void> first_line;
  std::vector<std::string> lines;
  std::thread watcher([&] {
    HttpsClient client(clientOptions());
    bool first = true;
    auto r = client.stream("GET", "/stream", [&](std::string_view line) {
      lines.emplace_back(line);
      if (first) first_line.set_value();
      first = false;
      return true;
    });
    // The server ends the stream with the terminating chunk.
    EXPECT_TRUE(r.ok()) << r.error().message;
  });
  first_line.get_future().wait();
  auto started = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_EQ(closed.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  watcher.join();
  EXPECT_EQ(lines.size(), 1u);
  EXPECT_EQ(server_->connectionCount(), 0u);
}

TEST_F(HttpsClientTest, GracefulStopFinishesInFlightResponse) {
  std::promise<Result<ClientResponse>> answer;
  std::thread requester([&] {
    HttpsClient client(clientOptions());
    answer.set_value(client.request("GET", "/slow"));
  });
  handler_->entered_slow_.get_future().wait();
  std::thread stopper([&] { server_->stop(); });
  // New connections are refused once stopping began; the handler's answer
  // still goes out, with Connection: close.
  handler_->release_slow_.set_value();
  auto r = answer.get_future().get();
  requester.join();
  stopper.join();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "slow");
  EXPECT_EQ(server_->connectionCount(), 0u);
}

TEST_F(HttpsClientTest, PlainHttpModeAndPipelining) {
  server_->stop();
  startServer(false);
  auto opts = clientOptions();
  opts.tls = false;
  HttpsClient client(opts);
  auto r = client.request("GET", "/echo?x=1");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(parse(r->body)["user"], "alice");

  // Two requests in one write are answered in order on one connection.
  std::string cmd =
      "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port_) +
      "; printf 'GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n\\r\\nGET /readyz HTTP/1.1\\r\\nHost: "
      "x\\r\\nConnection: close\\r\\n\\r\\n' >&3; cat <&3";
  FILE* p = popen(("bash -c \"" + cmd + "\"").c_str(), "r");
  ASSERT_TRUE(p);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  size_t first = out.find("HTTP/1.1 200 OK");
  ASSERT_NE(first, std::string::npos) << out;
  EXPECT_NE(out.find("HTTP/1.1 200 OK", first + 1), std::string::npos) << out;
}

std::string runCommand(const std::string& cmd, int* status) {
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  if (status) *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-http-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST_F(HttpsClientTest, CurlVerifiesTlsAndSendsChunkedBodies) {
  if (access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "no curl";
  TempDir dir;
  std::string ca = dir.path() + "/ca.crt";
  std::ofstream(ca) << ca_.cert_pem;
  std::string base = "https://127.0.0.1:" + std::to_string(port_);
  int rc = 0;
  auto out = runCommand("curl -sS --cacert " + ca + " -H 'Authorization: Bearer " + kToken + "' " +
                            base + "/echo?a=b 2>&1",
                        &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\"user\":\"alice\""), std::string::npos) << out;

  // Unauthorized without the token; TLS verification still succeeds.
  out = runCommand(
      "curl -sS -o /dev/null -w '%{http_code}' --cacert " + ca + " " + base + "/echo 2>&1", &rc);
  EXPECT_EQ(out, "401");

  // Chunked request body.
  out = runCommand("printf 'abcdefgh' | curl -sS --cacert " + ca + " -H 'Authorization: Bearer " +
                       kToken + "' -H 'Transfer-Encoding: chunked' --data-binary @- " + base +
                       "/echo 2>&1",
                   &rc);
  EXPECT_NE(out.find("\"body_size\":8"), std::string::npos) << out;

  // 413 for a 4 MiB body (curl uses Expect: 100-continue for it).
  std::string big = dir.path() + "/big";
  std::ofstream(big) << std::string(4 * 1024 * 1024, 'z');
  out = runCommand("curl -sS -o /dev/null -w '%{http_code}' --cacert " + ca +
                       " -H 'Authorization: Bearer " + kToken + "' --data-binary @" + big + " " +
                       base + "/echo 2>&1",
                   &rc);
  EXPECT_EQ(out, "413");

  // ALPN: only http/1.1 is offered even when the client wants h2.
  out = runCommand("curl -sS --http2 -o /dev/null -w '%{http_version}' --cacert " + ca + " " +
                       base + "/healthz 2>&1",
                   &rc);
  EXPECT_EQ(out, "1.1");

  // Without the CA curl refuses the certificate.
  out = runCommand("curl -sS -o /dev/null " + base + "/healthz 2>&1", &rc);
  EXPECT_NE(rc, 0);
}

TEST_F(HttpsClientTest, KubectlUsesTheWrittenKubeconfig) {
  if (access("/usr/bin/kubectl", X_OK) != 0) GTEST_SKIP() << "no kubectl";
  TempDir dir;
  apiserver::KubeconfigOptions k;
  k.host = "0.0.0.0";
  k.port = port_;
  k.ca_pem = ca_.cert_pem;
  k.token = kToken;
  std::string path = dir.path() + "/kubeconfig.yaml";
  ASSERT_TRUE(apiserver::writeKubeconfig(path, k).ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  int rc = 0;
  auto out = runCommand(
      "HOME=" + dir.path() + " kubectl --kubeconfig " + path + " get --raw /version 2>&1", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\"gitVersion\":\"v1.32.0\""), std::string::npos) << out;
  out = runCommand("HOME=" + dir.path() + " kubectl --kubeconfig " + path + " get --raw /echo 2>&1",
                   &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\"user\":\"alice\""), std::string::npos) << out;
}

// Not a benchmark gate: prints the rate so regressions are visible, and
// checks that many clients in parallel all get their answers.
TEST_F(HttpsClientTest, ParallelKeepAliveThroughput) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 1500;
  std::atomic<int> ok{0};
  auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      HttpsClient client(clientOptions());
      for (int i = 0; i < kPerThread; ++i) {
        auto r = client.request("GET", "/version");
        if (r.ok() && r->status == 200) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  std::printf(
      "https keep-alive GET /version: %d requests in %.2fs = %.0f req/s (%d client threads)\n",
      kThreads * kPerThread, seconds, kThreads * kPerThread / seconds, kThreads);
}

}  // namespace
}  // namespace berth::client
