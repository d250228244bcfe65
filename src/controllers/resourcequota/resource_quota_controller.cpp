#include "controllers/resourcequota/resource_quota_controller.h"

#include <algorithm>
#include <set>
#include <vector>

#include "api/kinds/access.h"
#include "api/object.h"
#include "common/log.h"
#include "controllers/pod_control.h"

namespace berth::controllers {

namespace json = boost::json;
using api::Object;
using client::ObjectPtr;

namespace {

// Exponential per-key backoff of upstream's DefaultControllerRateLimiter.
std::chrono::milliseconds backoffFor(int failures) {
  int64_t ms = 5;
  for (int i = 0; i < failures && ms < 1000 * 1000; ++i) ms *= 2;
  return std::chrono::milliseconds(std::min<int64_t>(ms, 1000 * 1000));
}

ResourceList parseList(const json::object* list) {
  ResourceList out;
  if (!list) return out;
  for (const auto& [name, v] : *list)
    if (auto q = Quantity::fromJson(v)) out.emplace(std::string(name), *q);
  return out;
}

// quota.Equals: the same names with equal quantities.
bool equalLists(const ResourceList& a, const ResourceList& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, q] : a) {
    auto it = b.find(name);
    if (it == b.end() || it->second.cmp(q) != 0) return false;
  }
  return true;
}

// The served kind of "<resource>" (core) or "<resource>.<group>", in its
// preferred (first registered) version, if it can be listed.
const api::KindInfo* kindForGroupResource(const std::string& group_resource) {
  auto dot = group_resource.find('.');
  std::string resource = group_resource.substr(0, dot);
  std::string group = dot == std::string::npos ? "" : group_resource.substr(dot + 1);
  for (const auto& k : api::KindRegistry::builtin().all()) {
    if (k->resource != resource || k->group != group || k->ephemeral) continue;
    if (!k->verbs.empty() && std::find(k->verbs.begin(), k->verbs.end(), "list") == k->verbs.end())
      return nullptr;
    return k.get();
  }
  return nullptr;
}

// Whether an update of an object can change the usage it is charged:
// pods by phase, deletion or spec (in-place resize, activeDeadlineSeconds);
// services and claims by spec or annotations (the storage class
// annotation); plain object counts never.
bool usageMayChange(const std::string& group_resource, const Object& old_obj,
                    const Object& cur_obj) {
  auto same = [&](std::initializer_list<std::string_view> path) {
    const json::value* a = api::at(old_obj, path);
    const json::value* b = api::at(cur_obj, path);
    return (a == nullptr) == (b == nullptr) && (!a || *a == *b);
  };
  if (group_resource == "pods")
    return !same({"status", "phase"}) || !same({"metadata", "deletionTimestamp"}) ||
           !same({"spec"});
  if (group_resource == "services" || group_resource == "persistentvolumeclaims")
    return !same({"spec"}) || !same({"metadata", "annotations"});
  return false;
}

}  // namespace

struct ResourceQuotaController::HandlerGuard {
  std::mutex mu;
  ResourceQuotaController* self = nullptr;
};

ResourceQuotaController::ResourceQuotaController(client::Client& client,
                                                 client::InformerFactory& informers,
                                                 client::EventRecorder& /*recorder*/, Clock& clock,
                                                 int workers)
    : client_(client),
      informers_(informers),
      quota_informer_(informers.forKind("", "ResourceQuota")),
      clock_(clock),
      quota_kind_(client::kind("", "ResourceQuota")),
      workers_count_(workers),
      guard_(std::make_shared<HandlerGuard>()) {
  guard_->self = this;
  registerQuotaHandlers();
}

ResourceQuotaController::~ResourceQuotaController() { stop(); }

void ResourceQuotaController::registerQuotaHandlers() {
  std::weak_ptr<HandlerGuard> weak = guard_;
  auto call = [weak](auto&& fn) {
    if (auto g = weak.lock()) {
      std::lock_guard lock(g->mu);
      if (g->self) fn(g->self);
    }
  };
  client::EventHandlers h;
  h.on_add = [call](const ObjectPtr& q) {
    call([&](ResourceQuotaController* c) { c->queue_.add(client::keyOf(*q)); });
  };
  // Status updates are this controller's own writes; only a spec change
  // asks for a recalculation (usage changes come from the tracked kinds).
  h.on_update = [call](const ObjectPtr& old_q, const ObjectPtr& cur_q) {
    const json::value* a = api::at(*old_q, {"spec"});
    const json::value* b = api::at(*cur_q, {"spec"});
    if ((a == nullptr) == (b == nullptr) && (!a || *a == *b)) return;
    call([&](ResourceQuotaController* c) { c->queue_.add(client::keyOf(*cur_q)); });
  };
  h.on_delete = [call](const ObjectPtr& q) {
    call([&](ResourceQuotaController* c) { c->queue_.add(client::keyOf(*q)); });
  };
  quota_informer_.addHandlers(std::move(h));
}

client::Informer* ResourceQuotaController::informerFor(const std::string& group_resource) {
  std::lock_guard lock(state_mu_);
  auto it = tracked_.find(group_resource);
  if (it != tracked_.end()) return it->second;
  const api::KindInfo* kind = kindForGroupResource(group_resource);
  client::Informer* inf = kind ? &informers_.forKind(*kind) : nullptr;
  tracked_[group_resource] = inf;
  if (!inf) return nullptr;
  std::weak_ptr<HandlerGuard> weak = guard_;
  auto call = [weak](auto&& fn) {
    if (auto g = weak.lock()) {
      std::lock_guard lock(g->mu);
      if (g->self) fn(g->self);
    }
  };
  client::EventHandlers h;
  h.on_add = [call, group_resource](const ObjectPtr& o) {
    call([&](ResourceQuotaController* c) { c->replenish(api::namespaceOf(*o), group_resource); });
  };
  h.on_update = [call, group_resource](const ObjectPtr& a, const ObjectPtr& b) {
    if (!usageMayChange(group_resource, *a, *b)) return;
    call([&](ResourceQuotaController* c) { c->replenish(api::namespaceOf(*b), group_resource); });
  };
  h.on_delete = [call, group_resource](const ObjectPtr& o) {
    call([&](ResourceQuotaController* c) { c->replenish(api::namespaceOf(*o), group_resource); });
  };
  inf->addHandlers(std::move(h));
  return inf;
}

