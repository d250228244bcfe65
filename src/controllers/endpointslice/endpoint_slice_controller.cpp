#include "controllers/endpointslice/endpoint_slice_controller.h"

#include <algorithm>
#include <set>

#include "api/kinds/access.h"
#include "api/object.h"
#include "api/selector.h"
#include "common/log.h"
#include "controllers/endpointslice/endpoint_slice_util.h"

namespace berth::controllers {

namespace json = boost::json;
using client::ObjectPtr;
namespace es = endpointslice;

namespace {

// upstream's DefaultControllerRateLimiter: 5 ms doubling, capped at 1000 s.
std::chrono::milliseconds backoffFor(int failures) {
  int64_t ms = 5;
  for (int i = 0; i < failures && ms < 1000 * 1000; ++i) ms *= 2;
  return std::chrono::milliseconds(std::min<int64_t>(ms, 1000 * 1000));
}

// The selector of a Service that has one (a map of labels); nullopt for a
// Service without one, whose endpoints are not the controller's.
std::optional<api::LabelSelector> serviceSelector(const api::Object& service) {
  const json::object* sel = api::objAt(service, {"spec", "selector"});
  if (!sel || sel->empty()) return std::nullopt;
  api::LabelMap set;
  for (const auto& [k, v] : *sel) set.emplace(std::string(k), api::asStr(&v));
  return api::LabelSelector::fromSet(set);
}

bool managedByUs(const api::Object& slice) {
  return api::strAt(slice, {"metadata", "labels", es::kManagedByLabel}) == es::kControllerName;
}

}  // namespace

struct EndpointSliceController::HandlerGuard {
  std::mutex mu;
  EndpointSliceController* self = nullptr;
};

EndpointSliceController::EndpointSliceController(client::Client& client,
                                                 client::InformerFactory& informers, int workers)
    : client_(client),
      service_informer_(informers.forKind("", "Service")),
      pod_informer_(informers.forKind("", "Pod")),
      slice_informer_(informers.forKind("discovery.k8s.io", "EndpointSlice")),
      slice_kind_(client::kind("discovery.k8s.io", "EndpointSlice")),
      workers_count_(workers),
      guard_(std::make_shared<HandlerGuard>()) {
  guard_->self = this;
  registerHandlers();
}

EndpointSliceController::~EndpointSliceController() { stop(); }

void EndpointSliceController::registerHandlers() {
  std::weak_ptr<HandlerGuard> weak = guard_;
  auto call = [weak](auto&& fn) {
    if (auto g = weak.lock()) {
      std::lock_guard lock(g->mu);
      if (g->self) fn(g->self);
    }
  };
  client::EventHandlers services;
  auto enqueue = [call](const ObjectPtr& o) {
    call([&](EndpointSliceController* c) { c->queue_.add(client::keyOf(*o)); });
  };
  services.on_add = enqueue;
  services.on_update = [enqueue](const ObjectPtr&, const ObjectPtr& o) { enqueue(o); };
  services.on_delete = enqueue;
  service_informer_.addHandlers(std::move(services));

  client::EventHandlers pods;
  pods.on_add = [call](const ObjectPtr& o) {
    call([&](EndpointSliceController* c) { c->onPod(nullptr, o); });
  };
  pods.on_update = [call](const ObjectPtr& old_pod, const ObjectPtr& o) {
    call([&](EndpointSliceController* c) { c->onPod(old_pod, o); });
  };
  pods.on_delete = [call](const ObjectPtr& o) {
    call([&](EndpointSliceController* c) { c->onPod(nullptr, o); });
  };
  pod_informer_.addHandlers(std::move(pods));

  client::EventHandlers slices;
  slices.on_add = [call](const ObjectPtr& o) {
    call([&](EndpointSliceController* c) { c->onSlice(o); });
  };
  slices.on_update = [call](const ObjectPtr&, const ObjectPtr& o) {
    call([&](EndpointSliceController* c) { c->onSlice(o); });
  };
  slices.on_delete = [call](const ObjectPtr& o) {
    call([&](EndpointSliceController* c) { c->onSlice(o); });
  };
  slice_informer_.addHandlers(std::move(slices));
}

void EndpointSliceController::onPod(const ObjectPtr& old_pod, const ObjectPtr& pod) {
  // The Services whose selector matches the pod's labels now or before.
  const std::string ns = api::namespaceOf(*pod);
  for (const auto& service : service_informer_.listNamespace(ns)) {
    auto selector = serviceSelector(*service);
    if (!selector) continue;
    if (selector->matches(api::objAt(*pod, {"metadata", "labels"})) ||
        (old_pod && selector->matches(api::objAt(*old_pod, {"metadata", "labels"}))))
      queue_.add(client::keyOf(*service));
  }
}

void EndpointSliceController::onSlice(const ObjectPtr& slice) {
  if (!managedByUs(*slice)) return;
  const std::string service = api::strAt(*slice, {"metadata", "labels", es::kServiceNameLabel});
  if (!service.empty()) queue_.add(api::namespaceOf(*slice) + "/" + service);
}

void EndpointSliceController::start() {
  std::lock_guard lock(mu_);
  if (starter_.joinable() || stopping_) return;
  starter_ = std::thread([this] {
    for (client::Informer* inf : {&service_informer_, &pod_informer_, &slice_informer_})
      while (!stopping_ && !inf->waitForSync(std::chrono::milliseconds(100))) {
      }
    std::lock_guard lock(mu_);
    if (stopping_) return;
    workers_ = std::make_unique<WorkerPool>(
        queue_, [this](const std::string& key) { processKey(key); }, workers_count_);
    BERTH_LOG(kInfo, "controllers")
        << "started controller name=endpointslice-controller workers=" << workers_count_;
  });
}

void EndpointSliceController::stop() {
  {
    std::lock_guard lock(guard_->mu);
    guard_->self = nullptr;
  }
  stopping_ = true;
  queue_.shutdown();
  if (starter_.joinable()) starter_.join();
  std::lock_guard lock(mu_);
  if (workers_) workers_->stop();
  workers_.reset();
}

void EndpointSliceController::processKey(const std::string& key) {
  Status s = sync(key);
  int n = 0;
  {
    std::lock_guard lock(failures_mu_);
    if (s.ok()) {
      failures_.erase(key);
      return;
    }
    n = failures_[key]++;
  }
  BERTH_LOG(kWarning, "controllers")
      << "sync failed controller=endpointslice key=" << key << " err=" << s.error().message;
  queue_.addAfter(key, backoffFor(n));
}

std::vector<ObjectPtr> EndpointSliceController::managedSlices(const std::string& ns,
                                                              const std::string& service) const {
  std::vector<ObjectPtr> out;
  for (const auto& s : slice_informer_.listNamespace(ns))
    if (managedByUs(*s) && api::strAt(*s, {"metadata", "labels", es::kServiceNameLabel}) == service)
      out.push_back(s);
  return out;
}

Status EndpointSliceController::sync(const std::string& key) {
  const size_t slash = key.find('/');
  const std::string ns = key.substr(0, slash);
  const std::string name = slash == std::string::npos ? key : key.substr(slash + 1);
  ObjectPtr service = service_informer_.get(key);
  std::vector<ObjectPtr> existing = managedSlices(ns, name);
  std::optional<api::LabelSelector> selector;
  if (service && api::strAt(*service, {"spec", "type"}) != "ExternalName")
    selector = serviceSelector(*service);
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
  es::SlicePlan plan = es::planSlices(*service, es::desiredSlices(*service, pods), existing);
  // Updates and creations first, deletions last: a consumer never sees the
  // Service with fewer endpoints than before or after.
  for (auto& s : plan.update) {
    auto updated = client_.update(slice_kind_, std::move(s));
    if (!updated.ok()) return updated.error();
  }
  for (auto& s : plan.create) {
    auto created = client_.create(slice_kind_, std::move(s));
    if (!created.ok()) return created.error();
  }
  for (const auto& n : plan.remove) {
    auto removed = client_.remove(slice_kind_, ns, n);
    if (!removed.ok() && removed.error().code != ErrorCode::kNotFound) return removed.error();
  }
  return okStatus();
}

}  // namespace berth::controllers
