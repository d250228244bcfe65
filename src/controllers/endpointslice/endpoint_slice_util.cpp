#include "controllers/endpointslice/endpoint_slice_util.h"

#include <algorithm>
#include <map>

#include "api/kinds/access.h"
#include "api/object.h"
#include "controllers/pod_util.h"

namespace berth::controllers::endpointslice {

namespace json = boost::json;
using api::strAt;

namespace {

std::string protocolOf(const json::object& port) { return strAt(port, {"protocol"}, "TCP"); }

// The group a slice belongs to: its address type and its ports.
std::string groupKey(const std::string& address_type, const json::array& ports) {
  return address_type + " " + json::serialize(ports);
}

json::object sliceLabels(const api::Object& service) {
  json::object labels;
  if (const json::object* own = api::objAt(service, {"metadata", "labels"}))
    for (const auto& [k, v] : *own)
      if (k != kServiceNameLabel && k != kManagedByLabel && k != kHeadlessLabel) labels[k] = v;
  labels[kServiceNameLabel] = api::name(service);
  labels[kManagedByLabel] = kControllerName;
  if (strAt(service, {"spec", "clusterIP"}) == "None") labels[kHeadlessLabel] = "";
  return labels;
}

}  // namespace

std::optional<api::LabelSelector> serviceSelector(const api::Object& service) {
  const json::object* sel = api::objAt(service, {"spec", "selector"});
  if (!sel || sel->empty()) return std::nullopt;
  api::LabelMap set;
  for (const auto& [k, v] : *sel) set.emplace(std::string(k), api::asStr(&v));
  return api::LabelSelector::fromSet(set);
}

std::vector<std::string> servicesForPod(const client::Informer& services,
                                        const api::Object* old_pod, const api::Object& pod) {
  std::vector<std::string> out;
  for (const auto& service : services.listNamespace(api::namespaceOf(pod))) {
    auto selector = serviceSelector(*service);
    if (!selector) continue;
    if (selector->matches(api::objAt(pod, {"metadata", "labels"})) ||
        (old_pod && selector->matches(api::objAt(*old_pod, {"metadata", "labels"}))))
      out.push_back(client::keyOf(*service));
  }
  return out;
}

bool podInEndpoints(const api::Object& pod, bool include_terminating) {
  const std::string phase = strAt(pod, {"status", "phase"});
  if (phase == "Succeeded" || phase == "Failed") return false;
  if (strAt(pod, {"status", "podIP"}).empty()) return false;
  if (!include_terminating && api::metadata(pod) &&
      api::metadata(pod)->contains("deletionTimestamp"))
    return false;
  return true;
}

Result<int64_t> findPort(const api::Object& pod, const json::object& service_port) {
  const json::value* target = service_port.if_contains("targetPort");
  if (!target || target->is_null()) return api::intAt(service_port, {"port"}).value_or(0);
  if (auto n = api::asInt(target)) return *n;
  const std::string name = api::asStr(target);
  const std::string protocol = protocolOf(service_port);
  for (const char* list : {"containers", "initContainers"})
    if (const json::array* cs = api::arrAt(pod, {"spec", list}))
      for (const auto& c : *cs) {
        const json::object* co = api::asObj(&c);
        const json::array* ports = co ? api::arrAt(*co, {"ports"}) : nullptr;
        if (!ports) continue;
        for (const auto& p : *ports) {
          const json::object* po = api::asObj(&p);
          if (po && strAt(*po, {"name"}) == name && protocolOf(*po) == protocol)
            return api::intAt(*po, {"containerPort"}).value_or(0);
        }
      }
  return makeError(ErrorCode::kNotFound, "no suitable port for manifest: " + api::uid(pod));
}

Result<json::object> endpointPort(const api::Object& pod, const json::object& service_port) {
  BERTH_ASSIGN_OR_RETURN(int64_t number, findPort(pod, service_port));
  json::object port{{"name", strAt(service_port, {"name"})},
                    {"port", number},
                    {"protocol", protocolOf(service_port)}};
  if (const std::string app = strAt(service_port, {"appProtocol"}); !app.empty())
    port["appProtocol"] = app;
  return port;
}

json::object podEndpoint(const api::Object& service, const api::Object& pod) {
  const bool serving = isPodReady(pod);
  const bool terminating = api::metadata(pod) && api::metadata(pod)->contains("deletionTimestamp");
  // A terminating pod is never ready, unless the Service publishes
  // not-ready addresses.
  const bool ready = api::boolAt(service, {"spec", "publishNotReadyAddresses"}).value_or(false) ||
                     (serving && !terminating);
  json::object ep{
      {"addresses", json::array{json::value(strAt(pod, {"status", "podIP"}))}},
      {"conditions",
       json::object{{"ready", ready}, {"serving", serving}, {"terminating", terminating}}}};
  const std::string hostname = strAt(pod, {"spec", "hostname"});
  if (!hostname.empty() && strAt(pod, {"spec", "subdomain"}) == api::name(service))
    ep["hostname"] = hostname;
  ep["targetRef"] = json::object{{"kind", "Pod"},
                                 {"namespace", api::namespaceOf(pod)},
                                 {"name", api::name(pod)},
                                 {"uid", api::uid(pod)}};
  const std::string node = strAt(pod, {"spec", "nodeName"});
  if (!node.empty()) ep["nodeName"] = node;
  return ep;
}

std::vector<DesiredSlice> desiredSlices(const api::Object& service,
                                        const std::vector<client::ObjectPtr>& pods) {
  std::vector<client::ObjectPtr> sorted;
  for (const auto& p : pods)
    if (p && podInEndpoints(*p, /*include_terminating=*/true)) sorted.push_back(p);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return api::name(*a) < api::name(*b); });
  const json::array* service_ports = api::arrAt(service, {"spec", "ports"});
  // Groups in the order their first pod comes.
  std::vector<DesiredSlice> groups;
  std::map<std::string, size_t> index;
  for (const auto& pod : sorted) {
    json::array ports;
    if (service_ports)
      for (const auto& sp : *service_ports) {
        const json::object* spo = api::asObj(&sp);
        if (!spo) continue;
        auto port = endpointPort(*pod, *spo);
        if (port.ok()) ports.push_back(std::move(*port));  // upstream skips a port the pod lacks
      }
    const std::string ip = strAt(*pod, {"status", "podIP"});
    const std::string type = ip.find(':') == std::string::npos ? "IPv4" : "IPv6";
    const std::string key = groupKey(type, ports);
    auto [it, fresh] = index.emplace(key, groups.size());
    if (fresh) groups.push_back(DesiredSlice{type, std::move(ports), {}});
    groups[it->second].endpoints.push_back(podEndpoint(service, *pod));
  }
  std::vector<DesiredSlice> out;
  for (auto& g : groups)
    for (size_t i = 0; i < g.endpoints.size(); i += kMaxEndpointsPerSlice) {
      DesiredSlice chunk{g.address_type, g.ports, {}};
      for (size_t j = i; j < std::min(g.endpoints.size(), i + kMaxEndpointsPerSlice); ++j)
        chunk.endpoints.push_back(g.endpoints[j]);
      out.push_back(std::move(chunk));
    }
  if (out.empty()) out.push_back(DesiredSlice{"IPv4", {}, {}});  // the placeholder
  return out;
}