void ResourceQuotaController::replenish(const std::string& ns, const std::string& group_resource) {
  for (const auto& q : quota_informer_.listNamespace(ns)) {
    const json::object* hard = api::objAt(*q, {"spec", "hard"});
    if (!hard) continue;
    for (const auto& kv : *hard) {
      if (trackedGroupResource(kv.key()) == group_resource) {
        queue_.add(client::keyOf(*q));
        break;
      }
    }
  }
}

void ResourceQuotaController::start() {
  std::lock_guard lock(mu_);
  if (starter_.joinable() || stopping_) return;
  // Pods are what most quotas count; their informer is shared with the
  // workload controllers anyway.
  informerFor("pods");
  starter_ = std::thread([this] {
    client::Informer* pods = informerFor("pods");
    for (client::Informer* inf : {&quota_informer_, pods})
      while (!stopping_ && !inf->waitForSync(std::chrono::milliseconds(100))) {
      }
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      workers_ = std::make_unique<WorkerPool>(
          queue_, [this](const std::string& key) { processKey(key); }, workers_count_);
    }
    BERTH_LOG(kInfo, "controllers")
        << "started controller name=resourcequota workers=" << workers_count_;
    resyncAll();
    // The periodic full recalculation.
    std::unique_lock lock(mu_);
    while (!stopping_) {
      if (stop_cv_.wait_for(lock, kResyncPeriod, [this] { return stopping_.load(); })) break;
      lock.unlock();
      resyncAll();
      lock.lock();
    }
  });
}

void ResourceQuotaController::stop() {
  {
    std::lock_guard lock(guard_->mu);
    guard_->self = nullptr;
  }
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  queue_.shutdown();
  if (starter_.joinable()) starter_.join();
  std::lock_guard lock(mu_);
  if (workers_) workers_->stop();
  workers_.reset();
}

void ResourceQuotaController::resyncAll() {
  for (const auto& q : quota_informer_.list()) queue_.add(client::keyOf(*q));
}

void ResourceQuotaController::processKey(const std::string& key) {
  Status s = sync(key);
  int n = 0;
  {
    std::lock_guard lock(state_mu_);
    if (s.ok()) {
      failures_.erase(key);
      return;
    }
    n = failures_[key]++;
  }
  BERTH_LOG(kWarning, "controllers")
      << "sync failed controller=resourcequota key=" << key << " err=" << s.error().message;
  queue_.addAfter(key, backoffFor(n));
}

Status ResourceQuotaController::sync(const std::string& key) {
  ObjectPtr quota = quota_informer_.get(key);
  if (!quota) return okStatus();
  const std::string ns = api::namespaceOf(*quota);
  const json::object* spec_hard = api::objAt(*quota, {"spec", "hard"});
  const json::object* status_hard = api::objAt(*quota, {"status", "hard"});
  const json::object* status_used = api::objAt(*quota, {"status", "used"});
  const ResourceList hard = parseList(spec_hard);
  const ResourceList old_used = parseList(status_used);

  // The past observation stays for resources whose calculation fails.
  ResourceList used = old_used;
  std::vector<Error> errors;

  // CalculateUsage: group the hard resources by the evaluator that tracks
  // them, start each at zero and sum the usage of every object in scope.
  std::map<std::string, std::vector<std::string>> by_target;
  for (const auto& [name, q] : hard)
    if (auto target = trackedGroupResource(name)) by_target[*target].push_back(name);
  const auto now = clock_.now();
  for (const auto& [target, names] : by_target) {
    client::Informer* inf = informerFor(target);
    if (!inf) continue;  // Nothing is served under that name: no evaluator.
    if (!inf->hasSynced()) {
      errors.push_back(
          makeError(ErrorCode::kUnavailable, "the cache of " + target + " has not synced yet"));
      continue;
    }
    ResourceList stats;
    for (const auto& name : names) stats[name] = Quantity();
    for (const auto& obj : inf->listNamespace(ns)) {
      if (!matchesQuotaScopes(target, *obj, *quota)) continue;
      ResourceList usage = objectUsage(target, *obj, now);
      for (const auto& name : names)
        if (auto it = usage.find(name); it != usage.end()) stats[name].add(it->second);
    }
    for (auto& [name, q] : stats) used[name] = q;
  }
  // Only the resources with hard limits are reported.
  for (auto it = used.begin(); it != used.end();)
    it = hard.count(it->first) ? std::next(it) : used.erase(it);

  bool dirty = !status_hard || !status_used || !equalLists(hard, parseList(status_hard)) ||
               !equalLists(used, old_used);
  if (dirty) {
    json::object used_json;
    for (const auto& [name, q] : used) used_json[name] = q.toString();
    Object next = *quota;
    next["status"] = json::object{{"hard", spec_hard ? *spec_hard : json::object()},
                                  {"used", std::move(used_json)}};
    auto res = client_.update(quota_kind_, std::move(next), client::Subresource::kStatus);
    if (!res.ok()) errors.push_back(res.error());
  }
  if (errors.empty()) return okStatus();
  return aggregateErrors(errors);
}

}  // namespace berth::controllers
