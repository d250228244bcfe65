#include "controllers/statefulset/stateful_set_controller.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "api/kinds/access.h"
#include "api/object.h"
#include "common/log.h"
#include "controllers/pod_util.h"
#include "controllers/statefulset/stateful_set_utils.h"

namespace berth::controllers {

namespace json = boost::json;
using api::Object;
using client::ObjectPtr;

namespace {

// maxUpdateRetries of the status updater and the pod control.
constexpr int kMaxUpdateRetries = 10;

int64_t statusInt(const json::object& s, std::string_view key) {
  return api::intAt(s, {key}).value_or(0);
}

std::string title(std::string verb) {
  if (!verb.empty()) verb[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(verb[0])));
  return verb;
}

}  // namespace

StatefulSetController::StatefulSetController(client::Client& client,
                                             client::InformerFactory& informers,
                                             client::EventRecorder& recorder, Clock& clock,
                                             int workers)
    : client_(client),
      set_kind_(client::kind("apps", "StatefulSet")),
      pod_kind_(client::kind("", "Pod")),
      pvc_kind_(client::kind("", "PersistentVolumeClaim")),
      cr_kind_(client::kind("apps", "ControllerRevision")),
      set_informer_(informers.forKind(set_kind_)),
      pod_informer_(informers.forKind(pod_kind_)),
      pvc_informer_(informers.forKind(pvc_kind_)),
      history_informer_(informers.forKind(cr_kind_)),
      recorder_(recorder),
      clock_(clock),
      history_(client),
      loop_(
          "statefulset-controller", [this](const std::string& key) { return sync(key); },
          {&set_informer_, &pod_informer_, &pvc_informer_, &history_informer_}, workers) {
  using C = StatefulSetController;
  addPodControllerUidIndex(pod_informer_);
  set_informer_.addHandlers(gatedHandlers(gate_, this, &C::addSet, &C::updateSet, &C::deleteSet));
  pod_informer_.addHandlers(gatedHandlers(gate_, this, &C::addPod, &C::updatePod, &C::deletePod));
}

StatefulSetController::~StatefulSetController() { stop(); }

void StatefulSetController::start() { loop_.start(); }

void StatefulSetController::stop() {
  gate_.close();
  loop_.stop();
}

// ---- handlers ----

void StatefulSetController::addSet(const ObjectPtr& set) { loop_.enqueue(client::keyOf(*set)); }
void StatefulSetController::updateSet(const ObjectPtr&, const ObjectPtr& cur) {
  loop_.enqueue(client::keyOf(*cur));
}
void StatefulSetController::deleteSet(const ObjectPtr& set) { loop_.enqueue(client::keyOf(*set)); }

ObjectPtr StatefulSetController::resolveControllerRef(const std::string& ns,
                                                      const json::object& ref) const {
  return controllers::resolveControllerRef(set_informer_, set_kind_.kind, ns, ref);
}

std::vector<ObjectPtr> StatefulSetController::setsSelecting(const Object& pod) const {
  return ownersSelecting(set_informer_, pod);
}

void StatefulSetController::addPod(const ObjectPtr& pod) {
  if (hasDeletionTimestamp(*pod)) {
    deletePod(pod);
    return;
  }
  if (const json::object* ref = controllerRef(*pod)) {
    if (ObjectPtr set = resolveControllerRef(api::namespaceOf(*pod), *ref))
      loop_.enqueue(client::keyOf(*set));
    return;
  }
  for (const auto& set : setsSelecting(*pod)) loop_.enqueue(client::keyOf(*set));
}

