#include "controllers/endpointslicemirroring/endpoint_slice_mirroring_controller.h"

#include <algorithm>
#include <map>

#include "api/kinds/access.h"
#include "api/object.h"

namespace berth::controllers {

namespace json = boost::json;
using api::strAt;
using client::ObjectPtr;
namespace es = endpointslice;

EndpointSliceMirroringController::EndpointSliceMirroringController(
    client::Client& client, client::InformerFactory& informers, int workers)
    : client_(client),
      endpoints_informer_(informers.forKind("", "Endpoints")),
      service_informer_(informers.forKind("", "Service")),
      slice_informer_(informers.forKind("discovery.k8s.io", "EndpointSlice")),
      loop_(
          "endpointslice-mirroring-controller",
          [this](const std::string& key) { return sync(key); },
          {&endpoints_informer_, &service_informer_, &slice_informer_}, workers) {
  using C = EndpointSliceMirroringController;
  endpoints_informer_.addHandlers(
      gatedHandlers<C>(gate_, this, &C::onObject, &C::onUpdate, &C::onObject));
  service_informer_.addHandlers(
      gatedHandlers<C>(gate_, this, &C::onObject, &C::onUpdate, &C::onObject));
  slice_informer_.addHandlers(gatedHandlers<C>(gate_, this, &C::onSlice, nullptr, &C::onSlice));
}

EndpointSliceMirroringController::~EndpointSliceMirroringController() { stop(); }

void EndpointSliceMirroringController::start() { loop_.start(); }

void EndpointSliceMirroringController::stop() {
  gate_.close();
  loop_.stop();
}

// Endpoints and their Service share the key "ns/name".
void EndpointSliceMirroringController::onObject(const ObjectPtr& obj) {
  loop_.enqueue(client::keyOf(*obj));
}

void EndpointSliceMirroringController::onUpdate(const ObjectPtr&, const ObjectPtr& obj) {
  onObject(obj);
}

void EndpointSliceMirroringController::onSlice(const ObjectPtr& slice) {
  if (strAt(*slice, {"metadata", "labels", es::kManagedByLabel}) != kManagedBy) return;
  const std::string service = strAt(*slice, {"metadata", "labels", es::kServiceNameLabel});
  if (!service.empty()) loop_.enqueue(client::makeKey(api::namespaceOf(*slice), service));
}

std::vector<es::DesiredSlice> EndpointSliceMirroringController::mirroredSlices(
    const api::Object& endpoints) {
  std::vector<es::DesiredSlice> out;
  const json::array* subsets = api::arrAt(endpoints, {"subsets"});
  if (!subsets) return out;
  for (const auto& sv : *subsets) {
    const json::object* subset = api::asObj(&sv);
    if (!subset) continue;
    json::array ports;
    if (const json::array* ps = api::arrAt(*subset, {"ports"}))
      for (const auto& pv : *ps) {
        const json::object* p = api::asObj(&pv);
        if (!p) continue;
        json::object port{{"name", strAt(*p, {"name"})},
                          {"port", api::intAt(*p, {"port"}).value_or(0)},
                          {"protocol", strAt(*p, {"protocol"}, "TCP")}};
        if (const std::string app = strAt(*p, {"appProtocol"}); !app.empty())
          port["appProtocol"] = app;
        ports.push_back(std::move(port));
      }
    // Per address family, ready addresses first, at most the cap.
    std::map<std::string, json::array> by_type;
    size_t taken = 0;
    for (const char* list : {"addresses", "notReadyAddresses"}) {
      const json::array* addresses = api::arrAt(*subset, {list});
      if (!addresses) continue;
      for (const auto& av : *addresses) {
        const json::object* a = api::asObj(&av);
        if (!a || taken >= kMaxAddressesPerSubset) continue;
        ++taken;
        const std::string ip = strAt(*a, {"ip"});
        json::object ep{{"addresses", json::array{json::value(ip)}},
                        {"conditions", json::object{{"ready", std::string(list) == "addresses"}}}};
        if (const std::string h = strAt(*a, {"hostname"}); !h.empty()) ep["hostname"] = h;
        if (const json::object* ref = api::objAt(*a, {"targetRef"})) ep["targetRef"] = *ref;
        if (const std::string n = strAt(*a, {"nodeName"}); !n.empty()) ep["nodeName"] = n;
        by_type[ip.find(':') == std::string::npos ? "IPv4" : "IPv6"].push_back(std::move(ep));
      }
    }
    for (auto& [type, endpoints_of_type] : by_type)
      for (size_t i = 0; i < endpoints_of_type.size(); i += es::kMaxEndpointsPerSlice) {
        es::DesiredSlice d{type, ports, {}};
        for (size_t j = i; j < std::min(endpoints_of_type.size(), i + es::kMaxEndpointsPerSlice);
             ++j)
          d.endpoints.push_back(endpoints_of_type[j]);
        out.push_back(std::move(d));
      }
  }
  return out;
}

Status EndpointSliceMirroringController::sync(const std::string& key) {
  std::string ns, name;
  client::splitKey(key, &ns, &name);
  ObjectPtr endpoints = endpoints_informer_.get(key);
  ObjectPtr service = service_informer_.get(key);
  std::vector<ObjectPtr> existing = es::managedSlices(slice_informer_, ns, name, kManagedBy);
  const bool mirror = endpoints && service && !es::serviceSelector(*service) &&
                      strAt(*endpoints, {"metadata", "labels", kSkipMirrorLabel}) != "true";
  if (!mirror) return es::applyPlan(client_, ns, es::planSlices({}, {}, existing));
  es::SliceOwner owner{ns, name, {}, {}};
  if (const json::object* own = api::objAt(*endpoints, {"metadata", "labels"}))
    for (const auto& [k, v] : *own)
      if (k != es::kServiceNameLabel && k != es::kManagedByLabel) owner.labels[k] = v;
  owner.labels[es::kServiceNameLabel] = name;
  owner.labels[es::kManagedByLabel] = kManagedBy;
  owner.owner_ref = json::object{{"apiVersion", "v1"}, {"kind", "Endpoints"},
                                 {"name", name},       {"uid", api::uid(*endpoints)},
                                 {"controller", true}, {"blockOwnerDeletion", true}};
  return es::applyPlan(client_, ns, es::planSlices(owner, mirroredSlices(*endpoints), existing));
}

}  // namespace berth::controllers
