// PodSpec defaulting, after upstream pkg/apis/core/v1/defaults.go.

#include <string>

#include "api/kinds/access.h"
#include "api/kinds/pod_spec.h"

namespace berth::api {

namespace json = boost::json;

namespace {

constexpr int kDefaultMode = 0644;  // SecretVolumeSourceDefaultMode and friends: 420

// parsers.ParseImageName's tag: "latest" when the reference has neither a
// tag nor a digest.
std::string imageTag(const std::string& image) {
  if (image.find('@') != std::string::npos) return "";  // digest: no implicit latest
  size_t slash = image.rfind('/');
  size_t colon = image.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) return image.substr(colon + 1);
  return "latest";
}

void defaultProbe(json::object& c, std::string_view key) {
  auto it = c.find(key);
  if (it == c.end() || !it->value().is_object()) return;
  json::object& p = it->value().get_object();
  setDefault(p, "timeoutSeconds", 1);
  setDefault(p, "periodSeconds", 10);
  setDefault(p, "successThreshold", 1);
  setDefault(p, "failureThreshold", 3);
  if (auto h = p.find("httpGet"); h != p.end() && h->value().is_object()) {
    setDefault(h->value().get_object(), "path", "/");
    setDefault(h->value().get_object(), "scheme", "HTTP");
  }
  if (auto g = p.find("grpc"); g != p.end() && g->value().is_object()) setDefault(g->value().get_object(), "service", "");
}

void defaultLifecycleHandler(json::object& c) {
  auto it = c.find("lifecycle");
  if (it == c.end() || !it->value().is_object()) return;
  for (const char* hook : {"postStart", "preStop"}) {
    json::object* h = const_cast<json::object*>(objAt(it->value().get_object(), {hook, "httpGet"}));
    if (!h) continue;
    setDefault(*h, "path", "/");
    setDefault(*h, "scheme", "HTTP");
  }
}

void defaultEnv(json::object& c) {
  auto it = c.find("env");
  if (it == c.end() || !it->value().is_array()) return;
  for (auto& e : it->value().get_array()) {
    if (!e.is_object()) continue;
    auto vf = e.get_object().find("valueFrom");
    if (vf == e.get_object().end() || !vf->value().is_object()) continue;
    json::object& src = vf->value().get_object();
    if (auto f = src.find("fieldRef"); f != src.end() && f->value().is_object())
      setDefault(f->value().get_object(), "apiVersion", "v1");
    if (auto r = src.find("resourceFieldRef"); r != src.end() && r->value().is_object())
      setDefault(r->value().get_object(), "divisor", "0");
  }
}

void defaultContainer(json::object& c) {
  std::string image = strAt(c, {"image"});
  if (isZero(c, "imagePullPolicy")) c["imagePullPolicy"] = imageTag(image) == "latest" ? "Always" : "IfNotPresent";
  if (isZero(c, "terminationMessagePath")) c["terminationMessagePath"] = "/dev/termination-log";
  if (isZero(c, "terminationMessagePolicy")) c["terminationMessagePolicy"] = "File";
  if (auto it = c.find("ports"); it != c.end() && it->value().is_array())
    for (auto& p : it->value().get_array())
      if (p.is_object() && isZero(p.get_object(), "protocol")) p.get_object()["protocol"] = "TCP";
  defaultProbe(c, "livenessProbe");
  defaultProbe(c, "readinessProbe");
  defaultProbe(c, "startupProbe");
  defaultLifecycleHandler(c);
  defaultEnv(c);
}

void defaultContainers(json::object& spec, std::string_view key) {
  auto it = spec.find(key);
  if (it == spec.end() || !it->value().is_array()) return;
  for (auto& c : it->value().get_array())
    if (c.is_object()) defaultContainer(c.get_object());
}

// The volume source keys of core/v1 VolumeSource.
const char* const kVolumeSources[] = {
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs", "iscsi",
    "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc",
    "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected",
    "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image"};

void defaultItemsMode(json::object& src) { setDefault(src, "defaultMode", kDefaultMode); }

void defaultVolume(json::object& v) {
  bool any = false;
  for (const char* s : kVolumeSources)
    if (at(v, {s})) any = true;
  if (!any) v["emptyDir"] = json::object();
  for (const char* s : {"secret", "configMap", "downwardAPI", "projected"})
    if (auto it = v.find(s); it != v.end() && it->value().is_object()) defaultItemsMode(it->value().get_object());
  if (auto it = v.find("hostPath"); it != v.end() && it->value().is_object())
    setDefault(it->value().get_object(), "type", "");
  if (auto it = v.find("projected"); it != v.end() && it->value().is_object()) {
    if (auto srcs = it->value().get_object().find("sources");
        srcs != it->value().get_object().end() && srcs->value().is_array())
      for (auto& s : srcs->value().get_array()) {
        if (!s.is_object()) continue;
        if (auto t = s.get_object().find("serviceAccountToken");
            t != s.get_object().end() && t->value().is_object())
          setDefault(t->value().get_object(), "expirationSeconds", 3600);
        if (auto d = s.get_object().find("downwardAPI"); d != s.get_object().end() && d->value().is_object())
          if (auto items = d->value().get_object().find("items");
              items != d->value().get_object().end() && items->value().is_array())
            for (auto& item : items->value().get_array())
              if (item.is_object())
                if (auto f = item.get_object().find("fieldRef"); f != item.get_object().end() && f->value().is_object())
                  setDefault(f->value().get_object(), "apiVersion", "v1");
      }
  }
  if (auto it = v.find("downwardAPI"); it != v.end() && it->value().is_object())
    if (auto items = it->value().get_object().find("items");
        items != it->value().get_object().end() && items->value().is_array())
      for (auto& item : items->value().get_array())
        if (item.is_object())
          if (auto f = item.get_object().find("fieldRef"); f != item.get_object().end() && f->value().is_object())
            setDefault(f->value().get_object(), "apiVersion", "v1");
}

void defaultHostNetworkPorts(json::object& spec, std::string_view key) {
  auto it = spec.find(key);
  if (it == spec.end() || !it->value().is_array()) return;
  for (auto& c : it->value().get_array()) {
    if (!c.is_object()) continue;
    auto ports = c.get_object().find("ports");
    if (ports == c.get_object().end() || !ports->value().is_array()) continue;
    for (auto& p : ports->value().get_array()) {
      if (!p.is_object()) continue;
      json::object& po = p.get_object();
      if (isZero(po, "hostPort") && at(po, {"containerPort"})) po["hostPort"] = po["containerPort"];
    }
  }
}

// SetDefaults_Pod: requests default to limits for resources only limited.
void defaultRequestsFromLimits(json::object& spec, std::string_view key) {
  auto it = spec.find(key);
  if (it == spec.end() || !it->value().is_array()) return;
  for (auto& c : it->value().get_array()) {
    if (!c.is_object()) continue;
    json::object* res = const_cast<json::object*>(objAt(c.get_object(), {"resources"}));
    if (!res) continue;
    const json::object* limits = objAt(*res, {"limits"});
    if (!limits || limits->empty()) continue;
    json::object copy = *limits;
    json::object& requests = ensureObj(*res, "requests");
    for (const auto& kv : copy)
      if (!requests.contains(kv.key())) requests[kv.key()] = kv.value();
  }
}

}  // namespace