void StatefulSetController::updatePod(const ObjectPtr& old_pod, const ObjectPtr& cur_pod) {
  if (api::strAt(*old_pod, {"metadata", "resourceVersion"}) ==
      api::strAt(*cur_pod, {"metadata", "resourceVersion"}))
    return;
  const json::object* cur_ref = controllerRef(*cur_pod);
  const json::object* old_ref = controllerRef(*old_pod);
  bool ref_changed =
      (cur_ref == nullptr) != (old_ref == nullptr) || (cur_ref && *cur_ref != *old_ref);
  if (ref_changed && old_ref) {
    if (ObjectPtr set = resolveControllerRef(api::namespaceOf(*old_pod), *old_ref))
      loop_.enqueue(client::keyOf(*set));
  }
  if (cur_ref) {
    ObjectPtr set = resolveControllerRef(api::namespaceOf(*cur_pod), *cur_ref);
    if (!set) return;
    loop_.enqueue(client::keyOf(*set));
    // A pod that just turned ready becomes available minReadySeconds later.
    int64_t min_ready = api::intAt(*set, {"spec", "minReadySeconds"}).value_or(0);
    if (!isPodReady(*old_pod) && isPodReady(*cur_pod) && min_ready > 0)
      loop_.enqueueAfter(client::keyOf(*set), std::chrono::seconds(min_ready + 1));
    return;
  }
  if (api::labels(*old_pod) != api::labels(*cur_pod) || ref_changed)
    for (const auto& set : setsSelecting(*cur_pod)) loop_.enqueue(client::keyOf(*set));
}

void StatefulSetController::deletePod(const ObjectPtr& pod) {
  const json::object* ref = controllerRef(*pod);
  if (!ref) return;
  if (ObjectPtr set = resolveControllerRef(api::namespaceOf(*pod), *ref))
    loop_.enqueue(client::keyOf(*set));
}

// ---- pods and revisions of a set ----

CanAdoptFunc StatefulSetController::canAdopt(const Object& set) {
  std::string ns = api::namespaceOf(set), name = api::name(set), uid = api::uid(set);
  return recheckDeletionTimestamp([this, ns, name, uid]() -> Result<ObjectPtr> {
    auto fresh = client_.get(set_kind_, ns, name);
    if (!fresh.ok()) return fresh;
    if (api::uid(**fresh) != uid)
      return makeError(ErrorCode::kConflict, "original StatefulSet " + ns + "/" + name +
                                                 " is gone: got uid " + api::uid(**fresh) +
                                                 ", wanted " + uid);
    return fresh;
  });
}

std::vector<ObjectPtr> StatefulSetController::listRevisions(
    const Object& set, const api::LabelSelector& selector) const {
  std::vector<ObjectPtr> out;
  const std::string uid = api::uid(set);
  for (const auto& r : history_informer_.listNamespace(api::namespaceOf(set))) {
    if (!selector.matches(api::objAt(*r, {"metadata", "labels"}))) continue;
    const json::object* ref = controllerRef(*r);
    if (!ref || api::strAt(*ref, {"uid"}) == uid) out.push_back(r);
  }
  return out;
}

Status StatefulSetController::adoptOrphanRevisions(const Object& set,
                                                   const api::LabelSelector& selector) {
  std::vector<ObjectPtr> orphans;
  for (const auto& r : listRevisions(set, selector))
    if (!controllerRef(*r)) orphans.push_back(r);
  if (orphans.empty()) return okStatus();
  ControllerRefManager cm(client_, set, set_kind_, selector, canAdopt(set));
  for (const auto& r : orphans) {
    Status s = cm.adopt(cr_kind_, *r);
    if (!s.ok()) {
      Error e = s.error();
      e.message = "can't adopt ControllerRevisions: " + e.message;
      return e;
    }
  }
  return okStatus();
}

Result<std::vector<ObjectPtr>> StatefulSetController::getPodsForStatefulSet(
    const Object& set, const api::LabelSelector& selector) {
  std::vector<ObjectPtr> pods = ownedAndOrphanPods(pod_informer_, api::namespaceOf(set), api::uid(set));
  ControllerRefManager cm(client_, set, set_kind_, selector, canAdopt(set));
  // Only pods named after the set are claimed; others are released.
  return cm.claimPods(pods, [&set](const Object& pod) { return isMemberOf(set, pod); });
}

// ---- pod control ----

void StatefulSetController::recordPodEvent(const std::string& verb, const Object& set,
                                           const Object& pod, const Status& err) {
  if (err.ok()) {
    recorder_.record(
        set, "Normal", "Successful" + title(verb),
        verb + " Pod " + api::name(pod) + " in StatefulSet " + api::name(set) + " successful");
  } else {
    recorder_.record(set, "Warning", "Failed" + title(verb),
                     verb + " Pod " + api::name(pod) + " in StatefulSet " + api::name(set) +
                         " failed error: " + err.error().message);
  }
}

