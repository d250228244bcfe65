#include "controllers/endpoint/endpoints_controller.h"

#include <algorithm>
#include <map>

#include "api/kinds/access.h"
#include "api/object.h"
#include "controllers/endpointslice/endpoint_slice_util.h"
#include "controllers/pod_util.h"

namespace berth::controllers {

namespace json = boost::json;
using api::strAt;
using client::ObjectPtr;
namespace es = endpointslice;

EndpointsController::EndpointsController(client::Client& client, client::InformerFactory& informers,
                                         int workers)
    : client_(client),
      service_informer_(informers.forKind("", "Service")),
      pod_informer_(informers.forKind("", "Pod")),
      endpoints_informer_(informers.forKind("", "Endpoints")),
      endpoints_kind_(client::kind("", "Endpoints")),
      loop_(
          "endpoint-controller", [this](const std::string& key) { return sync(key); },
          {&service_informer_, &pod_informer_, &endpoints_informer_}, workers) {
  using C = EndpointsController;
  service_informer_.addHandlers(
      gatedHandlers<C>(gate_, this, &C::onService, &C::onServiceUpdate, &C::onService));
  pod_informer_.addHandlers(gatedHandlers<C>(gate_, this, &C::onPod, &C::onPodUpdate, &C::onPod));
  // Endpoints deleted by hand come back.
  endpoints_informer_.addHandlers(gatedHandlers<C>(gate_, this, nullptr, nullptr, &C::onEndpoints));
}

EndpointsController::~EndpointsController() { stop(); }

void EndpointsController::start() { loop_.start(); }

void EndpointsController::stop() {
  gate_.close();
  loop_.stop();
}

void EndpointsController::onService(const ObjectPtr& service) {
  loop_.enqueue(client::keyOf(*service));
}

void EndpointsController::onServiceUpdate(const ObjectPtr&, const ObjectPtr& service) {
  onService(service);
}

void EndpointsController::onPod(const ObjectPtr& pod) { onPodUpdate(nullptr, pod); }

void EndpointsController::onPodUpdate(const ObjectPtr& old_pod, const ObjectPtr& pod) {
  for (const auto& key : es::servicesForPod(service_informer_, old_pod.get(), *pod))
    loop_.enqueue(key);
}

void EndpointsController::onEndpoints(const ObjectPtr& endpoints) {
  if (service_informer_.get(client::keyOf(*endpoints))) loop_.enqueue(client::keyOf(*endpoints));
}

json::array EndpointsController::subsetsFor(const api::Object& service,
                                            const std::vector<ObjectPtr>& pods) {
  const bool publish_not_ready =
      api::boolAt(service, {"spec", "publishNotReadyAddresses"}).value_or(false);
  const json::array* service_ports = api::arrAt(service, {"spec", "ports"});
  struct Subset {
    json::array ports;
    std::vector<std::pair<std::string, json::object>> ready, not_ready;  // by IP
  };
  std::map<std::string, Subset> by_ports;  // serialized ports -> subset
  for (const auto& pod : pods) {
    if (!pod || !es::podInEndpoints(*pod, /*include_terminating=*/false)) continue;
    json::array ports;
    if (service_ports)
      for (const auto& sp : *service_ports) {
        const json::object* spo = api::asObj(&sp);
        if (!spo) continue;
        auto port = es::endpointPort(*pod, *spo);
        if (!port.ok()) continue;  // upstream skips a port the pod lacks
        if (strAt(*port, {"name"}).empty()) port->erase("name");  // omitempty here
        ports.push_back(std::move(*port));
      }
    std::sort(ports.begin(), ports.end(), [](const json::value& a, const json::value& b) {
      return json::serialize(a) < json::serialize(b);
    });
    const std::string ip = strAt(*pod, {"status", "podIP"});
    json::object address{{"ip", ip}};
    const std::string hostname = strAt(*pod, {"spec", "hostname"});
    if (!hostname.empty() && strAt(*pod, {"spec", "subdomain"}) == api::name(service))
      address["hostname"] = hostname;
    if (const std::string node = strAt(*pod, {"spec", "nodeName"}); !node.empty())
      address["nodeName"] = node;
    address["targetRef"] = json::object{{"kind", "Pod"},
                                        {"namespace", api::namespaceOf(*pod)},
                                        {"name", api::name(*pod)},
                                        {"uid", api::uid(*pod)}};
    Subset& subset = by_ports[json::serialize(ports)];
    subset.ports = std::move(ports);
    (publish_not_ready || isPodReady(*pod) ? subset.ready : subset.not_ready)
        .emplace_back(ip, std::move(address));
  }
  json::array out;
  for (auto& [key, subset] : by_ports) {
    json::object o;
    for (auto* list : {&subset.ready, &subset.not_ready}) {
      if (list->empty()) continue;
      std::sort(list->begin(), list->end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      json::array addresses;
      for (auto& [ip, a] : *list) addresses.push_back(std::move(a));
      o[list == &subset.ready ? "addresses" : "notReadyAddresses"] = std::move(addresses);
    }
    if (!subset.ports.empty()) o["ports"] = std::move(subset.ports);
    out.push_back(std::move(o));
  }
  return out;
}

Status EndpointsController::sync(const std::string& key) {
  std::string ns, name;
  client::splitKey(key, &ns, &name);
  ObjectPtr service = service_informer_.get(key);
  ObjectPtr current = endpoints_informer_.get(key);
  if (!service) {
    if (!current) return okStatus();
    auto removed = client_.remove(endpoints_kind_, ns, name);
    if (!removed.ok() && removed.error().code != ErrorCode::kNotFound) return removed.error();
    return okStatus();
  }
  auto selector = es::serviceSelector(*service);
  if (!selector || strAt(*service, {"spec", "type"}) == "ExternalName") return okStatus();
  std::vector<ObjectPtr> pods;
  for (const auto& p : pod_informer_.listNamespace(ns))
    if (selector->matches(api::objAt(*p, {"metadata", "labels"}))) pods.push_back(p);
  json::array subsets = subsetsFor(*service, pods);
  json::object labels;
  if (const json::object* own = api::objAt(*service, {"metadata", "labels"})) labels = *own;
  if (strAt(*service, {"spec", "clusterIP"}) == "None")
    labels[es::kHeadlessLabel] = "";
  else
    labels.erase(es::kHeadlessLabel);
  if (current) {
    const json::array* cur_subsets = api::arrAt(*current, {"subsets"});
    const json::object* cur_labels = api::objAt(*current, {"metadata", "labels"});
    if ((cur_subsets ? *cur_subsets : json::array{}) == subsets &&
        (cur_labels ? *cur_labels : json::object{}) == labels)
      return okStatus();
    api::Object updated = *current;
    updated["subsets"] = std::move(subsets);
    updated["metadata"].as_object()["labels"] = std::move(labels);
    auto written = client_.update(endpoints_kind_, std::move(updated));
    if (!written.ok()) return written.error();
    return okStatus();
  }
  api::Object endpoints{
      {"apiVersion", "v1"},
      {"kind", "Endpoints"},
      {"metadata", json::object{{"name", name}, {"namespace", ns}, {"labels", std::move(labels)}}},
      {"subsets", std::move(subsets)}};
  auto created = client_.create(endpoints_kind_, std::move(endpoints));
  if (!created.ok() && created.error().code != ErrorCode::kAlreadyExists) return created.error();
  return okStatus();
}

}  // namespace berth::controllers
