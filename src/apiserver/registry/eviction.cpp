// pods/eviction: a pod deletion that honours PodDisruptionBudgets. Mirrors
// upstream's EvictionREST (pkg/registry/core/pod/storage/eviction.go):
//  - Pending, Succeeded, Failed and terminating pods are deleted at once
//    (canIgnorePDB): they are not running, so evicting them disrupts nothing;
//  - otherwise the budgets of the pod's namespace whose selector matches the
//    pod are consulted: more than one is refused with a 500 Status, a budget
//    whose status is stale or allows no disruption answers 429
//    TooManyRequests, and an allowed eviction decrements
//    status.disruptionsAllowed and records status.disruptedPods[pod] (so the
//    disruption controller does not count the pod as healthy any more)
//    before the pod is deleted;
//  - unready pods guarded by a budget are deleted without a decrement when
//    the budget is healthy or its unhealthyPodEvictionPolicy is AlwaysAllow;
//  - before deleting, the pod gets the DisruptionTarget condition
//    (reason EvictionByEvictionAPI), as with the PodDisruptionConditions gate.
#include <boost/json.hpp>

#include "api/object.h"
#include "api/protobuf.h"
#include "api/schema.h"
#include "api/selector.h"
#include "apiserver/registry/codec.h"
#include "apiserver/registry/registry.h"
#include "apiserver/status.h"