void StatefulSetController::recordClaimEvent(const std::string& verb, const Object& set,
                                             const Object& pod, const std::string& claim,
                                             const Status& err) {
  if (err.ok()) {
    recorder_.record(set, "Normal", "Successful" + title(verb),
                     verb + " Claim " + claim + " Pod " + api::name(pod) + " in StatefulSet " +
                         api::name(set) + " success");
  } else {
    recorder_.record(set, "Warning", "Failed" + title(verb),
                     verb + " Claim " + claim + " for Pod " + api::name(pod) + " in StatefulSet " +
                         api::name(set) + " failed error: " + err.error().message);
  }
}

Status StatefulSetController::createMissingClaims(const Object& set, const Object& pod) {
  std::vector<Error> errors;
  for (const auto& [tname, claim] : persistentVolumeClaims(set, ordinalOf(pod))) {
    ObjectPtr existing = pvc_informer_.get(api::namespaceOf(claim), api::name(claim));
    if (existing) {
      if (hasDeletionTimestamp(*existing))
        errors.push_back(
            makeError(ErrorCode::kConflict, "pvc " + api::name(claim) + " is being deleted"));
      continue;
    }
    auto created = client_.create(pvc_kind_, claim);
    if (created.ok()) {
      recordClaimEvent("create", set, pod, api::name(claim), okStatus());
      continue;
    }
    // Created by an earlier sync the cache has not seen yet.
    if (created.error().code == ErrorCode::kAlreadyExists) continue;
    recordClaimEvent("create", set, pod, api::name(claim), created.error());
    Error e = created.error();
    e.message = "failed to create PVC " + api::name(claim) + ": " + e.message;
    errors.push_back(e);
  }
  if (!errors.empty()) return aggregateErrors(errors);
  return okStatus();
}

Status StatefulSetController::createStatefulPod(const Object& set, const Object& pod) {
  // The claims first: a pod without its volumes cannot start.
  if (Status s = createMissingClaims(set, pod); !s.ok()) {
    recordPodEvent("create", set, pod, s);
    return s;
  }
  auto created = client_.create(pod_kind_, pod);
  if (!created.ok() && created.error().code == ErrorCode::kAlreadyExists) return created.error();
  Status s = created.ok() ? okStatus() : Status(created.error());
  // A terminating namespace refuses every create; no event for that.
  if (s.ok() || !hasNamespaceTerminatingCause(created.error()))
    recordPodEvent("create", set, pod, s);
  return s;
}

Status StatefulSetController::updateStatefulPod(const Object& set, const Object& pod_in) {
  Object pod = pod_in;
  bool attempted = false;
  Status err;
  for (int i = 0; i < kMaxUpdateRetries; ++i) {
    bool consistent = true;
    if (!identityMatches(set, pod)) {
      updateIdentity(set, pod);
      consistent = false;
    }
    if (!storageMatches(set, pod)) {
      updateStorage(set, pod);
      consistent = false;
      if (Status s = createMissingClaims(set, pod); !s.ok()) {
        recordPodEvent("update", set, pod, s);
        return s;
      }
    }
    if (consistent) return okStatus();
    attempted = true;
    auto updated = client_.update(pod_kind_, pod);
    if (updated.ok()) {
      err = okStatus();
      break;
    }
    err = updated.error();
    if (updated.error().code != ErrorCode::kConflict) break;
    auto fresh = client_.get(pod_kind_, api::namespaceOf(pod), api::name(pod));
    if (!fresh.ok()) {
      err = fresh.error();
      break;
    }
    pod = **fresh;
  }
  if (attempted) recordPodEvent("update", set, pod, err);
  return err;
}

Status StatefulSetController::deleteStatefulPod(const Object& set, const Object& pod) {
  auto res = client_.remove(pod_kind_, api::namespaceOf(pod), api::name(pod));
  Status s = res.ok() ? okStatus() : Status(res.error());
  recordPodEvent("delete", set, pod, s);
  return s;
}

