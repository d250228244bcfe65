#include "controllers/statefulset/stateful_set_utils.h"

#include <cctype>
#include <climits>
#include <set>

#include "api/kinds/access.h"
#include "api/object.h"
#include "controllers/daemonset/controller_history.h"
#include "controllers/pod_control.h"
#include "controllers/pod_util.h"

namespace berth::controllers {

namespace json = boost::json;
using api::Object;

ParentAndOrdinal parentAndOrdinal(const std::string& name) {
  ParentAndOrdinal out;
  size_t dash = name.rfind('-');
  if (dash == std::string::npos || dash + 1 >= name.size()) return out;
  std::string digits = name.substr(dash + 1);
  for (char c : digits)
    if (!std::isdigit(static_cast<unsigned char>(c))) return out;
  out.parent = name.substr(0, dash);
  // strconv.ParseInt(..., 10, 32): out of range leaves the ordinal at -1.
  if (digits.size() <= 10) {
    long long v = std::stoll(digits);
    if (v <= INT32_MAX) out.ordinal = static_cast<int>(v);
  }
  return out;
}

int ordinalOf(const Object& pod) { return parentAndOrdinal(api::name(pod)).ordinal; }

std::string statefulPodName(const Object& set, int ordinal) {
  return api::name(set) + "-" + std::to_string(ordinal);
}

std::string claimName(const std::string& claim_template, const Object& set, int ordinal) {
  return claim_template + "-" + api::name(set) + "-" + std::to_string(ordinal);
}

int startOrdinal(const Object& set) {
  return static_cast<int>(api::intAt(set, {"spec", "ordinals", "start"}).value_or(0));
}

int64_t setReplicas(const Object& set) { return api::intAt(set, {"spec", "replicas"}).value_or(1); }

int endOrdinal(const Object& set) {
  return startOrdinal(set) + static_cast<int>(setReplicas(set)) - 1;
}

bool podInOrdinalRange(const Object& pod, const Object& set) {
  int ord = ordinalOf(pod);
  return ord >= startOrdinal(set) && ord <= endOrdinal(set);
}

bool isMemberOf(const Object& set, const Object& pod) {
  return parentAndOrdinal(api::name(pod)).parent == api::name(set);
}

bool identityMatches(const Object& set, const Object& pod) {
  ParentAndOrdinal po = parentAndOrdinal(api::name(pod));
  if (po.ordinal < 0 || po.parent != api::name(set)) return false;
  if (api::name(pod) != statefulPodName(set, po.ordinal)) return false;
  if (api::namespaceOf(pod) != api::namespaceOf(set)) return false;
  auto labels = api::labels(pod);
  auto it = labels.find(kStatefulSetPodNameLabel);
  if (it == labels.end() || it->second != api::name(pod)) return false;
  auto ix = labels.find(kPodIndexLabel);
  return ix != labels.end() && ix->second == std::to_string(po.ordinal);
}

std::vector<std::pair<std::string, Object>> persistentVolumeClaims(const Object& set, int ordinal) {
  std::vector<std::pair<std::string, Object>> out;
  const json::array* templates = api::arrAt(set, {"spec", "volumeClaimTemplates"});
  if (!templates) return out;
  const json::object* match = api::objAt(set, {"spec", "selector", "matchLabels"});
  for (const auto& t : *templates) {
    const json::object* tmpl = t.if_object();
    if (!tmpl) continue;
    std::string tname = api::strAt(*tmpl, {"metadata", "name"});
    Object claim;
    claim["apiVersion"] = "v1";
    claim["kind"] = "PersistentVolumeClaim";
    json::object meta;
    if (const json::object* m = api::objAt(*tmpl, {"metadata"})) meta = *m;
    meta["name"] = claimName(tname, set, ordinal);
    meta["namespace"] = api::namespaceOf(set);
    json::object& labels = api::ensureObject(meta, "labels");
    if (match)
      for (const auto& kv : *match) labels[kv.key()] = kv.value();
    claim["metadata"] = std::move(meta);
    if (const json::object* spec = api::objAt(*tmpl, {"spec"}))
      claim["spec"] = *spec;
    else
      claim["spec"] = json::object();
    out.emplace_back(tname, std::move(claim));
  }
  return out;
}

bool storageMatches(const Object& set, const Object& pod) {
  int ordinal = ordinalOf(pod);
  if (ordinal < 0) return false;
  std::map<std::string, const json::object*> volumes;
  if (const json::array* vols = api::arrAt(pod, {"spec", "volumes"}))
    for (const auto& v : *vols)
      if (const json::object* vo = v.if_object()) volumes[api::strAt(*vo, {"name"})] = vo;
  if (const json::array* templates = api::arrAt(set, {"spec", "volumeClaimTemplates"}))
    for (const auto& t : *templates) {
      const json::object* tmpl = t.if_object();
      if (!tmpl) continue;
      std::string tname = api::strAt(*tmpl, {"metadata", "name"});
      auto it = volumes.find(tname);
      if (it == volumes.end()) return false;
      if (api::strAt(*it->second, {"persistentVolumeClaim", "claimName"}) !=
          claimName(tname, set, ordinal))
        return false;
    }
  return true;
}

void updateIdentity(const Object& set, Object& pod) {
  int ordinal = ordinalOf(pod);
  json::object& meta = api::mutableMetadata(pod);
  meta["name"] = statefulPodName(set, ordinal);
  meta["namespace"] = api::namespaceOf(set);
  json::object& labels = api::ensureObject(meta, "labels");
  labels[kStatefulSetPodNameLabel] = api::name(pod);
  labels[kPodIndexLabel] = std::to_string(ordinal);
}

void updateStorage(const Object& set, Object& pod) {
  int ordinal = ordinalOf(pod);
  auto claims = persistentVolumeClaims(set, ordinal);
  json::array volumes;
  std::set<std::string> claim_names;
  for (const auto& [tname, claim] : claims) {
    claim_names.insert(tname);
    json::object pvc{{"claimName", api::name(claim)}, {"readOnly", false}};
    volumes.push_back(json::object{{"name", tname}, {"persistentVolumeClaim", pvc}});
  }
  if (const json::array* cur = api::arrAt(pod, {"spec", "volumes"}))
    for (const auto& v : *cur)
      if (!v.is_object() || !claim_names.count(api::strAt(v.as_object(), {"name"})))
        volumes.push_back(v);
  json::object& spec = api::ensureObject(pod, "spec");
  if (volumes.empty())
    spec.erase("volumes");
  else
    spec["volumes"] = std::move(volumes);
}

Object newStatefulSetPod(const Object& set, const api::KindInfo& set_kind, int ordinal) {
  json::object tmpl;
  if (const json::object* t = api::objAt(set, {"spec", "template"})) tmpl = *t;
  json::object ref = newControllerRef(set, set_kind);
  Object pod = podFromTemplate(tmpl, set, &ref);
  api::mutableMetadata(pod)["name"] = statefulPodName(set, ordinal);
  updateIdentity(set, pod);
  // initIdentity: hostname and subdomain are immutable; set them only here.
  json::object& spec = api::ensureObject(pod, "spec");
  spec["hostname"] = statefulPodName(set, ordinal);
  std::string service = api::strAt(set, {"spec", "serviceName"});
  if (!service.empty()) spec["subdomain"] = service;
  updateStorage(set, pod);
  return pod;
}

std::string podRevision(const Object& pod) {
  return api::strAt(pod, {"metadata", "labels", kControllerRevisionHashLabel});
}

void setPodRevision(Object& pod, const std::string& revision) {
  api::ensureObject(api::mutableMetadata(pod), "labels")[kControllerRevisionHashLabel] = revision;
}

namespace {
std::string phase(const Object& pod) { return api::strAt(pod, {"status", "phase"}); }
}  // namespace

bool isCreated(const Object& pod) { return !phase(pod).empty(); }
bool isPending(const Object& pod) { return phase(pod) == "Pending"; }
bool isPodFailed(const Object& pod) { return phase(pod) == "Failed"; }
bool isPodSucceeded(const Object& pod) { return phase(pod) == "Succeeded"; }
bool isTerminating(const Object& pod) { return hasDeletionTimestamp(pod); }
bool isRunningAndReady(const Object& pod) { return phase(pod) == "Running" && isPodReady(pod); }

bool isRunningAndAvailable(const Object& pod, int64_t min_ready_seconds,
                           std::chrono::system_clock::time_point now) {
  return phase(pod) == "Running" && isPodAvailable(pod, min_ready_seconds, now);
}

bool isUnavailable(const Object& pod, int64_t min_ready_seconds,
                   std::chrono::system_clock::time_point now) {
  return !isRunningAndAvailable(pod, min_ready_seconds, now) || isTerminating(pod);
}

}  // namespace berth::controllers
