#include "client/remote_client.h"

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "api/object.h"
#include "api/patch.h"
#include "api/protobuf.h"
#include "api/yaml.h"
#include "common/log.h"
#include "common/url.h"

namespace berth::client {

namespace json = boost::json;

// ---- errors ------------------------------------------------------------------

namespace {

std::optional<ErrorCode> codeForReason(std::string_view reason) {
  static const std::pair<std::string_view, ErrorCode> kReasons[] = {
      {"BadRequest", ErrorCode::kBadRequest},
      {"Unauthorized", ErrorCode::kUnauthorized},
      {"Forbidden", ErrorCode::kForbidden},
      {"NotFound", ErrorCode::kNotFound},
      {"MethodNotAllowed", ErrorCode::kMethodNotAllowed},
      {"NotAcceptable", ErrorCode::kNotAcceptable},
      {"AlreadyExists", ErrorCode::kAlreadyExists},
      {"Conflict", ErrorCode::kConflict},
      {"Gone", ErrorCode::kExpired},
      {"Expired", ErrorCode::kExpired},
      {"RequestEntityTooLarge", ErrorCode::kRequestEntityTooLarge},
      {"UnsupportedMediaType", ErrorCode::kUnsupportedMediaType},
      {"Invalid", ErrorCode::kInvalid},
      {"TooManyRequests", ErrorCode::kTooManyRequests},
      {"InternalError", ErrorCode::kInternal},
      {"ServiceUnavailable", ErrorCode::kUnavailable},
      {"Timeout", ErrorCode::kTimeout},
      {"ServerTimeout", ErrorCode::kTimeout},
  };
  for (const auto& [name, code] : kReasons)
    if (name == reason) return code;
  return std::nullopt;
}

// client-go's errors.FromObject / NewGenericServerResponse: by HTTP status
// when the reason says nothing.
ErrorCode codeForHttpStatus(int status) {
  switch (status) {
    case 400:
      return ErrorCode::kBadRequest;
    case 401:
      return ErrorCode::kUnauthorized;
    case 403:
      return ErrorCode::kForbidden;
    case 404:
      return ErrorCode::kNotFound;
    case 405:
      return ErrorCode::kMethodNotAllowed;
    case 406:
      return ErrorCode::kNotAcceptable;
    case 409:
      return ErrorCode::kConflict;
    case 410:
      return ErrorCode::kExpired;
    case 413:
      return ErrorCode::kRequestEntityTooLarge;
    case 415:
      return ErrorCode::kUnsupportedMediaType;
    case 422:
      return ErrorCode::kInvalid;
    case 429:
      return ErrorCode::kTooManyRequests;
    case 503:
      return ErrorCode::kUnavailable;
    case 504:
      return ErrorCode::kTimeout;
    default:
      break;
  }
  return status >= 400 && status < 500 ? ErrorCode::kBadRequest : ErrorCode::kInternal;
}

std::optional<json::value> parseJson(std::string_view text) {
  json::parse_options o;
  o.max_depth = api::kMaxJsonDepth;
  json::error_code ec;
  json::value v = json::parse(text, ec, {}, o);
  if (ec) return std::nullopt;
  return v;
}

}  // namespace

Error errorFromStatus(const Object& status, int http_status) {
  int code = static_cast<int>(api::getInt(status, "code", http_status));
  if (code == 0) code = http_status;
  Error e;
  auto by_reason = codeForReason(api::getString(status, "reason"));
  e.code = by_reason ? *by_reason : codeForHttpStatus(code);
  e.message = api::getString(status, "message");
  if (e.message.empty()) e.message = "the server responded with status " + std::to_string(code);
  if (const Object* details = api::findObject(status, "details")) {
    e.name = api::getString(*details, "name");
    e.group = api::getString(*details, "group");
    e.kind = api::getString(*details, "kind");
    e.retry_after_seconds = static_cast<int>(api::getInt(*details, "retryAfterSeconds", 0));
    if (const auto* causes = api::findArray(*details, "causes")) {
      for (const auto& c : *causes) {
        if (!c.is_object()) continue;
        const Object& o = c.get_object();
        e.causes.push_back({api::getString(o, "reason"), api::getString(o, "message"),
                            api::getString(o, "field")});
      }
    }
  }
  return e;
}

Error errorFromResponse(int http_status, std::string_view body, std::string_view retry_after) {
  Error e;
  auto v = parseJson(body);
  if (v && v->is_object() && api::getString(v->get_object(), "kind") == "Status") {
    e = errorFromStatus(v->get_object(), http_status);
  } else {
    e.code = codeForHttpStatus(http_status);
    std::string text(body.substr(0, 512));
    e.message = "the server responded with status " + std::to_string(http_status) +
                (text.empty() ? "" : ": " + text);
  }
  if (e.retry_after_seconds == 0 && !retry_after.empty()) {
    int seconds = 0;
    for (char c : retry_after) {
      if (c < '0' || c > '9') {
        seconds = 0;
        break;
      }
      seconds = seconds * 10 + (c - '0');
      if (seconds > 86400) break;
    }
    e.retry_after_seconds = seconds;
  }
  return e;
}

// ---- paths -------------------------------------------------------------------

namespace {

void addQuery(std::string& target, std::string_view key, std::string_view value) {
  target += target.find('?') == std::string::npos ? '?' : '&';
  target += key;
  target += '=';
  target += percentEncode(value);
}

const char* subresourceName(Subresource sub) {
  switch (sub) {
    case Subresource::kNone:
      return "";
    case Subresource::kStatus:
      return "status";
    case Subresource::kScale:
      return "scale";
    case Subresource::kFinalize:
      return "finalize";
  }
  return "";
}

const char* patchContentType(PatchType type) {
  switch (type) {
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kStrategic:
      return "application/strategic-merge-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

int64_t parseRevision(std::string_view rv) {
  int64_t v = 0;
  if (rv.empty() || rv.size() > 18) return 0;
  for (char c : rv) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + (c - '0');
  }
  return v;
}

int64_t revisionOf(const Object& obj) {
  const Object* md = api::metadata(obj);
  return md ? parseRevision(api::getString(*md, "resourceVersion")) : 0;
}

}  // namespace

std::string resourcePath(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                         const std::string& subresource) {
  std::string p =
      kind.group.empty() ? "/api/" + kind.version : "/apis/" + kind.group + "/" + kind.version;
  if (kind.namespaced && !ns.empty()) p += "/namespaces/" + percentEncode(ns);
  p += "/" + kind.resource;
  if (!name.empty()) {
    p += "/" + percentEncode(name);
    if (!subresource.empty()) p += "/" + subresource;
  }
  return p;
}

// ---- the server URL and kubeconfig --------------------------------------------

namespace {

struct ServerAddress {
  bool tls = true;
  std::string host;
  int port = 443;
  std::string base_path;  // e.g. "/k8s" when the server sits under a prefix
};

Result<ServerAddress> parseServerUrl(const std::string& url) {
  auto bad = [&](const std::string& why) {
    return makeError(ErrorCode::kBadRequest, "invalid server URL \"" + url + "\": " + why);
  };
  ServerAddress a;
  std::string_view rest = url;
  if (rest.substr(0, 8) == "https://") {
    rest.remove_prefix(8);
  } else if (rest.substr(0, 7) == "http://") {
    rest.remove_prefix(7);
    a.tls = false;
    a.port = 80;
  } else {
    return bad("the scheme must be https:// or http://");
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) a.base_path = std::string(rest.substr(slash));
  while (!a.base_path.empty() && a.base_path.back() == '/') a.base_path.pop_back();
  if (authority.find('@') != std::string_view::npos) return bad("user info is not supported");
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 literal");
    a.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("unexpected text after the host");
      port_text = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    a.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (a.host.empty()) return bad("no host");
  if (!port_text.empty()) {
    int64_t port = parseRevision(port_text);
    if (port <= 0 || port > 65535) return bad("invalid port");
    a.port = static_cast<int>(port);
  }
  return a;
}

Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return makeError(ErrorCode::kNotFound, "cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const Object* namedEntry(const Object& config, std::string_view list, std::string_view name,
                         std::string_view field) {
  const auto* arr = api::findArray(config, list);
  if (!arr) return nullptr;
  for (const auto& v : *arr) {
    if (!v.is_object() || api::getString(v.get_object(), "name") != name) continue;
    return api::findObject(v.get_object(), field);
  }
  return nullptr;
}

// A kubeconfig field holding either inline base64 data (`<key>-data`) or a
// file path (`<key>`).
Result<std::string> dataOrFile(const Object& section, const std::string& key,
                               const std::string& base_dir) {
  std::string data = api::getString(section, key + "-data");
  if (!data.empty()) {
    std::string out;
    if (!api::base64Decode(data, &out))
      return makeError(ErrorCode::kBadRequest, "kubeconfig: " + key + "-data is not base64");
    return out;
  }
  std::string file = api::getString(section, key);
  if (file.empty()) return std::string();
  std::filesystem::path p(file);
  if (p.is_relative()) p = std::filesystem::path(base_dir) / p;
  return readFile(p.string());
}

}  // namespace

Result<RemoteClientOptions> RemoteClient::parseKubeconfig(std::string_view text,
                                                          const std::string& base_dir) {
  BERTH_ASSIGN_OR_RETURN(auto doc, api::yamlToJson(text));
  if (!doc.is_object()) return makeError(ErrorCode::kBadRequest, "kubeconfig: not a mapping");
  const Object& config = doc.get_object();
  std::string context_name = api::getString(config, "current-context");
  const Object* context = namedEntry(config, "contexts", context_name, "context");
  if (!context)
    return makeError(ErrorCode::kBadRequest, "kubeconfig: no context \"" + context_name + "\"");
  std::string cluster_name = api::getString(*context, "cluster");
  const Object* cluster = namedEntry(config, "clusters", cluster_name, "cluster");
  if (!cluster)
    return makeError(ErrorCode::kBadRequest, "kubeconfig: no cluster \"" + cluster_name + "\"");
  RemoteClientOptions o;
  o.server = api::getString(*cluster, "server");
  BERTH_ASSIGN_OR_RETURN(o.ca_pem, dataOrFile(*cluster, "certificate-authority", base_dir));
  std::string user_name = api::getString(*context, "user");
  if (const Object* user = namedEntry(config, "users", user_name, "user")) {
    o.bearer_token = api::getString(*user, "token");
    if (o.bearer_token.empty()) {
      std::string token_file = api::getString(*user, "tokenFile");
      if (!token_file.empty()) {
        std::filesystem::path p(token_file);
        if (p.is_relative()) p = std::filesystem::path(base_dir) / p;
        BERTH_ASSIGN_OR_RETURN(o.bearer_token, readFile(p.string()));
        while (!o.bearer_token.empty() &&
               std::isspace(static_cast<unsigned char>(o.bearer_token.back())))
          o.bearer_token.pop_back();
      }
    }
    BERTH_ASSIGN_OR_RETURN(o.client_cert_pem, dataOrFile(*user, "client-certificate", base_dir));
    BERTH_ASSIGN_OR_RETURN(o.client_key_pem, dataOrFile(*user, "client-key", base_dir));
  }
  return o;
}

// ---- connections ----------------------------------------------------------------

struct RemoteWatchState;

struct RemoteClient::Impl {
  ClientOptions connection;
  // Each watch's own connection: as `connection`, but a stream may stay
  // silent up to the idle limit (the server sends bookmarks far more often).
  ClientOptions watch_connection;
  std::string base_path;

