// pods/binding: how a scheduler assigns a pod to a node. Mirrors upstream's
// BindingREST and LegacyBindingREST (pkg/registry/core/pod/storage/storage.go):
// the Registry side (assignPod / setPodHostAndAnnotations) and the REST
// endpoints that decode a Binding and answer a Success Status.
#include "api/object.h"
#include "api/protobuf.h"
#include "api/schema.h"
#include "apiserver/api_server.h"
#include "apiserver/registry/codec.h"
#include "apiserver/registry/registry.h"
#include "apiserver/status.h"

namespace berth::apiserver {

namespace json = boost::json;
using api::Object;

namespace {

// The Binding type as a KindInfo for decoding only: it is not a stored kind
// and has no resource of its own besides the legacy bindings collection.
const api::KindInfo& bindingKind() {
  static const api::KindInfo kind = [] {
    api::KindInfo k;
    k.version = "v1";
    k.kind = "Binding";
    k.resource = "bindings";
    k.singular = "binding";
    k.schema_type = "core.v1.Binding";
    k.verbs = {"create"};
    return k;
  }();
  return kind;
}

// storage.Preconditions.Check's message for a UID / resourceVersion
// mismatch, which the pod store reports as a Conflict on pods.
Error preconditionFailed(const std::string& name, const std::string& what, const std::string& want,
                         const std::string& have) {
  return conflict("", "pods", name,
                  "Precondition failed: " + what + " in precondition: " + want + ", " + what +
                      " in object meta: " + have);
}

// Errors of setPodHostAndAnnotations' update function are plain Go errors,
// which assignPod wraps as a Conflict on pods/binding.
Error bindingConflict(const std::string& name, const std::string& detail) {
  return conflict("", "pods/binding", name, detail);
}

// podutil.UpdatePodCondition with {Type: PodScheduled, Status: True}: the
// condition is replaced (reason and message dropped); lastTransitionTime is
// now unless the status was already True.
void setPodScheduled(Object& pod, const std::string& now) {
  auto& conditions = api::ensureArray(api::ensureObject(pod, "status"), "conditions");
  Object cond{{"type", "PodScheduled"},
              {"status", "True"},
              {"lastProbeTime", nullptr},
              {"lastTransitionTime", now}};
  for (auto& c : conditions) {
    if (!c.is_object() || api::getString(c.get_object(), "type") != "PodScheduled") continue;
    const Object& old = c.get_object();
    if (api::getString(old, "status") == "True") {
      if (auto* t = old.if_contains("lastTransitionTime")) cond["lastTransitionTime"] = *t;
    }
    c = std::move(cond);
    return;
  }
  conditions.push_back(std::move(cond));
}

// ValidatePodBinding. Upstream returns the field errors as a plain
// aggregate, not an Invalid status, so the API answers 500 with their text.
Status validateBinding(const Object& binding) {
  const Object* target = api::findObject(binding, "target");
  std::string target_kind = target ? api::getString(*target, "kind") : "";
  std::string target_name = target ? api::getString(*target, "name") : "";
  api::FieldErrors errs;
  if (!target_kind.empty() && target_kind != "Node")
    errs.notSupported("target.kind", api::FieldErrors::quote(target_kind), {"Node", "<empty>"});
  if (target_name.empty()) errs.required("target.name");
  if (errs.empty()) return okStatus();
  std::vector<std::string> parts;
  for (const auto& c : errs.causes()) parts.push_back(c.field + ": " + c.message);
  std::string msg = parts.size() == 1 ? parts[0] : "[";
  if (parts.size() > 1) {
    for (size_t i = 0; i < parts.size(); ++i) msg += (i ? ", " : "") + parts[i];
    msg += "]";
  }
  return internalError(msg);
}

std::string stripResourceVersion(Object obj) {
  if (auto* md = obj.if_contains("metadata"); md && md->is_object())
    md->get_object().erase("resourceVersion");
  return json::serialize(obj);
}

}  // namespace

Result<Object> Registry::bind(const std::string& ns, const std::string& pod_name,
                              const Object& binding, const WriteOptions& opts) {
  const Object* bmd = api::metadata(binding);
  std::string binding_name = bmd ? api::getString(*bmd, "name") : "";
  std::string binding_ns = bmd ? api::getString(*bmd, "namespace") : "";
  if (!binding_ns.empty() && binding_ns != ns)
    return badRequest(
        "the namespace of the provided object does not match the namespace sent on the request");
  if (binding_name != pod_name)
    return badRequest("name in URL does not match name in Binding object");
  // The pod store's key function refuses an empty name.
  if (pod_name.empty()) return badRequest("Name parameter required.");
  BERTH_RETURN_IF_ERROR(validateBinding(binding));
  const std::string node = api::getStringPath(binding, "target.name");
  const std::string want_uid = bmd ? api::getString(*bmd, "uid") : "";
  const std::string want_rv = bmd ? api::getString(*bmd, "resourceVersion") : "";
  const Object* annotations = bmd ? api::findObject(*bmd, "annotations") : nullptr;

  const api::KindInfo* pod_kind = kinds_.byKind("", "v1", "Pod");
  if (!pod_kind) return internalError("pods are not served");
  const std::string k = key(*pod_kind, ns, pod_name);
  // GuaranteedUpdate: re-read and re-check on every write conflict.
  for (int attempt = 0;; ++attempt) {
    BERTH_ASSIGN_OR_RETURN(auto current, getRaw(*pod_kind, ns, pod_name));
    Object pod = parseStored(current);
    if (!want_uid.empty() && want_uid != api::uid(pod))
      return preconditionFailed(pod_name, "UID", want_uid, api::uid(pod));
    if (!want_rv.empty() && want_rv != std::to_string(current.mod_revision))
      return preconditionFailed(pod_name, "ResourceVersion", want_rv,
                                std::to_string(current.mod_revision));
    auto& md = api::mutableMetadata(pod);
    if (md.contains("deletionTimestamp"))
      return bindingConflict(pod_name,
                             "pod " + pod_name + " is being deleted, cannot be assigned to a host");
    auto& spec = api::ensureObject(pod, "spec");
    std::string assigned = api::getString(spec, "nodeName");
    if (!assigned.empty())
      return bindingConflict(pod_name, "pod " + pod_name + " is already assigned to node " +
                                           json::serialize(json::value(assigned)));
    if (auto* gates = api::findArray(spec, "schedulingGates"); gates && !gates->empty())
      return bindingConflict(pod_name, "pod " + pod_name + " has non-empty .spec.schedulingGates");
    spec["nodeName"] = node;
    if (annotations && !annotations->empty()) {
      auto& pod_annotations = api::ensureObject(md, "annotations");
      for (const auto& [name, value] : *annotations) pod_annotations[name] = value;
    }
    setPodScheduled(pod, formatRfc3339(clock_.now()));
    if (opts.dry_run) return pod;
    auto res = store_->update(k, stripResourceVersion(pod), current.mod_revision);
    if (!res.ok()) {
      if (res.error().code == ErrorCode::kConflict && attempt < 20) continue;
      if (res.error().code == ErrorCode::kNotFound) return notFound("", "pods", pod_name);
      if (res.error().code == ErrorCode::kConflict)
        return conflict(
            "", "pods", pod_name,
            "the object has been modified; please apply your changes to the latest version and try "
            "again");
      return res.error();
    }
    md["resourceVersion"] = std::to_string(res->mod_revision);
    return pod;
  }
}

namespace {

// Decodes a Binding request body: JSON or YAML through the schema (with the
// request's field validation), or Kubernetes protobuf as the scheduler and
// client-go send it.
Result<Object> decodeBinding(const Request& req, FieldValidation validation) {
  std::string_view ct = req.header("content-type");
  const api::KindInfo& kind = bindingKind();
  if (ct.substr(0, ct.find(';')) != "application/vnd.kubernetes.protobuf")
    return decodeObject(ct, req.body, kind, validation, &Registry::threadWarnings());
  auto lookup = [](std::string_view api_version,
                   std::string_view k) -> std::shared_ptr<const api::SchemaType> {
    if (api_version != "v1" || k != "Binding") return nullptr;
    return api::SchemaRegistry::builtin().find(bindingKind().schema_type);
  };
  BERTH_ASSIGN_OR_RETURN(auto decoded, api::decodeKubernetesProtobuf(req.body, lookup));
  Object obj = std::move(decoded.object);
  BERTH_RETURN_IF_ERROR(checkFields(obj, kind, validation, &Registry::threadWarnings()));
  return obj;
}

// The fieldValidation and dryRun query parameters, as the create handler
// reads them.
Result<FieldValidation> bindingFieldValidation(const Request& req) {
  auto v = req.queryParam("fieldValidation");
  if (v.empty() || v == "Warn") return FieldValidation::kWarn;
  if (v == "Strict") return FieldValidation::kStrict;
  if (v == "Ignore") return FieldValidation::kIgnore;
  return badRequest("fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\"");
}

Result<bool> bindingDryRun(const Request& req) {
  for (auto v : req.queryParams("dryRun")) {
    if (v == "All") return true;
    if (!v.empty())
      return badRequest("Invalid dry run value: " + std::string(v) + ", supported values are: All");
  }
  return false;
}

}  // namespace

Response ApiServer::handleBinding(const Request& req, const std::string& ns,
                                  const std::string& name) {
  if (req.method != "POST")
    return errorResponse(
        methodNotAllowed("the server does not allow this method on the requested resource"));
  auto fv = bindingFieldValidation(req);
  if (!fv.ok()) return errorResponse(fv.error());
  auto dry_run = bindingDryRun(req);
  if (!dry_run.ok()) return errorResponse(dry_run.error());
  auto binding = decodeBinding(req, *fv);
  if (!binding.ok()) return errorResponse(binding.error());
  // LegacyBindingREST: the pod is the one the Binding names.
  std::string pod = name;
  if (pod.empty()) {
    const Object* md = api::metadata(*binding);
    pod = md ? api::getString(*md, "name") : "";
  }
  WriteOptions opts;
  opts.dry_run = *dry_run;
  opts.field_validation = *fv;
  opts.user = req.user;
  auto bound = registry_.bind(ns, pod, *binding, opts);
  if (!bound.ok()) return errorResponse(bound.error());
  // The create handler answers a Status without a code with 201 and fills it in.
  json::object status{{"kind", "Status"},
                      {"apiVersion", "v1"},
                      {"metadata", json::object()},
                      {"status", "Success"},
                      {"code", 201}};
  return jsonResponse(201, json::value(std::move(status)));
}

Response ApiServer::handleLegacyBinding(const Request& req, bool* handled) {
  *handled = false;
  // /api/v1/namespaces/{ns}/bindings
  static constexpr std::string_view kPrefix = "/api/v1/namespaces/";
  static constexpr std::string_view kSuffix = "/bindings";
  std::string_view p = req.path;
  if (!p.empty() && p.back() == '/') p.remove_suffix(1);
  if (p.size() <= kPrefix.size() + kSuffix.size() || p.substr(0, kPrefix.size()) != kPrefix ||
      p.substr(p.size() - kSuffix.size()) != kSuffix)
    return {};
  std::string_view ns = p.substr(kPrefix.size(), p.size() - kPrefix.size() - kSuffix.size());
  if (ns.find('/') != std::string_view::npos) return {};
  *handled = true;
  return handleBinding(req, std::string(ns), "");
}

}  // namespace berth::apiserver
