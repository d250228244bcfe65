#include "scheduler/pod_info.h"

#include "api/kinds/access.h"
#include "common/clock.h"

namespace berth::scheduler {

namespace json = boost::json;
using api::arrAt;
using api::asArr;
using api::asObj;
using api::asStr;
using api::at;
using api::intAt;
using api::objAt;
using api::strAt;

bool Toleration::toleratesTaint(const Taint& taint) const {
  if (!effect.empty() && effect != taint.effect) return false;
  if (!key.empty() && key != taint.key) return false;
  if (op.empty() || op == "Equal") return value == taint.value;
  return op == "Exists";
}

namespace {

LabelMap toLabelMap(const json::value* v) {
  LabelMap out;
  for (auto& [k, val] : api::stringMap(v)) out.emplace(k, val);
  return out;
}

std::vector<std::string> stringList(const json::value* v) {
  std::vector<std::string> out;
  if (const json::array* a = asArr(v))
    for (const auto& e : *a)
      if (e.is_string()) out.emplace_back(e.get_string());
  return out;
}

std::vector<NodeSelectorRequirement> requirements(const json::value* v) {
  std::vector<NodeSelectorRequirement> out;
  if (const json::array* a = asArr(v))
    for (const auto& e : *a) {
      const json::object* o = asObj(&e);
      if (!o) continue;
      out.push_back({strAt(*o, {"key"}), strAt(*o, {"operator"}), stringList(at(*o, {"values"}))});
    }
  return out;
}

NodeSelectorTerm selectorTerm(const json::object& o) {
  return {requirements(at(o, {"matchExpressions"})), requirements(at(o, {"matchFields"}))};
}

std::string selectorError(const Error& e) { return e.message; }

// newAffinityTerm: namespaces default to the pod's own only when neither
// namespaces nor namespaceSelector is given.
std::optional<AffinityTerm> affinityTerm(const PodInfo& pod, const json::object& t,
                                         std::string* err) {
  AffinityTerm term;
  auto sel = api::LabelSelector::fromObject(at(t, {"labelSelector"}));
  if (!sel.ok()) {
    *err = selectorError(sel.error());
    return std::nullopt;
  }
  term.selector = std::move(sel.value());
  std::vector<std::string> namespaces = stringList(at(t, {"namespaces"}));
  const json::value* ns_sel = at(t, {"namespaceSelector"});
  bool has_ns_sel = ns_sel && !ns_sel->is_null();
  if (namespaces.empty() && !has_ns_sel)
    term.namespaces.insert(pod.ns);
  else
    term.namespaces.insert(namespaces.begin(), namespaces.end());
  if (has_ns_sel) {
    auto nsel = api::LabelSelector::fromObject(ns_sel);
    if (!nsel.ok()) {
      *err = selectorError(nsel.error());
      return std::nullopt;
    }
    term.namespace_selector = std::move(nsel.value());
  }
  term.topology_key = strAt(t, {"topologyKey"});
  return term;
}

void parseAffinityTerms(PodInfo& pod, const json::object* a, std::vector<AffinityTerm>* required,
                        std::vector<WeightedAffinityTerm>* preferred) {
  if (!a) return;
  if (const json::array* req = arrAt(*a, {"requiredDuringSchedulingIgnoredDuringExecution"}))
    for (const auto& e : *req)
      if (const json::object* t = asObj(&e)) {
        std::string err;
        if (auto term = affinityTerm(pod, *t, &err))
          required->push_back(std::move(*term));
        else if (pod.parse_error.empty())
          pod.parse_error = err;
      }
  if (const json::array* pref = arrAt(*a, {"preferredDuringSchedulingIgnoredDuringExecution"}))
    for (const auto& e : *pref)
      if (const json::object* w = asObj(&e)) {
        const json::object* t = objAt(*w, {"podAffinityTerm"});
        if (!t) continue;
        std::string err;
        if (auto term = affinityTerm(pod, *t, &err))
          preferred->push_back(
              {std::move(*term), static_cast<int32_t>(intAt(*w, {"weight"}).value_or(0))});
        else if (pod.parse_error.empty())
          pod.parse_error = err;
      }
}

void parseSpreadConstraints(PodInfo& pod, const json::array* cs) {
  if (!cs) return;
  pod.has_spread_constraints = !cs->empty();
  for (const auto& e : *cs) {
    const json::object* c = asObj(&e);
    if (!c) continue;
    SpreadConstraint sc;
    sc.max_skew = static_cast<int32_t>(intAt(*c, {"maxSkew"}).value_or(1));
    sc.topology_key = strAt(*c, {"topologyKey"});
    sc.do_not_schedule = strAt(*c, {"whenUnsatisfiable"}) != "ScheduleAnyway";
    sc.min_domains = static_cast<int32_t>(intAt(*c, {"minDomains"}).value_or(1));
    sc.honor_node_affinity = strAt(*c, {"nodeAffinityPolicy"}) != "Ignore";
    sc.honor_node_taints = strAt(*c, {"nodeTaintsPolicy"}) == "Honor";
    // matchLabelKeys: the pod's values for those keys join the selector as
    // key In (value) requirements (mergeLabelSetWithSelector); a null
    // selector stays "nothing".
    json::value sel = at(*c, {"labelSelector"}) ? *at(*c, {"labelSelector"}) : json::value();
    if (sel.is_object())
      for (const std::string& key : stringList(at(*c, {"matchLabelKeys"}))) {
        auto it = pod.labels.find(key);
        if (it == pod.labels.end()) continue;
        json::value& exprs = sel.as_object()["matchExpressions"];
        if (!exprs.is_array()) exprs = json::array();
        exprs.as_array().push_back(json::object{
            {"key", key}, {"operator", "In"}, {"values", json::array{json::value(it->second)}}});
      }
    auto parsed = api::LabelSelector::fromObject(&sel);
    if (!parsed.ok()) {
      if (pod.parse_error.empty()) pod.parse_error = parsed.error().message;
      continue;
    }
    sc.selector = std::move(parsed.value());
    pod.spread_constraints.push_back(std::move(sc));
  }
}

void addPorts(PodInfo& pod, const json::object& container) {
  const json::array* ports = arrAt(container, {"ports"});
  if (!ports) return;
  for (const auto& p : *ports) {
    const json::object* po = asObj(&p);
    if (!po) continue;
    int64_t host_port = intAt(*po, {"hostPort"}).value_or(0);
    if (host_port <= 0) continue;
    HostPort hp;
    hp.ip = strAt(*po, {"hostIP"});
    if (hp.ip.empty()) hp.ip = "0.0.0.0";
    hp.protocol = strAt(*po, {"protocol"});
    if (hp.protocol.empty()) hp.protocol = "TCP";
    hp.port = static_cast<int32_t>(host_port);
    pod.host_ports.push_back(std::move(hp));
  }
}

}  // namespace

PodInfoPtr makePodInfo(ObjectPtr obj) {
  auto pod = std::make_shared<PodInfo>();
  pod->object = obj;
  if (!obj) return pod;
  const json::object& o = *obj;
  pod->ns = strAt(o, {"metadata", "namespace"});
  pod->name = strAt(o, {"metadata", "name"});
  pod->uid = strAt(o, {"metadata", "uid"});
  pod->resource_version = strAt(o, {"metadata", "resourceVersion"});
  pod->labels = toLabelMap(at(o, {"metadata", "labels"}));
  const json::value* del = at(o, {"metadata", "deletionTimestamp"});
  pod->terminating = del && !del->is_null();
  parseRfc3339(strAt(o, {"metadata", "creationTimestamp"}), &pod->creation_time);
  TimePoint start;
  if (parseRfc3339(strAt(o, {"status", "startTime"}), &start)) pod->start_time = start;
  pod->phase = strAt(o, {"status", "phase"});
  pod->nominated_node_name = strAt(o, {"status", "nominatedNodeName"});
  if (const json::array* conds = arrAt(o, {"status", "conditions"}))
    for (const auto& c : *conds)
      if (const json::object* co = asObj(&c))
        if (strAt(*co, {"type"}) == "DisruptionTarget" &&
            strAt(*co, {"reason"}) == "PreemptionByScheduler")
          pod->disruption_by_preemption = true;

  static const json::object kEmpty;
  const json::object* spec_p = objAt(o, {"spec"});
  const json::object& spec = spec_p ? *spec_p : kEmpty;
  pod->node_name = strAt(spec, {"nodeName"});
  pod->scheduler_name = strAt(spec, {"schedulerName"});
  if (pod->scheduler_name.empty()) pod->scheduler_name = "default-scheduler";
  pod->priority = static_cast<int32_t>(intAt(spec, {"priority"}).value_or(0));
  pod->preempt_never = strAt(spec, {"preemptionPolicy"}) == "Never";
  const json::array* gates = arrAt(spec, {"schedulingGates"});
  pod->scheduling_gated = gates && !gates->empty();
  pod->resources = computePodResources(spec);
  pod->node_selector = api::stringMap(at(spec, {"nodeSelector"}));

  if (const json::object* na = objAt(spec, {"affinity", "nodeAffinity"})) {
    if (const json::object* req = objAt(*na, {"requiredDuringSchedulingIgnoredDuringExecution"})) {
      std::vector<NodeSelectorTerm> terms;
      if (const json::array* ts = arrAt(*req, {"nodeSelectorTerms"}))
        for (const auto& t : *ts)
          if (const json::object* to = asObj(&t)) terms.push_back(selectorTerm(*to));
      pod->required_node_affinity = std::move(terms);
    }
    if (const json::array* pref = arrAt(*na, {"preferredDuringSchedulingIgnoredDuringExecution"}))
      for (const auto& p : *pref)
        if (const json::object* po = asObj(&p)) {
          PreferredSchedulingTerm t;
          t.weight = static_cast<int32_t>(intAt(*po, {"weight"}).value_or(0));
          if (const json::object* pr = objAt(*po, {"preference"})) t.preference = selectorTerm(*pr);
          pod->preferred_node_affinity.push_back(std::move(t));
        }
  }
  if (const json::array* tols = arrAt(spec, {"tolerations"}))
    for (const auto& t : *tols)
      if (const json::object* to = asObj(&t))
        pod->tolerations.push_back({strAt(*to, {"key"}), strAt(*to, {"operator"}),
                                    strAt(*to, {"value"}), strAt(*to, {"effect"})});

  parseAffinityTerms(*pod, objAt(spec, {"affinity", "podAffinity"}), &pod->required_affinity,
                     &pod->preferred_affinity);
  parseAffinityTerms(*pod, objAt(spec, {"affinity", "podAntiAffinity"}),
                     &pod->required_anti_affinity, &pod->preferred_anti_affinity);
  parseSpreadConstraints(*pod, arrAt(spec, {"topologySpreadConstraints"}));

  if (const json::array* inits = arrAt(spec, {"initContainers"}))
    for (const auto& c : *inits)
      if (const json::object* co = asObj(&c)) {
        pod->images.push_back(normalizedImageName(strAt(*co, {"image"})));
        // Sidecars keep their ports for the pod's lifetime.
        if (strAt(*co, {"restartPolicy"}) == "Always") addPorts(*pod, *co);
        ++pod->num_containers;
      }
  if (const json::array* cs = arrAt(spec, {"containers"}))
    for (const auto& c : *cs)
      if (const json::object* co = asObj(&c)) {
        pod->images.push_back(normalizedImageName(strAt(*co, {"image"})));
        addPorts(*pod, *co);
        ++pod->num_containers;
      }
  return pod;
}

PodInfoPtr withNodeName(const PodInfo& pod, const std::string& node) {
  auto copy = std::make_shared<PodInfo>(pod);
  copy->node_name = node;
  return copy;
}

bool moreImportantPod(const PodInfo& a, const PodInfo& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  return a.startTimeOrMax() < b.startTimeOrMax();
}

NodeDataPtr makeNodeData(ObjectPtr obj) {
  auto node = std::make_shared<NodeData>();
  node->object = obj;
  if (!obj) return node;
  const json::object& o = *obj;
  node->name = strAt(o, {"metadata", "name"});
  node->labels = toLabelMap(at(o, {"metadata", "labels"}));
  node->annotations = api::stringMap(at(o, {"metadata", "annotations"}));
  node->unschedulable = api::boolAt(o, {"spec", "unschedulable"}).value_or(false);
  if (const json::array* taints = arrAt(o, {"spec", "taints"}))
    for (const auto& t : *taints)
      if (const json::object* to = asObj(&t))
        node->taints.push_back(
            {strAt(*to, {"key"}), strAt(*to, {"value"}), strAt(*to, {"effect"})});
  node->allocatable = resourceFromList(objAt(o, {"status", "allocatable"}));
  if (const json::array* images = arrAt(o, {"status", "images"}))
    for (const auto& i : *images)
      if (const json::object* io = asObj(&i))
        node->images.push_back(
            {stringList(at(*io, {"names"})), intAt(*io, {"sizeBytes"}).value_or(0)});
  if (const json::array* conds = arrAt(o, {"status", "conditions"}))
    for (const auto& c : *conds)
      if (const json::object* co = asObj(&c))
        node->conditions.emplace_back(strAt(*co, {"type"}), strAt(*co, {"status"}));
  return node;
}

std::string normalizedImageName(const std::string& name) {
  auto colon = name.rfind(':');
  auto slash = name.rfind('/');
  bool has_tag = colon != std::string::npos && (slash == std::string::npos || colon > slash);
  if (!has_tag) return name + ":latest";
  return name;
}

}  // namespace berth::scheduler