  // Keep-alive connections for requests, each used by one call at a time.
  std::mutex pool_mu;
  std::condition_variable pool_cv;
  std::vector<std::unique_ptr<HttpsClient>> idle;
  int opened = 0;
  int max_connections = 4;

  std::mutex watches_mu;
  std::vector<std::weak_ptr<RemoteWatchState>> watches;

  std::unique_ptr<HttpsClient> acquire() {
    std::unique_lock lock(pool_mu);
    pool_cv.wait(lock, [&] { return !idle.empty() || opened < max_connections; });
    if (!idle.empty()) {
      auto c = std::move(idle.back());
      idle.pop_back();
      return c;
    }
    ++opened;
    lock.unlock();
    return std::make_unique<HttpsClient>(connection);
  }

  void release(std::unique_ptr<HttpsClient> c) {
    {
      std::lock_guard lock(pool_mu);
      idle.push_back(std::move(c));
    }
    pool_cv.notify_one();
  }

  Result<ClientResponse> send(std::string_view method, const std::string& target,
                              std::string_view body = {}, std::string_view content_type = {}) {
    Headers headers{{"Accept", "application/json"}};
    if (!content_type.empty()) headers.emplace_back("Content-Type", std::string(content_type));
    auto conn = acquire();
    auto res = conn->request(method, base_path + target, body, headers);
    release(std::move(conn));
    return res;
  }

