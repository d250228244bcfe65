#include "controllers/resourcequota/quota_evaluator.h"

#include <algorithm>
#include <set>

#include "api/kinds/access.h"
#include "api/kinds/pod_spec.h"
#include "common/clock.h"

namespace berth::controllers {

namespace json = boost::json;
using api::Object;

namespace {

constexpr std::string_view kRequestsPrefix = "requests.";
constexpr std::string_view kCountPrefix = "count/";
constexpr std::string_view kStorageClassSuffix = ".storageclass.storage.k8s.io/";

bool startsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool endsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// podResources of the pod evaluator.
const std::set<std::string, std::less<>>& podResourceNames() {
  static const std::set<std::string, std::less<>> kNames = {
      "cpu",          "memory",          "ephemeral-storage",
      "requests.cpu", "requests.memory", "requests.ephemeral-storage",
      "limits.cpu",   "limits.memory",   "limits.ephemeral-storage",
      "pods",         "count/pods"};
  return kNames;
}

// helper.IsExtendedResourceName: a domain-prefixed name outside
// kubernetes.io (a device plugin's resource).
bool isExtendedResourceName(std::string_view name) {
  if (name.find('/') == std::string_view::npos ||
      name.find("kubernetes.io/") != std::string_view::npos)
    return false;
  return !startsWith(name, kRequestsPrefix);
}

Quantity one() { return Quantity::fromInt(1); }

// addResourceList / maxResourceList of resourcehelper.
void addList(ResourceList& to, const ResourceList& from) {
  for (const auto& [name, q] : from) {
    auto it = to.find(name);
    if (it == to.end())
      to.emplace(name, q);
    else
      it->second.add(q);
  }
}
void maxList(ResourceList& to, const ResourceList& from) {
  for (const auto& [name, q] : from) {
    auto it = to.find(name);
    if (it == to.end())
      to.emplace(name, q);
    else if (q.cmp(it->second) > 0)
      it->second = q;
  }
}

ResourceList readList(const json::value* v) {
  ResourceList out;
  const json::object* o = api::asObj(v);
  if (!o) return out;
  for (const auto& [name, value] : *o)
    if (auto q = Quantity::fromJson(value)) out.emplace(std::string(name), *q);
  return out;
}

// AggregateContainerRequests / AggregateContainerLimits for `which`
// ("requests" or "limits").
ResourceList aggregateContainers(const Object& pod, const char* which) {
  ResourceList total;
  if (const json::array* cs = api::arrAt(pod, {"spec", "containers"}))
    for (const auto& c : *cs)
      if (const json::object* co = c.if_object())
        addList(total, readList(api::at(*co, {"resources", which})));
  ResourceList sidecars;
  ResourceList init_max;
  if (const json::array* cs = api::arrAt(pod, {"spec", "initContainers"})) {
    for (const auto& c : *cs) {
      const json::object* co = c.if_object();
      if (!co) continue;
      ResourceList reqs = readList(api::at(*co, {"resources", which}));
      if (api::strAt(*co, {"restartPolicy"}) == "Always") {
        // A sidecar runs beside the app containers and every later init
        // container.
        addList(total, reqs);
        addList(sidecars, reqs);
        reqs = sidecars;
      } else {
        ResourceList tmp = reqs;
        addList(tmp, sidecars);
        reqs = std::move(tmp);
      }
      maxList(init_max, reqs);
    }
  }
  maxList(total, init_max);
  return total;
}

// QuotaV1Pod: terminal pods, and pods past their deletion grace period, use
// no compute resources any more.
bool quotaV1Pod(const Object& pod, std::chrono::system_clock::time_point now) {
  std::string phase = api::strAt(pod, {"status", "phase"});
  if (phase == "Failed" || phase == "Succeeded") return false;
  std::string deletion = api::strAt(pod, {"metadata", "deletionTimestamp"});
  auto grace = api::intAt(pod, {"metadata", "deletionGracePeriodSeconds"});
  if (!deletion.empty() && grace) {
    std::chrono::system_clock::time_point at;
    if (parseRfc3339(deletion, &at) && now > at + std::chrono::seconds(*grace)) return false;
  }
  return true;
}

ResourceList podUsage(const Object& pod, std::chrono::system_clock::time_point now) {
  // count/pods tracks every pod in storage; "pods" only live ones.
  ResourceList result{{"count/pods", one()}};
  if (!quotaV1Pod(pod, now)) return result;
  ResourceList requests = podRequests(pod);
  ResourceList limits = podLimits(pod);
  result["pods"] = *Quantity::parse("1");
  for (const char* name : {"cpu", "memory", "ephemeral-storage"}) {
    if (auto it = requests.find(name); it != requests.end()) {
      result[name] = it->second;
      result[std::string(kRequestsPrefix) + name] = it->second;
    }
    if (auto it = limits.find(name); it != limits.end())
      result[std::string("limits.") + name] = it->second;
  }
  for (const auto& [name, q] : requests) {
    if (startsWith(name, "hugepages-")) {
      result[name] = q;
      result[std::string(kRequestsPrefix) + name] = q;
    }
    if (isExtendedResourceName(name)) result[std::string(kRequestsPrefix) + name] = q;
  }
  return result;
}

ResourceList serviceUsage(const Object& svc) {
  ResourceList result{{"count/services", one()},
                      {"services", one()},
                      {"services.loadbalancers", Quantity()},
                      {"services.nodeports", Quantity()}};
  const json::array* ports = api::arrAt(svc, {"spec", "ports"});
  int64_t nports = ports ? static_cast<int64_t>(ports->size()) : 0;
  std::string type = api::strAt(svc, {"spec", "type"});
  if (type == "NodePort") {
    result["services.nodeports"] = Quantity::fromInt(nports);
  } else if (type == "LoadBalancer") {
    // With node port allocation turned off only explicit node ports count.
    if (api::boolAt(svc, {"spec", "allocateLoadBalancerNodePorts"}) == false) {
      int64_t explicit_ports = 0;
      if (ports)
        for (const auto& p : *ports)
          if (const json::object* po = p.if_object();
              po && api::intAt(*po, {"nodePort"}).value_or(0) != 0)
            ++explicit_ports;
      result["services.nodeports"] = Quantity::fromInt(explicit_ports);
    } else {
      result["services.nodeports"] = Quantity::fromInt(nports);
    }
    result["services.loadbalancers"] = one();
  }
  return result;
}

ResourceList pvcUsage(const Object& pvc) {
  ResourceList result{{"persistentvolumeclaims", one()}, {"count/persistentvolumeclaims", one()}};
  // GetPersistentVolumeClaimClass: the beta annotation wins.
  std::string storage_class =
      api::strAt(pvc, {"metadata", "annotations", "volume.beta.kubernetes.io/storage-class"});
  if (storage_class.empty()) storage_class = api::strAt(pvc, {"spec", "storageClassName"});
  std::string class_prefix = storage_class + std::string(kStorageClassSuffix);
  if (!storage_class.empty()) result[class_prefix + "persistentvolumeclaims"] = one();
  if (const json::value* req = api::at(pvc, {"spec", "resources", "requests", "storage"})) {
    if (auto q = Quantity::fromJson(*req)) {
      // Storage is charged in whole bytes (upstream issue 94313).
      q->roundUpToUnits();
      result["requests.storage"] = *q;
      if (!storage_class.empty()) result[class_prefix + "requests.storage"] = *q;
    }
  }
  return result;
}

// qos.GetPodQOS: the recorded class, else computed from the spec.
bool isBestEffort(const Object& pod) {
  std::string recorded = api::strAt(pod, {"status", "qosClass"});
  if (!recorded.empty()) return recorded == "BestEffort";
  const json::object* spec = api::objAt(pod, {"spec"});
  return spec ? api::podQosClass(*spec) == "BestEffort" : true;
}

bool crossNamespaceTerm(const json::object& term) {
  const json::array* nss = api::arrAt(term, {"namespaces"});
  const json::value* sel = api::at(term, {"namespaceSelector"});
  return (nss && !nss->empty()) || (sel && !sel->is_null());
}

// usesCrossNamespacePodAffinity.
bool usesCrossNamespacePodAffinity(const Object& pod) {
  for (const char* kind : {"podAffinity", "podAntiAffinity"}) {
    const json::object* a = api::objAt(pod, {"spec", "affinity", kind});
    if (!a) continue;
    if (const json::array* req = api::arrAt(*a, {"requiredDuringSchedulingIgnoredDuringExecution"}))
      for (const auto& t : *req)
        if (const json::object* to = t.if_object(); to && crossNamespaceTerm(*to)) return true;
    if (const json::array* pref =
            api::arrAt(*a, {"preferredDuringSchedulingIgnoredDuringExecution"}))
      for (const auto& t : *pref) {
        const json::object* weighted = t.if_object();
        const json::object* term = weighted ? api::objAt(*weighted, {"podAffinityTerm"}) : nullptr;
        if (term && crossNamespaceTerm(*term)) return true;
      }
  }
  return false;
}

// podMatchesScopeFunc for one scope requirement.
bool podMatchesScope(const Object& pod, std::string_view scope, std::string_view op,
                     const json::array* values) {
  if (scope == "Terminating" || scope == "NotTerminating") {
    auto deadline = api::intAt(pod, {"spec", "activeDeadlineSeconds"});
    bool terminating = deadline && *deadline >= 0;
    return scope == "Terminating" ? terminating : !terminating;
  }
  if (scope == "BestEffort") return isBestEffort(pod);
  if (scope == "NotBestEffort") return !isBestEffort(pod);
  if (scope == "CrossNamespacePodAffinity") return usesCrossNamespacePodAffinity(pod);
  if (scope == "PriorityClass") {
    // A label selector over {"PriorityClass": spec.priorityClassName}: the
    // key is always present, possibly with an empty value.
    std::string pc = api::strAt(pod, {"spec", "priorityClassName"});
    if (op == "Exists") return !pc.empty();
    if (op == "DoesNotExist") return false;
    bool in = false;
    if (values)
      for (const auto& v : *values)
        if (api::asStr(&v) == pc) in = true;
    if (op == "In") return in;
    if (op == "NotIn") return !in;
    return false;
  }
  return false;
}

}  // namespace

std::optional<std::string> trackedGroupResource(std::string_view name) {
  if (podResourceNames().count(name) || startsWith(name, "hugepages-") ||
      startsWith(name, "requests.hugepages-") ||
      (startsWith(name, kRequestsPrefix) &&
       isExtendedResourceName(name.substr(kRequestsPrefix.size()))))
    return std::string("pods");
  if (name == "services" || name == "count/services" || name == "services.nodeports" ||
      name == "services.loadbalancers")
    return std::string("services");
  if (name == "persistentvolumeclaims" || name == "count/persistentvolumeclaims" ||
      name == "requests.storage" ||
      (name.find(kStorageClassSuffix) != std::string_view::npos &&
       (endsWith(name, "/requests.storage") || endsWith(name, "/persistentvolumeclaims"))))
    return std::string("persistentvolumeclaims");
  for (std::string_view legacy :
       {"configmaps", "secrets", "resourcequotas", "replicationcontrollers"})
    if (name == legacy) return std::string(legacy);
  if (startsWith(name, kCountPrefix) && name.size() > kCountPrefix.size())
    return std::string(name.substr(kCountPrefix.size()));
  return std::nullopt;
}

ResourceList objectUsage(const std::string& group_resource, const Object& obj,
                         std::chrono::system_clock::time_point now) {
  if (group_resource == "pods") return podUsage(obj, now);
  if (group_resource == "services") return serviceUsage(obj);
  if (group_resource == "persistentvolumeclaims") return pvcUsage(obj);
  // The generic object count evaluator, with the legacy alias.
  ResourceList result{{std::string(kCountPrefix) + group_resource, one()}};
  for (std::string_view legacy :
       {"configmaps", "secrets", "resourcequotas", "replicationcontrollers"})
    if (group_resource == legacy) result[group_resource] = one();
  return result;
}

bool matchesQuotaScopes(const std::string& group_resource, const Object& obj, const Object& quota) {
  const json::array* scopes = api::arrAt(quota, {"spec", "scopes"});
  const json::array* exprs = api::arrAt(quota, {"spec", "scopeSelector", "matchExpressions"});
  bool has_scopes = (scopes && !scopes->empty()) || (exprs && !exprs->empty());
  if (!has_scopes) return true;
  // generic.MatchesNoScopeFunc: only pods have scopes.
  if (group_resource != "pods") return false;
  if (scopes)
    for (const auto& s : *scopes)
      if (!podMatchesScope(obj, api::asStr(&s), "Exists", nullptr)) return false;
  if (exprs)
    for (const auto& e : *exprs) {
      const json::object* eo = e.if_object();
      if (!eo) continue;
      if (!podMatchesScope(obj, api::strAt(*eo, {"scopeName"}), api::strAt(*eo, {"operator"}),
                           api::arrAt(*eo, {"values"})))
        return false;
    }
  return true;
}

ResourceList podRequests(const Object& pod) {
  ResourceList reqs = aggregateContainers(pod, "requests");
  addList(reqs, readList(api::at(pod, {"spec", "overhead"})));
  return reqs;
}

ResourceList podLimits(const Object& pod) {
  ResourceList limits = aggregateContainers(pod, "limits");
  for (const auto& [name, q] : readList(api::at(pod, {"spec", "overhead"})))
    if (auto it = limits.find(name); it != limits.end()) it->second.add(q);
  return limits;
}

}  // namespace berth::controllers
