#include "controllers/endpointslice/endpoint_slice_controller.h"

#include <optional>

#include "api/kinds/access.h"
#include "api/object.h"
#include "api/selector.h"
#include "controllers/endpointslice/endpoint_slice_util.h"

namespace berth::controllers {

namespace json = boost::json;
using client::ObjectPtr;
namespace es = endpointslice;

namespace {

bool managedByUs(const api::Object& slice) {
  return api::strAt(slice, {"metadata", "labels", es::kManagedByLabel}) == es::kControllerName;
}

}  // namespace

EndpointSliceController::EndpointSliceController(client::Client& client,
                                                 client::InformerFactory& informers, int workers)
    : client_(client),
      service_informer_(informers.forKind("", "Service")),
      pod_informer_(informers.forKind("", "Pod")),
      slice_informer_(informers.forKind("discovery.k8s.io", "EndpointSlice")),
      slice_kind_(client::kind("discovery.k8s.io", "EndpointSlice")),
      loop_(
          "endpointslice-controller", [this](const std::string& key) { return sync(key); },
          {&service_informer_, &pod_informer_, &slice_informer_}, workers) {
  using C = EndpointSliceController;
  service_informer_.addHandlers(
      gatedHandlers<C>(gate_, this, &C::onService, &C::onServiceUpdate, &C::onService));
  pod_informer_.addHandlers(gatedHandlers<C>(gate_, this, &C::onPod, &C::onPodUpdate, &C::onPod));
  slice_informer_.addHandlers(
      gatedHandlers<C>(gate_, this, &C::onSlice, &C::onSliceUpdate, &C::onSlice));
}

EndpointSliceController::~EndpointSliceController() { stop(); }

void EndpointSliceController::start() { loop_.start(); }

void EndpointSliceController::stop() {
  gate_.close();
  loop_.stop();
}

void EndpointSliceController::onService(const ObjectPtr& service) {
  loop_.enqueue(client::keyOf(*service));
}

void EndpointSliceController::onServiceUpdate(const ObjectPtr&, const ObjectPtr& service) {
  onService(service);
}

void EndpointSliceController::onPod(const ObjectPtr& pod) { onPodUpdate(nullptr, pod); }

void EndpointSliceController::onPodUpdate(const ObjectPtr& old_pod, const ObjectPtr& pod) {
  for (const auto& key : es::servicesForPod(service_informer_, old_pod.get(), *pod))
    loop_.enqueue(key);
}

void EndpointSliceController::onSlice(const ObjectPtr& slice) {
  if (!managedByUs(*slice)) return;
  const std::string service = api::strAt(*slice, {"metadata", "labels", es::kServiceNameLabel});
  if (!service.empty()) loop_.enqueue(client::makeKey(api::namespaceOf(*slice), service));
}

void EndpointSliceController::onSliceUpdate(const ObjectPtr&, const ObjectPtr& slice) {
  onSlice(slice);
}

Status EndpointSliceController::sync(const std::string& key) {
  std::string ns, name;
  client::splitKey(key, &ns, &name);
  ObjectPtr service = service_informer_.get(key);
  std::vector<ObjectPtr> existing =
      es::managedSlices(slice_informer_, ns, name, es::kControllerName);
  std::optional<api::LabelSelector> selector;
  if (service && api::strAt(*service, {"spec", "type"}) != "ExternalName")
    selector = es::serviceSelector(*service);
  if (!selector) {
    // No Service, or one whose endpoints are not ours: nothing managed.
    for (const auto& s : existing) {
      auto removed = client_.remove(slice_kind_, ns, api::name(*s));
      if (!removed.ok() && removed.error().code != ErrorCode::kNotFound) return removed.error();
    }
    return okStatus();
  }
  std::vector<ObjectPtr> pods;
  for (const auto& p : pod_informer_.listNamespace(ns))
    if (selector->matches(api::objAt(*p, {"metadata", "labels"}))) pods.push_back(p);
  return es::applyPlan(
      client_, ns,
      es::planSlices(es::serviceOwner(*service), es::desiredSlices(*service, pods), existing));
}

}  // namespace berth::controllers