  // A call whose 2xx answer is one object.
  Result<ObjectPtr> object(std::string_view method, const std::string& target,
                           std::string_view body = {}, std::string_view content_type = {}) {
    BERTH_ASSIGN_OR_RETURN(auto res, send(method, target, body, content_type));
    if (res.status < 200 || res.status >= 300)
      return errorFromResponse(res.status, res.body, res.header("retry-after"));
    auto v = parseJson(res.body);
    if (!v || !v->is_object())
      return makeError(ErrorCode::kInternal,
                       std::string(method) + " " + target + ": the answer is not a JSON object");
    return ObjectPtr(std::make_shared<const Object>(std::move(v->get_object())));
  }
};

Result<std::unique_ptr<RemoteClient>> RemoteClient::create(RemoteClientOptions options) {
  BERTH_ASSIGN_OR_RETURN(auto address, parseServerUrl(options.server));
  ClientOptions c;
  c.host = address.host;
  c.port = address.port;
  c.tls = address.tls;
  c.ca_pem = options.ca_pem;
  c.bearer_token = options.bearer_token;
  c.client_cert_pem = options.client_cert_pem;
  c.client_key_pem = options.client_key_pem;
  c.user_agent = options.user_agent;
  c.connect_timeout = options.connect_timeout;
  c.request_timeout = options.request_timeout;
  // The first pooled connection checks the TLS settings now, so that a
  // bad CA bundle or client certificate fails here rather than at the
  // first call.
  auto first = std::make_unique<HttpsClient>(c);
  if (Status tls = first->tlsStatus(); !tls.ok())
    return makeError(ErrorCode::kBadRequest, tls.error().message);
  std::unique_ptr<RemoteClient> client(new RemoteClient(std::move(options), c));
  client->impl_->base_path = address.base_path;
  client->impl_->idle.push_back(std::move(first));
  client->impl_->opened = 1;
  client->impl_->watch_connection = std::move(c);
  client->impl_->watch_connection.stream_idle_timeout = std::chrono::minutes(2);
  return client;
}

Result<std::unique_ptr<RemoteClient>> RemoteClient::create(const std::string& server_url,
                                                           const std::string& ca_pem,
                                                           const std::string& bearer_token) {
  RemoteClientOptions o;
  o.server = server_url;
  o.ca_pem = ca_pem;
  o.bearer_token = bearer_token;
  return create(std::move(o));
}

Result<std::unique_ptr<RemoteClient>> RemoteClient::fromKubeconfig(const std::string& path) {
  BERTH_ASSIGN_OR_RETURN(auto text, readFile(path));
  std::string dir = std::filesystem::path(path).parent_path().string();
  BERTH_ASSIGN_OR_RETURN(auto options, parseKubeconfig(text, dir.empty() ? "." : dir));
  return create(std::move(options));
}

RemoteClient::RemoteClient(RemoteClientOptions options, ClientOptions connection)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  impl_->connection = std::move(connection);
  impl_->max_connections = std::max(1, options_.connections);
}

// ---- verbs --------------------------------------------------------------------

Result<ObjectPtr> RemoteClient::get(const api::KindInfo& kind, const std::string& ns,
                                    const std::string& name) {
  if (name.empty()) return makeError(ErrorCode::kBadRequest, "resource name may not be empty");
  return impl_->object("GET", resourcePath(kind, ns, name));
}

Result<ObjectList> RemoteClient::list(const api::KindInfo& kind, const std::string& ns,
                                      const ListOptions& opts) {
  std::string target = resourcePath(kind, ns);
  if (!opts.label_selector.empty()) addQuery(target, "labelSelector", opts.label_selector);
  if (!opts.field_selector.empty()) addQuery(target, "fieldSelector", opts.field_selector);
  if (opts.limit > 0) addQuery(target, "limit", std::to_string(opts.limit));
  if (!opts.continue_token.empty()) addQuery(target, "continue", opts.continue_token);
  if (!opts.resource_version.empty()) addQuery(target, "resourceVersion", opts.resource_version);
  BERTH_ASSIGN_OR_RETURN(auto res, impl_->send("GET", target));
  if (res.status < 200 || res.status >= 300)
    return errorFromResponse(res.status, res.body, res.header("retry-after"));
  auto v = parseJson(res.body);
  if (!v || !v->is_object())
    return makeError(ErrorCode::kInternal, "list " + kind.resource + ": not a JSON object");
  Object& doc = v->get_object();
  ObjectList out;
  if (const Object* md = api::metadata(doc)) {
    out.revision = parseRevision(api::getString(*md, "resourceVersion"));
    out.continue_token = api::getString(*md, "continue");
  }
  if (auto* items = doc.if_contains("items"); items && items->is_array()) {
    out.items.reserve(items->get_array().size());
    for (auto& item : items->get_array()) {
      if (!item.is_object()) continue;
      Object& obj = item.get_object();
      // Upstream leaves kind and apiVersion out of list items; consumers
      // expect complete objects, as watch events carry them.
      if (!obj.contains("kind")) obj["kind"] = kind.kind;
      if (!obj.contains("apiVersion")) obj["apiVersion"] = kind.groupVersion();
      out.items.push_back(std::make_shared<const Object>(std::move(obj)));
    }
  }
  return out;
}

Result<ObjectPtr> RemoteClient::create(const api::KindInfo& kind, Object obj) {
  std::string ns = kind.namespaced ? api::namespaceOf(obj) : "";
  if (kind.namespaced && ns.empty())
    return makeError(ErrorCode::kNotFound, "the server could not find the requested resource");
  return impl_->object("POST", resourcePath(kind, ns), json::serialize(obj), "application/json");
}

Result<ObjectPtr> RemoteClient::update(const api::KindInfo& kind, Object obj, Subresource sub) {
  std::string ns = kind.namespaced ? api::namespaceOf(obj) : "";
  std::string name = api::name(obj);
  if (name.empty()) return makeError(ErrorCode::kBadRequest, "resource name may not be empty");
  return impl_->object("PUT", resourcePath(kind, ns, name, subresourceName(sub)),
                       json::serialize(obj), "application/json");
}

Result<ObjectPtr> RemoteClient::patch(const api::KindInfo& kind, const std::string& ns,
                                      const std::string& name, PatchType type,
                                      const std::string& patch, Subresource sub) {
  if (name.empty()) return makeError(ErrorCode::kBadRequest, "resource name may not be empty");
  std::string target = resourcePath(kind, ns, name, subresourceName(sub));
  if (type == PatchType::kApply) addQuery(target, "fieldManager", options_.user_agent);
  return impl_->object("PATCH", target, patch, patchContentType(type));
}

Result<ObjectPtr> RemoteClient::remove(const api::KindInfo& kind, const std::string& ns,
                                       const std::string& name, const DeleteOptions& opts) {
  if (name.empty()) return makeError(ErrorCode::kBadRequest, "resource name may not be empty");
  Object body{{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (opts.dry_run) body["dryRun"] = json::array{"All"};
  if (opts.grace_period_seconds) body["gracePeriodSeconds"] = *opts.grace_period_seconds;
  switch (opts.propagation) {
    case Propagation::kDefault:
      break;
    case Propagation::kBackground:
      body["propagationPolicy"] = "Background";
      break;
    case Propagation::kForeground:
      body["propagationPolicy"] = "Foreground";
      break;
    case Propagation::kOrphan:
      body["propagationPolicy"] = "Orphan";
      break;
  }
  if (!opts.precondition_uid.empty() || !opts.precondition_resource_version.empty()) {
    Object pre;
    if (!opts.precondition_uid.empty()) pre["uid"] = opts.precondition_uid;
    if (!opts.precondition_resource_version.empty())
      pre["resourceVersion"] = opts.precondition_resource_version;
    body["preconditions"] = std::move(pre);
  }
  return impl_->object("DELETE", resourcePath(kind, ns, name), json::serialize(body),
                       "application/json");
}

Result<ObjectPtr> RemoteClient::createSubresource(const api::KindInfo& kind, const std::string& ns,
                                                  const std::string& name,
                                                  const std::string& subresource, Object body) {
  if (name.empty() || subresource.empty())
    return makeError(ErrorCode::kBadRequest, "resource name and subresource may not be empty");
  auto& md = api::mutableMetadata(body);
  if (api::getString(md, "name").empty()) md["name"] = name;
  if (kind.namespaced && api::getString(md, "namespace").empty()) md["namespace"] = ns;
  return impl_->object("POST", resourcePath(kind, ns, name, subresource), json::serialize(body),
                       "application/json");
}

// ---- watch ----------------------------------------------------------------------

struct RemoteWatchState {
  explicit RemoteWatchState(const ClientOptions& options) : conn(options) {}
  WatchHandler handler;
  // The watch's connection, kept across resumes. It lives as long as the
  // state, so stop() can cancel() it from any thread at any moment.
  HttpsClient conn;
  std::atomic<bool> stopped{false};
  std::mutex mu;  // wakes retry waits
  std::condition_variable cv;
  std::mutex join_mu;  // stop() may come from the owner and the client's destructor at once
  std::thread thread;
};

namespace {

class RemoteWatch : public Watch {
 public:
  explicit RemoteWatch(std::shared_ptr<RemoteWatchState> state) : state_(std::move(state)) {}
  ~RemoteWatch() override { stop(); }
  void stop() override { stopRemoteWatch(state_); }

  static void stopRemoteWatch(const std::shared_ptr<RemoteWatchState>& s) {
    {
      std::lock_guard lock(s->mu);
      s->stopped = true;
    }
    s->cv.notify_all();
    s->conn.cancel();
    std::lock_guard join_lock(s->join_mu);
    if (!s->thread.joinable()) return;
    // From inside the handler (not allowed, but not a deadlock): the thread
    // sees `stopped` when the handler returns.
    if (s->thread.get_id() == std::this_thread::get_id()) {
      s->thread.detach();
      return;
    }
    s->thread.join();
  }

 private:
  std::shared_ptr<RemoteWatchState> state_;
};

EventType parseEventType(std::string_view t) {
  if (t == "ADDED") return EventType::kAdded;
  if (t == "MODIFIED") return EventType::kModified;
  if (t == "DELETED") return EventType::kDeleted;
  if (t == "BOOKMARK") return EventType::kBookmark;
  return EventType::kError;
}

}  // namespace

Result<std::unique_ptr<Watch>> RemoteClient::watch(const api::KindInfo& kind, const std::string& ns,
                                                   const ListOptions& opts, WatchHandler handler) {
  std::string revision = opts.resource_version;
  if (revision.empty() || revision == "0") {
    // "From now": the revision of the store as a one-item list reads it.
    ListOptions probe;
    probe.limit = 1;
    BERTH_ASSIGN_OR_RETURN(auto page, list(kind, ns, probe));
    revision = std::to_string(page.revision);
  }
  std::string base = resourcePath(kind, ns);
  addQuery(base, "watch", "1");
  addQuery(base, "allowWatchBookmarks", "true");
  if (!opts.label_selector.empty()) addQuery(base, "labelSelector", opts.label_selector);
  if (!opts.field_selector.empty()) addQuery(base, "fieldSelector", opts.field_selector);
  if (options_.watch_timeout.count() > 0)
    addQuery(base, "timeoutSeconds", std::to_string(options_.watch_timeout.count()));
  base = impl_->base_path + base;
  auto target = [base](const std::string& rv) {
    std::string t = base;
    addQuery(t, "resourceVersion", rv);
    return t;
  };

  // The first request runs here so that errors in it come back from watch().
  auto state = std::make_shared<RemoteWatchState>(impl_->watch_connection);
  state->handler = std::move(handler);
  const Headers headers{{"Accept", "application/json"}};
  BERTH_ASSIGN_OR_RETURN(auto answer, state->conn.openStream("GET", target(revision), {}, headers));
  std::optional<Error> start_error;
  if (answer.status < 200 || answer.status >= 300) {
    Error e = errorFromResponse(answer.status, answer.body, answer.header("retry-after"));
    if (e.code != ErrorCode::kExpired) return e;
    start_error = std::move(e);
  }

  const int retries = std::max(0, options_.watch_retries);
  const auto retry_delay = options_.watch_retry_delay;
  const api::KindInfo* k = &kind;
  // The thread shares the state (and so the connection) until it returns.
  state->thread = std::thread([state, start_error, revision, target, headers, retries, retry_delay,
                               k] {
    auto deliver = [&](const Event& e) {
      if (state->stopped) return false;
      try {
        state->handler(e);
      } catch (const std::exception& ex) {
        BERTH_LOG(kError, "client")
            << "watch handler threw resource=" << k->resource << " error=" << ex.what();
      }
      return !state->stopped.load();
    };
    auto fail = [&](Error error) {
      Event e;
      e.type = EventType::kError;
      e.error = std::move(error);
      deliver(e);
    };
    if (start_error) return fail(*start_error);
    std::string rv = revision;
    bool opened = true;
    int failures = 0;
    auto delay = retry_delay;
    bool ended = false;
    while (!state->stopped && !ended) {
      Status result = okStatus();
      bool got_events = false;
      if (!opened) {
        auto resumed = state->conn.openStream("GET", target(rv), {}, headers);
        if (!resumed.ok()) {
          result = resumed.error();
        } else if (resumed->status < 200 || resumed->status >= 300) {
          // The server refused the resume (410 after compaction, 401, ...).
          fail(errorFromResponse(resumed->status, resumed->body, resumed->header("retry-after")));
          ended = true;
        }
      }
      opened = false;
      if (result.ok() && !ended) {
        result = state->conn.readStream([&](std::string_view line) {
          if (line.empty()) return true;
          auto v = parseJson(line);
          if (!v || !v->is_object()) {
            fail(makeError(ErrorCode::kInternal, "watch " + k->resource + ": undecodable event"));
            ended = true;
            return false;
          }
          Object& ev = v->get_object();
          EventType type = parseEventType(api::getString(ev, "type"));
          auto* obj = ev.if_contains("object");
          if (!obj || !obj->is_object()) return true;
          if (type == EventType::kError) {
            fail(errorFromStatus(obj->get_object()));
            ended = true;
            return false;
          }
          Event e;
          e.type = type;
          e.revision = revisionOf(obj->get_object());
          if (e.revision > 0) rv = std::to_string(e.revision);
          e.object = std::make_shared<const Object>(std::move(obj->get_object()));
          got_events = true;
          failures = 0;
          delay = retry_delay;
          return deliver(e);
        });
      }
      if (state->stopped || ended) break;
      // A stream the server ended after delivering something (its watch
      // timeout) resumes at once; failures and empty streams back off.
      if (result.ok() && got_events) continue;
      if (++failures > retries) {
        fail(result.ok() ? makeError(ErrorCode::kUnavailable, "watch " + k->resource +
                                                                  ": the server keeps ending "
                                                                  "the stream")
                         : result.error());
        break;
      }
      std::unique_lock lock(state->mu);
      state->cv.wait_for(lock, delay, [&] { return state->stopped.load(); });
      delay = std::min<std::chrono::milliseconds>(delay * 2, std::chrono::seconds(5));
    }
  });
  {
    std::lock_guard lock(impl_->watches_mu);
    std::erase_if(impl_->watches,
                  [](const std::weak_ptr<RemoteWatchState>& w) { return w.expired(); });
    impl_->watches.push_back(state);
  }
  return std::unique_ptr<Watch>(std::make_unique<RemoteWatch>(std::move(state)));
}

RemoteClient::~RemoteClient() {
  std::vector<std::shared_ptr<RemoteWatchState>> live;
  {
    std::lock_guard lock(impl_->watches_mu);
    for (auto& w : impl_->watches)
      if (auto s = w.lock()) live.push_back(std::move(s));
    impl_->watches.clear();
  }
  for (auto& s : live) RemoteWatch::stopRemoteWatch(s);
}

}  // namespace berth::client
