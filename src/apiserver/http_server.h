#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "apiserver/auth/authenticator.h"
#include "apiserver/http.h"
#include "common/result.h"

namespace berth::apiserver {

struct HttpServerOptions {
  // "127.0.0.1:0", "[::1]:6443", "0.0.0.0:6443", ":6443" (all IPv4).
  std::string listen = "127.0.0.1:0";

  // TLS. With tls = false the server speaks plain HTTP (tests, local tools).
  bool tls = true;
  // Serving certificate chain and key: PEM text, or else the files.
  std::string cert_pem;
  std::string key_pem;
  std::string cert_file;
  std::string key_file;
  // CA (PEM) whose client certificates are accepted (kube-apiserver
  // --client-ca-file). Empty: no client certificates are requested.
  std::string client_ca_pem;

  int io_threads = 2;
  // handle() may block (storage group commit), so it runs on its own pool.
  int handler_threads = 16;

  // kube-apiserver's MaxRequestBodyBytes default (3 MiB); larger bodies get
  // 413 RequestEntityTooLarge.
  size_t max_body_bytes = 3 * 1024 * 1024;
  size_t max_header_bytes = 1024 * 1024;

  // Waiting for the next request on a keep-alive connection.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(90)};
  // Receiving one request (headers + body) once it started, and the TLS
  // handshake.
  std::chrono::milliseconds read_timeout{std::chrono::seconds(60)};
  // Writing one plain response.
  std::chrono::milliseconds write_timeout{std::chrono::seconds(60)};
  // A stream whose client does not read is cut off once this much is queued.
  size_t max_stream_pending_bytes = 64 * 1024 * 1024;
  // stop(): how long in-flight responses may take before connections are cut.
  std::chrono::milliseconds shutdown_grace{std::chrono::seconds(10)};

  // Runs per request; its UserInfo lands in Request::user. Null: every
  // request is anonymous (plain HTTP dev mode).
  std::shared_ptr<const auth::Authenticator> authenticator;
  // Paths anonymous requests may use (upstream grants them to
  // system:unauthenticated through the system:public-info-viewer role).
  // An entry matches the path itself and its subpaths ("/readyz/ping").
  // Every other anonymous request gets 401 Unauthorized. A presented but
  // invalid credential is 401 on every path, as upstream.
  std::vector<std::string> anonymous_paths = {"/healthz", "/livez", "/readyz", "/version"};
};

// The HTTP/1.1 (+TLS) transport: accepts connections, parses requests,
// authenticates them, hands them to the Handler on a worker pool and writes
// the responses and chunked streams back. Boost.Beast over Asio.
class HttpServer {
 public:
  HttpServer(HttpServerOptions options, std::shared_ptr<Handler> handler);
  ~HttpServer();  // stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the threads; returns the bound port.
  Result<int> start();
  // Graceful: stops accepting, lets in-flight responses finish (up to
  // shutdown_grace), closes streams (their onClosed callbacks fire), joins
  // all threads. Idempotent.
  void stop();

  int port() const;
  // Connections currently open (for tests and metrics).
  size_t connectionCount() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// Kubernetes Status JSON body for a failure, e.g. 401 Unauthorized.
std::string statusFailureJson(int code, std::string_view reason, std::string_view message);

// Splits "host:port" / "[v6]:port" / ":port" into an address and a port.
Result<std::pair<std::string, int>> parseListenAddress(const std::string& listen);

}  // namespace berth::apiserver
