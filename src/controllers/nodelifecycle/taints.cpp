#include "controllers/nodelifecycle/taints.h"

#include "api/kinds/access.h"

namespace berth::controllers::nodelifecycle {

namespace json = boost::json;
using api::asObj;
using api::strAt;

namespace {
struct ConditionTaint {
  const char* condition;
  const char* status;
  const char* key;
};
// Upstream's nodeConditionToTaintKeyStatusMap.
constexpr ConditionTaint kConditionTaints[] = {
    {"Ready", "False", kTaintNotReady},
    {"Ready", "Unknown", kTaintUnreachable},
    {"MemoryPressure", "True", kTaintMemoryPressure},
    {"DiskPressure", "True", kTaintDiskPressure},
    {"NetworkUnavailable", "True", kTaintNetworkUnavailable},
    {"PIDPressure", "True", kTaintPidPressure},
};
}  // namespace

bool Toleration::tolerates(const Taint& taint) const {
  if (!effect.empty() && effect != taint.effect) return false;
  if (!key.empty() && key != taint.key) return false;
  // An empty key with Exists matches every taint; an empty operator is Equal.
  if (op == "Exists") return true;
  if (op.empty() || op == "Equal") return value == taint.value;
  return false;
}

std::vector<Taint> parseTaints(const json::object& node) {
  std::vector<Taint> out;
  if (const json::array* taints = api::arrAt(node, {"spec", "taints"}))
    for (const auto& t : *taints)
      if (const json::object* o = asObj(&t))
        out.push_back(Taint{strAt(*o, {"key"}), strAt(*o, {"value"}), strAt(*o, {"effect"}),
                            strAt(*o, {"timeAdded"})});
  return out;
}

std::vector<Toleration> parseTolerations(const json::object& pod) {
  std::vector<Toleration> out;
  if (const json::array* tols = api::arrAt(pod, {"spec", "tolerations"}))
    for (const auto& t : *tols)
      if (const json::object* o = asObj(&t))
        out.push_back(Toleration{strAt(*o, {"key"}), strAt(*o, {"operator"}), strAt(*o, {"value"}),
                                 strAt(*o, {"effect"}), api::intAt(*o, {"tolerationSeconds"})});
  return out;
}

json::object taintJson(const Taint& taint) {
  json::object o{{"key", taint.key}};
  if (!taint.value.empty()) o["value"] = taint.value;
  o["effect"] = taint.effect;
  if (!taint.time_added.empty()) o["timeAdded"] = taint.time_added;
  return o;
}

std::vector<Taint> noExecuteTaints(const std::vector<Taint>& taints) {
  std::vector<Taint> out;
  for (const auto& t : taints)
    if (t.effect == "NoExecute") out.push_back(t);
  return out;
}

bool matchingTolerations(const std::vector<Taint>& taints,
                         const std::vector<Toleration>& tolerations,
                         std::vector<Toleration>* used) {
  used->clear();
  if (taints.empty()) return true;
  if (tolerations.empty()) return false;
  for (const auto& taint : taints) {
    bool tolerated = false;
    for (const auto& tol : tolerations)
      if (tol.tolerates(taint)) {
        tolerated = true;
        used->push_back(tol);
      }
    if (!tolerated) {
      used->clear();
      return false;
    }
  }
  return true;
}

std::optional<std::chrono::seconds> minTolerationTime(const std::vector<Toleration>& used) {
  if (used.empty()) return std::chrono::seconds(0);
  std::optional<int64_t> min;
  for (const auto& t : used) {
    if (!t.toleration_seconds) continue;
    if (*t.toleration_seconds <= 0) return std::chrono::seconds(0);
    if (!min || *t.toleration_seconds < *min) min = *t.toleration_seconds;
  }
  if (!min) return std::nullopt;
  return std::chrono::seconds(*min);
}

std::vector<Taint> conditionTaints(const json::object& node) {
  std::vector<Taint> out;
  if (const json::array* conds = api::arrAt(node, {"status", "conditions"}))
    for (const auto& c : *conds) {
      const json::object* co = asObj(&c);
      if (!co) continue;
      std::string type = strAt(*co, {"type"}), status = strAt(*co, {"status"});
      for (const auto& ct : kConditionTaints)
        if (type == ct.condition && status == ct.status)
          out.push_back(Taint{ct.key, "", "NoSchedule", ""});
    }
  if (api::boolAt(node, {"spec", "unschedulable"}).value_or(false))
    out.push_back(Taint{kTaintUnschedulable, "", "NoSchedule", ""});
  return out;
}

bool isConditionTaintKey(const std::string& key) {
  if (key == kTaintUnschedulable) return true;
  for (const auto& ct : kConditionTaints)
    if (key == ct.key) return true;
  return false;
}

}  // namespace berth::controllers::nodelifecycle