// ---- the update loop ----

void StatefulSetController::computeReplicaStatus(const std::vector<ObjectPtr>& pods,
                                                 int64_t min_ready, const std::string& current,
                                                 const std::string& update,
                                                 ReplicaStatus& out) const {
  auto now = clock_.now();
  for (const auto& pod : pods) {
    if (!pod) continue;
    if (isCreated(*pod)) ++out.replicas;
    if (isRunningAndReady(*pod)) {
      ++out.ready;
      if (isRunningAndAvailable(*pod, min_ready, now)) ++out.available;
    }
    if (isCreated(*pod) && !isTerminating(*pod)) {
      std::string rev = podRevision(*pod);
      if (rev == current) ++out.current;
      if (rev == update) ++out.updated;
    }
  }
}

Result<StatefulSetController::Revisions> StatefulSetController::getStatefulSetRevisions(
    const Object& set, std::vector<ObjectPtr>& revisions) {
  Revisions out;
  sortRevisions(revisions);
  out.collision_count =
      static_cast<int32_t>(api::intAt(set, {"status", "collisionCount"}).value_or(0));
  // newRevision: the set's template as the next revision.
  json::object labels;
  if (const json::object* l = api::objAt(set, {"spec", "template", "metadata", "labels"}))
    labels = *l;
  Object wanted = newControllerRevision(set, set_kind_, labels, templatePatch(set),
                                        nextRevision(revisions), out.collision_count);
  if (const json::object* a = api::objAt(set, {"metadata", "annotations"}))
    api::mutableMetadata(wanted)["annotations"] = *a;
  std::vector<ObjectPtr> equal = findEqualRevisions(revisions, wanted);
  if (!equal.empty() && equalRevision(*revisions.back(), *equal.back())) {
    // Unchanged: the newest revision is the update revision.
    out.update = revisions.back();
  } else if (!equal.empty()) {
    // A rollback: the equal revision becomes the newest.
    BERTH_ASSIGN_OR_RETURN(out.update,
                           history_.updateRevision(*equal.back(), revisionNumber(wanted)));
  } else {
    BERTH_ASSIGN_OR_RETURN(out.update, history_.create(set, wanted, &out.collision_count));
  }
  std::string current_name = api::strAt(set, {"status", "currentRevision"});
  for (const auto& r : revisions)
    if (api::name(*r) == current_name) out.current = r;
  if (!out.current) out.current = out.update;
  return out;
}

StatefulSetController::Step StatefulSetController::processReplica(const Object& set,
                                                                  const Object& update_set,
                                                                  bool monotonic,
                                                                  std::vector<ObjectPtr>& replicas,
                                                                  size_t i) {
  const Object& pod = *replicas[i];
  int64_t min_ready = api::intAt(set, {"spec", "minReadySeconds"}).value_or(0);
  auto now = clock_.now();
  // A failed or succeeded pod (evicted, or stopped by a node reboot) is
  // replaced whatever its exit code: delete it, recreate on a later sync.
  if (isPodFailed(pod) || isPodSucceeded(pod)) {
    if (!isTerminating(pod)) {
      if (Status s = deleteStatefulPod(set, pod); !s.ok()) return {true, s};
    }
    return {true, okStatus()};
  }
  if (!isCreated(pod)) {
    if (Status s = createStatefulPod(set, pod); !s.ok()) return {true, s};
    if (monotonic) return {true, okStatus()};
  }
  if (isPending(pod)) {
    // Claims deleted under a pending pod are re-created.
    if (Status s = createMissingClaims(set, pod); !s.ok()) return {true, s};
  }
  if (isTerminating(pod) && monotonic) return {true, okStatus()};
  if (!isRunningAndReady(pod) && monotonic) return {true, okStatus()};
  if (!isRunningAndAvailable(pod, min_ready, now) && monotonic) return {true, okStatus()};
  if (identityMatches(set, pod) && storageMatches(set, pod)) return {false, okStatus()};
  if (Status s = updateStatefulPod(update_set, pod); !s.ok()) return {true, s};
  return {false, okStatus()};
}

