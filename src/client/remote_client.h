#pragma once

// The Client over the Kubernetes REST API on HTTPS, for components outside
// the server process: `berth agent --server URL --token T`, hollow nodes in
// benchmarks, tools. JSON bodies both ways; error answers (meta/v1 Status)
// become berth Errors with the code, message, details and causes the server
// sent. Requests share a small pool of keep-alive connections; each watch
// streams on its own connection and thread.
//
// Watches follow client-go's reflector + RetryWatcher: ?watch=1 with
// allowWatchBookmarks=true from a resourceVersion; when the server ends the
// stream (its watch timeout) or the connection drops, the watch resumes from
// the last revision it delivered (events or bookmarks), so a watch outlives
// connections. It ends with a kError event on an ERROR event from the server
// (410 Expired after compaction), an error answer to a resume, or when
// reconnecting keeps failing.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "client/client.h"
#include "client/https_client.h"

namespace berth::client {

struct RemoteClientOptions {
  // https://host:port (an IPv6 literal in brackets). http:// is accepted for
  // tests against a plain-HTTP transport.
  std::string server;
  // CA bundle (PEM) the server certificate must chain to; empty: system CAs.
  std::string ca_pem;
  std::string bearer_token;
  // Optional client certificate (x509 authentication).
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string user_agent = "berth-client";
  // Keep-alive connections for requests (calls beyond this wait for one).
  int connections = 4;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
  // Consecutive failed reconnects after which a watch ends with kError.
  int watch_retries = 3;
  // Pause before the first reconnect; doubles per failure (capped at 5 s).
  std::chrono::milliseconds watch_retry_delay{std::chrono::milliseconds(200)};
  // Watches ask the server to end the stream after this long (it is then
  // resumed); 0 leaves it to the server's default.
  std::chrono::seconds watch_timeout{0};
};

class RemoteClient : public Client {
 public:
  // Fails (kBadRequest) on a malformed server URL; no connection is made yet.
  static Result<std::unique_ptr<RemoteClient>> create(RemoteClientOptions options);
  static Result<std::unique_ptr<RemoteClient>> create(const std::string& server_url,
                                                      const std::string& ca_pem,
                                                      const std::string& bearer_token);
  // From a kubeconfig file: the current context's cluster (server,
  // certificate-authority[-data]) and user (token, tokenFile,
  // client-certificate[-data], client-key[-data]); relative file paths are
  // relative to the kubeconfig's directory.
  static Result<std::unique_ptr<RemoteClient>> fromKubeconfig(const std::string& path);
  static Result<RemoteClientOptions> parseKubeconfig(std::string_view text,
                                                     const std::string& base_dir = ".");

  // Stops every watch still running.
  ~RemoteClient() override;
  RemoteClient(const RemoteClient&) = delete;
  RemoteClient& operator=(const RemoteClient&) = delete;

  Result<ObjectPtr> get(const api::KindInfo& kind, const std::string& ns,
                        const std::string& name) override;
  Result<ObjectList> list(const api::KindInfo& kind, const std::string& ns,
                          const ListOptions& opts) override;
  // resourceVersion "" or "0": from now, which is the revision a one-item
  // list reports. Request errors (bad selector, 401, 403) come back from
  // watch(); a compacted start revision comes as a kError event, as the
  // in-process client does.
  Result<std::unique_ptr<Watch>> watch(const api::KindInfo& kind, const std::string& ns,
                                       const ListOptions& opts, WatchHandler handler) override;
  Result<ObjectPtr> create(const api::KindInfo& kind, Object obj) override;
  Result<ObjectPtr> update(const api::KindInfo& kind, Object obj,
                           Subresource sub = Subresource::kNone) override;
  Result<ObjectPtr> patch(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                          PatchType type, const std::string& patch,
                          Subresource sub = Subresource::kNone) override;
  Result<ObjectPtr> remove(const api::KindInfo& kind, const std::string& ns,
                           const std::string& name, const DeleteOptions& opts = {}) override;
  // An empty metadata.name / namespace in the body is filled from the call.
  Result<ObjectPtr> createSubresource(const api::KindInfo& kind, const std::string& ns,
                                      const std::string& name, const std::string& subresource,
                                      Object body) override;

  const RemoteClientOptions& options() const { return options_; }

  struct Impl;

 private:
  RemoteClient(RemoteClientOptions options, ClientOptions connection);

  RemoteClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

// The berth Error an HTTP error answer stands for: the Status body's reason
// (else the HTTP status) gives the code; message, details (name, group,
// kind, causes, retryAfterSeconds) are carried over. A body that is not a
// Status gives a message naming the status and the start of the body.
Error errorFromResponse(int http_status, std::string_view body, std::string_view retry_after = {});
// The same for a Status object (e.g. the object of a watch ERROR event).
Error errorFromStatus(const Object& status, int http_status = 0);

// The REST path of a resource: /api/v1/namespaces/ns/pods/name/status.
// Empty `name` is the collection; empty `ns` is all namespaces (or a
// cluster-scoped kind).
std::string resourcePath(const api::KindInfo& kind, const std::string& ns,
                         const std::string& name = "", const std::string& subresource = "");

}  // namespace berth::client
