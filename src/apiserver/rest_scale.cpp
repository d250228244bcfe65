// The scale subresource: autoscaling/v1 Scale over spec.replicas.
#include "api/object.h"
#include "apiserver/api_server.h"
#include "apiserver/registry/codec.h"
#include "apiserver/registry/selection.h"
#include "apiserver/status.h"

namespace berth::apiserver {

namespace json = boost::json;
using api::Object;

namespace {
Object scaleOf(const Object& obj) {
  Object scale;
  scale["kind"] = "Scale";
  scale["apiVersion"] = "autoscaling/v1";
  Object md;
  if (auto* m = api::metadata(obj)) {
    for (const char* f : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"})
      if (auto* v = m->if_contains(f)) md[f] = *v;
  }
  scale["metadata"] = std::move(md);
  Object spec;
  const Object* ospec = api::findObject(obj, "spec");
  spec["replicas"] = ospec ? api::getInt(*ospec, "replicas", 0) : 0;
  scale["spec"] = std::move(spec);
  Object status;
  const Object* ostatus = api::findObject(obj, "status");
  status["replicas"] = ostatus ? api::getInt(*ostatus, "replicas", 0) : 0;
  std::string selector = ospec ? selectorString(api::find(*ospec, "selector")) : std::string();
  if (!selector.empty()) status["selector"] = selector;
  scale["status"] = std::move(status);
  return scale;
}
}  // namespace

Response ApiServer::handleScale(const Request& req, const ResourcePath& path) {
  const auto& kind = *path.kind;
  if (req.method == "GET") {
    auto obj = registry_.get(kind, path.namespace_, path.name);
    if (!obj.ok()) return errorResponse(obj.error());
    return jsonResponse(200, json::value(scaleOf(*obj)));
  }
  if (req.method != "PUT" && req.method != "PATCH")
    return errorResponse(methodNotAllowed("the server does not allow this method on the requested resource"));
  bool dry = req.queryParam("dryRun") == "All";
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto cur = registry_.get(kind, path.namespace_, path.name);
    if (!cur.ok()) return errorResponse(cur.error());
    Object scale = scaleOf(*cur);
    Object wanted;
    if (req.method == "PUT") {
      auto body = decodeAuxiliary(req.header("content-type"), req.body);
      if (!body.ok()) return errorResponse(body.error());
      wanted = std::move(body).value();
    } else {
      std::string_view ct = req.header("content-type");
      PatchType type = PatchType::kMerge;
      if (ct.find("json-patch") != std::string_view::npos) type = PatchType::kJson;
      else if (ct.find("strategic") != std::string_view::npos) type = PatchType::kStrategic;
      auto patched = applyPatch(type, json::value(scale), req.body, kind, Subresource::kScale);
      if (!patched.ok()) return errorResponse(patched.error());
      if (!patched->is_object()) return errorResponse(badRequest("patch produced a non-object"));
      wanted = std::move(patched->get_object());
    }
    const Object* spec = api::findObject(wanted, "spec");
    const json::value* rep = spec ? spec->if_contains("replicas") : nullptr;
    int64_t replicas = rep && rep->is_int64() ? rep->get_int64() : 0;
    if (rep && !rep->is_int64() && !rep->is_uint64())
      return errorResponse(badRequest("Scale.autoscaling/v1 spec.replicas must be an integer"));
    if (replicas < 0) {
      api::FieldErrors errs;
      errs.invalid("spec.replicas", std::to_string(replicas), "must be greater than or equal to 0");
      return errorResponse(errs.toError("autoscaling", "Scale", path.name));
    }
    std::string want_rv = api::getStringPath(wanted, "metadata.resourceVersion");
    std::string cur_rv = api::getStringPath(*cur, "metadata.resourceVersion");
    if (req.method == "PUT" && !want_rv.empty() && want_rv != cur_rv)
      return errorResponse(conflict(kind.group, kind.resource, path.name,
                                    "the object has been modified; please apply your changes to the latest version "
                                    "and try again"));
    Object next = *cur;
    api::ensureObject(next, "spec")["replicas"] = replicas;
    WriteOptions opts;
    opts.dry_run = dry;
    opts.user = req.user;
    auto res = registry_.update(kind, path.namespace_, path.name, std::move(next), opts);
    if (res.ok()) return jsonResponse(200, json::value(scaleOf(*res)));
    // A conflict with a concurrent writer (the controller updating status)
    // is retried on the fresh object unless the client asked for a
    // resourceVersion: a PUT body's, or one the patch itself sets (the
    // patched scale always carries the current one).
    bool rv_precondition =
        req.method == "PUT" ? !want_rv.empty() : req.body.find("resourceVersion") != std::string::npos;
    if (res.error().code != ErrorCode::kConflict || rv_precondition) return errorResponse(res.error());
  }
  return errorResponse(conflict(kind.group, kind.resource, path.name, "too many conflicts"));
}

}  // namespace berth::apiserver