StatefulSetController::Step StatefulSetController::processCondemned(
    const Object& set, const ObjectPtr& first_unhealthy, bool monotonic,
    const std::vector<ObjectPtr>& condemned, size_t i) {
  const ObjectPtr& pod = condemned[i];
  int64_t min_ready = api::intAt(set, {"spec", "minReadySeconds"}).value_or(0);
  if (isTerminating(*pod)) return {monotonic, okStatus()};
  // OrderedReady scales down only while every other pod is healthy (the
  // first unhealthy pod itself may go).
  if (!isRunningAndReady(*pod) && monotonic && pod != first_unhealthy) return {true, okStatus()};
  if (!isRunningAndAvailable(*pod, min_ready, clock_.now()) && monotonic && pod != first_unhealthy)
    return {true, okStatus()};
  BERTH_LOG(kDebug, "controllers")
      << "pod of statefulset terminating for scale down pod=" << podKey(*pod);
  return {true, deleteStatefulPod(set, *pod)};
}

Status StatefulSetController::updatePods(const Object& set, const Revisions& revs,
                                         const std::vector<ObjectPtr>& pods, json::object& status) {
  const Object current_set = applyRevision(set, *revs.current);
  const Object update_set = applyRevision(set, *revs.update);
  const std::string current_name = api::name(*revs.current);
  const std::string update_name = api::name(*revs.update);
  int64_t min_ready = api::intAt(set, {"spec", "minReadySeconds"}).value_or(0);
  auto now = clock_.now();

  int start = startOrdinal(set), end = endOrdinal(set);
  std::vector<ObjectPtr> replicas(std::max(0, end - start + 1));
  std::vector<ObjectPtr> condemned;
  for (const auto& pod : pods) {
    int ord = ordinalOf(*pod);
    if (podInOrdinalRange(*pod, set))
      replicas[ord - start] = pod;
    else if (ord >= 0)
      condemned.push_back(pod);
  }
  // newVersionedStatefulSetPod for every missing ordinal: at the current
  // revision below the partition, else at the update revision.
  const json::object* ru = api::objAt(current_set, {"spec", "updateStrategy", "rollingUpdate"});
  bool rolling = api::strAt(current_set, {"spec", "updateStrategy", "type"}) == "RollingUpdate";
  int64_t current_replicas = api::intAt(set, {"status", "currentReplicas"}).value_or(0);
  for (int ord = start; ord <= end; ++ord) {
    if (replicas[ord - start]) continue;
    bool at_current = (rolling && !ru && ord < start + current_replicas) ||
                      (ru && ord < start + api::intAt(*ru, {"partition"}).value_or(0));
    Object pod = newStatefulSetPod(at_current ? current_set : update_set, set_kind_, ord);
    setPodRevision(pod, at_current ? current_name : update_name);
    replicas[ord - start] = std::make_shared<const Object>(std::move(pod));
  }
  std::sort(condemned.begin(), condemned.end(),
            [](const ObjectPtr& a, const ObjectPtr& b) { return ordinalOf(*a) > ordinalOf(*b); });

  ObjectPtr first_unhealthy;
  for (const auto& r : replicas)
    if (isUnavailable(*r, min_ready, now) && !first_unhealthy) first_unhealthy = r;
  for (auto it = condemned.rbegin(); it != condemned.rend(); ++it)
    if (isUnavailable(**it, min_ready, now) && !first_unhealthy) first_unhealthy = *it;

  auto fill = [&](std::initializer_list<const std::vector<ObjectPtr>*> lists) {
    ReplicaStatus rs;
    for (const auto* l : lists) computeReplicaStatus(*l, min_ready, current_name, update_name, rs);
    status["replicas"] = rs.replicas;
    status["readyReplicas"] = rs.ready;
    status["availableReplicas"] = rs.available;
    status["currentReplicas"] = rs.current;
    status["updatedReplicas"] = rs.updated;
  };
  fill({&pods});
  if (hasDeletionTimestamp(set)) return okStatus();

  const bool monotonic = api::strAt(set, {"spec", "podManagementPolicy"}) != "Parallel";
  // runForAll: in order and stopping at the first blocker (OrderedReady), or
  // all at once in slow-start batches (Parallel).
  auto run_all = [&](size_t n, const std::function<Step(size_t)>& fn) -> Step {
    if (monotonic) {
      for (size_t i = 0; i < n; ++i) {
        Step st = fn(i);
        if (st.exit || !st.error.ok()) return {true, st.error};
      }
      return {};
    }
    size_t done = 0;
    for (size_t batch = std::min<size_t>(1, n); batch > 0; batch = std::min(2 * batch, n - done)) {
      std::vector<Error> errors;
      for (size_t i = done; i < done + batch; ++i) {
        Step st = fn(i);
        if (!st.error.ok()) errors.push_back(st.error.error());
      }
      done += batch;
      if (!errors.empty()) return {true, aggregateErrors(errors)};
    }
    return {};
  };

  Step st = run_all(replicas.size(), [&](size_t i) {
    return processReplica(set, update_set, monotonic, replicas, i);
  });
  if (st.exit || !st.error.ok()) {
    fill({&replicas, &condemned});
    return st.error;
  }
  // Every replica is healthy (OrderedReady): scale down from the top.
  st = run_all(condemned.size(), [&](size_t i) {
    return processCondemned(set, first_unhealthy, monotonic, condemned, i);
  });
  if (st.exit || !st.error.ok()) {
    fill({&replicas, &condemned});
    return st.error;
  }
  fill({&replicas, &condemned});
  if (api::strAt(set, {"spec", "updateStrategy", "type"}) == "OnDelete") return okStatus();

  // RollingUpdate: delete the highest ordinal not at the update revision,
  // down to the partition, one at a time, waiting for availability.
  int64_t update_min = 0;
  if (const json::object* sru = api::objAt(set, {"spec", "updateStrategy", "rollingUpdate"}))
    update_min = api::intAt(*sru, {"partition"}).value_or(0);
  for (int64_t target = static_cast<int64_t>(replicas.size()) - 1; target >= update_min; --target) {
    const Object& pod = *replicas[target];
    if (podRevision(pod) != update_name && !isTerminating(pod)) {
      BERTH_LOG(kDebug, "controllers")
          << "pod of statefulset terminating for update pod=" << podKey(pod);
      Status s = deleteStatefulPod(set, pod);
      status["currentReplicas"] = statusInt(status, "currentReplicas") - 1;
      if (!s.ok() && s.error().code != ErrorCode::kNotFound) return s;
      return okStatus();
    }
    if (isUnavailable(pod, min_ready, now)) return okStatus();
  }
  return okStatus();
}

