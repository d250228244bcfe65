#include "controllers/replicaset/replica_set_controller.h"

#include <algorithm>
#include <set>

#include "api/kinds/access.h"
#include "api/object.h"
#include "common/log.h"
#include "controllers/pod_util.h"

namespace berth::controllers {

namespace json = boost::json;
using api::Object;
using client::ObjectPtr;

namespace {

constexpr char kReplicaFailure[] = "ReplicaFailure";
// upstream statusUpdateRetries.
constexpr int kStatusUpdateRetries = 1;

// Sets an omitempty integer field of a status: absent when zero.
void setCount(json::object& status, std::string_view key, int64_t v) {
  if (v == 0)
    status.erase(key);
  else
    status[key] = v;
}

int64_t count(const json::object& status, std::string_view key) {
  return api::intAt(status, {key}).value_or(0);
}

const json::object* findCondition(const json::object& status, std::string_view type) {
  const json::array* conds = api::arrAt(status, {"conditions"});
  if (!conds) return nullptr;
  for (const auto& c : *conds)
    if (const json::object* o = c.if_object(); o && api::strAt(*o, {"type"}) == type) return o;
  return nullptr;
}

void removeCondition(json::object& status, std::string_view type) {
  json::array* conds = status.contains("conditions") ? status["conditions"].if_array() : nullptr;
  if (!conds) return;
  json::array kept;
  for (auto& c : *conds)
    if (!c.is_object() || api::strAt(c.as_object(), {"type"}) != type) kept.push_back(c);
  if (kept.empty())
    status.erase("conditions");
  else
    status["conditions"] = std::move(kept);
}

// SetCondition of replica_set_utils.go: unchanged when a condition of the
// type with the same status and reason exists; otherwise replaces it.
void setCondition(json::object& status, json::object cond) {
  std::string type = api::strAt(cond, {"type"});
  if (const json::object* cur = findCondition(status, type)) {
    if (api::strAt(*cur, {"status"}) == api::strAt(cond, {"status"}) &&
        api::strAt(*cur, {"reason"}) == api::strAt(cond, {"reason"}))
      return;
  }
  removeCondition(status, type);
  api::ensureArray(status, "conditions").push_back(std::move(cond));
}

// Exponential per-key backoff of upstream's DefaultControllerRateLimiter
// (5ms doubling, capped at 1000s).
std::chrono::milliseconds backoffFor(int failures) {
  int64_t ms = 5;
  for (int i = 0; i < failures && ms < 1000 * 1000; ++i) ms *= 2;
  return std::chrono::milliseconds(std::min<int64_t>(ms, 1000 * 1000));
}

}  // namespace

// Handlers registered with the shared informers capture this guard, not
// the controller: stop() clears it, so that a handler running after the
// controller is gone does nothing.
struct ReplicaSetController::HandlerGuard {
  std::mutex mu;
  ReplicaSetController* self = nullptr;
};

// Creates in flight at once per sync: enough for the store's group commit
// to batch fsyncs, few enough threads for two cores.
constexpr int kSlowStartParallelism = 16;

SlowStartResult slowStartBatch(int count, int initial_batch_size,
                               const std::function<Status()>& fn, int parallelism) {
  SlowStartResult res;
  int remaining = count;
  for (int batch = std::min(remaining, initial_batch_size); batch > 0;
       batch = std::min(2 * batch, remaining)) {
    // Upstream runs a batch concurrently; every call of the batch is made
    // even when one fails, and the first error ends the run.
    std::mutex mu;
    bool failed = false;
    std::atomic<int> next{0};
    auto run = [&] {
      while (next.fetch_add(1) < batch) {
        Status s = fn();
        std::lock_guard lock(mu);
        if (s.ok()) {
          ++res.successes;
        } else if (!failed) {
          failed = true;
          res.error = s;
        }
      }
    };
    int threads = std::min(batch, std::max(parallelism, 1));
    std::vector<std::thread> helpers;
    for (int t = 1; t < threads; ++t) helpers.emplace_back(run);
    run();
    for (auto& t : helpers) t.join();
    if (failed) return res;
    remaining -= batch;
  }
  return res;
}

ReplicaSetController::ReplicaSetController(client::Client& client,
                                           client::InformerFactory& informers,
                                           client::EventRecorder& recorder, Clock& clock,
                                           int workers)
    : ReplicaSetController(client::kind("apps", "ReplicaSet"), client, informers, recorder, clock,
                           workers) {}

ReplicaSetController::ReplicaSetController(const api::KindInfo& kind, client::Client& client,
                                           client::InformerFactory& informers,
                                           client::EventRecorder& recorder, Clock& clock,
                                           int workers)
    : kind_(kind),
      client_(client),
      rs_informer_(informers.forKind(kind)),
      pod_informer_(informers.forKind("", "Pod")),
      clock_(clock),
      pod_control_(client, recorder),
      expectations_(clock),
      workers_count_(workers),
      guard_(std::make_shared<HandlerGuard>()) {
  guard_->self = this;
  addPodControllerUidIndex(pod_informer_);
  registerHandlers();
}

ReplicaSetController::~ReplicaSetController() { stop(); }

void ReplicaSetController::registerHandlers() {
  std::weak_ptr<HandlerGuard> weak = guard_;
  auto call = [weak](auto&& fn) {
    if (auto g = weak.lock()) {
      std::lock_guard lock(g->mu);
      if (g->self) fn(g->self);
    }
  };
  client::EventHandlers rs_handlers;
  rs_handlers.on_add = [call](const ObjectPtr& o) {
    call([&](ReplicaSetController* c) { c->addRs(o); });
  };
  rs_handlers.on_update = [call](const ObjectPtr& a, const ObjectPtr& b) {
    call([&](ReplicaSetController* c) { c->updateRs(a, b); });
  };
  rs_handlers.on_delete = [call](const ObjectPtr& o) {
    call([&](ReplicaSetController* c) { c->deleteRs(o); });
  };
  rs_informer_.addHandlers(std::move(rs_handlers));

  client::EventHandlers pod_handlers;
  pod_handlers.on_add = [call](const ObjectPtr& o) {
    call([&](ReplicaSetController* c) { c->addPod(o); });
  };
  pod_handlers.on_update = [call](const ObjectPtr& a, const ObjectPtr& b) {
    call([&](ReplicaSetController* c) { c->updatePod(a, b); });
  };
  pod_handlers.on_delete = [call](const ObjectPtr& o) {
    call([&](ReplicaSetController* c) { c->deletePod(o); });
  };
  pod_informer_.addHandlers(std::move(pod_handlers));
}

void ReplicaSetController::start() {
  std::lock_guard lock(mu_);
  if (starter_.joinable() || stopping_) return;
  starter_ = std::thread([this] {
    // WaitForNamedCacheSync: acting on a partial pod cache would create
    // pods that already exist.
    while (!stopping_) {
      if (rs_informer_.waitForSync(std::chrono::milliseconds(100)) &&
          pod_informer_.waitForSync(std::chrono::milliseconds(100)))
        break;
    }
    std::lock_guard lock(mu_);
    if (stopping_) return;
    workers_ = std::make_unique<WorkerPool>(
        queue_, [this](const std::string& key) { processKey(key); }, workers_count_);
    BERTH_LOG(kInfo, "controllers")
        << "started controller kind=" << kind_.kind << " workers=" << workers_count_;
  });
}

void ReplicaSetController::stop() {
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

void ReplicaSetController::processKey(const std::string& key) {
  Status s = sync(key);
  std::lock_guard lock(failures_mu_);
  if (s.ok()) {
    failures_.erase(key);
    return;
  }
  int n = failures_[key]++;
  BERTH_LOG(kWarning, "controllers")
      << "sync failed kind=" << kind_.kind << " key=" << key << " err=" << s.error().message;
  queue_.addAfter(key, backoffFor(n));
}

Result<api::LabelSelector> ReplicaSetController::selectorOf(const Object& rs) const {
  if (kind_.kind == "ReplicationController") {
    api::LabelMap set;
    for (const auto& [k, v] : api::stringMap(api::at(rs, {"spec", "selector"}))) set.emplace(k, v);
    return api::LabelSelector::fromSet(set);
  }
  return api::LabelSelector::fromObject(api::at(rs, {"spec", "selector"}));
}

int64_t ReplicaSetController::replicasOf(const Object& rs) const {
  return api::intAt(rs, {"spec", "replicas"}).value_or(1);
}

// ---- handlers ----

void ReplicaSetController::addRs(const ObjectPtr& rs) { queue_.add(client::keyOf(*rs)); }

void ReplicaSetController::updateRs(const ObjectPtr& old_rs, const ObjectPtr& cur_rs) {
  // A delete and re-create under the same name seen as one update: forget
  // the expectations of the old object.
  if (api::uid(*old_rs) != api::uid(*cur_rs)) deleteRs(old_rs);
  // Always enqueue (not only on spec.replicas changes) so that a ReplicaSet
  // whose last creates failed is retried on any update.
  queue_.add(client::keyOf(*cur_rs));
}

void ReplicaSetController::deleteRs(const ObjectPtr& rs) {
  std::string key = client::keyOf(*rs);
  expectations_.deleteExpectations(key);
  queue_.add(key);
}

ObjectPtr ReplicaSetController::resolveControllerRef(const std::string& ns,
                                                     const json::object& ref) const {
  return controllers::resolveControllerRef(rs_informer_, kind_.kind, ns, ref);
}

std::vector<ObjectPtr> ReplicaSetController::podReplicaSets(const Object& pod) const {
  std::vector<ObjectPtr> out;
  const json::object* labels = api::objAt(pod, {"metadata", "labels"});
  for (const auto& rs : rs_informer_.listNamespace(api::namespaceOf(pod))) {
    auto sel = selectorOf(*rs);
    // A nil or empty selector matches nothing here, not everything.
    if (!sel.ok() || sel->empty() || sel->matchesNothing() || !sel->matches(labels)) continue;
    out.push_back(rs);
  }
  if (out.size() > 1) {
    BERTH_LOG(kWarning, "controllers")
        << "user error: more than one " << kind_.kind << " selects pod=" << podKey(pod);
  }
  return out;
}

void ReplicaSetController::addPod(const ObjectPtr& pod) {
  if (hasDeletionTimestamp(*pod)) {
    // A pod already being deleted (seen after a restart) is not a creation.
    deletePod(pod);
    return;
  }
  if (const json::object* ref = controllerRef(*pod)) {
    ObjectPtr rs = resolveControllerRef(api::namespaceOf(*pod), *ref);
    if (!rs) return;
    std::string key = client::keyOf(*rs);
    expectations_.creationObserved(key);
    queue_.add(key);
    return;
  }
  // An orphan: every matching controller may want to adopt it. No creation
  // is observed since nobody created it.
  for (const auto& rs : podReplicaSets(*pod)) queue_.add(client::keyOf(*rs));
}

void ReplicaSetController::updatePod(const ObjectPtr& old_pod, const ObjectPtr& cur_pod) {
  if (api::strAt(*old_pod, {"metadata", "resourceVersion"}) ==
      api::strAt(*cur_pod, {"metadata", "resourceVersion"}))
    return;  // A resync, not a change.
  bool label_changed = api::labels(*old_pod) != api::labels(*cur_pod);
  if (hasDeletionTimestamp(*cur_pod)) {
    // Graceful deletion: count the delete now rather than when the kubelet
    // finally removes the pod, so replacements start at once.
    deletePod(cur_pod);
    if (label_changed) deletePod(old_pod);
    return;
  }
  const json::object* cur_ref = controllerRef(*cur_pod);
  const json::object* old_ref = controllerRef(*old_pod);
  bool ref_changed =
      (cur_ref == nullptr) != (old_ref == nullptr) || (cur_ref && *cur_ref != *old_ref);
  if (ref_changed && old_ref) {
    if (ObjectPtr rs = resolveControllerRef(api::namespaceOf(*old_pod), *old_ref))
      queue_.add(client::keyOf(*rs));
  }
  if (cur_ref) {
    ObjectPtr rs = resolveControllerRef(api::namespaceOf(*cur_pod), *cur_ref);
    if (!rs) return;
    queue_.add(client::keyOf(*rs));
    // A pod that just became ready becomes available minReadySeconds later;
    // nothing else would wake the controller then (+1s against skew).
    int64_t min_ready = api::intAt(*rs, {"spec", "minReadySeconds"}).value_or(0);
    if (!isPodReady(*old_pod) && isPodReady(*cur_pod) && min_ready > 0)
      queue_.addAfter(client::keyOf(*rs), std::chrono::seconds(min_ready + 1));
    return;
  }
  if (label_changed || ref_changed) {
    for (const auto& rs : podReplicaSets(*cur_pod)) queue_.add(client::keyOf(*rs));
  }
}

void ReplicaSetController::deletePod(const ObjectPtr& pod) {
  const json::object* ref = controllerRef(*pod);
  if (!ref) return;  // Nobody cares about orphans going away.
  ObjectPtr rs = resolveControllerRef(api::namespaceOf(*pod), *ref);
  if (!rs) return;
  std::string key = client::keyOf(*rs);
  expectations_.deletionObserved(key, podKey(*pod));
  queue_.add(key);
}

// ---- sync ----

std::vector<ObjectPtr> ReplicaSetController::indirectlyRelatedPods(const Object& rs) const {
  // Pods of every ReplicaSet with the same controller (the Deployment's
  // other revisions), for ranking co-located pods.
  std::vector<ObjectPtr> related;
  std::string owner_uid = controllerUid(rs);
  if (owner_uid.empty()) return related;
  std::set<std::string> seen;
  const std::string ns = api::namespaceOf(rs);
  for (const auto& other : rs_informer_.listNamespace(ns)) {
    if (controllerUid(*other) != owner_uid) continue;
    for (const auto& pod : ownedAndOrphanPods(pod_informer_, ns, api::uid(*other))) {
      if (seen.insert(api::uid(*pod)).second) related.push_back(pod);
    }
  }
  return related;
}

Status ReplicaSetController::manageReplicas(const std::vector<ObjectPtr>& filtered_pods,
                                            const Object& rs, const std::string& key) {
  int64_t diff = static_cast<int64_t>(filtered_pods.size()) - replicasOf(rs);
  const std::string ns = api::namespaceOf(rs);
  if (diff < 0) {
    int n = static_cast<int>(std::min<int64_t>(-diff, burst_replicas_));
    // Expect the creations before making them: the informer may see a new
    // pod before createPod returns.
    expectations_.expectCreations(key, n);
    BERTH_LOG(kDebug, "controllers") << "too few replicas kind=" << kind_.kind << " key=" << key
                                     << " need=" << replicasOf(rs) << " creating=" << n;
    const json::object* tmpl = api::objAt(rs, {"spec", "template"});
    json::object empty_tmpl;
    json::object ref = newControllerRef(rs, kind_);
    SlowStartResult res = slowStartBatch(
        n, kSlowStartInitialBatchSize,
        [&]() -> Status {
          auto created = pod_control_.createPod(ns, tmpl ? *tmpl : empty_tmpl, rs, ref);
          if (!created.ok()) {
            // Every create in a terminating namespace fails; nothing to retry.
            if (hasNamespaceTerminatingCause(created.error())) return okStatus();
            return created.error();
          }
          return okStatus();
        },
        kSlowStartParallelism);
    // Pods never attempted (or failed) will not be observed.
    for (int skipped = n - res.successes; skipped > 0; --skipped)
      expectations_.creationObserved(key);
    return res.error;
  }
  if (diff > 0) {
    int n = static_cast<int>(std::min<int64_t>(diff, burst_replicas_));
    BERTH_LOG(kDebug, "controllers") << "too many replicas kind=" << kind_.kind << " key=" << key
                                     << " need=" << replicasOf(rs) << " deleting=" << n;
    std::vector<ObjectPtr> to_delete = filtered_pods;
    if (static_cast<size_t>(n) < to_delete.size()) {
      // getPodsRankedByRelatedPodsOnSameNode: rank = active related pods on
      // the pod's node.
      std::map<std::string, int> on_node;
      for (const auto& p : indirectlyRelatedPods(rs))
        if (isPodActive(*p)) ++on_node[api::strAt(*p, {"spec", "nodeName"})];
      std::vector<int> ranks;
      for (const auto& p : to_delete)
        ranks.push_back(on_node[api::strAt(*p, {"spec", "nodeName"})]);
      sortActivePodsWithRanks(to_delete, ranks, clock_.now());
    }
    to_delete.resize(n);
    std::vector<std::string> keys;
    for (const auto& p : to_delete) keys.push_back(podKey(*p));
    // Track the keys so a graceful delete (deletionTimestamp set) and the
    // final removal count once.
    expectations_.expectDeletions(key, keys);
    Status first_err;
    for (const auto& p : to_delete) {
      Status s = pod_control_.deletePod(ns, api::name(*p), rs);
      if (!s.ok()) {
        // The informer will not observe this deletion.
        expectations_.deletionObserved(key, podKey(*p));
        if (s.error().code != ErrorCode::kNotFound && first_err.ok()) first_err = s;
      }
    }
    return first_err;
  }
  return okStatus();
}

json::object ReplicaSetController::calculateStatus(const Object& rs,
                                                   const std::vector<ObjectPtr>& filtered_pods,
                                                   const Status& manage_err) const {
  json::object status;
  if (const json::object* s = api::objAt(rs, {"status"})) status = *s;
  int64_t fully_labeled = 0, ready = 0, available = 0;
  api::LabelMap template_labels;
  for (const auto& [k, v] : api::stringMap(api::at(rs, {"spec", "template", "metadata", "labels"})))
    template_labels.emplace(k, v);
  api::LabelSelector template_sel = api::LabelSelector::fromSet(template_labels);
  int64_t min_ready = api::intAt(rs, {"spec", "minReadySeconds"}).value_or(0);
  auto now = clock_.now();
  for (const auto& p : filtered_pods) {
    if (template_sel.matches(api::objAt(*p, {"metadata", "labels"}))) ++fully_labeled;
    if (isPodReady(*p)) {
      ++ready;
      if (isPodAvailable(*p, min_ready, now)) ++available;
    }
  }
  const json::object* failure = findCondition(status, kReplicaFailure);
  if (!manage_err.ok() && !failure) {
    int64_t diff = static_cast<int64_t>(filtered_pods.size()) - replicasOf(rs);
    std::string reason;
    if (diff < 0)
      reason = kFailedCreatePodReason;
    else if (diff > 0)
      reason = kFailedDeletePodReason;
    json::object cond;
    cond["type"] = kReplicaFailure;
    cond["status"] = "True";
    cond["lastTransitionTime"] = formatRfc3339(now);
    cond["reason"] = reason;
    cond["message"] = manage_err.error().message;
    setCondition(status, std::move(cond));
  } else if (manage_err.ok() && failure) {
    removeCondition(status, kReplicaFailure);
  }
  status["replicas"] = static_cast<int64_t>(filtered_pods.size());
  setCount(status, "fullyLabeledReplicas", fully_labeled);
  setCount(status, "readyReplicas", ready);
  setCount(status, "availableReplicas", available);
  return status;
}

Result<ObjectPtr> ReplicaSetController::updateStatus(const Object& rs,
                                                     const json::object& new_status) {
  const json::object* cur = api::objAt(rs, {"status"});
  json::object empty;
  const json::object& old_status = cur ? *cur : empty;
  int64_t generation = api::intAt(rs, {"metadata", "generation"}).value_or(0);
  auto conds = [](const json::object& s) {
    const json::value* v = s.if_contains("conditions");
    return v ? *v : json::value();
  };
  // The steady state: nothing changed and the generation was observed.
  if (count(old_status, "replicas") == count(new_status, "replicas") &&
      count(old_status, "fullyLabeledReplicas") == count(new_status, "fullyLabeledReplicas") &&
      count(old_status, "readyReplicas") == count(new_status, "readyReplicas") &&
      count(old_status, "availableReplicas") == count(new_status, "availableReplicas") &&
      generation == count(old_status, "observedGeneration") &&
      conds(old_status) == conds(new_status)) {
    return std::make_shared<const Object>(rs);
  }
  json::object status = new_status;
  setCount(status, "observedGeneration", generation);
  Object obj = rs;
  for (int i = 0;; ++i) {
    obj["status"] = status;
    auto updated = client_.update(kind_, obj, client::Subresource::kStatus);
    if (updated.ok() || i >= kStatusUpdateRetries) return updated;
    // Stale cache: retry once on the latest version.
    auto fresh = client_.get(kind_, api::namespaceOf(rs), api::name(rs));
    if (!fresh.ok()) return fresh.error();
    obj = **fresh;
  }
}

Status ReplicaSetController::sync(const std::string& key) {
  std::string ns, name;
  client::splitKey(key, &ns, &name);
  ObjectPtr rs_ptr = rs_informer_.get(ns, name);
  if (!rs_ptr) {
    BERTH_LOG(kDebug, "controllers") << "deleted kind=" << kind_.kind << " key=" << key;
    expectations_.deleteExpectations(key);
    return okStatus();
  }
  const Object& rs = *rs_ptr;
  bool needs_sync = expectations_.satisfied(key);
  auto selector = selectorOf(rs);
  if (!selector.ok()) {
    BERTH_LOG(kWarning, "controllers") << "invalid selector kind=" << kind_.kind << " key=" << key
                                       << " err=" << selector.error().message;
    return okStatus();
  }
  // Owned pods (also those that stopped matching, to release them) and the
  // namespace's orphans (to adopt), from the controller-UID index.
  const std::string rs_uid = api::uid(rs);
  std::vector<ObjectPtr> filtered = filterActivePods(ownedAndOrphanPods(pod_informer_, ns, rs_uid));
  ControllerRefManager cm(
      client_, rs, kind_, *selector, recheckDeletionTimestamp([this, ns, name, rs_uid]() {
        auto fresh = client_.get(kind_, ns, name);
        if (!fresh.ok()) return fresh;
        if (api::uid(**fresh) != rs_uid) {
          return Result<ObjectPtr>(
              makeError(ErrorCode::kConflict, "original " + kind_.kind + " " + ns + "/" + name +
                                                  " is gone: got uid " + api::uid(**fresh) +
                                                  ", wanted " + rs_uid));
        }
        return fresh;
      }));
  auto claimed = cm.claimPods(filtered);
  if (!claimed.ok()) return claimed.error();

  Status manage_err;
  if (needs_sync && !hasDeletionTimestamp(rs)) manage_err = manageReplicas(*claimed, rs, key);

  json::object new_status = calculateStatus(rs, *claimed, manage_err);
  auto updated = updateStatus(rs, new_status);
  if (!updated.ok()) return updated.error();
  const Object& u = **updated;
  // Resync after minReadySeconds as a last line of defence against skew:
  // ready pods become available without any event.
  int64_t min_ready = api::intAt(u, {"spec", "minReadySeconds"}).value_or(0);
  int64_t replicas = replicasOf(u);
  if (manage_err.ok() && min_ready > 0 &&
      api::intAt(u, {"status", "readyReplicas"}).value_or(0) == replicas &&
      api::intAt(u, {"status", "availableReplicas"}).value_or(0) != replicas) {
    queue_.addAfter(key, std::chrono::seconds(min_ready));
  }
  return manage_err;
}

ReplicationManager::ReplicationManager(client::Client& client, client::InformerFactory& informers,
                                       client::EventRecorder& recorder, Clock& clock, int workers)
    : ReplicaSetController(client::kind("", "ReplicationController"), client, informers, recorder,
                           clock, workers) {}

}  // namespace berth::controllers
