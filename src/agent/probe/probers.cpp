#include "agent/probe/probers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>

#include "agent/probe/dial.h"

namespace berth::agent::probe {

namespace {

using Clock = std::chrono::steady_clock;

// A blocking-with-deadline byte stream over a socket, optionally TLS.
class Conn {
 public:
  Conn(int fd, Clock::time_point deadline) : fd_(fd), deadline_(deadline) {}
  ~Conn() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }

  bool startTls(const std::string& host, std::string* error) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_) return (*error = "TLS context failed", false);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);  // InsecureSkipVerify, as upstream
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, host.c_str());
    while (true) {
      int r = SSL_connect(ssl_);
      if (r == 1) return true;
      if (!waitFor(SSL_get_error(ssl_, r))) return (*error = "TLS handshake failed", false);
    }
  }

  bool writeAll(std::string_view data) {
    while (!data.empty()) {
      ssize_t n;
      if (ssl_) {
        int r = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
        if (r <= 0) {
          if (!waitFor(SSL_get_error(ssl_, r))) return false;
          continue;
        }
        n = r;
      } else {
        n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EAGAIN && wait(POLLOUT)) continue;
          if (errno == EINTR) continue;
          return false;
        }
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Appends what arrives; false at EOF, error or deadline.
  bool readSome(std::string* out) {
    char buf[8192];
    while (true) {
      if (ssl_) {
        int r = SSL_read(ssl_, buf, sizeof(buf));
        if (r > 0) return (out->append(buf, static_cast<size_t>(r)), true);
        if (!waitFor(SSL_get_error(ssl_, r))) return false;
        continue;
      }
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) return (out->append(buf, static_cast<size_t>(n)), true);
      if (n == 0) return false;
      if (errno == EINTR) continue;
      if (errno != EAGAIN || !wait(POLLIN)) return false;
    }
  }

  bool timedOut() const { return timed_out_; }

 private:
  bool wait(short events) {
    pollfd p{fd_, events, 0};
    int n = ::poll(&p, 1, remainingMs(deadline_));
    if (n == 0) timed_out_ = true;
    return n > 0;
  }
  bool waitFor(int ssl_error) {
    if (ssl_error == SSL_ERROR_WANT_READ) return wait(POLLIN);
    if (ssl_error == SSL_ERROR_WANT_WRITE) return wait(POLLOUT);
    return false;
  }

  int fd_;
  Clock::time_point deadline_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool timed_out_ = false;
};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct HttpAnswer {
  int status = 0;
  std::string location;
  std::string body;
};

// One GET; *error set on transport failure.
bool getOnce(const HttpProbe& p, Clock::time_point deadline, HttpAnswer* answer,
             std::string* error) {
  Dialed dialed = dialTcp(p.host, p.port, deadline);
  if (dialed.fd < 0) {
    *error = dialed.error;
    return false;
  }
  int fd = dialed.fd;
  Conn conn(fd, deadline);
  if (p.scheme == "HTTPS" && !conn.startTls(p.host, error)) return false;
  std::string host_header = hostPort(p.host, p.port);
  bool has_ua = false, has_accept = false;
  std::string extra;
  for (const auto& [k, v] : p.headers) {
    std::string lk = lower(k);
    if (lk == "host") {
      host_header = v;
      continue;
    }
    has_ua |= lk == "user-agent";
    has_accept |= lk == "accept";
    extra += k + ": " + v + "\r\n";
  }
  std::string req = "GET " + (p.path.empty() ? std::string("/") : p.path) +
                    " HTTP/1.1\r\nHost: " + host_header + "\r\n" + extra;
  if (!has_ua) {
    req += "User-Agent: ";
    req += kProbeUserAgent;
    req += "\r\n";
  }
  if (!has_accept) req += "Accept: */*\r\n";
  req += "Connection: close\r\n\r\n";
  if (!conn.writeAll(req)) {
    *error = "Get \"" + p.path + "\": write failed";
    return false;
  }
  std::string in;
  size_t header_end = std::string::npos;
  while ((header_end = in.find("\r\n\r\n")) == std::string::npos) {
    if (!conn.readSome(&in) || in.size() > 64 * 1024) {
      *error = conn.timedOut()
                   ? "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
                   : "malformed HTTP response";
      return false;
    }
  }
  std::string head = in.substr(0, header_end);
  if (head.compare(0, 5, "HTTP/") != 0 || head.size() < 12) {
    *error = "malformed HTTP response";
    return false;
  }
  answer->status = std::atoi(head.c_str() + head.find(' ') + 1);
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos < head.size()) {
    size_t next = head.find("\r\n", pos + 2);
    std::string line =
        head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    size_t colon = line.find(':');
    if (colon != std::string::npos && lower(line.substr(0, colon)) == "location") {
      std::string v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      answer->location = v;
    }
    pos = next;
  }
  answer->body = in.substr(header_end + 4);
  constexpr size_t kMaxBody = 10 * 1024;
  while (answer->body.size() < kMaxBody && conn.readSome(&answer->body)) {
  }
  if (answer->body.size() > kMaxBody) answer->body.resize(kMaxBody);
  return true;
}

}  // namespace

ProbeOutcome probeTcp(const std::string& host, int port, std::chrono::milliseconds timeout) {
  Dialed dialed = dialTcp(host, port, Clock::now() + timeout);
  if (dialed.fd < 0) return {ProbeResult::kFailure, dialed.error};
  ::close(dialed.fd);
  return {ProbeResult::kSuccess, ""};
}

ProbeOutcome probeHttp(const HttpProbe& probe, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  HttpProbe p = probe;
  for (int redirects = 0;; ++redirects) {
    HttpAnswer answer;
    std::string error;
    if (!getOnce(p, deadline, &answer, &error)) return {ProbeResult::kFailure, error};
    if (answer.status >= 300 && answer.status < 400 && !answer.location.empty()) {
      // Same host (a path, or a URL naming the same host:port): follow.
      std::string loc = answer.location;
      std::string same = (p.scheme == "HTTPS" ? "https://" : "http://") + hostPort(p.host, p.port);
      if (loc.front() == '/') {
        p.path = loc;
      } else if (loc.compare(0, same.size(), same) == 0) {
        p.path = loc.size() > same.size() ? loc.substr(same.size()) : "/";
      } else {
        return {ProbeResult::kWarning, "Probe terminated redirects, Response body: " + answer.body};
      }
      if (redirects >= 10) return {ProbeResult::kFailure, "stopped after 10 redirects"};
      continue;
    }
    if (answer.status >= 200 && answer.status < 400) return {ProbeResult::kSuccess, ""};
    return {ProbeResult::kFailure,
            "HTTP probe failed with statuscode: " + std::to_string(answer.status)};
  }
}

}  // namespace berth::agent::probe
