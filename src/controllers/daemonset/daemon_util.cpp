#include "controllers/daemonset/daemon_util.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "api/kinds/access.h"
#include "api/object.h"

namespace berth::controllers {

namespace json = boost::json;
using api::Object;

namespace {

std::string str(const json::object& o, std::string_view key) { return api::strAt(o, {key}); }

std::vector<std::string> stringValues(const json::object& req) {
  std::vector<std::string> out;
  if (const json::array* vals = api::arrAt(req, {"values"}))
    for (const auto& v : *vals)
      if (v.is_string()) out.emplace_back(v.as_string());
  return out;
}

std::optional<int64_t> parseInt64(const std::string& s) {
  if (s.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

// NodeSelectorRequirementsAsSelector for one requirement over a label map;
// nullopt when the requirement is malformed.
std::optional<bool> labelRequirementMatches(const json::object& req,
                                            const std::map<std::string, std::string>& labels) {
  std::string key = str(req, "key");
  std::string op = str(req, "operator");
  std::vector<std::string> values = stringValues(req);
  if (key.empty()) return std::nullopt;
  auto it = labels.find(key);
  bool has = it != labels.end();
  if (op == "In" || op == "NotIn") {
    if (values.empty()) return std::nullopt;
    bool in = has && std::find(values.begin(), values.end(), it->second) != values.end();
    return op == "In" ? in : !in;
  }
  if (op == "Exists" || op == "DoesNotExist") {
    if (!values.empty()) return std::nullopt;
    return op == "Exists" ? has : !has;
  }
  if (op == "Gt" || op == "Lt") {
    if (values.size() != 1) return std::nullopt;
    auto want = parseInt64(values[0]);
    if (!want) return std::nullopt;
    if (!has) return false;
    auto got = parseInt64(it->second);
    if (!got) return false;
    return op == "Gt" ? *got > *want : *got < *want;
  }
  return std::nullopt;
}

// NodeSelectorRequirementsAsFieldSelector: only In / NotIn with exactly one
// value, over metadata.name.
std::optional<bool> fieldRequirementMatches(const json::object& req, const Object& node) {
  std::string key = str(req, "key");
  std::string op = str(req, "operator");
  std::vector<std::string> values = stringValues(req);
  if (key != "metadata.name") return std::nullopt;
  if ((op != "In" && op != "NotIn") || values.size() != 1) return std::nullopt;
  bool eq = api::name(node) == values[0];
  return op == "In" ? eq : !eq;
}

bool termMatches(const json::object& term, const Object& node,
                 const std::map<std::string, std::string>& labels) {
  const json::array* exprs = api::arrAt(term, {"matchExpressions"});
  const json::array* fields = api::arrAt(term, {"matchFields"});
  // An empty term selects no objects.
  if ((!exprs || exprs->empty()) && (!fields || fields->empty())) return false;
  if (exprs)
    for (const auto& e : *exprs) {
      const json::object* req = e.if_object();
      if (!req) return false;
      auto m = labelRequirementMatches(*req, labels);
      if (!m || !*m) return false;
    }
  if (fields)
    for (const auto& f : *fields) {
      const json::object* req = f.if_object();
      if (!req) return false;
      auto m = fieldRequirementMatches(*req, node);
      if (!m || !*m) return false;
    }
  return true;
}

json::object toleration(const char* key, const char* effect) {
  json::object t;
  t["key"] = key;
  t["operator"] = "Exists";
  t["effect"] = effect;
  return t;
}

}  // namespace

bool toleratesTaint(const json::object& toleration, const json::object& taint) {
  std::string effect = str(toleration, "effect");
  if (!effect.empty() && effect != str(taint, "effect")) return false;
  std::string key = str(toleration, "key");
  if (!key.empty() && key != str(taint, "key")) return false;
  std::string op = str(toleration, "operator");
  if (op.empty() || op == "Equal") return str(toleration, "value") == str(taint, "value");
  return op == "Exists";
}

std::optional<json::object> findUntoleratedTaint(
    const json::array* taints, const json::array* tolerations,
    const std::function<bool(const json::object&)>& filter) {
  if (!taints) return std::nullopt;
  for (const auto& tv : *taints) {
    const json::object* taint = tv.if_object();
    if (!taint || !filter(*taint)) continue;
    bool tolerated = false;
    if (tolerations)
      for (const auto& t : *tolerations)
        if (const json::object* to = t.if_object(); to && toleratesTaint(*to, *taint)) {
          tolerated = true;
          break;
        }
    if (!tolerated) return *taint;
  }
  return std::nullopt;
}

bool matchesRequiredNodeAffinity(const json::object& pod_spec, const Object& node) {
  std::map<std::string, std::string> labels = api::labels(node);
  if (const json::object* sel = api::objAt(pod_spec, {"nodeSelector"})) {
    for (const auto& kv : *sel) {
      auto it = labels.find(std::string(kv.key()));
      if (!kv.value().is_string() || it == labels.end() || it->second != kv.value().as_string())
        return false;
    }
  }
  const json::object* required = api::objAt(
      pod_spec, {"affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"});
  if (!required) return true;
  const json::array* terms = api::arrAt(*required, {"nodeSelectorTerms"});
  if (!terms) return false;
  for (const auto& t : *terms)
    if (const json::object* term = t.if_object(); term && termMatches(*term, node, labels))
      return true;
  return false;
}

void addOrUpdateToleration(json::object& pod_spec, json::object tol) {
  json::array& tolerations = api::ensureArray(pod_spec, "tolerations");
  for (auto& existing : tolerations) {
    json::object* e = existing.if_object();
    if (!e) continue;
    // MatchToleration: same key, operator, value and effect.
    if (str(*e, "key") == str(tol, "key") && str(*e, "operator") == str(tol, "operator") &&
        str(*e, "value") == str(tol, "value") && str(*e, "effect") == str(tol, "effect")) {
      if (*e != tol) *e = std::move(tol);
      return;
    }
  }
  tolerations.push_back(std::move(tol));
}

void addDaemonPodTolerations(json::object& pod_spec) {
  // Daemon pods survive taint-based eviction when the node turns not-ready
  // or unreachable, and run regardless of node conditions.
  addOrUpdateToleration(pod_spec, toleration(kTaintNodeNotReady, "NoExecute"));
  addOrUpdateToleration(pod_spec, toleration(kTaintNodeUnreachable, "NoExecute"));
  addOrUpdateToleration(pod_spec, toleration(kTaintNodeDiskPressure, "NoSchedule"));
  addOrUpdateToleration(pod_spec, toleration(kTaintNodeMemoryPressure, "NoSchedule"));
  addOrUpdateToleration(pod_spec, toleration(kTaintNodePidPressure, "NoSchedule"));
  addOrUpdateToleration(pod_spec, toleration(kTaintNodeUnschedulable, "NoSchedule"));
  if (api::boolAt(pod_spec, {"hostNetwork"}).value_or(false))
    addOrUpdateToleration(pod_spec, toleration(kTaintNodeNetworkUnavailable, "NoSchedule"));
}

void replaceNodeNameAffinity(json::object& pod_spec, const std::string& node) {
  json::object req;
  req["key"] = "metadata.name";
  req["operator"] = "In";
  req["values"] = json::array{json::string(node)};
  json::object term;
  term["matchFields"] = json::array{req};
  json::object& affinity = api::ensureObject(pod_spec, "affinity");
  json::object& node_affinity = api::ensureObject(affinity, "nodeAffinity");
  json::object& required =
      api::ensureObject(node_affinity, "requiredDuringSchedulingIgnoredDuringExecution");
  required["nodeSelectorTerms"] = json::array{term};
}

std::optional<std::string> targetNodeName(const Object& pod) {
  std::string node = api::strAt(pod, {"spec", "nodeName"});
  if (!node.empty()) return node;
  const json::array* terms =
      api::arrAt(pod, {"spec", "affinity", "nodeAffinity",
                       "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"});
  if (!terms) return std::nullopt;
  for (const auto& t : *terms) {
    const json::object* term = t.if_object();
    const json::array* fields = term ? api::arrAt(*term, {"matchFields"}) : nullptr;
    if (!fields) continue;
    for (const auto& f : *fields) {
      const json::object* req = f.if_object();
      if (!req || str(*req, "key") != "metadata.name" || str(*req, "operator") != "In") continue;
      std::vector<std::string> values = stringValues(*req);
      if (values.size() != 1) return std::nullopt;
      return values[0];
    }
  }
  return std::nullopt;
}

NodeShouldRun nodeShouldRunDaemonPod(const Object& node, const Object& ds) {
  // NewPod: the template's spec with the default daemon tolerations, as the
  // pod would be created.
  json::object spec;
  if (const json::object* s = api::objAt(ds, {"spec", "template", "spec"})) spec = *s;
  std::string template_node = api::strAt(spec, {"nodeName"});
  if (!template_node.empty() && template_node != api::name(node)) return {};
  addDaemonPodTolerations(spec);
  if (!matchesRequiredNodeAffinity(spec, node)) return {};
  const json::array* taints = api::arrAt(node, {"spec", "taints"});
  const json::array* tolerations = api::arrAt(spec, {"tolerations"});
  bool fits_taints = !findUntoleratedTaint(taints, tolerations, [](const json::object& t) {
                        std::string e = str(t, "effect");
                        return e == "NoExecute" || e == "NoSchedule";
                      }).has_value();
  if (!fits_taints) {
    // A pod already there keeps running unless a NoExecute taint would
    // evict it.
    bool evicted = findUntoleratedTaint(taints, tolerations, [](const json::object& t) {
                     return str(t, "effect") == "NoExecute";
                   }).has_value();
    return {false, !evicted};
  }
  return {true, true};
}

Result<int64_t> scaledValueFromIntOrPercent(const json::value* v, int64_t total, bool round_up) {
  if (!v || v->is_null()) return makeError(ErrorCode::kBadRequest, "nil value for IntOrString");
  if (auto i = api::asInt(v)) return *i;
  if (!v->is_string())
    return makeError(ErrorCode::kBadRequest, "invalid type: neither int nor percentage");
  std::string s(v->as_string());
  if (s.empty() || s.back() != '%')
    return makeError(ErrorCode::kBadRequest, "invalid type: string is not a percentage");
  auto pct = parseInt64(s.substr(0, s.size() - 1));
  if (!pct)
    return makeError(ErrorCode::kBadRequest,
                     "invalid value for IntOrString: invalid value \"" + s + "\"");
  double value = static_cast<double>(*pct) * static_cast<double>(total) / 100.0;
  return static_cast<int64_t>(round_up ? std::ceil(value) : std::floor(value));
}

namespace {
const json::object* rollingUpdateOf(const Object& ds) {
  if (api::strAt(ds, {"spec", "updateStrategy", "type"}) != "RollingUpdate") return nullptr;
  return api::objAt(ds, {"spec", "updateStrategy", "rollingUpdate"});
}
}  // namespace

Result<int64_t> surgeCount(const Object& ds, int64_t number_to_schedule) {
  const json::object* ru = rollingUpdateOf(ds);
  if (!ru) return int64_t{0};
  const json::value* surge = ru->if_contains("maxSurge");
  if (!surge || surge->is_null()) return int64_t{0};
  return scaledValueFromIntOrPercent(surge, number_to_schedule, true);
}

Result<int64_t> unavailableCount(const Object& ds, int64_t number_to_schedule) {
  const json::object* ru = rollingUpdateOf(ds);
  if (!ru) return int64_t{0};
  const json::value* mu = ru->if_contains("maxUnavailable");
  if (!mu || mu->is_null()) return int64_t{0};
  return scaledValueFromIntOrPercent(mu, number_to_schedule, true);
}

}  // namespace berth::controllers
