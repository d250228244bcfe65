// PodSpec validation, after upstream pkg/apis/core/validation/validation.go.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "api/kinds/access.h"
#include "api/kinds/pod_spec.h"
#include "api/validation.h"

namespace berth::api {

namespace json = boost::json;

namespace {

std::string idx(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }
std::string q(const std::string& s) { return FieldErrors::quote(s); }

void validateDnsLabelField(const std::string& value, const std::string& path, FieldErrors& errs) {
  for (const auto& m : isDns1123Label(value)) errs.invalid(path, q(value), m);
}

void validateEnum(const json::object& o, const char* key, const std::string& path,
                  const std::vector<std::string>& valid, bool required, FieldErrors& errs) {
  const json::value* v = at(o, {key});
  std::string s = asStr(v);
  if (s.empty()) {
    if (required) errs.required(path);
    return;
  }
  if (std::find(valid.begin(), valid.end(), s) == valid.end()) errs.notSupported(path, q(s), valid);
}

void validateQuantityMap(const json::object* m, const std::string& path, FieldErrors& errs) {
  if (!m) return;
  for (const auto& kv : *m) {
    std::string p = path + "[" + std::string(kv.key()) + "]";
    std::string s = kv.value().is_string() ? std::string(kv.value().get_string()) : json::serialize(kv.value());
    auto v = parseQuantity(s);
    if (!v) {
      errs.invalid(p, q(s), "must match the regex ^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$");
      continue;
    }
    if (*v < 0) errs.invalid(p, q(s), "must be greater than or equal to 0");
  }
}

void validateResources(const json::object& c, const std::string& path, FieldErrors& errs) {
  const json::object* res = objAt(c, {"resources"});
  if (!res) return;
  const json::object* limits = objAt(*res, {"limits"});
  const json::object* requests = objAt(*res, {"requests"});
  validateQuantityMap(limits, path + ".limits", errs);
  validateQuantityMap(requests, path + ".requests", errs);
  if (!limits || !requests) return;
  for (const auto& kv : *requests) {
    auto lit = limits->find(kv.key());
    if (lit == limits->end()) continue;
    std::string rs = asStr(&kv.value()), ls = asStr(&lit->value());
    auto r = parseQuantity(rs), l = parseQuantity(ls);
    if (r && l && *r > *l)
      errs.invalid(path + ".requests", q(rs),
                   "must be less than or equal to " + std::string(kv.key()) + " limit of " + ls);
  }
}

void validateProbe(const json::object& c, const char* key, const std::string& path, bool success_must_be_one,
                   FieldErrors& errs) {
  const json::object* p = objAt(c, {key});
  if (!p) return;
  int handlers = 0;
  for (const char* h : {"exec", "httpGet", "tcpSocket", "grpc"})
    if (at(*p, {h})) {
      if (++handlers > 1) errs.forbidden(path + "." + h, "may not specify more than 1 handler type");
    }
  if (handlers == 0) errs.required(path, "must specify a handler type");
  for (const char* f : {"initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold",
                        "failureThreshold"})
    validateNonnegative(at(*p, {f}), path + "." + f, errs);
  if (success_must_be_one) {
    auto s = intAt(*p, {"successThreshold"});
    if (s && *s != 1) errs.invalid(path + ".successThreshold", std::to_string(*s), "must be 1");
  }
  if (const json::object* hg = objAt(*p, {"httpGet"})) {
    const json::value* port = at(*hg, {"port"});
    if (auto n = asInt(port)) {
      for (const auto& m : isValidPortNum(*n)) errs.invalid(path + ".httpGet.port", std::to_string(*n), m);
    } else if (port && port->is_string()) {
      for (const auto& m : isValidPortName(std::string(port->get_string())))
        errs.invalid(path + ".httpGet.port", valueRepr(port), m);
    } else {
      errs.required(path + ".httpGet.port");
    }
    std::string scheme = strAt(*hg, {"scheme"});
    if (!scheme.empty() && scheme != "HTTP" && scheme != "HTTPS")
      errs.notSupported(path + ".httpGet.scheme", q(scheme), {"HTTP", "HTTPS"});
  }
  if (const json::object* ex = objAt(*p, {"exec"})) {
    const json::array* cmd = arrAt(*ex, {"command"});
    if (!cmd || cmd->empty()) errs.required(path + ".exec.command");
  }
}

void validateEnvList(const json::object& c, const std::string& path, FieldErrors& errs) {
  const json::array* env = arrAt(c, {"env"});
  if (!env) return;
  for (size_t i = 0; i < env->size(); ++i) {
    const json::object* e = asObj(&(*env)[i]);
    std::string p = idx(path, i);
    if (!e) continue;
    std::string name = strAt(*e, {"name"});
    if (name.empty()) errs.required(p + ".name");
    else
      for (const auto& m : isEnvVarName(name)) errs.invalid(p + ".name", q(name), m);
    if (const json::object* vf = objAt(*e, {"valueFrom"})) {
      int n = 0;
      for (const char* s : {"fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef"})
        if (at(*vf, {s})) ++n;
      if (n == 0) errs.invalid(p + ".valueFrom", "\"\"", "must specify one of: `fieldRef`, `resourceFieldRef`, "
                                                          "`configMapKeyRef` or `secretKeyRef`");
      else if (n > 1)
        errs.invalid(p + ".valueFrom", "\"\"", "may not have more than one field specified at a time");
      if (!strAt(*e, {"value"}).empty())
        errs.invalid(p + ".valueFrom", "\"\"", "may not be specified when `value` is not empty");
      for (const char* s : {"configMapKeyRef", "secretKeyRef"})
        if (const json::object* ref = objAt(*vf, {s})) {
          if (strAt(*ref, {"key"}).empty()) errs.required(p + ".valueFrom." + s + ".key");
          if (strAt(*ref, {"name"}).empty()) errs.required(p + ".valueFrom." + s + ".name");
        }
      if (const json::object* fr = objAt(*vf, {"fieldRef"}))
        if (strAt(*fr, {"fieldPath"}).empty()) errs.required(p + ".valueFrom.fieldRef.fieldPath");
    }
  }
}

struct PortSeen {
  std::set<std::string> names;
};

void validateContainer(const json::object& c, const std::string& path, const std::set<std::string>& volumes,
                       std::set<std::string>& names, PortSeen& ports, bool regular, FieldErrors& errs) {
  std::string name = strAt(c, {"name"});
  if (name.empty()) {
    errs.required(path + ".name");
  } else {
    validateDnsLabelField(name, path + ".name", errs);
    if (!names.insert(name).second) errs.duplicate(path + ".name", q(name));
  }
  if (strAt(c, {"image"}).empty()) errs.required(path + ".image");
  validateEnum(c, "imagePullPolicy", path + ".imagePullPolicy", {"Always", "IfNotPresent", "Never"}, true, errs);
  validateEnum(c, "terminationMessagePolicy", path + ".terminationMessagePolicy", {"File", "FallbackToLogsOnError"},
               true, errs);
  if (const json::array* pa = arrAt(c, {"ports"})) {
    for (size_t i = 0; i < pa->size(); ++i) {
      const json::object* p = asObj(&(*pa)[i]);
      if (!p) continue;
      std::string pp = idx(path + ".ports", i);
      std::string pname = strAt(*p, {"name"});
      if (!pname.empty()) {
        for (const auto& m : isValidPortName(pname)) errs.invalid(pp + ".name", q(pname), m);
        if (!ports.names.insert(pname).second) errs.duplicate(pp + ".name", q(pname));
      }
      auto cp = intAt(*p, {"containerPort"});
      if (!cp || *cp == 0) {
        errs.required(pp + ".containerPort");
      } else {
        for (const auto& m : isValidPortNum(*cp)) errs.invalid(pp + ".containerPort", std::to_string(*cp), m);
      }
      if (auto hp = intAt(*p, {"hostPort"}); hp && *hp != 0)
        for (const auto& m : isValidPortNum(*hp)) errs.invalid(pp + ".hostPort", std::to_string(*hp), m);
      validateEnum(*p, "protocol", pp + ".protocol", {"SCTP", "TCP", "UDP"}, true, errs);
    }
  }
  validateEnvList(c, path + ".env", errs);
  if (const json::array* mounts = arrAt(c, {"volumeMounts"})) {
    std::set<std::string> paths;
    for (size_t i = 0; i < mounts->size(); ++i) {
      const json::object* m = asObj(&(*mounts)[i]);
      if (!m) continue;
      std::string mp = idx(path + ".volumeMounts", i);
      std::string vname = strAt(*m, {"name"});
      if (vname.empty()) errs.required(mp + ".name");
      else if (!volumes.count(vname))
        // Upstream reports field.NotFound ("Not found: \"x\""); FieldErrors
        // has no NotFound yet, so this is the closest reason.
        errs.invalid(mp + ".name", q(vname), "volume not found");
      std::string mount_path = strAt(*m, {"mountPath"});
      if (mount_path.empty()) errs.required(mp + ".mountPath");
      else if (!paths.insert(mount_path).second) errs.invalid(mp + ".mountPath", q(mount_path), "must be unique");
    }
  }
  validateResources(c, path + ".resources", errs);
  if (regular) {
    validateProbe(c, "livenessProbe", path + ".livenessProbe", true, errs);
    validateProbe(c, "readinessProbe", path + ".readinessProbe", false, errs);
    validateProbe(c, "startupProbe", path + ".startupProbe", true, errs);
  } else {
    // Init containers (without restartPolicy Always) may not have probes.
    bool sidecar = strAt(c, {"restartPolicy"}) == "Always";
    if (!sidecar) {
      for (const char* pr : {"livenessProbe", "readinessProbe", "startupProbe"})
        if (at(c, {pr})) errs.forbidden(path + "." + pr, "may not be set for init containers without restartPolicy=Always");
    } else {
      validateProbe(c, "livenessProbe", path + ".livenessProbe", true, errs);
      validateProbe(c, "readinessProbe", path + ".readinessProbe", false, errs);
      validateProbe(c, "startupProbe", path + ".startupProbe", true, errs);
    }
    std::string rp = strAt(c, {"restartPolicy"});
    if (!rp.empty() && rp != "Always") errs.notSupported(path + ".restartPolicy", q(rp), {"Always"});
  }
  if (regular && at(c, {"restartPolicy"}))
    errs.forbidden(path + ".restartPolicy", "may not be set for non-init containers");
}

void validateDefaultMode(const json::object& src, const std::string& path, FieldErrors& errs) {
  if (auto m = intAt(src, {"defaultMode"}); m && (*m < 0 || *m > 0777))
    errs.invalid(path + ".defaultMode", std::to_string(*m),
                 "must be a number between 0 and 0777 (octal), both inclusive");
}

void validateVolumes(const json::array* vols, const std::string& path, std::set<std::string>& names,
                     FieldErrors& errs) {
  if (!vols) return;
  static const char* const kSources[] = {
      "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs", "iscsi",
      "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc",
      "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected",
      "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image"};
  for (size_t i = 0; i < vols->size(); ++i) {
    const json::object* v = asObj(&(*vols)[i]);
    if (!v) continue;
    std::string p = idx(path, i);
    std::string name = strAt(*v, {"name"});
    if (name.empty()) {
      errs.required(p + ".name");
    } else {
      validateDnsLabelField(name, p + ".name", errs);
      if (!names.insert(name).second) errs.duplicate(p + ".name", q(name));
    }
    int n = 0;
    for (const char* s : kSources)
      if (at(*v, {s})) {
        if (++n > 1) errs.forbidden(p + "." + s, "may not specify more than 1 volume type");
      }
    if (n == 0) errs.required(p, "must specify a volume type");
    if (const json::object* s = objAt(*v, {"configMap"})) {
      if (strAt(*s, {"name"}).empty()) errs.required(p + ".configMap.name");
      validateDefaultMode(*s, p + ".configMap", errs);
    }
    if (const json::object* s = objAt(*v, {"secret"})) {
      if (strAt(*s, {"secretName"}).empty()) errs.required(p + ".secret.secretName");
      validateDefaultMode(*s, p + ".secret", errs);
    }
    if (const json::object* s = objAt(*v, {"hostPath"})) {
      if (strAt(*s, {"path"}).empty()) errs.required(p + ".hostPath.path");
      std::string t = strAt(*s, {"type"});
      static const std::vector<std::string> kTypes = {"",          "DirectoryOrCreate", "Directory", "FileOrCreate",
                                                      "File",      "Socket",            "CharDevice", "BlockDevice"};
      if (std::find(kTypes.begin(), kTypes.end(), t) == kTypes.end())
        errs.notSupported(p + ".hostPath.type", q(t), kTypes);
    }
    if (const json::object* s = objAt(*v, {"persistentVolumeClaim"}))
      if (strAt(*s, {"claimName"}).empty()) errs.required(p + ".persistentVolumeClaim.claimName");
    if (const json::object* s = objAt(*v, {"emptyDir"})) {
      std::string medium = strAt(*s, {"medium"});
      if (!medium.empty() && medium != "Memory" && medium.rfind("HugePages", 0) != 0)
        errs.notSupported(p + ".emptyDir.medium", q(medium), {"", "Memory", "HugePages"});
    }
    if (const json::object* s = objAt(*v, {"downwardAPI"})) validateDefaultMode(*s, p + ".downwardAPI", errs);
    if (const json::object* s = objAt(*v, {"projected"})) validateDefaultMode(*s, p + ".projected", errs);
  }
}

void validateTolerations(const json::array* tols, const std::string& path, FieldErrors& errs) {
  if (!tols) return;
  for (size_t i = 0; i < tols->size(); ++i) {
    const json::object* t = asObj(&(*tols)[i]);
    if (!t) continue;
    std::string p = idx(path, i);
    std::string key = strAt(*t, {"key"});
    std::string op = strAt(*t, {"operator"});
    if (!key.empty())
      for (const auto& m : isQualifiedName(key)) errs.invalid(p + ".key", q(key), m);
    if (key.empty() && op != "Exists")
      errs.invalid(p + ".operator", q(op), "operator must be Exists when `key` is empty, which means \"match all "
                                           "values and all keys\"");
    if (at(*t, {"tolerationSeconds"}) && strAt(*t, {"effect"}) != "NoExecute")
      errs.invalid(p + ".effect", q(strAt(*t, {"effect"})),
                   "effect must be 'NoExecute' when `tolerationSeconds` is set");
    if (op.empty() || op == "Equal") {
      std::string val = strAt(*t, {"value"});
      for (const auto& m : isValidLabelValue(val)) errs.invalid(p + ".operator", q(val), m);
    } else if (op == "Exists") {
      if (!strAt(*t, {"value"}).empty())
        errs.invalid(p + ".operator", valueRepr(at(*t, {"value"})), "value must be empty when `operator` is 'Exists'");
    } else {
      errs.notSupported(p + ".operator", q(op), {"Equal", "Exists"});
    }
    std::string effect = strAt(*t, {"effect"});
    if (!effect.empty() && effect != "NoSchedule" && effect != "PreferNoSchedule" && effect != "NoExecute")
      errs.notSupported(p + ".effect", q(effect), {"NoSchedule", "PreferNoSchedule", "NoExecute"});
  }
}

}  // namespace

void validatePodSpec(const json::object* spec, const std::string& path, FieldErrors& errs) {
  static const json::object kEmpty;
  const json::object& s = spec ? *spec : kEmpty;
  std::set<std::string> volume_names;
  validateVolumes(arrAt(s, {"volumes"}), path + ".volumes", volume_names, errs);

  std::set<std::string> container_names;
  PortSeen ports;
  const json::array* containers = arrAt(s, {"containers"});
  if (!containers || containers->empty()) {
    errs.required(path + ".containers");
  } else {
    for (size_t i = 0; i < containers->size(); ++i)
      if (const json::object* c = asObj(&(*containers)[i]))
        validateContainer(*c, idx(path + ".containers", i), volume_names, container_names, ports, true, errs);
  }
  if (const json::array* init = arrAt(s, {"initContainers"})) {
    PortSeen init_ports;
    for (size_t i = 0; i < init->size(); ++i)
      if (const json::object* c = asObj(&(*init)[i]))
        validateContainer(*c, idx(path + ".initContainers", i), volume_names, container_names, init_ports, false,
                          errs);
  }
  validateEnum(s, "restartPolicy", path + ".restartPolicy", {"Always", "OnFailure", "Never"}, true, errs);
  validateEnum(s, "dnsPolicy", path + ".dnsPolicy", {"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"},
               true, errs);
  if (strAt(s, {"dnsPolicy"}) == "None") {
    const json::object* dc = objAt(s, {"dnsConfig"});
    const json::array* ns = dc ? arrAt(*dc, {"nameservers"}) : nullptr;
    if (!ns || ns->empty())
      errs.required(path + ".dnsConfig.nameservers", "must provide at least one DNS nameserver when `dnsPolicy` is None");
  }
  validateLabels(at(s, {"nodeSelector"}), path + ".nodeSelector", errs);
  validateNonnegative(at(s, {"terminationGracePeriodSeconds"}), path + ".terminationGracePeriodSeconds", errs);
  if (auto ads = intAt(s, {"activeDeadlineSeconds"}); ads && (*ads < 1 || *ads > 2147483647))
    errs.invalid(path + ".activeDeadlineSeconds", std::to_string(*ads), "must be between 1 and 2147483647, inclusive");
  std::string sa = strAt(s, {"serviceAccountName"});
  if (!sa.empty())
    for (const auto& m : isDns1123Subdomain(sa)) errs.invalid(path + ".serviceAccountName", q(sa), m);
  std::string node = strAt(s, {"nodeName"});
  if (!node.empty())
    for (const auto& m : isDns1123Subdomain(node)) errs.invalid(path + ".nodeName", q(node), m);
  for (const char* f : {"hostname", "subdomain"}) {
    std::string v = strAt(s, {f});
    if (!v.empty()) validateDnsLabelField(v, path + "." + f, errs);
  }
  validateTolerations(arrAt(s, {"tolerations"}), path + ".tolerations", errs);
  std::string pp = strAt(s, {"preemptionPolicy"});
  if (!pp.empty() && pp != "PreemptLowerPriority" && pp != "Never")
    errs.notSupported(path + ".preemptionPolicy", q(pp), {"Never", "PreemptLowerPriority"});
  if (const json::array* secrets = arrAt(s, {"imagePullSecrets"}))
    for (size_t i = 0; i < secrets->size(); ++i)
      if (const json::object* ref = asObj(&(*secrets)[i]); ref && strAt(*ref, {"name"}).empty())
        errs.required(idx(path + ".imagePullSecrets", i) + ".name");
}

void validatePodTemplateSpec(const json::value* tmpl, const std::string& path, FieldErrors& errs) {
  const json::object* t = asObj(tmpl);
  if (!t) {
    errs.required(path);
    return;
  }
  validateLabels(at(*t, {"metadata", "labels"}), path + ".metadata.labels", errs);
  validateAnnotations(at(*t, {"metadata", "annotations"}), path + ".metadata.annotations", errs);
  validatePodSpec(objAt(*t, {"spec"}), path + ".spec", errs);
}

void validateTemplateForController(const json::value* tmpl, const std::string& path, const std::string& kind,
                                   FieldErrors& errs) {
  const json::object* t = asObj(tmpl);
  if (!t) return;
  std::string rp = strAt(*t, {"spec", "restartPolicy"});
  if (!rp.empty() && rp != "Always") errs.notSupported(path + ".spec.restartPolicy", q(rp), {"Always"});
  if (auto ads = intAt(*t, {"spec", "activeDeadlineSeconds"}))
    errs.invalid(path + ".spec.activeDeadlineSeconds", std::to_string(*ads),
                 "activeDeadlineSeconds in " + kind + " is not Supported");
}

bool labelSelectorMatches(const json::value* selector, const std::map<std::string, std::string>& labels) {
  const json::object* sel = asObj(selector);
  if (!sel) return false;
  for (const auto& [k, v] : stringMap(at(*sel, {"matchLabels"}))) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  if (const json::array* exprs = arrAt(*sel, {"matchExpressions"})) {
    for (const auto& e : *exprs) {
      const json::object* eo = asObj(&e);
      if (!eo) return false;
      std::string key = strAt(*eo, {"key"}), op = strAt(*eo, {"operator"});
      std::vector<std::string> values;
      if (const json::array* va = arrAt(*eo, {"values"}))
        for (const auto& x : *va) values.push_back(asStr(&x));
      auto it = labels.find(key);
      bool has = it != labels.end();
      bool in = has && std::find(values.begin(), values.end(), it->second) != values.end();
      if (op == "In" && !in) return false;
      if (op == "NotIn" && in) return false;
      if (op == "Exists" && !has) return false;
      if (op == "DoesNotExist" && has) return false;
      if (op != "In" && op != "NotIn" && op != "Exists" && op != "DoesNotExist") return false;
    }
  }
  return true;
}

void validateSelectorMatchesTemplate(const json::object& spec, const std::string& path, const std::string& what,
                                     FieldErrors& errs) {
  const json::value* sel = at(spec, {"selector"});
  if (!sel) {
    errs.required(path + ".selector");
    return;
  }
  size_t before = errs.causes().size();
  validateLabelSelector(sel, path + ".selector", errs);
  const json::object* so = asObj(sel);
  bool empty = !so || ((!arrAt(*so, {"matchExpressions"}) || arrAt(*so, {"matchExpressions"})->empty()) &&
                       (!objAt(*so, {"matchLabels"}) || objAt(*so, {"matchLabels"})->empty()));
  if (empty) {
    errs.invalid(path + ".selector", valueRepr(sel), "empty selector is invalid for " + what);
    return;
  }
  if (errs.causes().size() != before) return;
  auto labels = stringMap(at(spec, {"template", "metadata", "labels"}));
  if (!labelSelectorMatches(sel, labels))
    errs.invalid(path + ".template.metadata.labels", goStringMapRepr(labels),
                 "`selector` does not match template `labels`");
}

std::string goLabelSelectorRepr(const json::value* selector) {
  const json::object* sel = asObj(selector);
  if (!sel) return "null";
  std::string out = "v1.LabelSelector{MatchLabels:";
  const json::object* ml = objAt(*sel, {"matchLabels"});
  out += ml ? goStringMapRepr(stringMap(at(*sel, {"matchLabels"}))) : "map[string]string(nil)";
  out += ", MatchExpressions:";
  const json::array* exprs = arrAt(*sel, {"matchExpressions"});
  if (!exprs) {
    out += "[]v1.LabelSelectorRequirement(nil)";
  } else {
    out += "[]v1.LabelSelectorRequirement{";
    for (size_t i = 0; i < exprs->size(); ++i) {
      const json::object* e = asObj(&(*exprs)[i]);
      if (i) out += ", ";
      out += "v1.LabelSelectorRequirement{Key:" + q(e ? strAt(*e, {"key"}) : "") +
             ", Operator:" + q(e ? strAt(*e, {"operator"}) : "") + ", Values:";
      const json::array* vals = e ? arrAt(*e, {"values"}) : nullptr;
      if (!vals) {
        out += "[]string(nil)";
      } else {
        out += "[]string{";
        for (size_t j = 0; j < vals->size(); ++j) out += (j ? ", " : "") + q(asStr(&(*vals)[j]));
        out += "}";
      }
      out += "}";
    }
    out += "}";
  }
  return out + "}";
}

void validateSelectorImmutable(const json::object& obj, const json::object& old, FieldErrors& errs) {
  const json::value* now = at(obj, {"spec", "selector"});
  if (!jsonEqual(now, at(old, {"spec", "selector"}))) errs.immutable("spec.selector", goLabelSelectorRepr(now));
}

int64_t intOrPercentValue(const json::value* v) {
  if (auto i = asInt(v)) return *i;
  std::string s = asStr(v);
  if (!s.empty() && s.back() == '%') s.pop_back();
  int64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + (c - '0');
    if (n > 1000000000) return n;
  }
  return n;
}