Status StatefulSetController::truncateHistory(const Object& set, const std::vector<ObjectPtr>& pods,
                                              const std::vector<ObjectPtr>& revisions,
                                              const Revisions& revs) {
  std::set<std::string> live;
  if (revs.current) live.insert(api::name(*revs.current));
  if (revs.update) live.insert(api::name(*revs.update));
  for (const auto& p : pods) live.insert(podRevision(*p));
  std::vector<ObjectPtr> history;
  for (const auto& r : revisions)
    if (!live.count(api::name(*r))) history.push_back(r);
  int64_t limit = api::intAt(set, {"spec", "revisionHistoryLimit"}).value_or(10);
  if (limit < 0 || static_cast<int64_t>(history.size()) <= limit) return okStatus();
  size_t kill = history.size() - static_cast<size_t>(limit);
  for (size_t i = 0; i < kill; ++i) BERTH_RETURN_IF_ERROR(history_.remove(*history[i]));
  return okStatus();
}

Status StatefulSetController::updateStatefulSetStatus(const Object& set, json::object status) {
  // completeRollingUpdate: every pod updated and ready ends the rollout.
  if (api::strAt(set, {"spec", "updateStrategy", "type"}) == "RollingUpdate" &&
      statusInt(status, "updatedReplicas") == statusInt(status, "replicas") &&
      statusInt(status, "readyReplicas") == statusInt(status, "replicas")) {
    status["currentReplicas"] = statusInt(status, "updatedReplicas");
    status["currentRevision"] = api::strAt(status, {"updateRevision"});
  }
  const json::object* cur = api::objAt(set, {"status"});
  json::object empty;
  const json::object& old = cur ? *cur : empty;
  // inconsistentStatus.
  bool inconsistent =
      statusInt(status, "observedGeneration") > statusInt(old, "observedGeneration");
  for (const char* f :
       {"replicas", "currentReplicas", "readyReplicas", "updatedReplicas", "availableReplicas"})
    inconsistent = inconsistent || statusInt(status, f) != statusInt(old, f);
  for (const char* f : {"currentRevision", "updateRevision"})
    inconsistent = inconsistent || api::strAt(status, {f}) != api::strAt(old, {f});
  if (!inconsistent) return okStatus();
  // omitempty fields.
  for (const char* f :
       {"readyReplicas", "currentReplicas", "updatedReplicas", "observedGeneration"})
    if (statusInt(status, f) == 0) status.erase(f);
  Object obj = set;
  for (int i = 0;; ++i) {
    obj["status"] = status;
    auto res = client_.update(set_kind_, obj, client::Subresource::kStatus);
    if (res.ok()) return okStatus();
    if (res.error().code != ErrorCode::kConflict || i + 1 >= kMaxUpdateRetries) return res.error();
    auto fresh = client_.get(set_kind_, api::namespaceOf(set), api::name(set));
    if (!fresh.ok()) return fresh.error();
    obj = **fresh;
  }
}

