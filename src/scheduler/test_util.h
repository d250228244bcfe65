#pragma once

// Builders for pods and nodes in scheduler unit tests (after upstream's
// st.MakePod() / st.MakeNode() wrappers). Header-only; tests only.

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include "scheduler/framework.h"
#include "scheduler/node_info.h"
#include "scheduler/pod_info.h"

namespace berth::scheduler::testing {

namespace json = boost::json;

class PodBuilder {
 public:
  explicit PodBuilder(const std::string& name, const std::string& ns = "default") {
    obj_ = json::object{
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata", json::object{{"name", name},
                                  {"namespace", ns},
                                  {"uid", ns + "-" + name + "-uid"},
                                  {"resourceVersion", "1"},
                                  {"creationTimestamp", "2024-01-01T00:00:00Z"}}},
        {"spec", json::object{{"schedulerName", "default-scheduler"},
                              {"containers",
                               json::array{json::object{{"name", "c0"}, {"image", "busybox"}}}}}},
        {"status", json::object{{"phase", "Pending"}}}};
  }

  json::object& spec() { return obj_["spec"].as_object(); }
  json::object& meta() { return obj_["metadata"].as_object(); }
  json::object& container(size_t i = 0) { return spec()["containers"].as_array()[i].as_object(); }

  // Requests of the first container ("" = not set).
  PodBuilder& req(const std::string& cpu, const std::string& mem = "") {
    setRequests(container(0), cpu, mem);
    return *this;
  }
  PodBuilder& reqResource(const std::string& name, const std::string& q) {
    auto& res = container(0)["resources"];
    if (!res.is_object()) res = json::object();
    auto& reqs = res.as_object()["requests"];
    if (!reqs.is_object()) reqs = json::object();
    reqs.as_object()[name] = q;
    return *this;
  }
  PodBuilder& addContainer(const std::string& image, const std::string& cpu = "",
                           const std::string& mem = "") {
    json::object c{{"name", "c" + std::to_string(spec()["containers"].as_array().size())},
                   {"image", image}};
    setRequests(c, cpu, mem);
    spec()["containers"].as_array().push_back(std::move(c));
    return *this;
  }
  PodBuilder& image(const std::string& image) {
    container(0)["image"] = image;
    return *this;
  }
  PodBuilder& init(const std::string& cpu, const std::string& mem, bool sidecar = false) {
    json::object c{{"name", "i" + std::to_string(initCount())}, {"image", "busybox"}};
    setRequests(c, cpu, mem);
    if (sidecar) c["restartPolicy"] = "Always";
    if (!spec().contains("initContainers")) spec()["initContainers"] = json::array();
    spec()["initContainers"].as_array().push_back(std::move(c));
    return *this;
  }
  PodBuilder& overhead(const std::string& cpu, const std::string& mem) {
    json::object o;
    if (!cpu.empty()) o["cpu"] = cpu;
    if (!mem.empty()) o["memory"] = mem;
    spec()["overhead"] = std::move(o);
    return *this;
  }
  PodBuilder& node(const std::string& n) {
    spec()["nodeName"] = n;
    return *this;
  }
  PodBuilder& uid(const std::string& u) {
    meta()["uid"] = u;
    return *this;
  }
  PodBuilder& label(const std::string& k, const std::string& v) {
    if (!meta().contains("labels")) meta()["labels"] = json::object();
    meta()["labels"].as_object()[k] = v;
    return *this;
  }
  PodBuilder& priority(int p) {
    spec()["priority"] = p;
    return *this;
  }
  PodBuilder& preemptNever() {
    spec()["preemptionPolicy"] = "Never";
    return *this;
  }
  PodBuilder& schedulerName(const std::string& n) {
    spec()["schedulerName"] = n;
    return *this;
  }
  PodBuilder& nodeSelector(const std::string& k, const std::string& v) {
    if (!spec().contains("nodeSelector")) spec()["nodeSelector"] = json::object();
    spec()["nodeSelector"].as_object()[k] = v;
    return *this;
  }
  PodBuilder& toleration(const std::string& key, const std::string& op, const std::string& value,
                         const std::string& effect) {
    if (!spec().contains("tolerations")) spec()["tolerations"] = json::array();
    json::object t;
    if (!key.empty()) t["key"] = key;
    if (!op.empty()) t["operator"] = op;
    if (!value.empty()) t["value"] = value;
    if (!effect.empty()) t["effect"] = effect;
    spec()["tolerations"].as_array().push_back(std::move(t));
    return *this;
  }
  PodBuilder& hostPort(int port, const std::string& protocol = "", const std::string& ip = "") {
    json::object p{{"containerPort", port}, {"hostPort", port}};
    if (!protocol.empty()) p["protocol"] = protocol;
    if (!ip.empty()) p["hostIP"] = ip;
    auto& c = container(0);
    if (!c.contains("ports")) c["ports"] = json::array();
    c["ports"].as_array().push_back(std::move(p));
    return *this;
  }
  // spec.affinity.<kind>.<field> = value (raw JSON), e.g.
  // affinity("nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", {...}).
  PodBuilder& affinity(const std::string& kind, const std::string& field, json::value v) {
    auto& a = spec()["affinity"];
    if (!a.is_object()) a = json::object();
    auto& k = a.as_object()[kind];
    if (!k.is_object()) k = json::object();
    k.as_object()[field] = std::move(v);
    return *this;
  }
  // Required node affinity with one term of one expression.
  PodBuilder& nodeAffinity(const std::string& key, const std::string& op,
                           std::vector<std::string> values) {
    json::array vals;
    for (auto& v : values) vals.push_back(json::value(v));
    json::object expr{{"key", key}, {"operator", op}};
    if (!vals.empty()) expr["values"] = std::move(vals);
    return affinity(
        "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
        json::object{{"nodeSelectorTerms",
                      json::array{json::object{{"matchExpressions", json::array{expr}}}}}});
  }
  // One required pod (anti-)affinity term: labelSelector {key: value}, topologyKey.
  PodBuilder& podAffinity(bool anti, const std::string& key, const std::string& value,
                          const std::string& topology) {
    return addAffinityTerm(anti, false, key, value, topology, 0);
  }
  PodBuilder& preferredPodAffinity(bool anti, const std::string& key, const std::string& value,
                                   const std::string& topology, int weight) {
    return addAffinityTerm(anti, true, key, value, topology, weight);
  }
  PodBuilder& spread(int max_skew, const std::string& key, bool hard, const std::string& label_key,
                     const std::string& label_value, json::object extra = {}) {
    json::object c{
        {"maxSkew", max_skew},
        {"topologyKey", key},
        {"whenUnsatisfiable", hard ? "DoNotSchedule" : "ScheduleAnyway"},
        {"labelSelector", json::object{{"matchLabels", json::object{{label_key, label_value}}}}}};
    for (auto& [k, v] : extra) c[k] = v;
    if (!spec().contains("topologySpreadConstraints"))
      spec()["topologySpreadConstraints"] = json::array();
    spec()["topologySpreadConstraints"].as_array().push_back(std::move(c));
    return *this;
  }
  PodBuilder& nominated(const std::string& node) {
    obj_["status"].as_object()["nominatedNodeName"] = node;
    return *this;
  }
  PodBuilder& terminating() {
    meta()["deletionTimestamp"] = "2024-01-01T00:01:00Z";
    return *this;
  }
  PodBuilder& startTime(const std::string& t) {
    obj_["status"].as_object()["startTime"] = t;
    return *this;
  }
  PodBuilder& phase(const std::string& p) {
    obj_["status"].as_object()["phase"] = p;
    return *this;
  }
  PodBuilder& gate(const std::string& name) {
    if (!spec().contains("schedulingGates")) spec()["schedulingGates"] = json::array();
    spec()["schedulingGates"].as_array().push_back(json::object{{"name", name}});
    return *this;
  }

  json::object raw() const { return obj_; }
  ObjectPtr obj() const { return std::make_shared<const api::Object>(obj_); }
  PodInfoPtr info() const { return makePodInfo(obj()); }

 private:
  static void setRequests(json::object& c, const std::string& cpu, const std::string& mem) {
    if (cpu.empty() && mem.empty()) return;
    json::object r;
    if (!cpu.empty()) r["cpu"] = cpu;
    if (!mem.empty()) r["memory"] = mem;
    c["resources"] = json::object{{"requests", std::move(r)}};
  }
  size_t initCount() {
    return spec().contains("initContainers") ? spec()["initContainers"].as_array().size() : 0;
  }
  PodBuilder& addAffinityTerm(bool anti, bool preferred, const std::string& key,
                              const std::string& value, const std::string& topology, int weight) {
    json::object term{{"labelSelector", json::object{{"matchLabels", json::object{{key, value}}}}},
                      {"topologyKey", topology}};
    auto& a = spec()["affinity"];
    if (!a.is_object()) a = json::object();
    auto& k = a.as_object()[anti ? "podAntiAffinity" : "podAffinity"];
    if (!k.is_object()) k = json::object();
    const char* field = preferred ? "preferredDuringSchedulingIgnoredDuringExecution"
                                  : "requiredDuringSchedulingIgnoredDuringExecution";
    auto& list = k.as_object()[field];
    if (!list.is_array()) list = json::array();
    if (preferred)
      list.as_array().push_back(
          json::object{{"weight", weight}, {"podAffinityTerm", std::move(term)}});
    else
      list.as_array().push_back(std::move(term));
    return *this;
  }

  json::object obj_;
};