void validateIntOrPercent(const json::value* v, const std::string& path, bool max100, FieldErrors& errs) {
  if (!v) return;
  if (v->is_string()) {
    std::string s(v->get_string());
    bool ok = s.size() >= 2 && s.back() == '%';
    for (size_t i = 0; ok && i + 1 < s.size(); ++i)
      if (s[i] < '0' || s[i] > '9') ok = false;
    if (!ok) {
      errs.invalid(path, q(s),
                   "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or "
                   "'93%', regex used for validation is '[0-9]+%')");
      return;
    }
    if (max100 && intOrPercentValue(v) > 100) errs.invalid(path, q(s), "must not be greater than 100%");
    return;
  }
  validateNonnegative(v, path, errs);
}

void validatePodSpecUpdate(const json::object* spec, const json::object* old_spec, FieldErrors& errs) {
  if (!spec || !old_spec) return;
  // Munge the allowed changes from the new spec onto a copy of the old one,
  // then require equality, as ValidatePodUpdate does.
  json::object munged = *spec;
  auto copyImages = [&](const char* key) {
    const json::array* o = arrAt(*old_spec, {key});
    auto it = munged.find(key);
    if (!o || it == munged.end() || !it->value().is_array()) return;
    json::array& n = it->value().get_array();
    if (n.size() != o->size()) return;
    for (size_t i = 0; i < n.size(); ++i) {
      if (!n[i].is_object() || !(*o)[i].is_object()) continue;
      const json::value* img = at((*o)[i].get_object(), {"image"});
      if (img) n[i].get_object()["image"] = *img;
      else n[i].get_object().erase("image");
    }
  };
  copyImages("containers");
  copyImages("initContainers");
  auto carry = [&](const char* key) {
    if (const json::value* v = at(*old_spec, {key})) munged[key] = *v;
    else munged.erase(key);
  };
  carry("activeDeadlineSeconds");
  // Tolerations: only additions to the existing list.
  const json::array* old_tols = arrAt(*old_spec, {"tolerations"});
  const json::array* new_tols = arrAt(*spec, {"tolerations"});
  bool tol_ok = true;
  if (old_tols) {
    for (const auto& t : *old_tols) {
      bool found = false;
      if (new_tols)
        for (const auto& n : *new_tols)
          if (jsonEqual(&t, &n)) found = true;
      if (!found) tol_ok = false;
    }
  }
  if (tol_ok) carry("tolerations");
  auto old_grace = intAt(*old_spec, {"terminationGracePeriodSeconds"});
  auto new_grace = intAt(*spec, {"terminationGracePeriodSeconds"});
  if (old_grace && *old_grace < 0 && new_grace && *new_grace == 1) carry("terminationGracePeriodSeconds");
  // Scheduling gates may only be removed.
  if (const json::array* ng = arrAt(*spec, {"schedulingGates"}); !ng || ng->empty()) carry("schedulingGates");
  json::value a = munged, b = *old_spec;
  if (!jsonEqual(&a, &b))
    errs.forbidden("spec",
                   "pod updates may not change fields other than `spec.containers[*].image`,"
                   "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions "
                   "to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it "
                   "was previously negative)");
}

