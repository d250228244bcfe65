// HttpServer through raw sockets and curl. The HttpsClient-driven tests
// (auth, streaming, stop, kubectl) live in src/client/https_client_test.cpp.
#include "apiserver/http_server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <boost/asio.hpp>

#include "apiserver/auth/certs.h"

namespace berth::apiserver {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class EchoHandler : public Handler {
 public:
  void handle(Request req, std::shared_ptr<Responder> responder) override {
    std::string body = req.method + " " + req.path;
    for (const auto& [k, v] : req.query) body += " q:" + k + "=" + v;
    for (const auto& [k, v] : req.headers)
      if (k.rfind("x-", 0) == 0) body += " h:" + k + "=" + v;
    body += " body:" + req.body;
    body += " anon:" + std::string(req.user.authenticated() ? "no" : "yes");
    responder->respond(Response{200, {{"Content-Type", "text/plain"}}, body});
  }
};

// Sends raw bytes, reads until the server closes the connection.
std::string exchange(const std::string& host, int port, const std::string& bytes) {
  asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(asio::ip::make_address(host), static_cast<unsigned short>(port)));
  asio::write(socket, asio::buffer(bytes));
  std::string out;
  boost::system::error_code ec;
  char buf[4096];
  for (;;) {
    size_t n = socket.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  return out;
}

TEST(HttpServerHelpers, ParseListenAddress) {
  auto v4 = parseListenAddress("127.0.0.1:0");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->first, "127.0.0.1");
  EXPECT_EQ(v4->second, 0);
  auto v6 = parseListenAddress("[::1]:6443");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->first, "::1");
  EXPECT_EQ(v6->second, 6443);
  auto any = parseListenAddress(":6443");
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->first, "0.0.0.0");
  EXPECT_FALSE(parseListenAddress("::1:80").ok());
  EXPECT_FALSE(parseListenAddress("127.0.0.1").ok());
  EXPECT_FALSE(parseListenAddress("127.0.0.1:99999").ok());
  EXPECT_FALSE(parseListenAddress("example.com:80").ok());
  EXPECT_FALSE(parseListenAddress("[::1]80").ok());
}

TEST(HttpServerHelpers, StatusJson) {
  EXPECT_EQ(statusFailureJson(401, "Unauthorized", "Unauthorized"),
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized",)"
            R"("reason":"Unauthorized","code":401})");
  EXPECT_NE(statusFailureJson(400, "BadRequest", "a \"quoted\" word").find(R"(a \"quoted\" word)"),
            std::string::npos);
}

TEST(HttpServer, PlainHttpPipelinedRequestsAnsweredInOrder) {
  HttpServerOptions o;
  o.tls = false;
  HttpServer server(o, std::make_shared<EchoHandler>());
  auto port = server.start();
  ASSERT_TRUE(port.ok()) << port.error().message;
  std::string out = exchange("127.0.0.1", *port,
                             "GET /a%2Fb/c?x=1&y=%20z HTTP/1.1\r\nHost: h\r\nX-One: 1\r\n\r\n"
                             "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                             "POST /q HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                             "2\r\nde\r\n1\r\nf\r\n0\r\n\r\n");
  size_t a = out.find("GET /a/b/c q:x=1 q:y= z h:x-one=1 body: anon:yes");
  size_t b = out.find("POST /p body:abc");
  size_t c = out.find("POST /q body:def");
  ASSERT_NE(a, std::string::npos) << out;
  ASSERT_NE(b, std::string::npos) << out;
  ASSERT_NE(c, std::string::npos) << out;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_NE(out.find("Connection: close"), std::string::npos) << out;
  server.stop();
}

TEST(HttpServer, MalformedRequestGets400AndBodyLimit413) {
  HttpServerOptions o;
  o.tls = false;
  o.max_body_bytes = 16;
  HttpServer server(o, std::make_shared<EchoHandler>());
  auto port = server.start();
  ASSERT_TRUE(port.ok());
  std::string bad = exchange("127.0.0.1", *port, "GARBAGE\r\n\r\n");
  EXPECT_EQ(bad.rfind("HTTP/1.1 400", 0), 0u) << bad;
  std::string big = exchange("127.0.0.1", *port,
                             "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 17\r\n\r\n01234567890123456");
  EXPECT_EQ(big.rfind("HTTP/1.1 413", 0), 0u) << big;
  EXPECT_NE(big.find(R"("reason":"RequestEntityTooLarge")"), std::string::npos) << big;
  EXPECT_NE(big.find("limit is 16"), std::string::npos) << big;
  std::string chunked = exchange("127.0.0.1", *port,
                                 "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 "10\r\n0123456789abcdef\r\n1\r\nx\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.rfind("HTTP/1.1 413", 0), 0u) << chunked;
}

TEST(HttpServer, HeadSendsNoBody) {
  HttpServerOptions o;
  o.tls = false;
  HttpServer server(o, std::make_shared<EchoHandler>());
  auto port = server.start();
  ASSERT_TRUE(port.ok());
  std::string out = exchange("127.0.0.1", *port, "HEAD /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out;
  EXPECT_EQ(out.find("HEAD /x"), std::string::npos) << out;
  EXPECT_NE(out.find("Content-Length: "), std::string::npos) << out;
}

TEST(HttpServer, TlsOnIpv6LoopbackWithCurl) {
  if (access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "no curl";
  auto ca = auth::generateCa();
  ASSERT_TRUE(ca.ok());
  auto cert = auth::generateServingCert(*ca, "kube-apiserver", auth::defaultServingSans({}));
  ASSERT_TRUE(cert.ok());
  HttpServerOptions o;
  o.listen = "[::1]:0";
  o.cert_pem = cert->cert_pem;
  o.key_pem = cert->key_pem;
  HttpServer server(o, std::make_shared<EchoHandler>());
  auto port = server.start();
  if (!port.ok()) GTEST_SKIP() << "no IPv6 loopback: " << port.error().message;
  char dir_tmpl[] = "/tmp/berth-http-XXXXXX";
  std::string dir = mkdtemp(dir_tmpl);
  std::ofstream(dir + "/ca.crt") << ca->cert_pem;
  std::string cmd = "curl -sS -g --cacert " + dir + "/ca.crt 'https://[::1]:" + std::to_string(*port) +
                    "/v?a=b' -H 'X-Y: z' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_TRUE(p);
  std::string out;
  char buf[1024];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  std::filesystem::remove_all(dir);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "GET /v q:a=b h:x-y=z body: anon:yes");
  server.stop();
}

}  // namespace
}  // namespace berth::apiserver