namespace berth::apiserver {

namespace json = boost::json;
using api::Object;

namespace {

// upstream MaxDisruptedPodSize: evictions approved but not yet seen by the
// disruption controller; beyond this the eviction is refused.
constexpr size_t kMaxDisruptedPodSize = 2000;
// upstream EvictionsRetry.Steps: attempts on conflicting writes.
constexpr int kEvictionRetries = 20;

constexpr char kTooManyRequestsMessage[] =
    "Cannot evict pod as it would violate the pod's disruption budget.";
constexpr char kDisruptionBudgetCause[] = "DisruptionBudget";

// The Eviction type as a KindInfo for decoding only; upstream accepts both
// policy/v1 and policy/v1beta1 bodies (AcceptsGroupVersion).
const api::KindInfo& evictionKind(std::string_view version) {
  auto make = [](const char* v) {
    api::KindInfo k;
    k.group = "policy";
    k.version = v;
    k.kind = "Eviction";
    k.resource = "evictions";
    k.singular = "eviction";
    k.schema_type = "policy.v1.Eviction";
    k.verbs = {"create"};
    return k;
  };
  static const api::KindInfo v1 = make("v1");
  static const api::KindInfo v1beta1 = make("v1beta1");
  return version == "v1beta1" ? v1beta1 : v1;
}

// The delete options an eviction carries, keeping apart whether a
// resourceVersion precondition was given (upstream resourceVersionIsUnset).
struct EvictionDeleteOptions {
  DeleteOptions delete_options;
  bool has_rv_precondition = false;
};

Result<EvictionDeleteOptions> evictionDeleteOptions(const Object& eviction, bool request_dry_run) {
  EvictionDeleteOptions out;
  DeleteOptions& o = out.delete_options;
  // propagateDryRun: the request's dryRun applies unless the body names its
  // own; "All" is the only valid value, so both set means the same.
  o.dry_run = request_dry_run;
  const Object* opts = api::findObject(eviction, "deleteOptions");
  if (!opts) return out;
  if (const json::array* dry = api::findArray(*opts, "dryRun")) {
    for (const auto& v : *dry) {
      if (!v.is_string() || v.get_string() != "All")
        return badRequest("Invalid dry run value: " + api::valueRepr(v) +
                          ", supported values are: All");
      o.dry_run = true;
    }
  }
  if (auto g = api::intAt(*opts, {"gracePeriodSeconds"})) o.grace_period_seconds = *g < 0 ? 1 : *g;
  std::string policy = api::getString(*opts, "propagationPolicy");
  if (policy == "Background")
    o.propagation = Propagation::kBackground;
  else if (policy == "Foreground")
    o.propagation = Propagation::kForeground;
  else if (policy == "Orphan")
    o.propagation = Propagation::kOrphan;
  else if (!policy.empty()) {
    api::FieldErrors errs;
    errs.notSupported("propagationPolicy", api::FieldErrors::quote(policy),
                      {"Foreground", "Background", "Orphan", "nil"});
    return errs.toError("", "DeleteOptions", "");
  }
  if (auto orphan = api::boolAt(*opts, {"orphanDependents"}))
    o.propagation = *orphan ? Propagation::kOrphan : Propagation::kBackground;
  if (const Object* pre = api::findObject(*opts, "preconditions")) {
    o.precondition_uid = api::getString(*pre, "uid");
    if (const json::value* rv = pre->if_contains("resourceVersion"); rv && rv->is_string()) {
      o.precondition_resource_version = std::string(rv->get_string());
      out.has_rv_precondition = true;
    }
  }
  return out;
}

// podutil.IsPodReady.
bool isPodReady(const Object& pod) {
  const json::array* conds = api::arrAt(pod, {"status", "conditions"});
  if (!conds) return false;
  for (const auto& c : *conds)
    if (const Object* o = c.if_object(); o && api::getString(*o, "type") == "Ready")
      return api::getString(*o, "status") == "True";
  return false;
}

std::string phaseOf(const Object& pod) { return api::getStringPath(pod, "status.phase"); }
bool hasDeletionTimestamp(const Object& obj) {
  const Object* md = api::metadata(obj);
  return md && md->contains("deletionTimestamp") && !md->at("deletionTimestamp").is_null();
}

// canIgnorePDB: pods that are not running are deleted without a budget check.
bool canIgnorePdb(const Object& pod) {
  std::string phase = phaseOf(pod);
  return phase == "Succeeded" || phase == "Failed" || phase == "Pending" ||
         hasDeletionTimestamp(pod);
}

// shouldEnforceResourceVersion: everything but terminal or terminating pods
// is deleted only in the version that was checked, so that a pod turning
// ready in between is not evicted without its budget.
bool shouldEnforceResourceVersion(const Object& pod) {
  std::string phase = phaseOf(pod);
  return !(phase == "Succeeded" || phase == "Failed" || hasDeletionTimestamp(pod));
}

// createTooManyRequestsError: the budget's status is behind its spec.
Error budgetBeingProcessed(const std::string& pdb_name) {
  Error e = makeError(ErrorCode::kTooManyRequests, kTooManyRequestsMessage);
  e.retry_after_seconds = 10;
  e.causes.push_back(
      {kDisruptionBudgetCause,
       "The disruption budget " + pdb_name + " is still being processed by the server.", ""});
  return e;
}

Error budgetExhausted(const std::string& pdb_name, int64_t desired, int64_t current) {
  Error e = makeError(ErrorCode::kTooManyRequests, kTooManyRequestsMessage);
  e.causes.push_back({kDisruptionBudgetCause,
                      "The disruption budget " + pdb_name + " needs " + std::to_string(desired) +
                          " healthy pods and has " + std::to_string(current) + " currently",
                      ""});
  return e;
}

// apimeta.SetStatusCondition for metav1.Condition lists: a new condition or
// a status change sets lastTransitionTime; reason, message and
// observedGeneration are updated in place.
void setStatusCondition(Object& status, const std::string& type, const std::string& cond_status,
                        const std::string& reason, const std::string& message,
                        int64_t observed_generation, const std::string& now) {
  json::array& conds = api::ensureArray(status, "conditions");
  for (auto& c : conds) {
    Object* o = c.if_object();
    if (!o || api::getString(*o, "type") != type) continue;
    if (api::getString(*o, "status") != cond_status) {
      (*o)["status"] = cond_status;
      (*o)["lastTransitionTime"] = now;
    }
    (*o)["reason"] = reason;
    (*o)["message"] = message;
    if (observed_generation != 0)
      (*o)["observedGeneration"] = observed_generation;
    else
      o->erase("observedGeneration");
    return;
  }
  Object c{{"type", type}, {"status", cond_status}};
  if (observed_generation != 0) c["observedGeneration"] = observed_generation;
  c["lastTransitionTime"] = now;
  c["reason"] = reason;
  c["message"] = message;
  conds.push_back(std::move(c));
}

// pdbhelper.UpdateDisruptionAllowedCondition.
void updateDisruptionAllowedCondition(Object& pdb, const std::string& now) {
  Object& status = api::ensureObject(pdb, "status");
  int64_t allowed = api::getInt(status, "disruptionsAllowed", 0);
  int64_t observed = api::getInt(status, "observedGeneration", 0);
  if (allowed > 0)
    setStatusCondition(status, "DisruptionAllowed", "True", "SufficientPods", "", observed, now);
  else
    setStatusCondition(status, "DisruptionAllowed", "False", "InsufficientPods", "", observed, now);
}

// podutil.UpdatePodCondition with the eviction's DisruptionTarget condition.
void setDisruptionTarget(Object& pod, const std::string& now) {
  json::array& conds = api::ensureArray(api::ensureObject(pod, "status"), "conditions");
  Object cond{{"type", "DisruptionTarget"},        {"status", "True"},
              {"lastProbeTime", nullptr},          {"lastTransitionTime", now},
              {"reason", "EvictionByEvictionAPI"}, {"message", "Eviction API: evicting"}};
  for (auto& c : conds) {
    Object* o = c.if_object();
    if (!o || api::getString(*o, "type") != "DisruptionTarget") continue;
    if (api::getString(*o, "status") == "True")
      if (const json::value* t = o->if_contains("lastTransitionTime"))
        cond["lastTransitionTime"] = *t;
    c = std::move(cond);
    return;
  }
  conds.push_back(std::move(cond));
}

Object successStatusObject() {
  // The create handler fills in 201 for a Status without a code.
  return Object{{"kind", "Status"},
                {"apiVersion", "v1"},
                {"metadata", Object()},
                {"status", "Success"},
                {"code", 201}};
}

}  // namespace

Result<Object> Registry::decodeEviction(std::string_view content_type, const std::string& body,
                                        FieldValidation validation) {
  std::string_view mt = content_type.substr(0, content_type.find(';'));
  while (!mt.empty() && mt.back() == ' ') mt.remove_suffix(1);
  if (mt != "application/vnd.kubernetes.protobuf") {
    // The version decides which endpoint kind the body is checked against.
    std::string_view version = "v1";
    json::error_code ec;
    json::value peek = json::parse(body, ec);
    if (!ec && peek.is_object() &&
        api::getString(peek.get_object(), "apiVersion") == "policy/v1beta1")
      version = "v1beta1";
    return decodeObject(content_type, body, evictionKind(version), validation, &threadWarnings());
  }
  auto lookup = [](std::string_view api_version,
                   std::string_view k) -> std::shared_ptr<const api::SchemaType> {
    if ((api_version != "policy/v1" && api_version != "policy/v1beta1") || k != "Eviction")
      return nullptr;
    return api::SchemaRegistry::builtin().find(evictionKind("v1").schema_type);
  };
  BERTH_ASSIGN_OR_RETURN(auto decoded, api::decodeKubernetesProtobuf(body, lookup));
  Object obj = std::move(decoded.object);
  std::string_view version =
      api::getString(obj, "apiVersion") == "policy/v1beta1" ? "v1beta1" : "v1";
  BERTH_RETURN_IF_ERROR(checkFields(obj, evictionKind(version), validation, &threadWarnings()));
  return obj;
}

Result<Object> Registry::evict(const std::string& ns, const std::string& pod_name,
                               const Object& eviction, const WriteOptions& opts) {
  const Object* emd = api::metadata(eviction);
  std::string eviction_ns = emd ? api::getString(*emd, "namespace") : "";
  if (!eviction_ns.empty() && eviction_ns != ns)
    return badRequest(
        "the namespace of the provided object does not match the namespace sent on the request");
  if ((emd ? api::getString(*emd, "name") : "") != pod_name)
    return badRequest("name in URL does not match name in Eviction object");
  BERTH_ASSIGN_OR_RETURN(auto original, evictionDeleteOptions(eviction, opts.dry_run));
  const bool dry_run = original.delete_options.dry_run;

  const api::KindInfo* pod_kind = kinds_.byKind("", "v1", "Pod");
  const api::KindInfo* pdb_kind = kinds_.byKind("policy", "v1", "PodDisruptionBudget");
  if (!pod_kind || !pdb_kind) return internalError("pods or poddisruptionbudgets are not served");

  // addConditionAndDeletePod: marks the pod with DisruptionTarget (a status
  // write, so a resourceVersion precondition moves to the version it wrote)
  // and deletes it.
  auto deletePod = [&](DeleteOptions del) -> Status {
    if (!del.dry_run) {
      const std::string want_uid = del.precondition_uid;
      const std::string want_rv = del.precondition_resource_version;
      auto marked = mutate(
          *pod_kind, ns, pod_name,
          [&](Object& pod) -> Status {
            if (!want_uid.empty() && want_uid != api::uid(pod))
              return conflict("", "Pod", pod_name,
                              "the UID in the precondition (" + want_uid +
                                  ") does not match the UID in record (" + api::uid(pod) +
                                  "). The object might have been deleted and then recreated");
            std::string rv = api::getStringPath(pod, "metadata.resourceVersion");
            if (!want_rv.empty() && want_rv != rv)
              return conflict("", "Pod", pod_name,
                              "the ResourceVersion in the precondition (" + want_rv +
                                  ") does not match the ResourceVersion in record (" + rv +
                                  "). The object might have been modified");
            setDisruptionTarget(pod, formatRfc3339(clock_.now()));
            return okStatus();
          },
          Subresource::kStatus);
      if (!marked.ok()) return marked.error();
      if (!want_rv.empty())
        del.precondition_resource_version = api::getStringPath(*marked, "metadata.resourceVersion");
    }
    auto removed = remove(*pod_kind, ns, pod_name, del);
    if (!removed.ok()) return removed.error();
    return okStatus();
  };

  // Pods that can skip the budget check are deleted at once, retrying on
  // conflicts unless the caller gave a resourceVersion precondition.
  Object pod;
  for (int attempt = 0;; ++attempt) {
    BERTH_ASSIGN_OR_RETURN(pod, get(*pod_kind, ns, pod_name));
    if (!canIgnorePdb(pod)) break;
    DeleteOptions del = original.delete_options;
    if (shouldEnforceResourceVersion(pod) && !original.has_rv_precondition)
      del.precondition_resource_version = api::getStringPath(pod, "metadata.resourceVersion");
    Status s = deletePod(del);
    if (s.ok()) return successStatusObject();
    if (s.error().code != ErrorCode::kConflict || original.has_rv_precondition ||
        attempt + 1 >= kEvictionRetries)
      return s.error();
  }

  // getPodDisruptionBudgets: a nil or empty selector matches nothing here.
  std::vector<Object> pdbs;
  {
    BERTH_ASSIGN_OR_RETURN(auto page, list(*pdb_kind, ns, ListParams{}));
    const Object* pod_labels = api::objAt(pod, {"metadata", "labels"});
    for (const auto& kv : page.items) {
      Object pdb = fromStorage(*pdb_kind, parseStored(kv));
      if (api::namespaceOf(pdb) != ns) continue;
      auto selector = api::LabelSelector::fromObject(api::at(pdb, {"spec", "selector"}));
      if (!selector.ok() || selector->empty() || !selector->matches(pod_labels)) continue;
      pdbs.push_back(std::move(pdb));
    }
  }
  if (pdbs.size() > 1) {
    return Object{
        {"kind", "Status"},
        {"apiVersion", "v1"},
        {"metadata", Object()},
        {"status", "Failure"},
        {"message",
         "This pod has more than one PodDisruptionBudget, which the eviction subresource does "
         "not support."},
        {"code", 500}};
  }

  std::string pdb_name;
  bool unready_without_decrement = false;
  if (pdbs.size() == 1) {
    Object pdb = std::move(pdbs[0]);
    pdb_name = api::name(pdb);
    if (!isPodReady(pod)) {
      // An unready pod does not count towards currentHealthy: deleting it
      // takes nothing from the budget when the policy always allows it or
      // the application is healthy anyway.
      const Object* status = api::findObject(pdb, "status");
      int64_t current = status ? api::getInt(*status, "currentHealthy", 0) : 0;
      int64_t desired = status ? api::getInt(*status, "desiredHealthy", 0) : 0;
      if (api::getStringPath(pdb, "spec.unhealthyPodEvictionPolicy") == "AlwaysAllow" ||
          (current >= desired && desired > 0))
        unready_without_decrement = true;
    }
    // checkAndDecrement, retried with a fresh budget on conflicts.
    for (int attempt = 0; !unready_without_decrement; ++attempt) {
      if (attempt > 0) {
        BERTH_ASSIGN_OR_RETURN(pdb, get(*pdb_kind, ns, pdb_name));
      }
      Object& status = api::ensureObject(pdb, "status");
      const Object* md = api::metadata(pdb);
      int64_t generation = md ? api::getInt(*md, "generation", 0) : 0;
      int64_t allowed = api::getInt(status, "disruptionsAllowed", 0);
      const Object* disrupted = api::findObject(status, "disruptedPods");
      if (api::getInt(status, "observedGeneration", 0) < generation)
        return budgetBeingProcessed(pdb_name);
      if (allowed < 0)
        return forbidden("policy", "poddisruptionbudget", pdb_name,
                         "pdb disruptions allowed is negative");
      if (disrupted && disrupted->size() > kMaxDisruptedPodSize)
        return forbidden(
            "policy", "poddisruptionbudget", pdb_name,
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller");
      if (allowed == 0)
        return budgetExhausted(pdb_name, api::getInt(status, "desiredHealthy", 0),
                               api::getInt(status, "currentHealthy", 0));
      const std::string now = formatRfc3339(clock_.now());
      status["disruptionsAllowed"] = allowed - 1;
      if (allowed - 1 == 0) updateDisruptionAllowedCondition(pdb, now);
      if (dry_run) break;
      // Tell the disruption controller the pod is about to go, so that it
      // does not count it as healthy while the deletion is under way.
      api::ensureObject(status, "disruptedPods")[pod_name] = now;
      WriteOptions wo;
      wo.subresource = Subresource::kStatus;
      wo.user = opts.user;
      auto written = update(*pdb_kind, ns, pdb_name, pdb, wo);
      if (written.ok()) break;
      if (written.error().code != ErrorCode::kConflict || attempt + 1 >= kEvictionRetries)
        return written.error();
    }
  }

  // Delete the pod. For an unready pod deleted without a decrement, only the
  // checked version may go: if it turned ready meanwhile, the client retries.
  DeleteOptions del = original.delete_options;
  if (unready_without_decrement)
    del.precondition_resource_version = api::getStringPath(pod, "metadata.resourceVersion");
  Status s = deletePod(del);
  if (!s.ok()) {
    if (s.error().code == ErrorCode::kConflict && unready_without_decrement &&
        !original.has_rv_precondition)
      return budgetBeingProcessed(pdb_name);
    return s.error();
  }
  return successStatusObject();
}

}  // namespace berth::apiserver