std::optional<long double> parseQuantity(const std::string& str) {
  std::string s = str;
  if (s.empty()) return std::nullopt;
  size_t i = 0;
  long double sign = 1;
  if (s[i] == '+' || s[i] == '-') {
    if (s[i] == '-') sign = -1;
    ++i;
  }
  size_t num_start = i;
  bool digits = false, dot = false;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || (s[i] == '.' && !dot))) {
    if (s[i] == '.') dot = true;
    else digits = true;
    ++i;
  }
  if (!digits) return std::nullopt;
  long double num = std::strtold(s.substr(num_start, i - num_start).c_str(), nullptr);
  std::string suffix = s.substr(i);
  static const std::pair<const char*, long double> kSuffixes[] = {
      {"", 1},       {"n", 1e-9},  {"u", 1e-6},  {"m", 1e-3},  {"k", 1e3},
      {"M", 1e6},    {"G", 1e9},   {"T", 1e12},  {"P", 1e15},  {"E", 1e18},
      {"Ki", 1024.0L}, {"Mi", 1048576.0L}, {"Gi", 1073741824.0L}, {"Ti", 1099511627776.0L},
      {"Pi", 1125899906842624.0L}, {"Ei", 1152921504606846976.0L}};
  for (const auto& [sfx, mult] : kSuffixes)
    if (suffix == sfx) return sign * num * mult;
  if (suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    size_t j = 1;
    if (suffix[j] == '+' || suffix[j] == '-') ++j;
    if (j >= suffix.size() || suffix.size() - j > 4) return std::nullopt;
    for (size_t k = j; k < suffix.size(); ++k)
      if (!std::isdigit(static_cast<unsigned char>(suffix[k]))) return std::nullopt;
    int exp = std::atoi(suffix.c_str() + 1);
    return sign * num * std::pow(10.0L, exp);
  }
  return std::nullopt;
}

