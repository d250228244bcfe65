#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::apiserver {

// Who made a request, as established by the transport's authenticator.
struct UserInfo {
  std::string name;  // "" = anonymous
  std::vector<std::string> groups;
  bool authenticated() const { return !name.empty(); }
};

// One HTTP request, fully read (the transport enforces the body limit).
struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request target, "/api/v1/pods?limit=500"
  std::string path;    // percent-decoded path without the query
  // Decoded query parameters in order; a key may repeat.
  std::vector<std::pair<std::string, std::string>> query;
  // Header names are lowercased.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  UserInfo user;
  std::string remote_address;

  // First value of a header or query parameter, "" when absent.
  std::string_view header(std::string_view lowercase_name) const;
  bool hasQuery(std::string_view key) const;
  std::string_view queryParam(std::string_view key) const;
  std::vector<std::string_view> queryParams(std::string_view key) const;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Type etc.
  std::string body;
};

// A streamed (chunked) response body, for watches and log follow. Thread-safe.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  // Queues one chunk and returns at once. Returns false once the
  // connection is gone (the producer should stop).
  virtual bool write(std::shared_ptr<const std::string> chunk) = 0;
  bool write(std::string chunk) { return write(std::make_shared<const std::string>(std::move(chunk))); }
  // Bytes queued but not yet sent (for back-pressure decisions).
  virtual size_t pendingBytes() const = 0;
  // Ends the response (terminating chunk); the connection may be reused.
  virtual void finish() = 0;
  // Called once when the peer disconnects or the server stops, on a
  // transport thread. Set before writing; replaces any earlier callback.
  virtual void onClosed(std::function<void()> callback) = 0;
};

// How a handler answers: exactly one of respond() or startStream().
class Responder {
 public:
  virtual ~Responder() = default;
  virtual void respond(Response response) = 0;
  // Sends the status line and headers (Transfer-Encoding: chunked) and
  // returns the writer for the body.
  virtual std::shared_ptr<StreamWriter> startStream(
      int status, std::vector<std::pair<std::string, std::string>> headers) = 0;
};

// The server-side application. handle() runs on a worker thread of the
// transport's handler pool and may block briefly (storage writes wait for
// their group commit); long-lived work (watches) must be asynchronous
// through the StreamWriter.
class Handler {
 public:
  virtual ~Handler() = default;
  virtual void handle(Request request, std::shared_ptr<Responder> responder) = 0;
};

}  // namespace berth::apiserver