SliceOwner serviceOwner(const api::Object& service) {
  return SliceOwner{api::namespaceOf(service), api::name(service), sliceLabels(service),
                    json::object{{"apiVersion", "v1"},
                                 {"kind", "Service"},
                                 {"name", api::name(service)},
                                 {"uid", api::uid(service)},
                                 {"controller", true},
                                 {"blockOwnerDeletion", true}}};
}

api::Object newSlice(const SliceOwner& owner, const DesiredSlice& desired) {
  json::object md{{"generateName", owner.name + "-"},
                  {"namespace", owner.ns},
                  {"labels", owner.labels},
                  {"ownerReferences", json::array{owner.owner_ref}}};
  return api::Object{{"apiVersion", "discovery.k8s.io/v1"}, {"kind", "EndpointSlice"},
                     {"metadata", std::move(md)},           {"addressType", desired.address_type},
                     {"endpoints", desired.endpoints},      {"ports", desired.ports}};
}

SlicePlan planSlices(const SliceOwner& owner, const std::vector<DesiredSlice>& desired,
                     const std::vector<client::ObjectPtr>& existing) {
  SlicePlan plan;
  // Existing slices by group, oldest name first so reuse is stable.
  std::map<std::string, std::vector<client::ObjectPtr>> by_group;
  std::vector<client::ObjectPtr> sorted = existing;
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return api::name(*a) < api::name(*b); });
  for (const auto& s : sorted) {
    const json::array* ports = api::arrAt(*s, {"ports"});
    by_group[groupKey(strAt(*s, {"addressType"}), ports ? *ports : json::array{})].push_back(s);
  }
  for (const auto& d : desired) {
    auto& candidates = by_group[groupKey(d.address_type, d.ports)];
    if (candidates.empty()) {
      plan.create.push_back(newSlice(owner, d));
      continue;
    }
    client::ObjectPtr cur = candidates.front();
    candidates.erase(candidates.begin());
    const json::array* eps = api::arrAt(*cur, {"endpoints"});
    const json::object* cur_labels = api::objAt(*cur, {"metadata", "labels"});
    if ((eps ? *eps : json::array{}) == d.endpoints && cur_labels && *cur_labels == owner.labels)
      continue;
    api::Object updated = *cur;
    updated["endpoints"] = d.endpoints;
    updated["metadata"].as_object()["labels"] = owner.labels;
    plan.update.push_back(std::move(updated));
  }
  for (const auto& [key, left] : by_group)
    for (const auto& s : left) plan.remove.push_back(api::name(*s));
  return plan;
}

Status applyPlan(client::Client& client, const std::string& ns, SlicePlan plan) {
  const api::KindInfo& kind = client::kind("discovery.k8s.io", "EndpointSlice");
  for (auto& s : plan.update) {
    auto updated = client.update(kind, std::move(s));
    if (!updated.ok()) return updated.error();
  }
  for (auto& s : plan.create) {
    auto created = client.create(kind, std::move(s));
    if (!created.ok()) return created.error();
  }
  for (const auto& n : plan.remove) {
    auto removed = client.remove(kind, ns, n);
    if (!removed.ok() && removed.error().code != ErrorCode::kNotFound) return removed.error();
  }
  return okStatus();
}

std::vector<client::ObjectPtr> managedSlices(const client::Informer& slices, const std::string& ns,
                                             const std::string& service,
                                             const std::string& manager) {
  std::vector<client::ObjectPtr> out;
  for (const auto& s : slices.listNamespace(ns))
    if (strAt(*s, {"metadata", "labels", kManagedByLabel}) == manager &&
        strAt(*s, {"metadata", "labels", kServiceNameLabel}) == service)
      out.push_back(s);
  return out;
}

}  // namespace berth::controllers::endpointslice