std::string podQosClass(const json::object& spec) {
  std::map<std::string, long double> requests, limits;
  bool guaranteed = true;
  auto scan = [&](const char* key) {
    const json::array* cs = arrAt(spec, {key});
    if (!cs) return;
    for (const auto& c : *cs) {
      const json::object* co = asObj(&c);
      if (!co) continue;
      for (const auto& [name, q] : stringMap(at(*co, {"resources", "requests"}))) {
        if (name != "cpu" && name != "memory") continue;
        auto v = parseQuantity(q);
        if (v && *v != 0) requests[name] += *v;
      }
      std::set<std::string> found;
      for (const auto& [name, q] : stringMap(at(*co, {"resources", "limits"}))) {
        if (name != "cpu" && name != "memory") continue;
        auto v = parseQuantity(q);
        if (v && *v != 0) {
          found.insert(name);
          limits[name] += *v;
        }
      }
      if (found.size() != 2) guaranteed = false;
    }
  };
  scan("containers");
  scan("initContainers");
  if (requests.empty() && limits.empty()) return "BestEffort";
  if (guaranteed) {
    for (const auto& [name, v] : requests) {
      auto it = limits.find(name);
      if (it == limits.end() || std::fabs(static_cast<double>(it->second - v)) > 1e-12 * std::fabs(static_cast<double>(v)))
        guaranteed = false;
    }
    if (guaranteed && requests.size() == limits.size()) return "Guaranteed";
  }
  return "Burstable";
}

}  // namespace berth::api
