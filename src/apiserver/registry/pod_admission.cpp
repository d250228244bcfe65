#include "apiserver/registry/pod_admission.h"

#include "api/object.h"
#include "apiserver/registry/registry.h"
#include "apiserver/status.h"

namespace berth::apiserver {

namespace json = boost::json;
using api::Object;

namespace {

constexpr int64_t kDefaultTolerationSeconds = 300;
constexpr const char* kNotReadyTaint = "node.kubernetes.io/not-ready";
constexpr const char* kUnreachableTaint = "node.kubernetes.io/unreachable";

Error podForbidden(const Object& pod, const std::string& reason) {
  return forbidden("", "pods", api::name(pod), reason);
}

// The globalDefault PriorityClass, if any (upstream picks the one with the
// lowest value when several claim to be the default).
Result<std::optional<Object>> defaultPriorityClass(Registry& registry, const api::KindInfo& kind) {
  BERTH_ASSIGN_OR_RETURN(auto page, registry.list(kind, "", {}));
  std::optional<Object> best;
  for (const auto& kv : page.items) {
    json::error_code ec;
    auto v = json::parse(*kv.value, ec);
    if (ec || !v.is_object()) continue;
    const Object& pc = v.get_object();
    if (!api::getBool(pc, "globalDefault")) continue;
    if (!best || api::getInt(pc, "value") < api::getInt(*best, "value")) best = pc;
  }
  return best;
}

Status admitPriority(Registry& registry, Object& pod) {
  Object& spec = api::ensureObject(pod, "spec");
  const auto* kind = registry.kinds().byKind("scheduling.k8s.io", "v1", "PriorityClass");
  if (!kind) return okStatus();
  std::string class_name = api::getString(spec, "priorityClassName");
  std::optional<Object> pc;
  if (class_name.empty()) {
    BERTH_ASSIGN_OR_RETURN(pc, defaultPriorityClass(registry, *kind));
    // Without a default class the pod keeps priority 0 (set by defaulting).
    if (!pc) return okStatus();
    spec["priorityClassName"] = api::name(*pc);
    // Defaulting filled in priority 0 for a pod without a class; the
    // default class's value replaces it.
    if (api::getInt(spec, "priority") == 0) spec.erase("priority");
  } else {
    auto got = registry.get(*kind, "", class_name);
    if (!got.ok()) {
      if (got.error().code != ErrorCode::kNotFound) return got.error();
      return podForbidden(pod, "no PriorityClass with name " + class_name + " was found");
    }
    pc = std::move(*got);
  }
  int64_t value = api::getInt(*pc, "value");
  if (spec.contains("priority") && api::getInt(spec, "priority") != value) {
    return podForbidden(pod, "the integer value of priority (" + std::to_string(api::getInt(spec, "priority")) +
                                 ") must not be provided in pod spec; priority admission controller computed " +
                                 std::to_string(value) + " from the given PriorityClass name");
  }
  spec["priority"] = value;
  // Defaulting set PreemptLowerPriority; the class's policy wins.
  std::string policy = api::getString(*pc, "preemptionPolicy");
  if (!policy.empty()) spec["preemptionPolicy"] = policy;
  return okStatus();
}

void addDefaultTolerations(Object& pod) {
  Object& spec = api::ensureObject(pod, "spec");
  bool not_ready = false, unreachable = false;
  if (const auto* tols = api::findArray(spec, "tolerations")) {
    for (const auto& t : *tols) {
      if (!t.is_object()) continue;
      std::string key = api::getString(t.get_object(), "key");
      std::string effect = api::getString(t.get_object(), "effect");
      if (!effect.empty() && effect != "NoExecute") continue;
      if (key.empty() || key == kNotReadyTaint) not_ready = true;
      if (key.empty() || key == kUnreachableTaint) unreachable = true;
    }
  }
  auto add = [&](const char* key) {
    api::ensureArray(spec, "tolerations")
        .push_back(Object{{"key", key},
                          {"operator", "Exists"},
                          {"effect", "NoExecute"},
                          {"tolerationSeconds", kDefaultTolerationSeconds}});
  };
  if (!not_ready) add(kNotReadyTaint);
  if (!unreachable) add(kUnreachableTaint);
}

}  // namespace

Status admitPodCreate(Registry& registry, Object& pod) {
  BERTH_RETURN_IF_ERROR(admitPriority(registry, pod));
  addDefaultTolerations(pod);
  return okStatus();
}

}  // namespace berth::apiserver
