// apps/v1: Deployment, ReplicaSet, DaemonSet, StatefulSet and
// ControllerRevision, after upstream pkg/apis/apps/v1/defaults.go,
// pkg/apis/apps/validation/validation.go and printers.go.

#include <cctype>

#include "api/kind.h"
#include "api/kinds/access.h"
#include "api/kinds/core_kinds.h"
#include "api/kinds/pod_spec.h"
#include "api/kinds/printing.h"
#include "api/validation.h"

namespace berth::api {

namespace json = boost::json;

namespace {

std::string q(const std::string& s) { return FieldErrors::quote(s); }

const json::object& specOf(const Object& obj) {
  static const json::object kEmpty;
  const json::object* s = objAt(obj, {"spec"});
  return s ? *s : kEmpty;
}

void defaultTemplate(json::object& spec) {
  if (auto it = spec.find("template"); it != spec.end()) defaultPodTemplate(it->value());
}

// The checks shared by the four controllers' specs.
void validateControllerSpec(const json::object& spec, const std::string& kind, const std::string& selector_what,
                            FieldErrors& errs) {
  validateNonnegative(at(spec, {"replicas"}), "spec.replicas", errs);
  validateSelectorMatchesTemplate(spec, "spec", selector_what, errs);
  validatePodTemplateSpec(at(spec, {"template"}), "spec.template", errs);
  validateTemplateForController(at(spec, {"template"}), "spec.template", kind, errs);
  validateNonnegative(at(spec, {"minReadySeconds"}), "spec.minReadySeconds", errs);
  validateNonnegative(at(spec, {"revisionHistoryLimit"}), "spec.revisionHistoryLimit", errs);
}

json::array workloadWideCells(const Object& obj) {
  std::string names, images;
  containerCells(at(obj, {"spec", "template", "spec", "containers"}), &names, &images);
  return json::array{names, images, formatLabelSelector(at(obj, {"spec", "selector"}))};
}

std::vector<PrinterColumn> wideColumns() {
  return {column("Containers", "string", "Names of each container in the template.", 1),
          column("Images", "string", "Images referenced by each container in the template.", 1),
          column("Selector", "string", "Label selector for pods.", 1)};
}

int64_t intField(const Object& o, std::initializer_list<std::string_view> path) { return intAt(o, path).value_or(0); }

KindInfo deploymentKind() {
  KindInfo k = makeKind("apps", "v1", "Deployment", "deployments", true, {"deploy"}, {"all"});
  k.has_status = true;
  k.has_scale = true;
  k.defaults = [](Object& d) {
    json::object& spec = ensureObj(d, "spec");
    setDefault(spec, "replicas", 1);
    json::object& strategy = ensureObj(spec, "strategy");
    if (isZero(strategy, "type")) strategy["type"] = "RollingUpdate";
    if (strAt(strategy, {"type"}) == "RollingUpdate") {
      json::object& ru = ensureObj(strategy, "rollingUpdate");
      setDefault(ru, "maxUnavailable", "25%");
      setDefault(ru, "maxSurge", "25%");
    }
    setDefault(spec, "revisionHistoryLimit", 10);
    setDefault(spec, "progressDeadlineSeconds", 600);
    defaultTemplate(spec);
  };
  k.validate = [](const Object& d, const Object* old, FieldErrors& errs) {
    validateObjectMeta(d, old, true, NameRule::kDns1123Subdomain, errs);
    const json::object& spec = specOf(d);
    validateControllerSpec(spec, "ReplicaSet", "deployment", errs);
    // ValidateDeploymentStrategy.
    const json::object* strategy = objAt(spec, {"strategy"});
    std::string type = strategy ? strAt(*strategy, {"type"}) : "";
    if (type == "Recreate") {
      if (at(*strategy, {"rollingUpdate"}))
        errs.forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'");
    } else if (type == "RollingUpdate") {
      const json::object* ru = objAt(*strategy, {"rollingUpdate"});
      if (!ru) {
        errs.required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil");
      } else {
        validateIntOrPercent(at(*ru, {"maxUnavailable"}), "spec.strategy.rollingUpdate.maxUnavailable", true, errs);
        validateIntOrPercent(at(*ru, {"maxSurge"}), "spec.strategy.rollingUpdate.maxSurge", false, errs);
        if (intOrPercentValue(at(*ru, {"maxUnavailable"})) == 0 && intOrPercentValue(at(*ru, {"maxSurge"})) == 0)
          errs.invalid("spec.strategy.rollingUpdate.maxUnavailable", valueRepr(at(*ru, {"maxUnavailable"})),
                       "may not be 0 when `maxSurge` is 0");
      }
    } else {
      errs.notSupported("spec.strategy", q(type), {"Recreate", "RollingUpdate"});
    }
    if (auto pds = intAt(spec, {"progressDeadlineSeconds"})) {
      validateNonnegative(at(spec, {"progressDeadlineSeconds"}), "spec.progressDeadlineSeconds", errs);
      if (*pds <= intAt(spec, {"minReadySeconds"}).value_or(0))
        errs.invalid("spec.progressDeadlineSeconds", std::to_string(*pds), "must be greater than minReadySeconds");
    }
    if (old) validateSelectorImmutable(d, *old, errs);
  };
  k.columns = {column("Ready", "string", "Number of the pod with ready state"),
               column("Up-to-date", "integer", "Total number of non-terminated pods targeted by this deployment that "
                                               "have the desired template spec."),
               column("Available", "integer", "Total number of available pods (ready for at least minReadySeconds) "
                                              "targeted by this deployment."),
               ageColumn()};
  for (auto& c : wideColumns()) k.columns.push_back(c);
  k.cells = [](const Object& d, const KindContext& ctx) {
    json::array cells{std::to_string(intField(d, {"status", "readyReplicas"})) + "/" +
                          std::to_string(intField(d, {"spec", "replicas"})),
                      intField(d, {"status", "updatedReplicas"}), intField(d, {"status", "availableReplicas"}),
                      ageCell(d, ctx)};
    for (auto& c : workloadWideCells(d)) cells.push_back(c);
    return cells;
  };
  return k;
}

KindInfo replicaSetKind() {
  KindInfo k = makeKind("apps", "v1", "ReplicaSet", "replicasets", true, {"rs"}, {"all"});
  k.has_status = true;
  k.has_scale = true;
  k.defaults = [](Object& rs) {
    json::object& spec = ensureObj(rs, "spec");
    setDefault(spec, "replicas", 1);
    defaultTemplate(spec);
  };
  k.validate = [](const Object& rs, const Object* old, FieldErrors& errs) {
    validateObjectMeta(rs, old, true, NameRule::kDns1123Subdomain, errs);
    validateControllerSpec(specOf(rs), "ReplicaSet", "deployment", errs);
    if (old) validateSelectorImmutable(rs, *old, errs);
  };
  k.columns = {column("Desired", "integer", "Replicas is the number of desired replicas."),
               column("Current", "integer", "Replicas is the most recently observed number of replicas."),
               column("Ready", "integer", "The number of ready replicas for this replica set."), ageColumn()};
  for (auto& c : wideColumns()) k.columns.push_back(c);
  k.cells = [](const Object& rs, const KindContext& ctx) {
    json::array cells{intField(rs, {"spec", "replicas"}), intField(rs, {"status", "replicas"}),
                      intField(rs, {"status", "readyReplicas"}), ageCell(rs, ctx)};
    for (auto& c : workloadWideCells(rs)) cells.push_back(c);
    return cells;
  };
  k.selectable_fields = [](const Object& rs) {
    return std::map<std::string, std::string>{{"status.replicas", std::to_string(intField(rs, {"status", "replicas"}))}};
  };
  return k;
}

KindInfo daemonSetKind() {
  KindInfo k = makeKind("apps", "v1", "DaemonSet", "daemonsets", true, {"ds"}, {"all"});
  k.has_status = true;
  k.defaults = [](Object& ds) {
    json::object& spec = ensureObj(ds, "spec");
    json::object& strategy = ensureObj(spec, "updateStrategy");
    if (isZero(strategy, "type")) strategy["type"] = "RollingUpdate";
    if (strAt(strategy, {"type"}) == "RollingUpdate") {
      json::object& ru = ensureObj(strategy, "rollingUpdate");
      setDefault(ru, "maxUnavailable", 1);
      setDefault(ru, "maxSurge", 0);
    }
    setDefault(spec, "revisionHistoryLimit", 10);
    defaultTemplate(spec);
  };
  k.validate = [](const Object& ds, const Object* old, FieldErrors& errs) {
    validateObjectMeta(ds, old, true, NameRule::kDns1123Subdomain, errs);
    const json::object& spec = specOf(ds);
    validateControllerSpec(spec, "DaemonSet", "daemonset", errs);
    const json::object* strategy = objAt(spec, {"updateStrategy"});
    std::string type = strategy ? strAt(*strategy, {"type"}) : "";
    if (type == "RollingUpdate") {
      if (const json::object* ru = objAt(*strategy, {"rollingUpdate"})) {
        validateIntOrPercent(at(*ru, {"maxUnavailable"}), "spec.updateStrategy.rollingUpdate.maxUnavailable", true,
                             errs);
        validateIntOrPercent(at(*ru, {"maxSurge"}), "spec.updateStrategy.rollingUpdate.maxSurge", true, errs);
        if (intOrPercentValue(at(*ru, {"maxUnavailable"})) == 0 && intOrPercentValue(at(*ru, {"maxSurge"})) == 0)
          errs.invalid("spec.updateStrategy.rollingUpdate.maxUnavailable", valueRepr(at(*ru, {"maxUnavailable"})),
                       "may not be 0 when `maxSurge` is 0");
      }
    } else if (type != "OnDelete") {
      errs.notSupported("spec.updateStrategy", q(type), {"OnDelete", "RollingUpdate"});
    }
    if (old) validateSelectorImmutable(ds, *old, errs);
  };
  k.columns = {column("Desired", "integer", "The total number of nodes that should be running the daemon pod."),
               column("Current", "integer", "The number of nodes that are running at least 1 daemon pod and are "
                                            "supposed to run the daemon pod."),
               column("Ready", "integer", "The number of nodes that should be running the daemon pod and have one or "
                                          "more of the daemon pod running and ready."),
               column("Up-to-date", "integer", "The total number of nodes that are running updated daemon pod"),
               column("Available", "integer", "The number of nodes that should be running the daemon pod and have "
                                              "one or more of the daemon pod running and available."),
               column("Node Selector", "string", "NodeSelector is a selector which must be true for the pod to fit "
                                                 "on a node."),
               ageColumn()};
  for (auto& c : wideColumns()) k.columns.push_back(c);
  k.cells = [](const Object& ds, const KindContext& ctx) {
    json::array cells{intField(ds, {"status", "desiredNumberScheduled"}),
                      intField(ds, {"status", "currentNumberScheduled"}),
                      intField(ds, {"status", "numberReady"}),
                      intField(ds, {"status", "updatedNumberScheduled"}),
                      intField(ds, {"status", "numberAvailable"}),
                      formatSelectorMap(at(ds, {"spec", "template", "spec", "nodeSelector"})),
                      ageCell(ds, ctx)};
    for (auto& c : workloadWideCells(ds)) cells.push_back(c);
    return cells;
  };
  return k;
}

KindInfo statefulSetKind() {
  KindInfo k = makeKind("apps", "v1", "StatefulSet", "statefulsets", true, {"sts"}, {"all"});
  k.has_status = true;
  k.has_scale = true;
  k.defaults = [](Object& ss) {
    json::object& spec = ensureObj(ss, "spec");
    if (isZero(spec, "podManagementPolicy")) spec["podManagementPolicy"] = "OrderedReady";
    json::object& strategy = ensureObj(spec, "updateStrategy");
    if (isZero(strategy, "type")) {
      strategy["type"] = "RollingUpdate";
      ensureObj(strategy, "rollingUpdate");
    }
    if (strAt(strategy, {"type"}) == "RollingUpdate" && objAt(strategy, {"rollingUpdate"}))
      setDefault(ensureObj(strategy, "rollingUpdate"), "partition", 0);
    json::object& retention = ensureObj(spec, "persistentVolumeClaimRetentionPolicy");
    if (isZero(retention, "whenDeleted")) retention["whenDeleted"] = "Retain";
    if (isZero(retention, "whenScaled")) retention["whenScaled"] = "Retain";
    setDefault(spec, "replicas", 1);
    setDefault(spec, "revisionHistoryLimit", 10);
    defaultTemplate(spec);
    // The generated defaulter also defaults each volumeClaimTemplate as a PVC.
    if (auto it = spec.find("volumeClaimTemplates"); it != spec.end() && it->value().is_array())
      for (auto& t : it->value().get_array()) {
        if (!t.is_object()) continue;
        json::object& pvc_spec = ensureObj(t.get_object(), "spec");
        if (isZero(pvc_spec, "volumeMode")) pvc_spec["volumeMode"] = "Filesystem";
        json::object& status = ensureObj(t.get_object(), "status");
        if (isZero(status, "phase")) status["phase"] = "Pending";
      }
  };
  k.validate = [](const Object& ss, const Object* old, FieldErrors& errs) {
    validateObjectMeta(ss, old, true, NameRule::kDns1123Subdomain, errs);
    const json::object& spec = specOf(ss);
    std::string pmp = strAt(spec, {"podManagementPolicy"});
    if (pmp.empty()) errs.required("spec.podManagementPolicy");
    else if (pmp != "OrderedReady" && pmp != "Parallel")
      errs.notSupported("spec.podManagementPolicy", q(pmp), {"OrderedReady", "Parallel"});
    const json::object* strategy = objAt(spec, {"updateStrategy"});
    std::string type = strategy ? strAt(*strategy, {"type"}) : "";
    if (type == "OnDelete") {
      if (at(*strategy, {"rollingUpdate"}))
        errs.invalid("spec.updateStrategy.rollingUpdate", valueRepr(at(*strategy, {"rollingUpdate"})),
                     "only allowed for updateStrategy 'RollingUpdate'");
    } else if (type == "RollingUpdate") {
      validateNonnegative(at(*strategy, {"rollingUpdate", "partition"}), "spec.updateStrategy.rollingUpdate.partition",
                          errs);
    } else if (type.empty()) {
      errs.required("spec.updateStrategy");
    } else {
      errs.notSupported("spec.updateStrategy", q(type), {"OnDelete", "RollingUpdate"});
    }
    for (const char* f : {"whenDeleted", "whenScaled"}) {
      std::string v = strAt(spec, {"persistentVolumeClaimRetentionPolicy", f});
      if (v != "Retain" && v != "Delete")
        errs.notSupported(std::string("spec.persistentVolumeClaimRetentionPolicy.") + f, q(v), {"Retain", "Delete"});
    }
    validateControllerSpec(spec, "StatefulSet", "statefulset", errs);
    if (!old) return;
    // ValidateStatefulSetUpdate: only these spec fields may change.
    json::value now_spec = spec, old_spec = specOf(*old);
    for (const char* f : {"replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
                          "minReadySeconds"}) {
      now_spec.as_object().erase(f);
      old_spec.as_object().erase(f);
    }
    if (!jsonEqual(&now_spec, &old_spec))
      errs.forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                             "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
                             "forbidden");
  };
  k.columns = {column("Ready", "string", "Number of the pod with ready state"), ageColumn(),
               column("Containers", "string", "Names of each container in the template.", 1),
               column("Images", "string", "Images referenced by each container in the template.", 1)};
  k.cells = [](const Object& ss, const KindContext& ctx) {
    std::string names, images;
    containerCells(at(ss, {"spec", "template", "spec", "containers"}), &names, &images);
    return json::array{std::to_string(intField(ss, {"status", "readyReplicas"})) + "/" +
                           std::to_string(intField(ss, {"spec", "replicas"})),
                       ageCell(ss, ctx), names, images};
  };
  return k;
}

KindInfo controllerRevisionKind() {
  KindInfo k = makeKind("apps", "v1", "ControllerRevision", "controllerrevisions", true);
  k.validate = [](const Object& cr, const Object* old, FieldErrors& errs) {
    validateObjectMeta(cr, old, true, NameRule::kDns1123Subdomain, errs);
    validateNonnegative(at(cr, {"revision"}), "revision", errs);
    if (old) validateImmutable(at(cr, {"data"}), at(*old, {"data"}), "data", errs);
  };
  k.columns = {column("Controller", "string", "Controller of the object"),
               column("Revision", "integer", "Revision indicates the revision of the state represented by Data."),
               ageColumn()};
  k.cells = [](const Object& cr, const KindContext& ctx) {
    std::string controller = "<none>";
    if (const json::array* refs = arrAt(cr, {"metadata", "ownerReferences"}))
      for (const auto& r : *refs) {
        const json::object* ro = asObj(&r);
        if (!ro || !boolAt(*ro, {"controller"}).value_or(false)) continue;
        std::string api_version = strAt(*ro, {"apiVersion"});
        size_t slash = api_version.find('/');
        std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
        std::string gk = strAt(*ro, {"kind"}) + (group.empty() ? "" : "." + group);
        for (auto& c : gk) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        controller = gk.empty() ? strAt(*ro, {"name"}) : gk + "/" + strAt(*ro, {"name"});
        break;
      }
    return json::array{controller, intField(cr, {"revision"}), ageCell(cr, ctx)};
  };
  return k;
}

}  // namespace

void registerAppsKinds(KindRegistry& r) {
  r.add(deploymentKind());
  r.add(replicaSetKind());
  r.add(daemonSetKind());
  r.add(statefulSetKind());
  r.add(controllerRevisionKind());
}

}  // namespace berth::api
