// autoscaling: HorizontalPodAutoscaler served as autoscaling/v2 (stored
// form) and autoscaling/v1, after upstream pkg/apis/autoscaling/v2/defaults.go,
// autoscaling/v1/conversion.go, validation.go and printers.go.

#include "api/kind.h"
#include "api/kinds/access.h"
#include "api/kinds/core_kinds.h"
#include "api/kinds/printing.h"
#include "api/validation.h"

namespace berth::api {

namespace json = boost::json;

namespace {

// Annotations autoscaling/v1 uses to carry what only v2 can express.
constexpr const char* kMetricsAnnotation = "autoscaling.alpha.kubernetes.io/metrics";
constexpr const char* kCurrentMetricsAnnotation = "autoscaling.alpha.kubernetes.io/current-metrics";
constexpr const char* kConditionsAnnotation = "autoscaling.alpha.kubernetes.io/conditions";
constexpr const char* kBehaviorAnnotation = "autoscaling.alpha.kubernetes.io/behavior";

std::string q(const std::string& s) { return FieldErrors::quote(s); }

json::object policy(const char* type, int value, int period) {
  return json::object{{"type", type}, {"value", value}, {"periodSeconds", period}};
}

// GenerateHPAScaleUpRules / GenerateHPAScaleDownRules.
void defaultRules(json::object& behavior, const char* key, bool up) {
  json::object& rules = ensureObj(behavior, key);
  const json::array* policies = arrAt(rules, {"policies"});
  if (!policies || policies->empty())
    rules["policies"] = up ? json::array{policy("Pods", 4, 15), policy("Percent", 100, 15)}
                           : json::array{policy("Percent", 100, 15)};
  setDefault(rules, "selectPolicy", "Max");
  setDefault(rules, "stabilizationWindowSeconds", up ? 0 : 300);
}

json::object cpuUtilizationMetric(int64_t percent) {
  return json::object{{"type", "Resource"},
                      {"resource", json::object{{"name", "cpu"},
                                                {"target", json::object{{"type", "Utilization"},
                                                                        {"averageUtilization", percent}}}}}};
}

void defaultHpaV2(Object& hpa) {
  json::object& spec = ensureObj(hpa, "spec");
  setDefault(spec, "minReplicas", 1);
  const json::array* metrics = arrAt(spec, {"metrics"});
  if (!metrics || metrics->empty()) spec["metrics"] = json::array{cpuUtilizationMetric(80)};
  if (json::object* behavior = const_cast<json::object*>(objAt(spec, {"behavior"}))) {
    defaultRules(*behavior, "scaleUp", true);
    defaultRules(*behavior, "scaleDown", false);
  }
}

void validateScaleTargetRef(const json::object& spec, FieldErrors& errs) {
  const json::object* ref = objAt(spec, {"scaleTargetRef"});
  std::string kind = ref ? strAt(*ref, {"kind"}) : "";
  std::string name = ref ? strAt(*ref, {"name"}) : "";
  if (kind.empty()) errs.required("spec.scaleTargetRef.kind");
  else
    for (const auto& m : validateName(kind, NameRule::kPathSegment)) errs.invalid("spec.scaleTargetRef.kind", q(kind), m);
  if (name.empty()) errs.required("spec.scaleTargetRef.name");
  else
    for (const auto& m : validateName(name, NameRule::kPathSegment)) errs.invalid("spec.scaleTargetRef.name", q(name), m);
}

void validateReplicas(const json::object& spec, FieldErrors& errs) {
  auto min = intAt(spec, {"minReplicas"});
  if (min && *min < 1) errs.invalid("spec.minReplicas", std::to_string(*min), "must be greater than or equal to 1");
  int64_t max = intAt(spec, {"maxReplicas"}).value_or(0);
  if (max < 1) errs.invalid("spec.maxReplicas", std::to_string(max), "must be greater than 0");
  if (min && *min > max) errs.invalid("spec.maxReplicas", std::to_string(max), "must be greater than or equal to `minReplicas`");
}

void validateTarget(const json::object* target, const std::string& path, FieldErrors& errs) {
  if (!target) {
    errs.required(path + ".type");
    return;
  }
  std::string type = strAt(*target, {"type"});
  if (type.empty()) errs.required(path + ".type");
  else if (type != "Utilization" && type != "Value" && type != "AverageValue")
    errs.notSupported(path + ".type", q(type), {"AverageValue", "Utilization", "Value"});
  if (auto u = intAt(*target, {"averageUtilization"}); u && *u < 1)
    errs.invalid(path + ".averageUtilization", std::to_string(*u), "must be greater than 0");
}

void validateHpaV2(const Object& hpa, const Object* old, FieldErrors& errs) {
  validateObjectMeta(hpa, old, true, NameRule::kDns1123Subdomain, errs);
  static const json::object kEmpty;
  const json::object* sp = objAt(hpa, {"spec"});
  const json::object& spec = sp ? *sp : kEmpty;
  validateReplicas(spec, errs);
  validateScaleTargetRef(spec, errs);
  if (const json::array* metrics = arrAt(spec, {"metrics"}))
    for (size_t i = 0; i < metrics->size(); ++i) {
      const json::object* m = asObj(&(*metrics)[i]);
      if (!m) continue;
      std::string p = "spec.metrics[" + std::to_string(i) + "]";
      std::string type = strAt(*m, {"type"});
      static const std::vector<std::string> kTypes = {"ContainerResource", "External", "Object", "Pods", "Resource"};
      if (type.empty()) {
        errs.required(p + ".type", "must specify a metric source type");
        continue;
      }
      if (std::find(kTypes.begin(), kTypes.end(), type) == kTypes.end()) {
        errs.notSupported(p + ".type", q(type), kTypes);
        continue;
      }
      if (type == "Resource" || type == "ContainerResource") {
        std::string key = type == "Resource" ? "resource" : "containerResource";
        const json::object* r = objAt(*m, {key});
        if (!r) {
          errs.required(p + "." + key, "must populate information for the given metric source");
          continue;
        }
        if (strAt(*r, {"name"}).empty()) errs.required(p + "." + key + ".name", "must specify a resource name");
        if (type == "ContainerResource" && strAt(*r, {"container"}).empty())
          errs.required(p + ".containerResource.container", "must specify a container");
        validateTarget(objAt(*r, {"target"}), p + "." + key + ".target", errs);
      } else {
        std::string key = type == "Pods" ? "pods" : type == "Object" ? "object" : "external";
        const json::object* s = objAt(*m, {key});
        if (!s) {
          errs.required(p + "." + key, "must populate information for the given metric source");
          continue;
        }
        if (strAt(*s, {"metric", "name"}).empty()) errs.required(p + "." + key + ".metric.name", "must specify a metric name");
        validateTarget(objAt(*s, {"target"}), p + "." + key + ".target", errs);
      }
    }
}

std::string quantityOr(const json::value* v, const std::string& fallback) {
  if (!v) return fallback;
  if (v->is_string()) return std::string(v->get_string());
  return json::serialize(*v);
}

// formatHPAMetrics: "cpu: 50%/80%", at most two entries, then "+ N more...".
std::string formatHpaMetrics(const Object& hpa) {
  const json::array* specs = arrAt(hpa, {"spec", "metrics"});
  if (!specs || specs->empty()) return "<none>";
  const json::array* statuses = arrAt(hpa, {"status", "currentMetrics"});
  auto status = [&](size_t i, const char* key) -> const json::object* {
    if (!statuses || i >= statuses->size()) return nullptr;
    const json::object* s = asObj(&(*statuses)[i]);
    return s ? objAt(*s, {key}) : nullptr;
  };
  std::vector<std::string> list;
  for (size_t i = 0; i < specs->size(); ++i) {
    const json::object* m = asObj(&(*specs)[i]);
    std::string type = m ? strAt(*m, {"type"}) : "";
    if (type == "External" || type == "Object") {
      const char* key = type == "External" ? "external" : "object";
      const json::object* st = status(i, key);
      if (at(*m, {key, "target", "averageValue"})) {
        std::string current = st && at(*st, {"current", "averageValue"}) ? quantityOr(at(*st, {"current", "averageValue"}), "")
                                                                          : "<unknown>";
        list.push_back(current + "/" + quantityOr(at(*m, {key, "target", "averageValue"}), "0") + " (avg)");
      } else {
        std::string current = st ? quantityOr(at(*st, {"current", "value"}), "0") : "<unknown>";
        list.push_back(current + "/" + quantityOr(at(*m, {key, "target", "value"}), "0"));
      }
    } else if (type == "Pods") {
      const json::object* st = status(i, "pods");
      std::string current = st ? quantityOr(at(*st, {"current", "averageValue"}), "0") : "<unknown>";
      list.push_back(current + "/" + quantityOr(at(*m, {"pods", "target", "averageValue"}), "0"));
    } else if (type == "Resource" || type == "ContainerResource") {
      const char* key = type == "Resource" ? "resource" : "containerResource";
      const json::object* st = status(i, key);
      std::string name = strAt(*m, {key, "name"});
      if (at(*m, {key, "target", "averageValue"})) {
        std::string current = st ? quantityOr(at(*st, {"current", "averageValue"}), "0") : "<unknown>";
        list.push_back(name + ": " + current + "/" + quantityOr(at(*m, {key, "target", "averageValue"}), "0"));
      } else {
        std::string current = "<unknown>";
        if (st)
          if (auto u = intAt(*st, {"current", "averageUtilization"})) current = std::to_string(*u) + "%";
        std::string target = "<auto>";
        if (auto u = intAt(*m, {key, "target", "averageUtilization"})) target = std::to_string(*u) + "%";
        list.push_back(name + ": " + current + "/" + target);
      }
    } else {
      list.push_back("<unknown type>");
    }
  }
  size_t count = list.size();
  if (count > 2) {
    list.resize(2);
    return join(list, ", ") + " + " + std::to_string(count - 2) + " more...";
  }
  return join(list, ", ");
}

std::vector<PrinterColumn> hpaColumns() {
  return {column("Reference", "string", "reference to scaled resource; horizontal pod autoscaler will learn the current "
                                        "resource consumption and will set the desired number of pods by using its "
                                        "Scale subresource."),
          column("Targets", "string", "metrics contains the specifications for which to use to calculate the desired "
                                      "replica count."),
          column("MinPods", "string", "minReplicas is the lower limit for the number of replicas to which the "
                                      "autoscaler can scale down."),
          column("MaxPods", "string", "maxReplicas is the upper limit for the number of replicas to which the "
                                      "autoscaler can scale up."),
          column("Replicas", "string", "currentReplicas is current number of replicas of pods managed by this "
                                       "autoscaler, as last seen by the autoscaler."),
          ageColumn()};
}

json::array hpaCells(const Object& hpa, const KindContext& ctx) {
  std::string min = "<unset>";
  if (auto m = intAt(hpa, {"spec", "minReplicas"})) min = std::to_string(*m);
  return json::array{strAt(hpa, {"spec", "scaleTargetRef", "kind"}) + "/" + strAt(hpa, {"spec", "scaleTargetRef", "name"}),
                     formatHpaMetrics(hpa),
                     min,
                     intAt(hpa, {"spec", "maxReplicas"}).value_or(0),
                     intAt(hpa, {"status", "currentReplicas"}).value_or(0),
                     ageCell(hpa, ctx)};
}

bool isCpuUtilization(const json::object& m) {
  return strAt(m, {"type"}) == "Resource" && strAt(m, {"resource", "name"}) == "cpu" &&
         strAt(m, {"resource", "target", "type"}) == "Utilization" && intAt(m, {"resource", "target", "averageUtilization"});
}

std::optional<json::value> parseAnnotation(const json::object& annotations, const char* key) {
  auto it = annotations.find(key);
  if (it == annotations.end() || !it->value().is_string()) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(it->value().get_string(), ec);
  if (ec) return std::nullopt;
  return v;
}

// Convert_v1_HorizontalPodAutoscaler_To_autoscaling_HorizontalPodAutoscaler.
Object hpaV1ToV2(const Object& in) {
  Object out = in;
  out["apiVersion"] = "autoscaling/v2";
  json::object& meta = ensureObj(out, "metadata");
  json::object annotations = objAt(meta, {"annotations"}) ? *objAt(meta, {"annotations"}) : json::object();
  json::object& spec = ensureObj(out, "spec");
  json::array metrics;
  if (auto cpu = intAt(spec, {"targetCPUUtilizationPercentage"})) metrics.push_back(cpuUtilizationMetric(*cpu));
  if (auto extra = parseAnnotation(annotations, kMetricsAnnotation); extra && extra->is_array())
    for (auto& m : extra->get_array()) metrics.push_back(m);
  spec.erase("targetCPUUtilizationPercentage");
  if (!metrics.empty()) spec["metrics"] = std::move(metrics);
  if (auto behavior = parseAnnotation(annotations, kBehaviorAnnotation); behavior && behavior->is_object())
    spec["behavior"] = *behavior;
  if (json::object* status = const_cast<json::object*>(objAt(out, {"status"}))) {
    json::array current;
    if (auto cpu = intAt(*status, {"currentCPUUtilizationPercentage"}))
      current.push_back(json::object{{"type", "Resource"},
                                     {"resource", json::object{{"name", "cpu"},
                                                               {"current", json::object{{"averageUtilization", *cpu}}}}}});
    if (auto extra = parseAnnotation(annotations, kCurrentMetricsAnnotation); extra && extra->is_array())
      for (auto& m : extra->get_array()) current.push_back(m);
    status->erase("currentCPUUtilizationPercentage");
    if (!current.empty()) (*status)["currentMetrics"] = std::move(current);
    if (auto conds = parseAnnotation(annotations, kConditionsAnnotation); conds && conds->is_array())
      (*status)["conditions"] = *conds;
  }
  for (const char* key : {kMetricsAnnotation, kCurrentMetricsAnnotation, kConditionsAnnotation, kBehaviorAnnotation})
    annotations.erase(key);
  if (annotations.empty()) meta.erase("annotations");
  else meta["annotations"] = std::move(annotations);
  return out;
}

// Convert_autoscaling_HorizontalPodAutoscaler_To_v1_HorizontalPodAutoscaler.
// Metrics other than CPU utilization travel in annotations (here in their
// v2 JSON form).
Object hpaV2ToV1(const Object& in) {
  Object out = in;
  out["apiVersion"] = "autoscaling/v1";
  json::object& meta = ensureObj(out, "metadata");
  json::object annotations = objAt(meta, {"annotations"}) ? *objAt(meta, {"annotations"}) : json::object();
  json::object& spec = ensureObj(out, "spec");
  json::array other;
  if (const json::array* metrics = arrAt(spec, {"metrics"}))
    for (const auto& m : *metrics) {
      const json::object* mo = asObj(&m);
      if (mo && isCpuUtilization(*mo) && !at(spec, {"targetCPUUtilizationPercentage"}))
        spec["targetCPUUtilizationPercentage"] = *intAt(*mo, {"resource", "target", "averageUtilization"});
      else
        other.push_back(m);
    }
  spec.erase("metrics");
  if (!other.empty()) annotations[kMetricsAnnotation] = json::serialize(other);
  if (const json::value* behavior = at(spec, {"behavior"})) {
    annotations[kBehaviorAnnotation] = json::serialize(*behavior);
    spec.erase("behavior");
  }
  if (json::object* status = const_cast<json::object*>(objAt(out, {"status"}))) {
    json::array other_current;
    if (const json::array* current = arrAt(*status, {"currentMetrics"}))
      for (const auto& m : *current) {
        const json::object* mo = asObj(&m);
        if (mo && strAt(*mo, {"type"}) == "Resource" && strAt(*mo, {"resource", "name"}) == "cpu" &&
            intAt(*mo, {"resource", "current", "averageUtilization"}))
          (*status)["currentCPUUtilizationPercentage"] = *intAt(*mo, {"resource", "current", "averageUtilization"});
        else
          other_current.push_back(m);
      }
    status->erase("currentMetrics");
    if (!other_current.empty()) annotations[kCurrentMetricsAnnotation] = json::serialize(other_current);
    if (const json::value* conds = at(*status, {"conditions"})) {
      annotations[kConditionsAnnotation] = json::serialize(*conds);
      status->erase("conditions");
    }
  }
  if (annotations.empty()) meta.erase("annotations");
  else meta["annotations"] = std::move(annotations);
  return out;
}

KindInfo hpaV2Kind() {
  KindInfo k = makeKind("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true, {"hpa"},
                        {"all"});
  k.has_status = true;
  k.defaults = defaultHpaV2;
  k.validate = validateHpaV2;
  k.columns = hpaColumns();
  k.cells = hpaCells;
  return k;
}

KindInfo hpaV1Kind() {
  KindInfo k = makeKind("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true, {"hpa"},
                        {"all"});
  k.has_status = true;
  k.storage_resource = "horizontalpodautoscalers";
  k.to_storage = hpaV1ToV2;
  k.from_storage = hpaV2ToV1;
  k.defaults = [](Object& hpa) { setDefault(ensureObj(hpa, "spec"), "minReplicas", 1); };
  k.validate = [](const Object& hpa, const Object* old, FieldErrors& errs) {
    validateObjectMeta(hpa, old, true, NameRule::kDns1123Subdomain, errs);
    static const json::object kEmpty;
    const json::object* sp = objAt(hpa, {"spec"});
    const json::object& spec = sp ? *sp : kEmpty;
    validateReplicas(spec, errs);
    validateScaleTargetRef(spec, errs);
    if (auto cpu = intAt(spec, {"targetCPUUtilizationPercentage"}); cpu && *cpu < 1)
      errs.invalid("spec.targetCPUUtilizationPercentage", std::to_string(*cpu), "must be greater than 0");
  };
  k.columns = hpaColumns();
  // Cells are computed on the v2 form the table is built from.
  k.cells = [](const Object& hpa, const KindContext& ctx) {
    return hpaCells(arrAt(hpa, {"spec", "metrics"}) ? hpa : hpaV1ToV2(hpa), ctx);
  };
  return k;
}

}  // namespace

void registerAutoscalingKinds(KindRegistry& r) {
  r.add(hpaV2Kind());
  r.add(hpaV1Kind());
}

}  // namespace berth::api
