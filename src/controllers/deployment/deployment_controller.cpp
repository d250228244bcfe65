#include "controllers/deployment/deployment_controller.h"

#include <algorithm>

#include "api/kinds/access.h"
#include "api/object.h"
#include "api/selector.h"
#include "common/log.h"
#include "controllers/deployment/deployment_util.h"
#include "controllers/pod_control.h"
#include "controllers/pod_util.h"

namespace berth::controllers {

namespace json = boost::json;
namespace du = deploymentutil;
using api::Object;
using client::ObjectPtr;

namespace {

const api::KindInfo& deploymentKind() { return client::kind("apps", "Deployment"); }
const api::KindInfo& replicaSetKind() { return client::kind("apps", "ReplicaSet"); }

std::string rvOf(const Object& o) { return api::strAt(o, {"metadata", "resourceVersion"}); }

// Exponential per-key backoff of upstream's DefaultControllerRateLimiter
// (5ms doubling, capped at 1000s).
std::chrono::milliseconds backoffFor(int failures) {
  int64_t ms = 5;
  for (int i = 0; i < failures && ms < 1000 * 1000; ++i) ms *= 2;
  return std::chrono::milliseconds(std::min<int64_t>(ms, 1000 * 1000));
}

json::object& statusOf(Object& d) { return api::ensureObject(d, "status"); }

// Replaces the entry with the same uid (or appends): later steps of one sync
// see the replica sets this sync wrote.
void replaceInList(std::vector<ObjectPtr>& rss, const ObjectPtr& updated) {
  for (auto& rs : rss) {
    if (rs && api::uid(*rs) == api::uid(*updated)) {
      rs = updated;
      return;
    }
  }
  rss.push_back(updated);
}

}  // namespace

struct DeploymentController::HandlerGuard {
  std::mutex mu;
  DeploymentController* self = nullptr;
};

DeploymentController::DeploymentController(client::Client& client,
                                           client::InformerFactory& informers,
                                           client::EventRecorder& recorder, Clock& clock,
                                           int workers)
    : client_(client),
      d_informer_(informers.forKind(deploymentKind())),
      rs_informer_(informers.forKind(replicaSetKind())),
      pod_informer_(informers.forKind("", "Pod")),
      recorder_(recorder),
      clock_(clock),
      workers_count_(workers),
      guard_(std::make_shared<HandlerGuard>()) {
  guard_->self = this;
  addPodControllerUidIndex(pod_informer_);
  registerHandlers();
}

DeploymentController::~DeploymentController() { stop(); }

void DeploymentController::registerHandlers() {
  std::weak_ptr<HandlerGuard> weak = guard_;
  auto call = [weak](auto&& fn) {
    if (auto g = weak.lock()) {
      std::lock_guard lock(g->mu);
      if (g->self) fn(g->self);
    }
  };
  client::EventHandlers dh;
  dh.on_add = [call](const ObjectPtr& o) {
    call([&](DeploymentController* c) { c->enqueue(*o); });
  };
  dh.on_update = [call](const ObjectPtr&, const ObjectPtr& o) {
    call([&](DeploymentController* c) { c->enqueue(*o); });
  };
  // The sync finds nothing in the cache and does nothing; kept for parity.
  dh.on_delete = [call](const ObjectPtr& o) {
    call([&](DeploymentController* c) { c->enqueue(*o); });
  };
  d_informer_.addHandlers(std::move(dh));

  client::EventHandlers rh;
  rh.on_add = [call](const ObjectPtr& o) {
    call([&](DeploymentController* c) { c->addReplicaSet(o); });
  };
  rh.on_update = [call](const ObjectPtr& a, const ObjectPtr& b) {
    call([&](DeploymentController* c) { c->updateReplicaSet(a, b); });
  };
  rh.on_delete = [call](const ObjectPtr& o) {
    call([&](DeploymentController* c) { c->deleteReplicaSet(o); });
  };
  rs_informer_.addHandlers(std::move(rh));

  client::EventHandlers ph;
  ph.on_delete = [call](const ObjectPtr& o) {
    call([&](DeploymentController* c) { c->deletePod(o); });
  };
  pod_informer_.addHandlers(std::move(ph));
}

void DeploymentController::start() {
  std::lock_guard lock(mu_);
  if (starter_.joinable() || stopping_) return;
  starter_ = std::thread([this] {
    while (!stopping_) {
      if (d_informer_.waitForSync(std::chrono::milliseconds(100)) &&
          rs_informer_.waitForSync(std::chrono::milliseconds(100)) &&
          pod_informer_.waitForSync(std::chrono::milliseconds(100)))
        break;
    }
    std::lock_guard lock(mu_);
    if (stopping_) return;
    workers_ = std::make_unique<WorkerPool>(
        queue_, [this](const std::string& key) { processKey(key); }, workers_count_);
    BERTH_LOG(kInfo, "controllers")
        << "started controller kind=Deployment workers=" << workers_count_;
  });
}

void DeploymentController::stop() {
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

void DeploymentController::processKey(const std::string& key) {
  Status s = sync(key);
  std::lock_guard lock(failures_mu_);
  if (s.ok()) {
    failures_.erase(key);
    return;
  }
  int n = failures_[key]++;
  if (n < kMaxRetries) {
    BERTH_LOG(kDebug, "controllers")
        << "error syncing deployment key=" << key << " err=" << s.error().message;
    queue_.addAfter(key, backoffFor(n));
    return;
  }
  BERTH_LOG(kWarning, "controllers")
      << "dropping deployment out of the queue key=" << key << " err=" << s.error().message;
  failures_.erase(key);
}

std::chrono::milliseconds DeploymentController::lastProgressRequeue(const std::string& key) {
  std::lock_guard lock(failures_mu_);
  auto it = progress_requeues_.find(key);
  return it == progress_requeues_.end() ? std::chrono::milliseconds(0) : it->second;
}

// ---- handlers ----

void DeploymentController::enqueue(const Object& d) { queue_.add(client::keyOf(d)); }

ObjectPtr DeploymentController::resolveControllerRef(const std::string& ns,
                                                     const json::object& ref) const {
  return controllers::resolveControllerRef(d_informer_, "Deployment", ns, ref);
}

std::vector<ObjectPtr> DeploymentController::deploymentsForReplicaSet(const Object& rs) const {
  const json::object* labels = api::objAt(rs, {"metadata", "labels"});
  // Upstream: "no deployments found for ReplicaSet ... because it has no labels".
  if (!labels || labels->empty()) return {};
  std::vector<ObjectPtr> out = ownersSelecting(d_informer_, rs);
  if (out.size() > 1) {
    BERTH_LOG(kDebug, "controllers")
        << "user error: more than one deployment selects replicaset=" << client::keyOf(rs);
  }
  return out;
}

void DeploymentController::addReplicaSet(const ObjectPtr& rs) {
  if (hasDeletionTimestamp(*rs)) {
    deleteReplicaSet(rs);
    return;
  }
  if (const json::object* ref = controllerRef(*rs)) {
    if (ObjectPtr d = resolveControllerRef(api::namespaceOf(*rs), *ref)) enqueue(*d);
    return;
  }
  for (const auto& d : deploymentsForReplicaSet(*rs)) enqueue(*d);
}

void DeploymentController::updateReplicaSet(const ObjectPtr& old_rs, const ObjectPtr& cur_rs) {
  if (rvOf(*old_rs) == rvOf(*cur_rs)) return;
  const json::object* cur_ref = controllerRef(*cur_rs);
  const json::object* old_ref = controllerRef(*old_rs);
  bool ref_changed =
      (cur_ref == nullptr) != (old_ref == nullptr) || (cur_ref && *cur_ref != *old_ref);
  if (ref_changed && old_ref) {
    if (ObjectPtr d = resolveControllerRef(api::namespaceOf(*old_rs), *old_ref)) enqueue(*d);
  }
  if (cur_ref) {
    if (ObjectPtr d = resolveControllerRef(api::namespaceOf(*cur_rs), *cur_ref)) enqueue(*d);
    return;
  }
  bool label_changed = api::labels(*old_rs) != api::labels(*cur_rs);
  if (label_changed || ref_changed)
    for (const auto& d : deploymentsForReplicaSet(*cur_rs)) enqueue(*d);
}

void DeploymentController::deleteReplicaSet(const ObjectPtr& rs) {
  const json::object* ref = controllerRef(*rs);
  if (!ref) return;
  if (ObjectPtr d = resolveControllerRef(api::namespaceOf(*rs), *ref)) enqueue(*d);
}

ObjectPtr DeploymentController::deploymentForPod(const Object& pod) const {
  const json::object* ref = controllerRef(pod);
  if (!ref || api::strAt(*ref, {"kind"}) != "ReplicaSet") return nullptr;
  ObjectPtr rs = rs_informer_.get(api::namespaceOf(pod), api::strAt(*ref, {"name"}));
  if (!rs || api::uid(*rs) != api::strAt(*ref, {"uid"})) return nullptr;
  const json::object* rs_ref = controllerRef(*rs);
  if (!rs_ref) return nullptr;
  return resolveControllerRef(api::namespaceOf(*rs), *rs_ref);
}

void DeploymentController::deletePod(const ObjectPtr& pod) {
  // A Recreate deployment waits for every old pod to go before it scales
  // up the new replica set: wake it when the last one is gone.
  ObjectPtr d = deploymentForPod(*pod);
  if (!d || api::strAt(*d, {"spec", "strategy", "type"}) != "Recreate") return;
  RsList owned;
  for (const auto& rs : rs_informer_.listNamespace(api::namespaceOf(*d)))
    if (controllerUid(*rs) == api::uid(*d)) owned.push_back(rs);
  size_t pods = 0;
  for (const auto& [uid, list] : podMapForDeployment(*d, owned)) pods += list.size();
  if (pods == 0) enqueue(*d);
}

// ---- reads ----

Result<DeploymentController::RsList> DeploymentController::replicaSetsForDeployment(
    const Object& d) {
  const std::string ns = api::namespaceOf(d), name = api::name(d), uid = api::uid(d);
  auto sel = api::LabelSelector::fromObject(api::at(d, {"spec", "selector"}));
  if (!sel.ok()) {
    return makeError(
        ErrorCode::kInvalid,
        "deployment " + ns + "/" + name + " has invalid label selector: " + sel.error().message);
  }
  // All replica sets of the namespace, so owned ones that stopped matching
  // are released.
  RsList all = rs_informer_.listNamespace(ns);
  ControllerRefManager cm(
      client_, d, deploymentKind(), *sel, recheckDeletionTimestamp([this, ns, name, uid]() {
        auto fresh = client_.get(deploymentKind(), ns, name);
        if (!fresh.ok()) return fresh;
        if (api::uid(**fresh) != uid) {
          return Result<ObjectPtr>(
              makeError(ErrorCode::kConflict, "original Deployment " + ns + "/" + name +
                                                  " is gone: got uid " + api::uid(**fresh) +
                                                  ", wanted " + uid));
        }
        return fresh;
      }));
  return cm.claim(replicaSetKind(), all);
}

std::map<std::string, std::vector<ObjectPtr>> DeploymentController::podMapForDeployment(
    const Object& d, const RsList& rss) const {
  std::map<std::string, std::vector<ObjectPtr>> out;
  for (const auto& rs : rss)
    if (rs) out[api::uid(*rs)];
  auto sel = api::LabelSelector::fromObject(api::at(d, {"spec", "selector"}));
  if (!sel.ok()) return out;
  // Each ReplicaSet's pods from the controller-UID index, narrowed to the
  // Deployment's selector. Inactive pods count too: Recreate must see that
  // no old pod runs.
  for (auto& [rs_uid, pods] : out) {
    for (const auto& pod : pod_informer_.byIndex(kPodControllerUidIndex, rs_uid))
      if (sel->matches(api::objAt(*pod, {"metadata", "labels"}))) pods.push_back(pod);
  }
  return out;
}

// ---- sync ----

Status DeploymentController::writeStatus(Object& d) {
  auto updated = client_.update(deploymentKind(), d, client::Subresource::kStatus);
  if (!updated.ok()) return updated.error();
  api::mutableMetadata(d)["resourceVersion"] = rvOf(**updated);
  // Upstream's deployment status strategy resets only spec and labels, so
  // the revision annotation travels with status updates. Where a server
  // keeps nothing but status, write it through the main resource.
  std::string want = du::annotation(d, du::kRevisionAnnotation);
  if (!want.empty() && du::annotation(**updated, du::kRevisionAnnotation) != want) {
    json::object patch{
        {"metadata", json::object{{"annotations", json::object{{du::kRevisionAnnotation, want}}}}}};
    auto patched = client_.patch(deploymentKind(), api::namespaceOf(d), api::name(d),
                                 client::PatchType::kMerge, json::serialize(patch));
    if (!patched.ok()) return patched.error();
    api::mutableMetadata(d)["resourceVersion"] = rvOf(**patched);
  }
  return okStatus();
}

Status DeploymentController::sync(const std::string& key) {
  std::string ns, name;
  client::splitKey(key, &ns, &name);
  ObjectPtr cached = d_informer_.get(ns, name);
  if (!cached) {
    BERTH_LOG(kDebug, "controllers") << "deployment has been deleted key=" << key;
    return okStatus();
  }
  Object d = *cached;  // a copy: the cache is shared

  auto sel = api::LabelSelector::fromObject(api::at(d, {"spec", "selector"}));
  if (sel.ok() && sel->empty()) {
    recorder_.record(d, "Warning", "SelectingAll",
                     "This deployment is selecting all pods. A non-empty selector is required.");
    int64_t generation = api::intAt(d, {"metadata", "generation"}).value_or(0);
    if (api::intAt(d, {"status", "observedGeneration"}).value_or(0) < generation) {
      statusOf(d)["observedGeneration"] = generation;
      (void)writeStatus(d);
    }
    return okStatus();
  }

  // Owned replica sets, reconciling ownership (adopt / release).
  BERTH_ASSIGN_OR_RETURN(RsList rss, replicaSetsForDeployment(d));
  // Pods by replica set uid: Recreate checks that no old pod still runs.
  auto pod_map = podMapForDeployment(d, rss);

  if (hasDeletionTimestamp(d)) return syncStatusOnly(d, rss);

  // Pausing and resuming are recorded as Progressing=Unknown so that a
  // resumed deployment does not time out for the time it was paused.
  BERTH_RETURN_IF_ERROR(checkPausedConditions(d));
  if (du::isPaused(d)) return syncScale(d, rss);

  // Not re-entrant: the annotation is cleared before anything else happens.
  if (du::rollbackTo(d)) return rollback(d, rss);

  BERTH_ASSIGN_OR_RETURN(bool scaling, isScalingEvent(d, rss));
  if (scaling) return syncScale(d, rss);

  std::string type = api::strAt(d, {"spec", "strategy", "type"});
  if (type == "Recreate") return rolloutRecreate(d, rss, pod_map);
  if (type.empty() || type == "RollingUpdate") return rolloutRolling(d, rss);
  return makeError(ErrorCode::kInvalid, "unexpected deployment strategy type: " + type);
}

Status DeploymentController::syncStatusOnly(Object& d, RsList& rss) {
  BERTH_ASSIGN_OR_RETURN(RsSets sets, allReplicaSetsAndSyncRevision(d, rss, false));
  RsList all = sets.old_rss;
  all.push_back(sets.new_rs);
  return syncDeploymentStatus(all, sets.new_rs, d);
}

Status DeploymentController::syncScale(Object& d, RsList& rss) {
  BERTH_ASSIGN_OR_RETURN(RsSets sets, allReplicaSetsAndSyncRevision(d, rss, false));
  BERTH_RETURN_IF_ERROR(scale(d, sets.new_rs, sets.old_rss));
  // A paused deployment (no rollback pending) keeps its history trimmed.
  if (du::isPaused(d) && !du::rollbackTo(d))
    BERTH_RETURN_IF_ERROR(cleanupDeployment(sets.old_rss, d));
  RsList all = sets.old_rss;
  all.push_back(sets.new_rs);
  return syncDeploymentStatus(all, sets.new_rs, d);
}

Status DeploymentController::checkPausedConditions(Object& d) {
  if (!du::hasProgressDeadline(d)) return okStatus();
  json::object& status = statusOf(d);
  const json::object* cond = du::getCondition(status, "Progressing");
  std::string reason = cond ? api::strAt(*cond, {"reason"}) : "";
  // A reported timeout is not overwritten by a pause.
  if (reason == du::kTimedOutReason) return okStatus();
  bool paused_cond = reason == du::kPausedDeployReason;
  auto now = clock_.now();
  if (du::isPaused(d) && !paused_cond) {
    du::setCondition(status, du::newCondition("Progressing", "Unknown", du::kPausedDeployReason,
                                              "Deployment is paused", now));
  } else if (!du::isPaused(d) && paused_cond) {
    du::setCondition(status, du::newCondition("Progressing", "Unknown", du::kResumedDeployReason,
                                              "Deployment is resumed", now));
  } else {
    return okStatus();
  }
  return writeStatus(d);
}

Result<DeploymentController::RsSets> DeploymentController::allReplicaSetsAndSyncRevision(
    Object& d, RsList& rss, bool create) {
  auto [required, all_old] = du::findOldReplicaSets(d, rss);
  (void)required;
  BERTH_ASSIGN_OR_RETURN(ObjectPtr new_rs, newReplicaSet(d, rss, all_old, create));
  // Old replica sets as this sync now knows them.
  RsList old_now;
  for (const auto& o : all_old) {
    ObjectPtr cur = o;
    for (const auto& r : rss)
      if (r && api::uid(*r) == api::uid(*o)) cur = r;
    old_now.push_back(cur);
  }
  return RsSets{new_rs, old_now};
}

Result<ObjectPtr> DeploymentController::newReplicaSet(Object& d, RsList& rss, const RsList& old_rss,
                                                      bool create) {
  ObjectPtr existing = du::findNewReplicaSet(d, rss);
  const std::string new_revision = std::to_string(du::maxRevision(old_rss) + 1);
  const std::string ns = api::namespaceOf(d);
  auto now = clock_.now();

  if (existing) {
    // Sync the new replica set's annotations (the revision moves up when an
    // old template is reused: a rollback) and minReadySeconds, then the
    // deployment's revision.
    Object copy = *existing;
    bool annotations_updated = du::setNewReplicaSetAnnotations(d, copy, new_revision, true);
    bool min_ready_update = du::minReadySeconds(copy) != du::minReadySeconds(d);
    if (annotations_updated || min_ready_update) {
      if (du::minReadySeconds(d) == 0)
        api::ensureObject(copy, "spec").erase("minReadySeconds");
      else
        api::ensureObject(copy, "spec")["minReadySeconds"] = du::minReadySeconds(d);
      auto updated = client_.update(replicaSetKind(), copy);
      if (!updated.ok()) return updated.error();
      replaceInList(rss, *updated);
      return *updated;
    }
    bool needs_update = du::setDeploymentRevision(d, du::annotation(copy, du::kRevisionAnnotation));
    // Deployments that never reported progress start now.
    json::object& status = statusOf(d);
    if (du::hasProgressDeadline(d) && !du::getCondition(status, "Progressing")) {
      du::setCondition(status,
                       du::newCondition("Progressing", "True", du::kFoundNewRSReason,
                                        "Found new replica set \"" + api::name(copy) + "\"", now));
      needs_update = true;
    }
    if (needs_update) BERTH_RETURN_IF_ERROR(writeStatus(d));
    return existing;
  }
  if (!create) return ObjectPtr();

  // The new replica set: the template plus the pod-template-hash label, in
  // its labels, its selector and its name.
  json::object tmpl;
  if (const json::object* t = api::objAt(d, {"spec", "template"})) tmpl = *t;
  std::string hash = du::computeHash(tmpl, du::collisionCount(d));
  api::ensureObject(api::ensureObject(tmpl, "metadata"), "labels")[du::kPodTemplateHashLabel] =
      hash;
  json::object selector;
  if (const json::object* s = api::objAt(d, {"spec", "selector"})) selector = *s;
  api::ensureObject(selector, "matchLabels")[du::kPodTemplateHashLabel] = hash;

  Object rs;
  rs["apiVersion"] = "apps/v1";
  rs["kind"] = "ReplicaSet";
  json::object meta;
  meta["name"] = api::name(d) + "-" + hash;  // deterministic, for idempotence
  meta["namespace"] = ns;
  meta["labels"] = tmpl["metadata"].as_object()["labels"];
  meta["ownerReferences"] = json::array{newControllerRef(d, deploymentKind())};
  rs["metadata"] = std::move(meta);
  json::object spec;
  spec["replicas"] = 0;
  if (du::minReadySeconds(d) != 0) spec["minReadySeconds"] = du::minReadySeconds(d);
  spec["selector"] = std::move(selector);
  spec["template"] = std::move(tmpl);
  rs["spec"] = std::move(spec);

  RsList all = old_rss;
  all.push_back(std::make_shared<const Object>(rs));
  BERTH_ASSIGN_OR_RETURN(int64_t new_replicas, du::newRSNewReplicas(d, all, rs));
  rs["spec"].as_object()["replicas"] = new_replicas;
  du::setNewReplicaSetAnnotations(d, rs, new_revision, false);

  const std::string rs_name = api::name(rs);
  bool already_exists = false;
  ObjectPtr created;
  auto res = client_.create(replicaSetKind(), rs);
  if (res.ok()) {
    created = *res;
  } else if (res.error().code == ErrorCode::kAlreadyExists) {
    // A slow cache, or a hash collision with a replica set of another
    // template (or owner).
    already_exists = true;
    ObjectPtr found = rs_informer_.get(ns, rs_name);
    if (!found)
      return makeError(ErrorCode::kNotFound, "replicaset.apps \"" + rs_name + "\" not found");
    const json::object* found_tmpl = api::objAt(*found, {"spec", "template"});
    const json::object* d_tmpl = api::objAt(d, {"spec", "template"});
    json::object empty;
    if (controllerUid(*found) == api::uid(d) &&
        du::equalIgnoreHash(found_tmpl ? *found_tmpl : empty, d_tmpl ? *d_tmpl : empty)) {
      created = found;
    } else {
      // Collision: bump collisionCount so the next hash differs, and retry.
      int64_t before = du::collisionCount(d).value_or(0);
      statusOf(d)["collisionCount"] = before + 1;
      if (writeStatus(d).ok()) {
        BERTH_LOG(kInfo, "controllers") << "hash collision for deployment key=" << ns << "/"
                                        << api::name(d) << " collision_count=" << before + 1;
      }
      return res.error();
    }
  } else if (hasNamespaceTerminatingCause(res.error())) {
    return res.error();
  } else {
    std::string msg =
        "Failed to create new replica set \"" + rs_name + "\": " + res.error().message;
    if (du::hasProgressDeadline(d)) {
      du::setCondition(statusOf(d), du::newCondition("Progressing", "False",
                                                     du::kFailedRSCreateReason, msg, now));
      (void)writeStatus(d);  // the create error is the bigger problem
    }
    recorder_.record(d, "Warning", du::kFailedRSCreateReason, msg);
    return res.error();
  }
  replaceInList(rss, created);
  if (!already_exists && new_replicas > 0) {
    recorder_.record(d, "Normal", "ScalingReplicaSet",
                     "Scaled up replica set " + api::name(*created) + " from 0 to " +
                         std::to_string(new_replicas));
  }
  bool needs_update = du::setDeploymentRevision(d, new_revision);
  if (!already_exists && du::hasProgressDeadline(d)) {
    du::setCondition(
        statusOf(d),
        du::newCondition("Progressing", "True", du::kNewReplicaSetReason,
                         "Created new replica set \"" + api::name(*created) + "\"", now));
    needs_update = true;
  }
  if (needs_update) BERTH_RETURN_IF_ERROR(writeStatus(d));
  return created;
}

Status DeploymentController::scale(Object& d, const ObjectPtr& new_rs, RsList& old_rss) {
  const int64_t want = du::replicas(d);
  bool scaled = false;
  // One active (or none: the newest) replica set takes the whole count.
  if (ObjectPtr only = du::findActiveOrLatest(new_rs, old_rss)) {
    if (du::replicas(*only) == want) return okStatus();
    auto r = scaleReplicaSetAndRecordEvent(only, want, d, &scaled);
    return r.ok() ? okStatus() : Status(r.error());
  }
  // A saturated new replica set (adopted mid-rollout) retires the old ones.
  if (du::isSaturated(d, new_rs)) {
    for (const auto& old : du::filterActiveReplicaSets(old_rss)) {
      auto r = scaleReplicaSetAndRecordEvent(old, 0, d, &scaled);
      if (!r.ok()) return r.error();
    }
    return okStatus();
  }
  // Several active replica sets mid-rollout: spread the change over them in
  // proportion to their size so the rollout neither speeds up nor slows.
  if (du::isRollingUpdate(d)) {
    RsList all = old_rss;
    all.push_back(new_rs);
    all = du::filterActiveReplicaSets(all);
    int64_t all_replicas = du::replicaCount(all);
    int64_t allowed = want > 0 ? want + du::maxSurge(d) : 0;
    int64_t to_add = allowed - all_replicas;
    // Scale up bigger (then newer) first; scale down bigger (then older).
    if (to_add > 0)
      du::sortBySizeNewer(all);
    else if (to_add < 0)
      du::sortBySizeOlder(all);
    int64_t added = 0;
    std::map<std::string, int64_t> sizes;
    for (const auto& rs : all) {
      if (to_add != 0) {
        int64_t proportion = du::getProportion(*rs, d, to_add, added);
        sizes[api::name(*rs)] = du::replicas(*rs) + proportion;
        added += proportion;
      } else {
        sizes[api::name(*rs)] = du::replicas(*rs);
      }
    }
    for (size_t i = 0; i < all.size(); ++i) {
      const ObjectPtr& rs = all[i];
      // Leftovers (rounding) go to the largest replica set.
      if (i == 0 && to_add != 0)
        sizes[api::name(*rs)] = std::max<int64_t>(0, sizes[api::name(*rs)] + to_add - added);
      auto r = scaleReplicaSet(rs, sizes[api::name(*rs)], d, &scaled);
      if (!r.ok()) return r.error();
    }
  }
  return okStatus();
}

Result<ObjectPtr> DeploymentController::scaleReplicaSetAndRecordEvent(const ObjectPtr& rs,
                                                                      int64_t new_scale,
                                                                      const Object& d,
                                                                      bool* scaled) {
  *scaled = false;
  if (du::replicas(*rs) == new_scale) return rs;
  return scaleReplicaSet(rs, new_scale, d, scaled);
}

Result<ObjectPtr> DeploymentController::scaleReplicaSet(const ObjectPtr& rs, int64_t new_scale,
                                                        const Object& d, bool* scaled) {
  *scaled = false;
  const int64_t old_scale = du::replicas(*rs);
  const bool size_update = old_scale != new_scale;
  const int64_t desired = du::replicas(d), max_replicas = desired + du::maxSurge(d);
  if (!size_update && !du::replicasAnnotationsNeedUpdate(*rs, desired, max_replicas)) return rs;
  Object copy = *rs;
  api::ensureObject(copy, "spec")["replicas"] = new_scale;
  du::setReplicasAnnotations(copy, desired, max_replicas);
  auto updated = client_.update(replicaSetKind(), copy);
  if (!updated.ok()) return updated.error();
  if (size_update) {
    *scaled = true;
    recorder_.record(d, "Normal", "ScalingReplicaSet",
                     std::string("Scaled ") + (old_scale < new_scale ? "up" : "down") +
                         " replica set " + api::name(**updated) + " from " +
                         std::to_string(old_scale) + " to " + std::to_string(new_scale));
  }
  return *updated;
}

Status DeploymentController::cleanupDeployment(const RsList& old_rss, const Object& d) {
  if (!du::hasRevisionHistoryLimit(d)) return okStatus();
  RsList cleanable;
  for (const auto& rs : old_rss)
    if (rs && !hasDeletionTimestamp(*rs)) cleanable.push_back(rs);
  int64_t limit = api::intAt(d, {"spec", "revisionHistoryLimit"}).value_or(0);
  int64_t diff = static_cast<int64_t>(cleanable.size()) - limit;
  if (diff <= 0) return okStatus();
  du::sortByRevision(cleanable);
  for (int64_t i = 0; i < diff; ++i) {
    const Object& rs = *cleanable[i];
    // Only replica sets that are fully scaled down and observed as such.
    if (api::intAt(rs, {"status", "replicas"}).value_or(0) != 0 || du::replicas(rs) != 0 ||
        api::intAt(rs, {"metadata", "generation"}).value_or(0) >
            api::intAt(rs, {"status", "observedGeneration"}).value_or(0) ||
        hasDeletionTimestamp(rs))
      continue;
    BERTH_LOG(kDebug, "controllers") << "cleaning up old replica set rs=" << client::keyOf(rs);
    auto res = client_.remove(replicaSetKind(), api::namespaceOf(rs), api::name(rs));
    if (!res.ok() && res.error().code != ErrorCode::kNotFound) return res.error();
  }
  return okStatus();
}

json::object DeploymentController::calculateStatus(const RsList& all_rss, const ObjectPtr& new_rs,
                                                   const Object& d) const {
  int64_t available = du::availableReplicaCount(all_rss);
  int64_t total = du::replicaCount(all_rss);
  // More available than desired (scaling down) is not negative unavailability.
  int64_t unavailable = std::max<int64_t>(0, total - available);
  json::object status;
  du::setStatusCount(status, "observedGeneration",
                     api::intAt(d, {"metadata", "generation"}).value_or(0));
  du::setStatusCount(status, "replicas", du::actualReplicaCount(all_rss));
  du::setStatusCount(status, "updatedReplicas", du::actualReplicaCount({new_rs}));
  du::setStatusCount(status, "readyReplicas", du::readyReplicaCount(all_rss));
  du::setStatusCount(status, "availableReplicas", available);
  du::setStatusCount(status, "unavailableReplicas", unavailable);
  if (const json::value* conds = api::at(d, {"status", "conditions"}); conds && conds->is_array())
    status["conditions"] = *conds;
  if (auto c = du::collisionCount(d)) status["collisionCount"] = *c;
  auto now = clock_.now();
  if (available >= du::replicas(d) - du::maxUnavailable(d)) {
    du::setCondition(status, du::newCondition("Available", "True", du::kMinimumReplicasAvailable,
                                              "Deployment has minimum availability.", now));
  } else {
    du::setCondition(status,
                     du::newCondition("Available", "False", du::kMinimumReplicasUnavailable,
                                      "Deployment does not have minimum availability.", now));
  }
  return status;
}

Status DeploymentController::syncDeploymentStatus(const RsList& all_rss, const ObjectPtr& new_rs,
                                                  Object& d) {
  json::object new_status = calculateStatus(all_rss, new_rs, d);
  const json::object* cur = api::objAt(d, {"status"});
  if (cur && *cur == new_status) return okStatus();
  d["status"] = std::move(new_status);
  return writeStatus(d);
}

Result<bool> DeploymentController::isScalingEvent(Object& d, RsList& rss) {
  BERTH_ASSIGN_OR_RETURN(RsSets sets, allReplicaSetsAndSyncRevision(d, rss, false));
  RsList all = sets.old_rss;
  all.push_back(sets.new_rs);
  for (const auto& rs : du::filterActiveReplicaSets(all)) {
    auto desired = du::intAnnotation(*rs, du::kDesiredReplicasAnnotation);
    if (!desired) continue;
    if (*desired != du::replicas(d)) return true;
  }
  return false;
}

}  // namespace berth::controllers
