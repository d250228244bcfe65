#include "apiserver/api_server.h"

#include "api/object.h"
#include "apiserver/registry/codec.h"
#include "apiserver/registry/selection.h"
#include "apiserver/status.h"
#include "common/log.h"

namespace berth::apiserver {

namespace json = boost::json;
using api::Object;

namespace {
bool queryTrue(const Request& req, std::string_view key) {
  auto v = req.queryParam(key);
  return v == "true" || v == "1" || v == "True" || v == "TRUE";
}

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

Error pathNotFound() {
  return makeError(ErrorCode::kNotFound, "the server could not find the requested resource");
}

Response textResponse(int status, std::string body) {
  return jsonResponse(status, std::move(body), "text/plain; charset=utf-8");
}

Result<bool> dryRun(const Request& req) {
  auto vals = req.queryParams("dryRun");
  for (auto v : vals) {
    if (v == "All") return true;
    if (!v.empty())
      return makeError(ErrorCode::kBadRequest, "Invalid dry run value: " + std::string(v) + ", supported values are: All");
  }
  return false;
}

void addWarnings(Response& r) {
  auto& w = Registry::threadWarnings();
  for (auto& msg : w) r.headers.emplace_back("Warning", "299 - " + json::serialize(json::value(msg)));
  w.clear();
}
}  // namespace

Result<FieldValidation> fieldValidation(const Request& req) {
  auto v = req.queryParam("fieldValidation");
  if (v.empty() || v == "Warn") return FieldValidation::kWarn;
  if (v == "Strict") return FieldValidation::kStrict;
  if (v == "Ignore") return FieldValidation::kIgnore;
  return badRequest("fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\"");
}

Result<ResourcePath> parseResourcePath(const api::KindRegistry& kinds, const std::string& path) {
  auto seg = splitPath(path);
  ResourcePath rp;
  size_t i;
  if (seg.size() >= 2 && seg[0] == "api") {
    rp.version = seg[1];
    i = 2;
  } else if (seg.size() >= 3 && seg[0] == "apis") {
    rp.group = seg[1];
    rp.version = seg[2];
    i = 3;
  } else {
    return pathNotFound();
  }
  std::vector<std::string> rest(seg.begin() + i, seg.end());
  if (rest.empty()) return pathNotFound();
  if (rest[0] == "namespaces" && rp.group.empty() && rest.size() >= 3 &&
      !(rest.size() == 3 && (rest[2] == "status" || rest[2] == "finalize"))) {
    rp.namespace_ = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  } else if (rest[0] == "namespaces" && !rp.group.empty() && rest.size() >= 3) {
    rp.namespace_ = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (rest.empty() || rest.size() > 3) return pathNotFound();
  rp.resource = rest[0];
  if (rest.size() >= 2) rp.name = rest[1];
  if (rest.size() == 3) rp.subresource = rest[2];
  rp.kind = kinds.byResource(rp.group, rp.version, rp.resource);
  if (!rp.kind) return pathNotFound();
  if (!rp.kind->namespaced && !rp.namespace_.empty()) return pathNotFound();
  return rp;
}

ApiServer::ApiServer(Registry& registry, Timers& timers, Options options)
    : registry_(registry), timers_(timers), options_(std::move(options)) {}

ApiServer::~ApiServer() = default;

void ApiServer::handle(Request request, std::shared_ptr<Responder> responder) {
  bool streamed = false;
  Response r;
  try {
    Registry::threadWarnings().clear();
    r = route(request, responder, &streamed);
    addWarnings(r);
  } catch (const std::exception& e) {
    BERTH_LOG(kError, "apiserver") << "request failed method=" << request.method << " path=" << request.path
                                   << " error=" << e.what();
    if (streamed) return;
    r = errorResponse(internalError(std::string("internal error: ") + e.what()));
  }
  if (!streamed) responder->respond(std::move(r));
}

Response ApiServer::route(const Request& req, const std::shared_ptr<Responder>& responder, bool* streamed) {
  const std::string& p = req.path;
  auto healthPath = [&](const char* base) {
    size_t n = std::strlen(base);
    return p.compare(0, n, base) == 0 && (p.size() == n || p[n] == '/');
  };
  if (healthPath("/healthz") || healthPath("/livez")) return textResponse(200, "ok");
  if (healthPath("/readyz")) return ready_ ? textResponse(200, "ok") : textResponse(500, "[-]bootstrap failed: not ready\nreadyz check failed");
  if (p == "/version" || p == "/version/") {
    json::object v;
    v["major"] = "1";
    v["minor"] = "32";
    v["gitVersion"] = options_.git_version;
    v["gitCommit"] = "berth";
    v["gitTreeState"] = "clean";
    v["buildDate"] = "2026-01-01T00:00:00Z";
    v["goVersion"] = "go1.23.0";
    v["compiler"] = "gc";
    v["platform"] = "linux/amd64";
    return jsonResponse(200, json::value(v));
  }
  bool handled = false;
  if (p.compare(0, 8, "/openapi") == 0) {
    Response r = openapiResponse(registry_.kinds(), req, &handled);
    if (handled) return r;
    return errorResponse(pathNotFound());
  }
  Response d = discoveryResponse(registry_.kinds(), req, &handled);
  if (handled) return d;
  Response legacy_binding = handleLegacyBinding(req, &handled);
  if (handled) return legacy_binding;
  auto rp = parseResourcePath(registry_.kinds(), p);
  if (!rp.ok()) return errorResponse(rp.error());
  return handleResource(req, *rp, responder, streamed);
}

Response ApiServer::handleResource(const Request& req, ResourcePath& path,
                                   const std::shared_ptr<Responder>& responder, bool* streamed) {
  const auto& kind = *path.kind;
  const std::string& m = req.method;
  if (kind.ephemeral) return handleReview(req, path);
  if (kind.namespaced && path.namespace_.empty() && (m == "POST" || !path.name.empty()))
    return errorResponse(pathNotFound());
  if (!path.subresource.empty()) {
    const std::string& sub = path.subresource;
    bool is_ns = kind.group.empty() && kind.kind == "Namespace";
    if (sub == "status" && kind.has_status) {
      if (m == "GET") return handleGet(req, path);
      if (m == "PUT") return handleUpdate(req, path);
      if (m == "PATCH") return handlePatch(req, path);
      return errorResponse(methodNotAllowed("the server does not allow this method on the requested resource"));
    }
    if (sub == "finalize" && is_ns && m == "PUT") return handleUpdate(req, path);
    if (sub == "scale" && kind.has_scale) return handleScale(req, path);
    if (sub == "binding" && kind.group.empty() && kind.kind == "Pod") return handleBinding(req, path.namespace_, path.name);
    if (sub == "log" && kind.group.empty() && kind.kind == "Pod") {
      *streamed = true;
      handlePodLog(req, path, responder);
      return {};
    }
    if (sub == "eviction" && kind.group.empty() && kind.kind == "Pod") {
      // POST pods/{name}/eviction (Registry::evict, eviction.cpp): the answer
      // is a Status whose code is the HTTP status.
      if (m != "POST")
        return errorResponse(
            methodNotAllowed("the server does not allow this method on the requested resource"));
      auto fv = fieldValidation(req);
      if (!fv.ok()) return errorResponse(fv.error());
      auto dr = dryRun(req);
      if (!dr.ok()) return errorResponse(dr.error());
      auto eviction = Registry::decodeEviction(req.header("content-type"), req.body, *fv);
      if (!eviction.ok()) return errorResponse(eviction.error());
      WriteOptions opts;
      opts.dry_run = *dr;
      opts.field_validation = *fv;
      opts.user = req.user;
      auto answer = registry_.evict(path.namespace_, path.name, *eviction, opts);
      if (!answer.ok()) return errorResponse(answer.error());
      int code = static_cast<int>(api::getInt(*answer, "code", 201));
      return jsonResponse(code, json::value(*answer));
    }
    return errorResponse(pathNotFound());
  }
  if (m == "GET" || m == "HEAD") {
    if (!path.name.empty()) return handleGet(req, path);
    if (queryTrue(req, "watch")) {
      *streamed = true;
      handleWatch(req, path, responder);
      return {};
    }
    return handleList(req, path);
  }
  if (m == "POST") {
    if (!path.name.empty())
      return errorResponse(methodNotAllowed("the server does not allow this method on the requested resource"));
    return handleCreate(req, path);
  }
  if (m == "PUT" && !path.name.empty()) return handleUpdate(req, path);
  if (m == "PATCH" && !path.name.empty()) return handlePatch(req, path);
  if (m == "DELETE") return path.name.empty() ? handleDeleteCollection(req, path) : handleDelete(req, path);
  return errorResponse(methodNotAllowed("the server does not allow this method on the requested resource"));
}

Response ApiServer::objectResponse(const Request& req, const ResourcePath& path, int status, const Object& obj) {
  if (wantsTable(req)) {
    std::string include = std::string(req.queryParam("includeObject"));
    return jsonResponse(status, json::value(tableFor(*path.kind, {obj}, include.empty() ? "Metadata" : include, true,
                                                     registry_.clock().now())));
  }
  return jsonResponse(status, json::value(obj));
}

Response ApiServer::handleGet(const Request& req, const ResourcePath& path) {
  auto kv = registry_.getRaw(*path.kind, path.namespace_, path.name);
  if (!kv.ok()) return errorResponse(kv.error());
  const auto& sk = registry_.storageKind(*path.kind);
  if (&sk == path.kind && !wantsTable(req)) return jsonResponse(200, *kv->value);
  json::error_code ec;
  auto v = json::parse(*kv->value, ec);
  if (ec || !v.is_object()) return errorResponse(internalError("stored object is corrupt"));
  return objectResponse(req, path, 200, registry_.fromStorage(*path.kind, std::move(v.get_object())));
}

Response ApiServer::handleList(const Request& req, const ResourcePath& path) {
  ListParams params;
  params.label_selector = std::string(req.queryParam("labelSelector"));
  params.field_selector = std::string(req.queryParam("fieldSelector"));
  params.continue_token = std::string(req.queryParam("continue"));
  params.resource_version = std::string(req.queryParam("resourceVersion"));
  if (auto l = req.queryParam("limit"); !l.empty()) {
    bool ok;
    params.limit = parseResourceVersion(std::string(l), &ok);
    if (!ok) return errorResponse(badRequest("invalid limit: " + std::string(l)));
  }
  auto page = registry_.list(*path.kind, path.namespace_, params);
  if (!page.ok()) return errorResponse(page.error());
  const auto& kind = *path.kind;
  const auto& sk = registry_.storageKind(kind);
  if (wantsTable(req)) {
    std::vector<Object> objs;
    objs.reserve(page->items.size());
    for (auto& kv : page->items) {
      json::error_code ec;
      auto v = json::parse(*kv.value, ec);
      if (!ec && v.is_object()) objs.push_back(registry_.fromStorage(kind, std::move(v.get_object())));
    }
    std::string include = std::string(req.queryParam("includeObject"));
    auto table = tableFor(kind, objs, include.empty() ? "Metadata" : include, true, registry_.clock().now());
    auto& md = api::ensureObject(table, "metadata");
    md["resourceVersion"] = std::to_string(page->revision);
    if (!page->continue_token.empty()) md["continue"] = page->continue_token;
    if (page->remaining > 0) md["remainingItemCount"] = page->remaining;
    return jsonResponse(200, json::value(table));
  }
  // Assemble the list from the stored bytes without re-encoding them.
  std::string body;
  size_t total = 256;
  for (auto& kv : page->items) total += kv.value->size() + 1;
  body.reserve(total);
  body += "{\"kind\":\"" + kind.kind + "List\",\"apiVersion\":\"" + kind.groupVersion() +
          "\",\"metadata\":{\"resourceVersion\":\"" + std::to_string(page->revision) + "\"";
  if (!page->continue_token.empty()) body += ",\"continue\":\"" + page->continue_token + "\"";
  if (page->remaining > 0) body += ",\"remainingItemCount\":" + std::to_string(page->remaining);
  body += "},\"items\":[";
  bool first = true;
  for (auto& kv : page->items) {
    if (!first) body += ',';
    first = false;
    if (&sk == &kind) {
      body += *kv.value;
    } else {
      json::error_code ec;
      auto v = json::parse(*kv.value, ec);
      if (ec || !v.is_object()) continue;
      body += json::serialize(registry_.fromStorage(kind, std::move(v.get_object())));
    }
  }
  body += "]}";
  return jsonResponse(200, std::move(body));
}

Response ApiServer::handleCreate(const Request& req, const ResourcePath& path) {
  auto fv = fieldValidation(req);
  if (!fv.ok()) return errorResponse(fv.error());
  auto dr = dryRun(req);
  if (!dr.ok()) return errorResponse(dr.error());
  auto obj = decodeObject(req.header("content-type"), req.body, *path.kind, *fv, &Registry::threadWarnings());
  if (!obj.ok()) return errorResponse(obj.error());
  WriteOptions opts;
  opts.dry_run = *dr;
  opts.field_validation = *fv;
  opts.user = req.user;
  std::string ns = path.namespace_;
  auto created = registry_.create(*path.kind, ns, std::move(obj).value(), opts);
  if (!created.ok()) return errorResponse(created.error());
  return objectResponse(req, path, 201, *created);
}

Response ApiServer::handleUpdate(const Request& req, const ResourcePath& path) {
  auto fv = fieldValidation(req);
  if (!fv.ok()) return errorResponse(fv.error());
  auto dr = dryRun(req);
  if (!dr.ok()) return errorResponse(dr.error());
  auto obj = decodeObject(req.header("content-type"), req.body, *path.kind, *fv, &Registry::threadWarnings());
  if (!obj.ok()) return errorResponse(obj.error());
  WriteOptions opts;
  opts.dry_run = *dr;
  opts.field_validation = *fv;
  opts.user = req.user;
  Object body = std::move(obj).value();
  if (path.subresource == "status") {
    opts.subresource = Subresource::kStatus;
  } else if (path.subresource == "finalize") {
    // Only spec.finalizers may change through namespaces/finalize.
    opts.subresource = Subresource::kFinalize;
  }
  auto updated = registry_.update(*path.kind, path.namespace_, path.name, std::move(body), opts);
  if (!updated.ok()) return errorResponse(updated.error());
  return objectResponse(req, path, 200, *updated);
}

Response ApiServer::handlePatch(const Request& req, const ResourcePath& path) {
  auto fv = fieldValidation(req);
  if (!fv.ok()) return errorResponse(fv.error());
  auto dr = dryRun(req);
  if (!dr.ok()) return errorResponse(dr.error());
  std::string_view ct = req.header("content-type");
  auto semi = ct.find(';');
  if (semi != std::string_view::npos) ct = ct.substr(0, semi);
  PatchType type;
  if (ct == "application/json-patch+json") type = PatchType::kJson;
  else if (ct == "application/merge-patch+json") type = PatchType::kMerge;
  else if (ct == "application/strategic-merge-patch+json") type = PatchType::kStrategic;
  else if (ct == "application/apply-patch+yaml") type = PatchType::kApply;
  else {
    return errorResponse(makeError(ErrorCode::kUnsupportedMediaType,
                                   "the body of the request was in an unknown format - accepted media types include: "
                                   "application/json-patch+json, application/merge-patch+json, "
                                   "application/apply-patch+yaml, application/strategic-merge-patch+json"));
  }
  if (type == PatchType::kApply)
    return errorResponse(makeError(ErrorCode::kUnsupportedMediaType, "server-side apply is not supported yet"));
  WriteOptions opts;
  opts.dry_run = *dr;
  opts.field_validation = *fv;
  opts.user = req.user;
  if (path.subresource == "status") opts.subresource = Subresource::kStatus;
  auto patched = registry_.patch(*path.kind, path.namespace_, path.name, type, req.body, opts);
  if (!patched.ok()) return errorResponse(patched.error());
  return objectResponse(req, path, 200, *patched);
}

namespace {
Result<DeleteOptions> parseDeleteOptions(const Request& req) {
  DeleteOptions o;
  auto dr = dryRun(req);
  if (!dr.ok()) return dr.error();
  o.dry_run = *dr;
  auto setPolicy = [&](std::string_view p) -> Status {
    if (p.empty()) return okStatus();
    if (p == "Background") o.propagation = Propagation::kBackground;
    else if (p == "Foreground") o.propagation = Propagation::kForeground;
    else if (p == "Orphan") o.propagation = Propagation::kOrphan;
    else {
      api::FieldErrors errs;
      errs.notSupported("propagationPolicy", json::serialize(json::value(std::string(p))),
                        {"Foreground", "Background", "Orphan", "nil"});
      Error e = errs.toError("", "DeleteOptions", "");
      e.message = "DeleteOptions.meta.k8s.io \"\" is invalid: " + e.causes[0].field + ": " + e.causes[0].message;
      return e;
    }
    return okStatus();
  };
  if (auto g = req.queryParam("gracePeriodSeconds"); !g.empty()) {
    try {
      o.grace_period_seconds = std::stoll(std::string(g));
    } catch (...) {
      return badRequest("invalid gracePeriodSeconds");
    }
  }
  BERTH_RETURN_IF_ERROR(setPolicy(req.queryParam("propagationPolicy")));
  if (req.queryParam("orphanDependents") == "true") o.propagation = Propagation::kOrphan;
  if (!req.body.empty()) {
    auto body = decodeAuxiliary(req.header("content-type"), req.body);
    if (!body.ok()) return body.error();
    const Object& b = *body;
    if (auto* g = b.if_contains("gracePeriodSeconds"); g && g->is_int64()) o.grace_period_seconds = g->get_int64();
    if (auto* p = b.if_contains("propagationPolicy"); p && p->is_string())
      BERTH_RETURN_IF_ERROR(setPolicy(p->get_string()));
    if (auto* od = b.if_contains("orphanDependents"); od && od->is_bool())
      o.propagation = od->get_bool() ? Propagation::kOrphan : Propagation::kBackground;
    if (auto* pre = b.if_contains("preconditions"); pre && pre->is_object()) {
      o.precondition_uid = api::getString(pre->get_object(), "uid");
      o.precondition_resource_version = api::getString(pre->get_object(), "resourceVersion");
    }
    if (auto* d = b.if_contains("dryRun"); d && d->is_array())
      for (auto& v : d->get_array())
        if (v.is_string() && v.get_string() == "All") o.dry_run = true;
  }
  if (o.grace_period_seconds && *o.grace_period_seconds < 0) o.grace_period_seconds = 1;
  return o;
}
}  // namespace

Response ApiServer::handleDelete(const Request& req, const ResourcePath& path) {
  auto opts = parseDeleteOptions(req);
  if (!opts.ok()) return errorResponse(opts.error());
  auto res = registry_.remove(*path.kind, path.namespace_, path.name, *opts);
  if (!res.ok()) return errorResponse(res.error());
  return jsonResponse(200, json::value(res->object));
}

Response ApiServer::handleDeleteCollection(const Request& req, const ResourcePath& path) {
  auto opts = parseDeleteOptions(req);
  if (!opts.ok()) return errorResponse(opts.error());
  ListParams params;
  params.label_selector = std::string(req.queryParam("labelSelector"));
  params.field_selector = std::string(req.queryParam("fieldSelector"));
  auto page = registry_.list(*path.kind, path.namespace_, params);
  if (!page.ok()) return errorResponse(page.error());
  std::string body = "{\"kind\":\"" + path.kind->kind + "List\",\"apiVersion\":\"" + path.kind->groupVersion() +
                     "\",\"metadata\":{},\"items\":[";
  bool first = true;
  for (auto& kv : page->items) {
    auto* attrs = static_cast<const ObjectAttrs*>(kv.decoded.get());
    if (!attrs) continue;
    auto res = registry_.remove(*path.kind, attrs->namespace_, attrs->name, *opts);
    if (!res.ok()) {
      if (res.error().code == ErrorCode::kNotFound) continue;
      return errorResponse(res.error());
    }
    if (!first) body += ',';
    first = false;
    body += json::serialize(res->object);
  }
  body += "]}";
  return jsonResponse(200, std::move(body));
}

}  // namespace berth::apiserver
