// policy/v1 PodDisruptionBudget, after upstream
// pkg/apis/policy/validation/validation.go and printers.go.

#include "api/kind.h"
#include "api/kinds/access.h"
#include "api/kinds/core_kinds.h"
#include "api/kinds/pod_spec.h"
#include "api/kinds/printing.h"
#include "api/validation.h"

namespace berth::api {

namespace json = boost::json;

namespace {

std::string intOrStringCell(const json::value* v) {
  if (!v) return "N/A";
  if (v->is_string()) return std::string(v->get_string());
  if (auto i = asInt(v)) return std::to_string(*i);
  return "N/A";
}

KindInfo podDisruptionBudgetKind() {
  KindInfo k = makeKind("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, {"pdb"});
  k.has_status = true;
  k.validate = [](const Object& pdb, const Object* old, FieldErrors& errs) {
    validateObjectMeta(pdb, old, true, NameRule::kDns1123Subdomain, errs);
    static const json::object kEmpty;
    const json::object* sp = objAt(pdb, {"spec"});
    const json::object& spec = sp ? *sp : kEmpty;
    const json::value* min = at(spec, {"minAvailable"});
    const json::value* max = at(spec, {"maxUnavailable"});
    if (min && max) errs.invalid("spec", valueRepr(at(pdb, {"spec"})), "minAvailable and maxUnavailable cannot be both set");
    validateIntOrPercent(min, "spec.minAvailable", true, errs);
    validateIntOrPercent(max, "spec.maxUnavailable", true, errs);
    validateLabelSelector(at(spec, {"selector"}), "spec.selector", errs);
    std::string policy = strAt(spec, {"unhealthyPodEvictionPolicy"});
    if (!policy.empty() && policy != "AlwaysAllow" && policy != "IfHealthyBudget")
      errs.notSupported("spec.unhealthyPodEvictionPolicy", FieldErrors::quote(policy), {"AlwaysAllow", "IfHealthyBudget"});
  };
  k.prepare = [](Object& pdb, const Object* old) {
    if (!old) pdb["status"] = json::object{{"disruptionsAllowed", 0}, {"currentHealthy", 0},
                                           {"desiredHealthy", 0}, {"expectedPods", 0}};
  };
  k.columns = {column("Min Available", "string", "The minimum number of pods that must be available simultaneously. "
                                                 "This can be either an integer or a string specifying a percentage, "
                                                 "e.g. \"28%\"."),
               column("Max Unavailable", "string", "The maximum number of pods that may be unavailable "
                                                   "simultaneously. This can be either an integer or a string "
                                                   "specifying a percentage, e.g. \"28%\"."),
               column("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this "
                                                        "time."),
               ageColumn()};
  k.cells = [](const Object& pdb, const KindContext& ctx) {
    return json::array{intOrStringCell(at(pdb, {"spec", "minAvailable"})),
                       intOrStringCell(at(pdb, {"spec", "maxUnavailable"})),
                       intAt(pdb, {"status", "disruptionsAllowed"}).value_or(0), ageCell(pdb, ctx)};
  };
  return k;
}

}  // namespace

void registerPolicyKinds(KindRegistry& r) { r.add(podDisruptionBudgetKind()); }

}  // namespace berth::api
