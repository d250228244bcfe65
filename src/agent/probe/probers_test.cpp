#include "agent/probe/probers.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace berth::agent::probe {
namespace {

using std::chrono::milliseconds;

// A loopback HTTP server answering by path; records the last request.
class TinyServer {
 public:
  TinyServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    EXPECT_EQ(::listen(fd_, 16), 0);
    thread_ = std::thread([this] { loop(); });
  }
  ~TinyServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  std::string lastRequest() {
    std::lock_guard lock(mu_);
    return last_;
  }

 private:
  void loop() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(c, buf, sizeof(buf), 0);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      {
        std::lock_guard lock(mu_);
        last_ = req;
      }
      // A bare connection (the tcpSocket probe) sends no request.
      if (req.size() < 5 || req.compare(0, 4, "GET ") != 0) {
        ::close(c);
        continue;
      }
      std::string path = req.substr(4, req.find(' ', 4) - 4);
      std::string resp;
      if (path == "/ok")
        resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
      else if (path == "/fail")
        resp = "HTTP/1.1 500 Internal Server Error\r\n\r\nbroken";
      else if (path == "/redirect")
        resp = "HTTP/1.1 302 Found\r\nLocation: /ok\r\n\r\n";
      else if (path == "/loop")
        resp = "HTTP/1.1 302 Found\r\nLocation: /loop\r\n\r\n";
      // A different host: never followed, so nothing is sent there.
      else if (path == "/away")
        resp = "HTTP/1.1 301 Moved\r\nLocation: http://192.0.2.1/x\r\n\r\n";
      else if (path == "/slow") {
        std::this_thread::sleep_for(milliseconds(400));
        resp = "HTTP/1.1 200 OK\r\n\r\n";
      } else
        resp = "HTTP/1.1 404 Not Found\r\n\r\n";
      ::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::string last_;
};

int closedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

TEST(ProbersTest, TcpOpenAndRefused) {
  TinyServer server;
  EXPECT_EQ(probeTcp("127.0.0.1", server.port(), milliseconds(1000)).result, ProbeResult::kSuccess);
  auto refused = probeTcp("127.0.0.1", closedPort(), milliseconds(1000));
  EXPECT_EQ(refused.result, ProbeResult::kFailure);
  EXPECT_NE(refused.output.find("connection refused"), std::string::npos) << refused.output;
  // Names are never resolved.
  EXPECT_EQ(probeTcp("localhost", server.port(), milliseconds(1000)).result, ProbeResult::kFailure);
}

TEST(ProbersTest, HttpStatusesRedirectsAndHeaders) {
  TinyServer server;
  HttpProbe p;
  p.host = "127.0.0.1";
  p.port = server.port();
  p.path = "/ok";
  p.headers = {{"X-Custom", "yes"}};
  EXPECT_EQ(probeHttp(p, milliseconds(1000)).result, ProbeResult::kSuccess);
  std::string req = server.lastRequest();
  EXPECT_NE(req.find("GET /ok HTTP/1.1\r\n"), std::string::npos) << req;
  EXPECT_NE(req.find("User-Agent: kube-probe/1.32\r\n"), std::string::npos) << req;
  EXPECT_NE(req.find("Accept: */*\r\n"), std::string::npos) << req;
  EXPECT_NE(req.find("X-Custom: yes\r\n"), std::string::npos) << req;

  p.path = "/fail";
  auto fail = probeHttp(p, milliseconds(1000));
  EXPECT_EQ(fail.result, ProbeResult::kFailure);
  EXPECT_EQ(fail.output, "HTTP probe failed with statuscode: 500");
  p.path = "/missing";
  EXPECT_EQ(probeHttp(p, milliseconds(1000)).result, ProbeResult::kFailure);
  p.path = "/redirect";
  EXPECT_EQ(probeHttp(p, milliseconds(1000)).result, ProbeResult::kSuccess);
  EXPECT_NE(server.lastRequest().find("GET /ok "), std::string::npos);
  p.path = "/away";
  EXPECT_EQ(probeHttp(p, milliseconds(1000)).result, ProbeResult::kWarning);
  p.path = "/loop";
  EXPECT_EQ(probeHttp(p, milliseconds(2000)).result, ProbeResult::kFailure);
}

TEST(ProbersTest, HttpTimeoutAndRefused) {
  TinyServer server;
  HttpProbe p;
  p.host = "127.0.0.1";
  p.port = server.port();
  p.path = "/slow";
  auto slow = probeHttp(p, milliseconds(100));
  EXPECT_EQ(slow.result, ProbeResult::kFailure);
  EXPECT_NE(slow.output.find("deadline exceeded"), std::string::npos) << "[" << slow.output << "]";
  p.port = closedPort();
  EXPECT_EQ(probeHttp(p, milliseconds(1000)).result, ProbeResult::kFailure);
}

}  // namespace
}  // namespace berth::agent::probe