Result<json::object> StatefulSetController::updateStatefulSet(const Object& set,
                                                              const std::vector<ObjectPtr>& pods,
                                                              const api::LabelSelector& selector) {
  std::vector<ObjectPtr> revisions = listRevisions(set, selector);
  sortRevisions(revisions);
  auto revs = getStatefulSetRevisions(set, revisions);
  if (!revs.ok()) return revs.error();
  json::object status;
  status["observedGeneration"] = api::intAt(set, {"metadata", "generation"}).value_or(0);
  status["currentRevision"] = api::name(*revs->current);
  status["updateRevision"] = api::name(*revs->update);
  status["collisionCount"] = revs->collision_count;
  Status update_err = updatePods(set, *revs, pods, status);
  Status status_err = updateStatefulSetStatus(set, status);
  Status history_err = truncateHistory(set, pods, revisions, *revs);
  if (!update_err.ok()) {
    if (!status_err.ok())
      BERTH_LOG(kWarning, "controllers")
          << "could not update status statefulset=" << client::keyOf(set)
          << " err=" << status_err.error().message;
    return update_err.error();
  }
  if (!status_err.ok()) return status_err.error();
  if (!history_err.ok()) return history_err.error();
  return status;
}

Status StatefulSetController::sync(const std::string& key) {
  std::string ns, name;
  client::splitKey(key, &ns, &name);
  ObjectPtr set_ptr = set_informer_.get(ns, name);
  if (!set_ptr) {
    BERTH_LOG(kDebug, "controllers") << "statefulset deleted key=" << key;
    return okStatus();
  }
  const Object& set = *set_ptr;
  auto selector = api::LabelSelector::fromObject(api::at(set, {"spec", "selector"}));
  if (!selector.ok()) {
    // Not transient: do not retry.
    BERTH_LOG(kWarning, "controllers") << "error converting statefulset selector key=" << key
                                       << " err=" << selector.error().message;
    return okStatus();
  }
  BERTH_RETURN_IF_ERROR(adoptOrphanRevisions(set, *selector));
  BERTH_ASSIGN_OR_RETURN(std::vector<ObjectPtr> pods, getPodsForStatefulSet(set, *selector));
  BERTH_ASSIGN_OR_RETURN(json::object status, updateStatefulSet(set, pods, *selector));
  int64_t min_ready = api::intAt(set, {"spec", "minReadySeconds"}).value_or(0);
  if (min_ready > 0 && statusInt(status, "availableReplicas") != setReplicas(set))
    loop_.enqueueAfter(key, std::chrono::seconds(min_ready));
  return okStatus();
}

}  // namespace berth::controllers
