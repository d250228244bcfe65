// storage.k8s.io/v1: StorageClass, CSIDriver, CSINode, CSIStorageCapacity,
// VolumeAttachment. Defaults follow pkg/apis/storage/v1/defaults.go,
// validation pkg/apis/storage/validation/validation.go, tables
// pkg/printers/internalversion/printers.go.

#include <algorithm>
#include <cctype>
#include <set>

#include "api/kind.h"
#include "api/kinds/access.h"
#include "api/kinds/printing.h"
#include "api/kinds/storage_util.h"
#include "api/validation.h"

namespace berth::api {

namespace json = boost::json;

namespace {

const json::object& orEmpty(const json::object* o) {
  static const json::object kEmpty;
  return o ? *o : kEmpty;
}

std::string idx(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

KindInfo storageKind(const std::string& kind, const std::string& resource, bool namespaced) {
  KindInfo k;
  k.group = "storage.k8s.io";
  k.version = "v1";
  k.kind = kind;
  k.resource = resource;
  k.singular = lower(kind);
  k.namespaced = namespaced;
  k.schema_type = "storage.v1." + kind;
  return k;
}

// ValidateCSIDriverName (used for CSIDriver names, CSINode drivers and
// VolumeAttachment attachers).
void validateCsiDriverName(const std::string& name, const std::string& path, FieldErrors& errs) {
  if (name.empty()) errs.required(path);
  if (name.size() > 63) errs.tooLong(path, FieldErrors::quote(name), 63);
  for (const auto& m : isDns1123Subdomain(lower(name))) errs.invalid(path, FieldErrors::quote(name), m);
}

// ---- StorageClass ----

void defaultStorageClass(json::object& obj) {
  setDefault(obj, "reclaimPolicy", "Delete");
  setDefault(obj, "volumeBindingMode", "Immediate");
}

void validateStorageClass(const json::object& obj, const json::object* old, FieldErrors& errs) {
  validateObjectMeta(obj, old, false, NameRule::kDns1123Subdomain, errs);
  // validateProvisioner.
  std::string provisioner = strAt(obj, {"provisioner"});
  if (provisioner.empty()) errs.required("provisioner");
  else
    for (const auto& m : isQualifiedName(lower(provisioner)))
      errs.invalid("provisioner", FieldErrors::quote(lower(provisioner)), m);
  // validateParameters (empty allowed).
  if (const json::object* params = objAt(obj, {"parameters"})) {
    if (params->size() > 512) {
      errs.tooLong("parameters", "\"Provisioner Parameters exceeded max allowed\"", 512);
    } else {
      size_t total = 0;
      for (const auto& kv : *params) {
        if (kv.key().empty()) errs.invalid("parameters", "\"\"", "field can not be empty.");
        total += kv.key().size() + asStr(&kv.value()).size();
      }
      if (total > 256 * 1024) errs.tooLong("parameters", "\"\"", 256 * 1024);
    }
  }
  std::string reclaim = strAt(obj, {"reclaimPolicy"});
  if (!reclaim.empty() && reclaim != "Delete" && reclaim != "Retain")
    errs.notSupported("reclaimPolicy", FieldErrors::quote(reclaim), {"Delete", "Retain"});
  const json::value* mode = at(obj, {"volumeBindingMode"});
  if (!mode || mode->is_null()) errs.required("volumeBindingMode");
  else if (asStr(mode) != "Immediate" && asStr(mode) != "WaitForFirstConsumer")
    errs.notSupported("volumeBindingMode", valueRepr(mode), {"Immediate", "WaitForFirstConsumer"});
  if (!old) return;
  // ValidateStorageClassUpdate: everything that shapes provisioning is fixed.
  if (!jsonEqual(at(obj, {"parameters"}), at(*old, {"parameters"})))
    errs.forbidden("parameters", "updates to parameters are forbidden.");
  if (provisioner != strAt(*old, {"provisioner"})) errs.forbidden("provisioner", "updates to provisioner are forbidden.");
  if (reclaim != strAt(*old, {"reclaimPolicy"})) errs.forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden.");
  validateImmutable(mode, at(*old, {"volumeBindingMode"}), "volumeBindingMode", errs);
}

json::array storageClassCells(const json::object& obj, const KindContext& ctx) {
  std::string reclaim = "Delete", mode = "Immediate";
  if (const json::value* v = at(obj, {"reclaimPolicy"}); v && v->is_string()) reclaim = asStr(v);
  if (const json::value* v = at(obj, {"volumeBindingMode"}); v && v->is_string()) mode = asStr(v);
  return json::array{strAt(obj, {"provisioner"}), reclaim, mode,
                     boolAt(obj, {"allowVolumeExpansion"}).value_or(false), ageCell(obj, ctx)};
}

// ---- CSIDriver ----

void defaultCsiDriver(json::object& obj) {
  json::object& spec = ensureObj(obj, "spec");
  setDefault(spec, "attachRequired", true);
  setDefault(spec, "podInfoOnMount", false);
  setDefault(spec, "storageCapacity", false);
  setDefault(spec, "fsGroupPolicy", "ReadWriteOnceWithFSType");
  const json::array* modes = arrAt(spec, {"volumeLifecycleModes"});
  if (!modes || modes->empty()) spec["volumeLifecycleModes"] = json::array{"Persistent"};
  setDefault(spec, "requiresRepublish", false);
}

void validateCsiDriver(const json::object& obj, const json::object* old, FieldErrors& errs) {
  validateObjectMeta(obj, old, false, NameRule::kDns1123Subdomain, errs);
  std::string name = strAt(obj, {"metadata", "name"});
  if (name.size() > 63) errs.tooLong("metadata.name", FieldErrors::quote(name), 63);
  const json::object& spec = orEmpty(objAt(obj, {"spec"}));
  for (const char* f : {"attachRequired", "podInfoOnMount", "storageCapacity", "requiresRepublish"}) {
    const json::value* v = at(spec, {f});
    if (!v || v->is_null()) errs.required(std::string("spec.") + f);
  }
  if (const json::value* p = at(spec, {"fsGroupPolicy"}); p && !p->is_null()) {
    std::string s = asStr(p);
    if (s != "File" && s != "None" && s != "ReadWriteOnceWithFSType")
      errs.notSupported("spec.fsGroupPolicy", FieldErrors::quote(s), {"File", "None", "ReadWriteOnceWithFSType"});
  }
  if (const json::array* modes = arrAt(spec, {"volumeLifecycleModes"}))
    for (size_t i = 0; i < modes->size(); ++i) {
      std::string m = asStr(&(*modes)[i]);
      if (m != "Persistent" && m != "Ephemeral")
        errs.notSupported(idx("spec.volumeLifecycleModes", i), FieldErrors::quote(m), {"Ephemeral", "Persistent"});
    }
  if (const json::array* trs = arrAt(spec, {"tokenRequests"})) {
    std::set<std::string> seen;
    for (size_t i = 0; i < trs->size(); ++i) {
      std::string aud = strAt(orEmpty(asObj(&(*trs)[i])), {"audience"});
      if (!seen.insert(aud).second)
        errs.duplicate(idx("spec.tokenRequests", i) + ".audience", FieldErrors::quote(aud));
      if (auto secs = intAt(orEmpty(asObj(&(*trs)[i])), {"expirationSeconds"}); secs) {
        if (*secs < 600)
          errs.invalid(idx("spec.tokenRequests", i) + ".expirationSeconds", std::to_string(*secs),
                       "may not specify a duration less than 10 minutes");
        if (*secs > (int64_t(1) << 32))
          errs.invalid(idx("spec.tokenRequests", i) + ".expirationSeconds", std::to_string(*secs),
                       "may not specify a duration larger than 2^32 seconds");
      }
    }
  }
  if (old)
    validateImmutable(at(spec, {"attachRequired"}), at(*old, {"spec", "attachRequired"}), "spec.attachRequired", errs);
}

json::array csiDriverCells(const json::object& obj, const KindContext& ctx) {
  const json::object& spec = orEmpty(objAt(obj, {"spec"}));
  std::vector<std::string> modes;
  if (const json::array* m = arrAt(spec, {"volumeLifecycleModes"}))
    for (const auto& x : *m) modes.push_back(asStr(&x));
  std::string token_requests = "<unset>";
  if (const json::array* trs = arrAt(spec, {"tokenRequests"})) {
    std::vector<std::string> auds;
    for (const auto& t : *trs) auds.push_back(strAt(orEmpty(asObj(&t)), {"audience"}));
    token_requests = join(auds, ",");
  }
  std::string modes_s = join(modes, ",");
  return json::array{boolAt(spec, {"attachRequired"}).value_or(true),
                     boolAt(spec, {"podInfoOnMount"}).value_or(false),
                     boolAt(spec, {"storageCapacity"}).value_or(false),
                     token_requests,
                     boolAt(spec, {"requiresRepublish"}).value_or(false),
                     modes_s.empty() ? "<none>" : modes_s,
                     ageCell(obj, ctx)};
}

// ---- CSINode ----

void validateCsiNode(const json::object& obj, const json::object* old, FieldErrors& errs) {
  validateObjectMeta(obj, old, false, NameRule::kDns1123Subdomain, errs);
  const json::array* drivers = arrAt(obj, {"spec", "drivers"});
  if (!drivers) return;
  std::set<std::string> names;
  for (size_t i = 0; i < drivers->size(); ++i) {
    std::string p = idx("spec.drivers", i);
    const json::object& d = orEmpty(asObj(&(*drivers)[i]));
    std::string name = strAt(d, {"name"});
    validateCsiDriverName(name, p + ".name", errs);
    if (!names.insert(name).second) errs.duplicate(p + ".name", FieldErrors::quote(name));
    std::string node_id = strAt(d, {"nodeID"});
    if (node_id.empty()) errs.required(p + ".nodeID");
    else if (node_id.size() > 192) errs.tooLong(p + ".nodeID", FieldErrors::quote(node_id), 192);
    if (auto count = intAt(d, {"allocatable", "count"}); count && *count < 0)
      errs.invalid(p + ".allocatable.count", std::to_string(*count), "must be greater than or equal to 0");
    if (const json::array* keys = arrAt(d, {"topologyKeys"})) {
      std::set<std::string> seen;
      for (size_t j = 0; j < keys->size(); ++j) {
        std::string key = asStr(&(*keys)[j]);
        std::string kp = idx(p + ".topologyKeys", j);
        if (key.empty()) errs.required(kp, key);
        else if (!seen.insert(key).second) errs.duplicate(kp, FieldErrors::quote(key));
        else
          for (const auto& m : isQualifiedName(key)) errs.invalid(kp, FieldErrors::quote(key), m);
      }
    }
  }
}

// ---- CSIStorageCapacity ----

void validateCsiStorageCapacity(const json::object& obj, const json::object* old, FieldErrors& errs) {
  validateObjectMeta(obj, old, true, NameRule::kDns1123Subdomain, errs);
  validateLabelSelector(at(obj, {"nodeTopology"}), "nodeTopology", errs);
  std::string sc = strAt(obj, {"storageClassName"});
  if (sc.empty()) errs.required("storageClassName");
  else
    for (const auto& m : isDns1123Subdomain(sc)) errs.invalid("storageClassName", FieldErrors::quote(sc), m);
  for (const char* f : {"capacity", "maximumVolumeSize"}) {
    std::string q = strAt(obj, {f});
    if (!q.empty() && q[0] == '-') errs.invalid(f, FieldErrors::quote(q), "must be greater than or equal to 0");
  }
  if (old) {
    // Only capacity and maximumVolumeSize may change.
    validateImmutable(at(obj, {"storageClassName"}), at(*old, {"storageClassName"}), "storageClassName", errs);
    validateImmutable(at(obj, {"nodeTopology"}), at(*old, {"nodeTopology"}), "nodeTopology", errs);
  }
}

// ---- VolumeAttachment ----

void validateVolumeAttachment(const json::object& obj, const json::object* old, FieldErrors& errs) {
  validateObjectMeta(obj, old, false, NameRule::kDns1123Subdomain, errs);
  const json::object& spec = orEmpty(objAt(obj, {"spec"}));
  validateCsiDriverName(strAt(spec, {"attacher"}), "spec.attacher", errs);
  const json::object& src = orEmpty(objAt(spec, {"source"}));
  const json::value* pv = at(src, {"persistentVolumeName"});
  const json::value* inl = at(src, {"inlineVolumeSpec"});
  bool has_pv = pv && !pv->is_null(), has_inline = inl && !inl->is_null();
  if (!has_pv && !has_inline)
    errs.required("spec.source", "must specify exactly one of inlineVolumeSpec and persistentVolumeName");
  else if (has_pv && has_inline)
    errs.forbidden("spec.source", "must specify exactly one of inlineVolumeSpec and persistentVolumeName");
  else if (has_pv && asStr(pv).empty())
    errs.required("spec.source.persistentVolumeName", "must specify non empty persistentVolumeName");
  std::string node = strAt(spec, {"nodeName"});
  if (node.empty()) errs.required("spec.nodeName");
  else
    for (const auto& m : isDns1123Subdomain(node)) errs.invalid("spec.nodeName", FieldErrors::quote(node), m);
  if (old && !jsonEqual(at(obj, {"spec"}), at(*old, {"spec"})))
    errs.invalid("spec", valueRepr(at(obj, {"spec"})), "field is immutable");
}

json::array volumeAttachmentCells(const json::object& obj, const KindContext& ctx) {
  return json::array{strAt(obj, {"spec", "attacher"}), strAt(obj, {"spec", "source", "persistentVolumeName"}),
                     strAt(obj, {"spec", "nodeName"}), boolAt(obj, {"status", "attached"}).value_or(false),
                     ageCell(obj, ctx)};
}

}  // namespace

bool isDefaultStorageClass(const json::object& obj) {
  // storageutil.IsDefaultAnnotation: the GA or the beta annotation, "true".
  return strAt(obj, {"metadata", "annotations", "storageclass.kubernetes.io/is-default-class"}) == "true" ||
         strAt(obj, {"metadata", "annotations", "storageclass.beta.kubernetes.io/is-default-class"}) == "true";
}

std::string storageClassDisplayName(const json::object& obj) {
  std::string name = strAt(obj, {"metadata", "name"});
  return isDefaultStorageClass(obj) ? name + " (default)" : name;
}

void registerStorageKinds(KindRegistry& r) {
  {
    KindInfo k = storageKind("StorageClass", "storageclasses", false);
    k.short_names = {"sc"};
    k.defaults = defaultStorageClass;
    k.validate = validateStorageClass;
    k.columns = {column("Provisioner", "string", "provisioner indicates the type of the provisioner."),
                 column("ReclaimPolicy", "string",
                        "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes "
                        "of this storage class. Defaults to Delete."),
                 column("VolumeBindingMode", "string",
                        "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound. "
                        "When unset, VolumeBindingImmediate is used."),
                 column("AllowVolumeExpansion", "string", "allowVolumeExpansion shows whether the storage class allow volume expand."),
                 ageColumn()};
    k.cells = storageClassCells;
    r.add(std::move(k));
  }
  {
    KindInfo k = storageKind("CSIDriver", "csidrivers", false);
    k.defaults = defaultCsiDriver;
    k.validate = validateCsiDriver;
    k.columns = {column("AttachRequired", "boolean",
                        "attachRequired indicates this CSI volume driver requires an attach operation."),
                 column("PodInfoOnMount", "boolean",
                        "podInfoOnMount indicates this CSI volume driver requires additional pod information "
                        "(like podName, podUID, etc.) during mount operations."),
                 column("StorageCapacity", "boolean",
                        "storageCapacity indicates that the CSI volume driver wants pod scheduling to consider "
                        "the storage capacity that the driver deployment will report."),
                 column("TokenRequests", "string",
                        "tokenRequests indicates the CSI driver needs pods' service account tokens it is mounting "
                        "volume for to do necessary authentication."),
                 column("RequiresRepublish", "boolean",
                        "requiresRepublish indicates the CSI driver wants `NodePublishVolume` being periodically "
                        "called to reflect any possible change in the mounted volume."),
                 column("Modes", "string",
                        "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports."),
                 ageColumn()};
    k.cells = csiDriverCells;
    r.add(std::move(k));
  }
  {
    KindInfo k = storageKind("CSINode", "csinodes", false);
    k.validate = validateCsiNode;
    k.columns = {column("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node"),
                 ageColumn()};
    k.cells = [](const Object& obj, const KindContext& ctx) {
      const json::array* d = arrAt(obj, {"spec", "drivers"});
      return json::array{static_cast<int64_t>(d ? d->size() : 0), ageCell(obj, ctx)};
    };
    r.add(std::move(k));
  }
  {
    KindInfo k = storageKind("CSIStorageCapacity", "csistoragecapacities", true);
    k.validate = validateCsiStorageCapacity;
    // Upstream's printer has no AGE column for this kind.
    k.columns = {column("StorageClassName", "string",
                        "storageClassName represents the name of the StorageClass that the reported capacity "
                        "applies to."),
                 column("Capacity", "string",
                        "capacity is the value reported by the CSI driver in its GetCapacityResponse for a "
                        "GetCapacityRequest with topology and parameters that match the previous fields.")};
    k.cells = [](const Object& obj, const KindContext&) {
      const json::value* cap = at(obj, {"capacity"});
      std::string capacity = "<unset>";
      if (cap && cap->is_string()) capacity = asStr(cap);
      else if (cap && cap->is_number()) capacity = json::serialize(*cap);
      return json::array{strAt(obj, {"storageClassName"}), capacity};
    };
    r.add(std::move(k));
  }
  {
    KindInfo k = storageKind("VolumeAttachment", "volumeattachments", false);
    k.has_status = true;
    k.validate = validateVolumeAttachment;
    k.columns = {column("Attacher", "string",
                        "attacher indicates the name of the volume driver that MUST handle this request. This is "
                        "the name returned by GetPluginName().",
                        0, "name"),
                 column("PV", "string", "persistentVolumeName represents the name of the persistent volume to attach."),
                 column("Node", "string", "nodeName represents the node that the volume should be attached to."),
                 column("Attached", "boolean", "attached indicates the volume is successfully attached."),
                 ageColumn()};
    k.cells = volumeAttachmentCells;
    r.add(std::move(k));
  }
}

}  // namespace berth::api
