// core/v1 Pod: defaults, validation, create-time status, table cells
// (upstream printPod) and selectable fields (PodToSelectableFields).

#include <cctype>

#include "api/kinds/access.h"
#include "api/kinds/core_kinds.h"
#include "api/kinds/pod_spec.h"
#include "api/kinds/printing.h"
#include "api/validation.h"
#include "common/clock.h"

namespace berth::api {

namespace json = boost::json;

KindInfo makeKind(const std::string& group, const std::string& version, const std::string& kind,
                  const std::string& resource, bool namespaced, std::vector<std::string> short_names,
                  std::vector<std::string> categories) {
  KindInfo k;
  k.group = group;
  k.version = version;
  k.kind = kind;
  k.resource = resource;
  k.singular = kind;
  for (auto& c : k.singular) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  k.namespaced = namespaced;
  k.short_names = std::move(short_names);
  k.categories = std::move(categories);
  k.schema_type = (group.empty() ? std::string("core") : group) + "." + version + "." + kind;
  return k;
}

namespace {

bool isRestartableInit(const json::object* c) { return c && strAt(*c, {"restartPolicy"}) == "Always"; }

bool conditionTrue(const json::object& pod, const std::string& type) {
  if (const json::array* conds = arrAt(pod, {"status", "conditions"}))
    for (const auto& c : *conds)
      if (const json::object* co = asObj(&c); co && strAt(*co, {"type"}) == type)
        return strAt(*co, {"status"}) == "True";
  return false;
}

// Later RFC 3339 timestamp of the two ("" = zero time).
void laterOf(std::string& current, const json::object& cs) {
  std::string t = strAt(cs, {"lastState", "terminated", "finishedAt"});
  if (t.empty()) return;
  std::chrono::system_clock::time_point a, b;
  if (current.empty() || (parseRfc3339(t, &a) && parseRfc3339(current, &b) && b < a)) current = t;
}

std::string terminatedReason(const json::object& term, const std::string& prefix) {
  std::string r = strAt(term, {"reason"});
  if (!r.empty()) return prefix + r;
  int64_t sig = intAt(term, {"signal"}).value_or(0);
  if (sig != 0) return prefix + "Signal:" + std::to_string(sig);
  return prefix + "ExitCode:" + std::to_string(intAt(term, {"exitCode"}).value_or(0));
}

}  // namespace

json::array podCells(const Object& pod, const KindContext& ctx) {
  static const json::object kEmpty;
  const json::object* sp = objAt(pod, {"spec"});
  const json::object& spec = sp ? *sp : kEmpty;
  const json::array* containers = arrAt(spec, {"containers"});
  const json::array* init_containers = arrAt(spec, {"initContainers"});
  int64_t restarts = 0, restartable_init_restarts = 0;
  size_t total = containers ? containers->size() : 0;
  int ready = 0;
  std::string last_restart, last_restartable_init_restart;

  std::string phase = strAt(pod, {"status", "phase"});
  std::string reason = phase;
  if (!strAt(pod, {"status", "reason"}).empty()) reason = strAt(pod, {"status", "reason"});
  if (const json::array* conds = arrAt(pod, {"status", "conditions"}))
    for (const auto& c : *conds)
      if (const json::object* co = asObj(&c);
          co && strAt(*co, {"type"}) == "PodScheduled" && strAt(*co, {"reason"}) == "SchedulingGated")
        reason = "SchedulingGated";

  std::map<std::string, const json::object*> init_by_name;
  if (init_containers)
    for (const auto& c : *init_containers)
      if (const json::object* co = asObj(&c)) {
        init_by_name[strAt(*co, {"name"})] = co;
        if (isRestartableInit(co)) ++total;
      }

  bool initializing = false;
  if (const json::array* statuses = arrAt(pod, {"status", "initContainerStatuses"})) {
    for (size_t i = 0; i < statuses->size(); ++i) {
      const json::object* cs = asObj(&(*statuses)[i]);
      if (!cs) continue;
      int64_t rc = intAt(*cs, {"restartCount"}).value_or(0);
      restarts += rc;
      laterOf(last_restart, *cs);
      auto it = init_by_name.find(strAt(*cs, {"name"}));
      const json::object* spec_c = it == init_by_name.end() ? nullptr : it->second;
      if (isRestartableInit(spec_c)) {
        restartable_init_restarts += rc;
        laterOf(last_restartable_init_restart, *cs);
      }
      const json::object* term = objAt(*cs, {"state", "terminated"});
      const json::object* waiting = objAt(*cs, {"state", "waiting"});
      if (term && intAt(*term, {"exitCode"}).value_or(0) == 0) continue;
      if (isRestartableInit(spec_c) && boolAt(*cs, {"started"}).value_or(false)) {
        if (boolAt(*cs, {"ready"}).value_or(false)) ++ready;
        continue;
      }
      if (term) {
        reason = terminatedReason(*term, "Init:");
      } else if (waiting && !strAt(*waiting, {"reason"}).empty() && strAt(*waiting, {"reason"}) != "PodInitializing") {
        reason = "Init:" + strAt(*waiting, {"reason"});
      } else {
        reason = "Init:" + std::to_string(i) + "/" + std::to_string(init_containers ? init_containers->size() : 0);
      }
      initializing = true;
      break;
    }
  }

  if (!initializing || conditionTrue(pod, "Initialized")) {
    restarts = restartable_init_restarts;
    last_restart = last_restartable_init_restart;
    bool has_running = false;
    if (const json::array* statuses = arrAt(pod, {"status", "containerStatuses"})) {
      for (size_t n = statuses->size(); n-- > 0;) {
        const json::object* cs = asObj(&(*statuses)[n]);
        if (!cs) continue;
        restarts += intAt(*cs, {"restartCount"}).value_or(0);
        laterOf(last_restart, *cs);
        const json::object* waiting = objAt(*cs, {"state", "waiting"});
        const json::object* term = objAt(*cs, {"state", "terminated"});
        if (waiting && !strAt(*waiting, {"reason"}).empty()) {
          reason = strAt(*waiting, {"reason"});
        } else if (term) {
          reason = terminatedReason(*term, "");
        } else if (boolAt(*cs, {"ready"}).value_or(false) && at(*cs, {"state", "running"})) {
          has_running = true;
          ++ready;
        }
      }
    }
    if (reason == "Completed" && has_running) reason = conditionTrue(pod, "Ready") ? "Running" : "NotReady";
  }

  bool deleting = at(pod, {"metadata", "deletionTimestamp"}) != nullptr;
  if (deleting && strAt(pod, {"status", "reason"}) == "NodeLost") reason = "Unknown";
  else if (deleting && phase != "Succeeded" && phase != "Failed") reason = "Terminating";

  std::string restarts_str = std::to_string(restarts);
  if (restarts != 0 && !last_restart.empty())
    restarts_str += " (" + timestampSince(last_restart, ctx.now) + " ago)";

  std::string ip;
  if (const json::array* ips = arrAt(pod, {"status", "podIPs"}); ips && !ips->empty())
    if (const json::object* first = asObj(&(*ips)[0])) ip = strAt(*first, {"ip"});
  std::string gates = "<none>";
  if (const json::array* rg = arrAt(spec, {"readinessGates"}); rg && !rg->empty()) {
    int true_count = 0;
    for (const auto& g : *rg)
      if (const json::object* go = asObj(&g); go && conditionTrue(pod, strAt(*go, {"conditionType"}))) ++true_count;
    gates = std::to_string(true_count) + "/" + std::to_string(rg->size());
  }
  return json::array{std::to_string(ready) + "/" + std::to_string(total),
                     reason,
                     restarts_str,
                     ageCell(pod, ctx),
                     noneIfEmpty(ip),
                     noneIfEmpty(strAt(spec, {"nodeName"})),
                     noneIfEmpty(strAt(pod, {"status", "nominatedNodeName"})),
                     gates};
}

KindInfo podKind() {
  KindInfo k = makeKind("", "v1", "Pod", "pods", true, {"po"}, {"all"});
  k.has_status = true;
  k.defaults = [](Object& pod) { defaultPod(pod); };
  k.validate = [](const Object& obj, const Object* old, FieldErrors& errs) {
    validateObjectMeta(obj, old, true, NameRule::kDns1123Subdomain, errs);
    validatePodSpec(objAt(obj, {"spec"}), "spec", errs);
    if (old) validatePodSpecUpdate(objAt(obj, {"spec"}), objAt(*old, {"spec"}), errs);
  };
  k.prepare = [](Object& obj, const Object* old) {
    if (old) return;
    // PrepareForCreate: a new pod is Pending with its QoS class computed.
    const json::object* spec = objAt(obj, {"spec"});
    json::object status;
    status["phase"] = "Pending";
    status["qosClass"] = spec ? podQosClass(*spec) : "BestEffort";
    obj["status"] = std::move(status);
  };
  k.columns = {
      column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
      column("Status", "string", "The aggregate status of the containers in this pod."),
      column("Restarts", "string",
             "The number of times the containers in this pod have been restarted and when the last container "
             "in this pod has restarted."),
      ageColumn(),
      column("IP", "string", "podIP address allocated to the pod. Routable at least within the cluster. Empty if "
                             "not yet allocated.", 1),
      column("Node", "string", "NodeName indicates in which node this pod is scheduled.", 1),
      column("Nominated Node", "string",
             "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be "
             "scheduled right away as preemption victims receive their graceful termination periods.", 1),
      column("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness.",
             1),
  };
  k.cells = podCells;
  k.selectable_fields = [](const Object& pod) {
    std::map<std::string, std::string> f;
    f["spec.nodeName"] = strAt(pod, {"spec", "nodeName"});
    f["spec.restartPolicy"] = strAt(pod, {"spec", "restartPolicy"});
    f["spec.schedulerName"] = strAt(pod, {"spec", "schedulerName"});
    f["spec.serviceAccountName"] = strAt(pod, {"spec", "serviceAccountName"});
    f["spec.hostNetwork"] = boolAt(pod, {"spec", "hostNetwork"}).value_or(false) ? "true" : "false";
    f["status.phase"] = strAt(pod, {"status", "phase"});
    std::string ip;
    if (const json::array* ips = arrAt(pod, {"status", "podIPs"}); ips && !ips->empty())
      if (const json::object* first = asObj(&(*ips)[0])) ip = strAt(*first, {"ip"});
    f["status.podIP"] = ip;
    f["status.nominatedNodeName"] = strAt(pod, {"status", "nominatedNodeName"});
    return f;
  };
  return k;
}

}  // namespace berth::api