class NodeBuilder {
 public:
  explicit NodeBuilder(const std::string& name) {
    obj_ = json::object{
        {"apiVersion", "v1"},
        {"kind", "Node"},
        {"metadata", json::object{{"name", name},
                                  {"uid", name + "-uid"},
                                  {"resourceVersion", "1"},
                                  {"labels", json::object{{"kubernetes.io/hostname", name}}}}},
        {"spec", json::object{}},
        {"status",
         json::object{
             {"allocatable", json::object{{"cpu", "4"}, {"memory", "16Gi"}, {"pods", "110"}}}}}};
  }
  NodeBuilder& capacity(const std::string& cpu, const std::string& mem,
                        const std::string& pods = "110") {
    auto& a = obj_["status"].as_object()["allocatable"].as_object();
    a["cpu"] = cpu;
    a["memory"] = mem;
    a["pods"] = pods;
    return *this;
  }
  NodeBuilder& allocatable(const std::string& name, const std::string& q) {
    obj_["status"].as_object()["allocatable"].as_object()[name] = q;
    return *this;
  }
  NodeBuilder& label(const std::string& k, const std::string& v) {
    obj_["metadata"].as_object()["labels"].as_object()[k] = v;
    return *this;
  }
  NodeBuilder& taint(const std::string& key, const std::string& value, const std::string& effect) {
    auto& spec = obj_["spec"].as_object();
    if (!spec.contains("taints")) spec["taints"] = json::array();
    json::object t{{"key", key}, {"effect", effect}};
    if (!value.empty()) t["value"] = value;
    spec["taints"].as_array().push_back(std::move(t));
    return *this;
  }
  NodeBuilder& unschedulable() {
    obj_["spec"].as_object()["unschedulable"] = true;
    return *this;
  }
  NodeBuilder& image(std::vector<std::string> names, int64_t size) {
    auto& st = obj_["status"].as_object();
    if (!st.contains("images")) st["images"] = json::array();
    json::array n;
    for (auto& s : names) n.push_back(json::value(s));
    st["images"].as_array().push_back(json::object{{"names", std::move(n)}, {"sizeBytes", size}});
    return *this;
  }

  json::object raw() const { return obj_; }
  ObjectPtr obj() const { return std::make_shared<const api::Object>(obj_); }
  NodeDataPtr data() const { return makeNodeData(obj()); }
  // A NodeInfo with the given pods on it (their nodeName set to this node).
  NodeInfoPtr info(const std::vector<PodInfoPtr>& pods = {}) const {
    auto ni = std::make_shared<NodeInfo>();
    ni->setNode(data());
    for (const auto& p : pods) ni->addPod(p->node_name.empty() ? withNodeName(*p, ni->name()) : p);
    return ni;
  }

 private:
  json::object obj_;
};

}  // namespace berth::scheduler::testing
