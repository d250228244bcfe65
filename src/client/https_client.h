#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace berth::client {

struct ClientOptions {
  std::string host = "127.0.0.1";  // name or IP literal; also the TLS name checked
  int port = 0;
  bool tls = true;
  // CA bundle (PEM) the server certificate must chain to. Empty with tls:
  // the system default verify paths.
  std::string ca_pem;
  // Sent as "Authorization: Bearer <token>" when not empty.
  std::string bearer_token;
  // Optional client certificate (x509 authentication).
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string user_agent = "berth-client";
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  // One whole request() exchange.
  std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
  // stream() and readStream(): the longest silence between two pieces of
  // the body (0: none).
  std::chrono::milliseconds stream_idle_timeout{0};
};

struct ClientResponse {
  int status = 0;
  // Header names lowercased.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string_view header(std::string_view lowercase_name) const;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// A small blocking HTTP/1.1 client over TLS (or plain TCP) with keep-alive
// connection reuse, for agents, benchmarks and tests. Thread-compatible: use
// one client per thread; only cancel() may come from another thread.
class HttpsClient {
 public:
  explicit HttpsClient(ClientOptions options);
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // Sends one request and reads the whole response. A request on a reused
  // connection that the server had closed meanwhile is retried once on a
  // new connection. Transport failures are kUnavailable / kTimeout errors;
  // HTTP error statuses are returned as responses.
  Result<ClientResponse> request(std::string_view method, std::string_view target,
                                 std::string_view body = {}, const Headers& headers = {});

  // Streams a response body (watch, log follow): for a 2xx answer each line
  // (without its '\n') is handed to `on_line` as it arrives, until it
  // returns false, the stream ends or fails. The returned response has the
  // status and headers (and the whole body for a non-2xx answer).
  Result<ClientResponse> stream(std::string_view method, std::string_view target,
                                const std::function<bool(std::string_view line)>& on_line,
                                std::string_view body = {}, const Headers& headers = {});

  // stream() in two steps, for callers that must see the answer before
  // reading on (a watch returns a refused request from watch() itself).
  // openStream() sends the request and reads the status and headers, and
  // the whole body of a non-2xx answer; after a 2xx answer readStream()
  // hands the body's lines to `on_line` as stream() does. Ends ok when the
  // body ends or `on_line` returns false.
  Result<ClientResponse> openStream(std::string_view method, std::string_view target,
                                    std::string_view body = {}, const Headers& headers = {});
  Status readStream(const std::function<bool(std::string_view line)>& on_line);

  // Any thread: aborts the call in progress (name lookup, connect,
  // handshake, a read from a silent server) and makes every later call fail
  // at once, with kUnavailable. For stopping a watch from its owner.
  void cancel();

  // Whether the TLS settings (CA bundle, client certificate) loaded; every
  // request fails with this error otherwise.
  Status tlsStatus() const;
  // Connections opened so far (to observe keep-alive reuse).
  int connectionsOpened() const;
  // Drops the current connection.
  void close();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::client