void defaultPodSpec(json::object& spec) {
  if (isZero(spec, "dnsPolicy")) spec["dnsPolicy"] = "ClusterFirst";
  if (isZero(spec, "restartPolicy")) spec["restartPolicy"] = "Always";
  setDefault(spec, "securityContext", json::object());
  setDefault(spec, "terminationGracePeriodSeconds", 30);
  if (isZero(spec, "schedulerName")) spec["schedulerName"] = "default-scheduler";
  defaultContainers(spec, "containers");
  defaultContainers(spec, "initContainers");
  defaultContainers(spec, "ephemeralContainers");
  if (auto it = spec.find("volumes"); it != spec.end() && it->value().is_array())
    for (auto& v : it->value().get_array())
      if (v.is_object()) defaultVolume(v.get_object());
}

void defaultPodTemplate(json::value& tmpl) {
  if (!tmpl.is_object()) return;
  auto it = tmpl.get_object().find("spec");
  if (it == tmpl.get_object().end() || !it->value().is_object()) return;
  defaultPodSpec(it->value().get_object());
}

void defaultPod(json::object& pod) {
  json::object& spec = ensureObj(pod, "spec");
  setDefault(spec, "enableServiceLinks", true);
  if (boolAt(spec, {"hostNetwork"}).value_or(false)) {
    defaultHostNetworkPorts(spec, "containers");
    defaultHostNetworkPorts(spec, "initContainers");
  }
  defaultRequestsFromLimits(spec, "containers");
  defaultRequestsFromLimits(spec, "initContainers");
  defaultPodSpec(spec);
  // The Priority admission plugin resolves priorityClassName; without a
  // class the pod gets priority 0 and the default preemption policy.
  if (isZero(spec, "priorityClassName")) setDefault(spec, "priority", 0);
  setDefault(spec, "preemptionPolicy", "PreemptLowerPriority");
}

}  // namespace berth::api
