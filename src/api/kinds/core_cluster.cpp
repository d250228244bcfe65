// core/v1 Node, PersistentVolume, PersistentVolumeClaim, ResourceQuota and
// LimitRange, after upstream defaults.go, validation.go and printers.go.

#include <algorithm>
#include <set>

#include "api/kinds/access.h"
#include "api/kinds/core_kinds.h"
#include "api/kinds/pod_spec.h"
#include "api/kinds/printing.h"
#include "api/validation.h"
#include "common/clock.h"

namespace berth::api {

namespace json = boost::json;

namespace {

std::string q(const std::string& s) { return FieldErrors::quote(s); }

const std::vector<std::string> kAccessModes = {"ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"};

// helper.GetAccessModesAsString: fixed order, short names.
std::string accessModesString(const json::array* modes) {
  static const char* kShort[] = {"RWO", "ROX", "RWX", "RWOP"};
  std::vector<std::string> out;
  for (size_t i = 0; i < kAccessModes.size(); ++i) {
    bool has = false;
    if (modes)
      for (const auto& m : *modes)
        if (asStr(&m) == kAccessModes[i]) has = true;
    if (has) out.push_back(kShort[i]);
  }
  return join(out, ",");
}

std::string quantityCell(const json::value* v) {
  if (!v) return "0";
  if (v->is_string()) return std::string(v->get_string());
  return json::serialize(*v);
}

std::string storageClass(const Object& obj) {
  std::string beta = strAt(obj, {"metadata", "annotations", "volume.beta.kubernetes.io/storage-class"});
  if (!beta.empty()) return beta;
  return strAt(obj, {"spec", "storageClassName"});
}

void validateAccessModes(const json::object& spec, bool required, FieldErrors& errs) {
  const json::array* modes = arrAt(spec, {"accessModes"});
  if (!modes || modes->empty()) {
    if (required) errs.required("spec.accessModes", "at least 1 access mode is required");
    return;
  }
  for (const auto& m : *modes) {
    std::string s = asStr(&m);
    if (std::find(kAccessModes.begin(), kAccessModes.end(), s) == kAccessModes.end())
      errs.notSupported("spec.accessModes", q(s), kAccessModes);
  }
}

void validateQuantities(const json::object* m, const std::string& path, FieldErrors& errs) {
  if (!m) return;
  for (const auto& kv : *m) {
    std::string s = quantityCell(&kv.value());
    auto v = parseQuantity(s);
    std::string p = path + "[" + std::string(kv.key()) + "]";
    if (!v) errs.invalid(p, q(s), "must match the regex ^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$");
    else if (*v < 0) errs.invalid(p, q(s), "must be greater than or equal to 0");
  }
}

std::string nodeAddress(const Object& node, const std::string& type) {
  if (const json::array* addrs = arrAt(node, {"status", "addresses"}))
    for (const auto& a : *addrs)
      if (const json::object* ao = asObj(&a); ao && strAt(*ao, {"type"}) == type) return strAt(*ao, {"address"});
  return "<none>";
}

}  // namespace

KindInfo nodeKind() {
  KindInfo k = makeKind("", "v1", "Node", "nodes", false, {"no"});
  k.has_status = true;
  k.defaults = [](Object& node) {
    // SetDefaults_NodeStatus: allocatable defaults to capacity.
    json::object* status = const_cast<json::object*>(objAt(node, {"status"}));
    if (!status) return;
    if (const json::value* cap = at(*status, {"capacity"}); cap && !at(*status, {"allocatable"}))
      (*status)["allocatable"] = *cap;
  };
  k.validate = [](const Object& node, const Object* old, FieldErrors& errs) {
    validateObjectMeta(node, old, false, NameRule::kDns1123Subdomain, errs);
    if (const json::array* taints = arrAt(node, {"spec", "taints"}))
      for (size_t i = 0; i < taints->size(); ++i) {
        const json::object* t = asObj(&(*taints)[i]);
        if (!t) continue;
        std::string p = "spec.taints[" + std::to_string(i) + "]";
        std::string key = strAt(*t, {"key"});
        for (const auto& m : isQualifiedName(key)) errs.invalid(p + ".key", q(key), m);
        std::string effect = strAt(*t, {"effect"});
        if (effect.empty()) errs.required(p + ".effect");
        else if (effect != "NoSchedule" && effect != "PreferNoSchedule" && effect != "NoExecute")
          errs.notSupported(p + ".effect", q(effect), {"NoSchedule", "PreferNoSchedule", "NoExecute"});
      }
    if (old) {
      std::string old_cidr = strAt(*old, {"spec", "podCIDR"});
      if (!old_cidr.empty() && !jsonEqual(at(node, {"spec", "podCIDRs"}), at(*old, {"spec", "podCIDRs"})))
        errs.forbidden("spec.podCIDRs", "node updates may not change podCIDR except from \"\" to valid");
      std::string old_provider = strAt(*old, {"spec", "providerID"});
      if (!old_provider.empty() && strAt(node, {"spec", "providerID"}) != old_provider)
        errs.forbidden("spec.providerID", "node updates may not change providerID except from \"\" to valid");
    }
  };
  k.columns = {
      column("Status", "string", "The status of the node"),
      column("Roles", "string", "The roles of the node"),
      ageColumn(),
      column("Version", "string", "Kubelet Version reported by the node."),
      column("Internal-IP", "string", "List of addresses reachable to the node.", 1),
      column("External-IP", "string", "List of addresses reachable to the node.", 1),
      column("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).", 1),
      column("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
      column("Container-Runtime", "string", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).", 1),
  };
  k.cells = [](const Object& node, const KindContext& ctx) {
    std::vector<std::string> status;
    if (const json::array* conds = arrAt(node, {"status", "conditions"}))
      for (const auto& c : *conds)
        if (const json::object* co = asObj(&c); co && strAt(*co, {"type"}) == "Ready") {
          status = {strAt(*co, {"status"}) == "True" ? "Ready" : "NotReady"};
        }
    if (status.empty()) status.push_back("Unknown");
    if (boolAt(node, {"spec", "unschedulable"}).value_or(false)) status.push_back("SchedulingDisabled");
    std::set<std::string> roles;
    for (const auto& [key, value] : stringMap(at(node, {"metadata", "labels"}))) {
      const std::string prefix = "node-role.kubernetes.io/";
      if (key.rfind(prefix, 0) == 0) {
        if (key.size() > prefix.size()) roles.insert(key.substr(prefix.size()));
      } else if (key == "kubernetes.io/role" && !value.empty()) {
        roles.insert(value);
      }
    }
    auto unknown = [](std::string s) { return s.empty() ? std::string("<unknown>") : s; };
    return json::array{join(status, ","),
                       noneIfEmpty(join(std::vector<std::string>(roles.begin(), roles.end()), ",")),
                       ageCell(node, ctx),
                       strAt(node, {"status", "nodeInfo", "kubeletVersion"}),
                       nodeAddress(node, "InternalIP"),
                       nodeAddress(node, "ExternalIP"),
                       unknown(strAt(node, {"status", "nodeInfo", "osImage"})),
                       unknown(strAt(node, {"status", "nodeInfo", "kernelVersion"})),
                       unknown(strAt(node, {"status", "nodeInfo", "containerRuntimeVersion"}))};
  };
  k.selectable_fields = [](const Object& node) {
    return std::map<std::string, std::string>{
        {"spec.unschedulable", boolAt(node, {"spec", "unschedulable"}).value_or(false) ? "true" : "false"}};
  };
  return k;
}

KindInfo persistentVolumeKind() {
  KindInfo k = makeKind("", "v1", "PersistentVolume", "persistentvolumes", false, {"pv"});
  k.has_status = true;
  k.defaults = [](Object& pv) {
    json::object& spec = ensureObj(pv, "spec");
    if (isZero(spec, "persistentVolumeReclaimPolicy")) spec["persistentVolumeReclaimPolicy"] = "Retain";
    if (isZero(spec, "volumeMode")) spec["volumeMode"] = "Filesystem";
    if (json::object* hp = const_cast<json::object*>(objAt(spec, {"hostPath"}))) setDefault(*hp, "type", "");
    json::object& status = ensureObj(pv, "status");
    if (isZero(status, "phase")) status["phase"] = "Pending";
  };
  k.validate = [](const Object& pv, const Object* old, FieldErrors& errs) {
    validateObjectMeta(pv, old, false, NameRule::kDns1123Subdomain, errs);
    static const json::object kEmpty;
    const json::object* sp = objAt(pv, {"spec"});
    const json::object& spec = sp ? *sp : kEmpty;
    validateAccessModes(spec, true, errs);
    const json::object* cap = objAt(spec, {"capacity"});
    if (!cap || !cap->contains("storage")) errs.required("spec.capacity");
    validateQuantities(cap, "spec.capacity", errs);
    std::string policy = strAt(spec, {"persistentVolumeReclaimPolicy"});
    if (!policy.empty() && policy != "Delete" && policy != "Recycle" && policy != "Retain")
      errs.notSupported("spec.persistentVolumeReclaimPolicy", q(policy), {"Delete", "Recycle", "Retain"});
    std::string mode = strAt(spec, {"volumeMode"});
    if (!mode.empty() && mode != "Block" && mode != "Filesystem")
      errs.notSupported("spec.volumeMode", q(mode), {"Block", "Filesystem"});
    if (old) validateImmutable(at(spec, {"volumeMode"}), at(*old, {"spec", "volumeMode"}), "volumeMode", errs);
  };
  k.columns = {
      column("Capacity", "string", "capacity is the description of the persistent volume's resources and capacity."),
      column("Access Modes", "string", "accessModes contains all ways the volume can be mounted."),
      column("Reclaim Policy", "string", "persistentVolumeReclaimPolicy defines what happens to a persistent volume "
                                         "when released from its claim."),
      column("Status", "string", "phase indicates if a volume is available, bound to a claim, or released by a claim."),
      column("Claim", "string", "claimRef is part of a bi-directional binding between PersistentVolume and "
                                "PersistentVolumeClaim."),
      column("StorageClass", "string", "storageClassName is the name of StorageClass to which this persistent volume "
                                       "belongs."),
      column("VolumeAttributesClass", "string", "Name of VolumeAttributesClass to which this persistent volume "
                                                "belongs."),
      column("Reason", "string", "reason is a brief CamelCase string that describes any failure and is meant for "
                                 "machine parsing and tidy display in the CLI."),
      ageColumn(),
      column("VolumeMode", "string", "volumeMode defines if a volume is intended to be used with a formatted "
                                     "filesystem or to remain in raw block state.", 1),
  };
  k.cells = [](const Object& pv, const KindContext& ctx) {
    std::string claim;
    if (objAt(pv, {"spec", "claimRef"}))
      claim = strAt(pv, {"spec", "claimRef", "namespace"}) + "/" + strAt(pv, {"spec", "claimRef", "name"});
    std::string phase = strAt(pv, {"status", "phase"});
    if (at(pv, {"metadata", "deletionTimestamp"})) phase = "Terminating";
    return json::array{quantityCell(at(pv, {"spec", "capacity", "storage"})),
                       accessModesString(arrAt(pv, {"spec", "accessModes"})),
                       strAt(pv, {"spec", "persistentVolumeReclaimPolicy"}),
                       phase,
                       claim,
                       storageClass(pv),
                       strAt(pv, {"spec", "volumeAttributesClassName"}, "<unset>"),
                       strAt(pv, {"status", "reason"}),
                       ageCell(pv, ctx),
                       strAt(pv, {"spec", "volumeMode"}, "<unset>")};
  };
  return k;
}

KindInfo persistentVolumeClaimKind() {
  KindInfo k = makeKind("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true, {"pvc"});
  k.has_status = true;
  k.defaults = [](Object& pvc) {
    json::object& spec = ensureObj(pvc, "spec");
    if (isZero(spec, "volumeMode")) spec["volumeMode"] = "Filesystem";
    json::object& status = ensureObj(pvc, "status");
    if (isZero(status, "phase")) status["phase"] = "Pending";
  };
  k.validate = [](const Object& pvc, const Object* old, FieldErrors& errs) {
    validateObjectMeta(pvc, old, true, NameRule::kDns1123Subdomain, errs);
    static const json::object kEmpty;
    const json::object* sp = objAt(pvc, {"spec"});
    const json::object& spec = sp ? *sp : kEmpty;
    validateAccessModes(spec, true, errs);
    validateLabelSelector(at(spec, {"selector"}), "spec.selector", errs);
    const json::object* requests = objAt(spec, {"resources", "requests"});
    if (!requests || !requests->contains("storage")) errs.required("spec.resources[storage]");
    validateQuantities(requests, "spec.resources.requests", errs);
    std::string mode = strAt(spec, {"volumeMode"});
    if (!mode.empty() && mode != "Block" && mode != "Filesystem")
      errs.notSupported("spec.volumeMode", q(mode), {"Block", "Filesystem"});
    if (!old) return;
    // ValidatePersistentVolumeClaimUpdate: only requests (expansion),
    // volumeAttributesClassName and a first volumeName may change.
    json::value now_spec = spec;
    json::value old_spec = at(*old, {"spec"}) ? *at(*old, {"spec"}) : json::value(json::object());
    json::object& n = now_spec.as_object();
    const json::object& o = old_spec.as_object();
    auto carry = [&](const char* key) {
      if (const json::value* v = at(o, {key})) n[key] = *v;
      else n.erase(key);
    };
    carry("volumeAttributesClassName");
    if (strAt(o, {"volumeName"}).empty()) carry("volumeName");
    if (const json::value* r = at(o, {"resources", "requests"})) ensureObj(n, "resources")["requests"] = *r;
    else if (n.contains("resources")) ensureObj(n, "resources").erase("requests");
    if (!jsonEqual(&now_spec, &old_spec))
      errs.forbidden("spec", "spec is immutable after creation except resources.requests and "
                             "volumeAttributesClassName for bound claims");
  };
  k.columns = {
      column("Status", "string", "phase represents the current phase of PersistentVolumeClaim."),
      column("Volume", "string", "volumeName is the binding reference to the PersistentVolume backing this claim."),
      column("Capacity", "string", "capacity represents the actual resources of the underlying volume."),
      column("Access Modes", "string", "accessModes contains the desired access modes the volume should have."),
      column("StorageClass", "string", "storageClassName is the name of the StorageClass required by the claim."),
      column("VolumeAttributesClass", "string", "volumeAttributesClassName may be used to set the "
                                                "VolumeAttributesClass used by this claim."),
      ageColumn(),
      column("VolumeMode", "string", "volumeMode defines what type of volume is required by the claim.", 1),
  };
  k.cells = [](const Object& pvc, const KindContext& ctx) {
    std::string phase = strAt(pvc, {"status", "phase"});
    if (at(pvc, {"metadata", "deletionTimestamp"})) phase = "Terminating";
    std::string capacity, modes;
    if (!strAt(pvc, {"spec", "volumeName"}).empty()) {
      modes = accessModesString(arrAt(pvc, {"status", "accessModes"}));
      capacity = quantityCell(at(pvc, {"status", "capacity", "storage"}));
    }
    std::string vac = strAt(pvc, {"spec", "volumeAttributesClassName"});
    return json::array{phase,
                       strAt(pvc, {"spec", "volumeName"}),
                       capacity,
                       modes,
                       storageClass(pvc),
                       vac.empty() ? "<unset>" : vac,
                       ageCell(pvc, ctx),
                       strAt(pvc, {"spec", "volumeMode"}, "<unset>")};
  };
  return k;
}

KindInfo resourceQuotaKind() {
  KindInfo k = makeKind("", "v1", "ResourceQuota", "resourcequotas", true, {"quota"});
  k.has_status = true;
  k.validate = [](const Object& rq, const Object* old, FieldErrors& errs) {
    validateObjectMeta(rq, old, true, NameRule::kDns1123Subdomain, errs);
    validateQuantities(objAt(rq, {"spec", "hard"}), "spec.hard", errs);
    if (const json::array* scopes = arrAt(rq, {"spec", "scopes"})) {
      static const std::vector<std::string> kScopes = {"Terminating",   "NotTerminating",         "BestEffort",
                                                       "NotBestEffort", "PriorityClass",          "CrossNamespacePodAffinity"};
      for (const auto& s : *scopes)
        if (std::find(kScopes.begin(), kScopes.end(), asStr(&s)) == kScopes.end())
          errs.notSupported("spec.scopes", q(asStr(&s)), kScopes);
    }
  };
  k.prepare = [](Object& rq, const Object* old) {
    if (!old) rq["status"] = json::object();
  };
  k.columns = {ageColumn(), column("Request", "string", "Request represents a minimum amount of cpu/memory that a "
                                                        "container may consume."),
               column("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use "
                                         "independent of contention on the node.")};
  k.cells = [](const Object& rq, const KindContext& ctx) {
    std::vector<std::string> request, limit;
    const json::object* hard = objAt(rq, {"status", "hard"});
    const json::object* used = objAt(rq, {"status", "used"});
    std::vector<std::string> names;
    if (hard)
      for (const auto& kv : *hard) names.emplace_back(kv.key());
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
      std::string entry = n + ": " + quantityCell(used ? at(*used, {n}) : nullptr) + "/" + quantityCell(at(*hard, {n}));
      if (n.rfind("limits.", 0) == 0) limit.push_back(entry);
      else request.push_back(entry);
    }
    return json::array{ageCell(rq, ctx), join(request, ", "), join(limit, ", ")};
  };
  return k;
}

KindInfo limitRangeKind() {
  KindInfo k = makeKind("", "v1", "LimitRange", "limitranges", true, {"limits"});
  k.defaults = [](Object& lr) {
    json::object* spec = const_cast<json::object*>(objAt(lr, {"spec"}));
    if (!spec) return;
    auto it = spec->find("limits");
    if (it == spec->end() || !it->value().is_array()) return;
    for (auto& item : it->value().get_array()) {
      if (!item.is_object() || strAt(item.get_object(), {"type"}) != "Container") continue;
      json::object& o = item.get_object();
      // SetDefaults_LimitRangeItem: default <- max, defaultRequest <- default, min.
      auto fill = [&](const char* from, const char* to) {
        const json::object* src = objAt(o, {from});
        if (!src || src->empty()) return;
        json::object copy = *src;
        json::object& dst = ensureObj(o, to);
        for (const auto& kv : copy)
          if (!dst.contains(kv.key())) dst[kv.key()] = kv.value();
      };
      fill("max", "default");
      fill("default", "defaultRequest");
      fill("min", "defaultRequest");
    }
  };
  k.validate = [](const Object& lr, const Object* old, FieldErrors& errs) {
    validateObjectMeta(lr, old, true, NameRule::kDns1123Subdomain, errs);
    if (const json::array* limits = arrAt(lr, {"spec", "limits"}))
      for (size_t i = 0; i < limits->size(); ++i) {
        const json::object* item = asObj(&(*limits)[i]);
        if (!item) continue;
        std::string p = "spec.limits[" + std::to_string(i) + "]";
        std::string type = strAt(*item, {"type"});
        if (type.empty()) errs.required(p + ".type");
        for (const char* f : {"max", "min", "default", "defaultRequest", "maxLimitRequestRatio"})
          validateQuantities(objAt(*item, {f}), p + "." + f, errs);
      }
  };
  k.columns = {column("Created At", "date", "CreationTimestamp is a timestamp representing the server time when "
                                            "this object was created.")};
  k.cells = [](const Object& lr, const KindContext&) {
    return json::array{strAt(lr, {"metadata", "creationTimestamp"})};
  };
  return k;
}

}  // namespace berth::api
