#include "controllers/job/job_controller.h"

#include <algorithm>

#include "api/kinds/access.h"
#include "api/object.h"
#include "common/log.h"
#include "controllers/job/job_util.h"
#include "controllers/pod_util.h"

namespace berth::controllers {

namespace json = boost::json;
using api::Object;
using client::ObjectPtr;
using TimePoint = std::chrono::system_clock::time_point;
using namespace jobutil;

namespace {

// syncJobBatchPeriod: the shortest delay of a delayed Job sync.
constexpr std::chrono::seconds kSyncJobBatchPeriod{1};
constexpr char kReasonCompletionsReached[] = "CompletionsReached";
constexpr char kMessageCompletionsReached[] = "Reached expected number of succeeded pods";

}  // namespace

JobController::JobController(client::Client& client, client::InformerFactory& informers,
                             client::EventRecorder& recorder, Clock& clock, int workers)
    : client_(client),
      job_kind_(client::kind("batch", "Job")),
      pod_kind_(client::kind("", "Pod")),
      job_informer_(informers.forKind(job_kind_)),
      pod_informer_(informers.forKind(pod_kind_)),
      recorder_(recorder),
      clock_(clock),
      pod_control_(client, recorder),
      expectations_(clock),
      loop_(
          "job-controller", [this](const std::string& key) { return sync(key); },
          {&job_informer_, &pod_informer_}, workers),
      orphan_loop_(
          "job-controller-orphan-pods",
          [this](const std::string& key) { return syncOrphanPod(key); },
          {&job_informer_, &pod_informer_}, 1) {
  using C = JobController;
  addPodControllerUidIndex(pod_informer_);
  job_informer_.addHandlers(gatedHandlers(gate_, this, &C::addJob, &C::updateJob, &C::deleteJob));
  pod_informer_.addHandlers(gatedHandlers(gate_, this, &C::addPod, &C::updatePod, &C::deletePod));
}

JobController::~JobController() { stop(); }

void JobController::start() {
  loop_.start();
  orphan_loop_.start();
}

void JobController::stop() {
  gate_.close();
  loop_.stop();
  orphan_loop_.stop();
}

// ---- finalizer expectations ----

void JobController::expectFinalizersRemoved(const std::string& key,
                                            const std::vector<std::string>& uids) {
  std::lock_guard lock(mu_);
  finalizer_expectations_[key].insert(uids.begin(), uids.end());
}

void JobController::finalizerRemovalObserved(const std::string& key, const std::string& uid) {
  std::lock_guard lock(mu_);
  auto it = finalizer_expectations_.find(key);
  if (it == finalizer_expectations_.end()) return;
  it->second.erase(uid);
  if (it->second.empty()) finalizer_expectations_.erase(it);
}

std::set<std::string> JobController::expectedRemovals(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = finalizer_expectations_.find(key);
  return it == finalizer_expectations_.end() ? std::set<std::string>{} : it->second;
}

// ---- handlers ----

ObjectPtr JobController::resolveControllerRef(const std::string& ns,
                                              const json::object& ref) const {
  return controllers::resolveControllerRef(job_informer_, job_kind_.kind, ns, ref);
}

std::vector<ObjectPtr> JobController::jobsSelecting(const Object& pod) const {
  return ownersSelecting(job_informer_, pod);
}

void JobController::enqueueOrphanPod(const Object& pod) { orphan_loop_.enqueue(podKey(pod)); }

void JobController::addJob(const ObjectPtr& job) {
  loop_.enqueue(client::keyOf(*job));
  if (isJobFinished(*job)) updateJob(job, job);
}

void JobController::updateJob(const ObjectPtr& old_job, const ObjectPtr& cur_job) {
  std::string key = client::keyOf(*cur_job);
  if (api::uid(*old_job) != api::uid(*cur_job)) {
    std::lock_guard lock(mu_);
    finalizer_expectations_.erase(key);
  }
  loop_.enqueue(key);
  // A finished Job has no use for tracking finalizers; a backup for pods
  // whose finalizer removal was missed.
  if (isJobFinished(*cur_job)) {
    const std::string uid = api::uid(*cur_job);
    for (const auto& pod : pod_informer_.byIndex(kPodControllerUidIndex, uid))
      if (hasJobTrackingFinalizer(*pod)) enqueueOrphanPod(*pod);
  }
  // A changed activeDeadlineSeconds needs a sync when it passes.
  auto start = timeAt(*cur_job, {"status", "startTime"});
  auto cur_ads = api::intAt(*cur_job, {"spec", "activeDeadlineSeconds"});
  if (start && cur_ads) {
    auto old_ads = api::intAt(*old_job, {"spec", "activeDeadlineSeconds"});
    if (!old_ads || *old_ads != *cur_ads) {
      auto left = std::chrono::seconds(*cur_ads) - (clock_.now() - *start);
      loop_.enqueueAfter(key, std::chrono::duration_cast<std::chrono::milliseconds>(left));
    }
  }
}

void JobController::deleteJob(const ObjectPtr& job) {
  loop_.enqueue(client::keyOf(*job));
  // Pods left with tracking finalizers are released by the orphan loop.
  const std::string uid = api::uid(*job);
  for (const auto& pod : pod_informer_.byIndex(kPodControllerUidIndex, uid))
    if (hasJobTrackingFinalizer(*pod)) enqueueOrphanPod(*pod);
}

void JobController::addPod(const ObjectPtr& pod) {
  if (hasDeletionTimestamp(*pod)) {
    // Seen after a restart already being deleted: not a creation.
    deletePodImpl(pod, false);
    return;
  }
  if (const json::object* ref = controllerRef(*pod)) {
    ObjectPtr job = resolveControllerRef(api::namespaceOf(*pod), *ref);
    if (!job) {
      if (hasJobTrackingFinalizer(*pod)) enqueueOrphanPod(*pod);
      return;
    }
    expectations_.creationObserved(client::keyOf(*job));
    loop_.enqueue(client::keyOf(*job));
    return;
  }
  if (hasJobTrackingFinalizer(*pod)) enqueueOrphanPod(*pod);
  for (const auto& job : jobsSelecting(*pod)) loop_.enqueue(client::keyOf(*job));
}

void JobController::updatePod(const ObjectPtr& old_pod, const ObjectPtr& cur_pod) {
  if (api::strAt(*old_pod, {"metadata", "resourceVersion"}) ==
      api::strAt(*cur_pod, {"metadata", "resourceVersion"}))
    return;
  if (hasDeletionTimestamp(*cur_pod)) {
    // Graceful deletion: replacements may start at once.
    deletePodImpl(cur_pod, false);
    return;
  }
  // The latest state counts: during an ownership change the finalizer may
  // be added and removed again in one collapsed event.
  bool finalizer_removed = !hasJobTrackingFinalizer(*cur_pod);
  const json::object* cur_ref = controllerRef(*cur_pod);
  const json::object* old_ref = controllerRef(*old_pod);
  bool ref_changed =
      (cur_ref == nullptr) != (old_ref == nullptr) || (cur_ref && *cur_ref != *old_ref);
  if (ref_changed && old_ref) {
    if (ObjectPtr job = resolveControllerRef(api::namespaceOf(*old_pod), *old_ref)) {
      if (finalizer_removed) finalizerRemovalObserved(client::keyOf(*job), api::uid(*cur_pod));
      loop_.enqueue(client::keyOf(*job));
    }
  }
  if (cur_ref) {
    ObjectPtr job = resolveControllerRef(api::namespaceOf(*cur_pod), *cur_ref);
    if (!job) {
      if (!finalizer_removed) enqueueOrphanPod(*cur_pod);
      return;
    }
    if (finalizer_removed) finalizerRemovalObserved(client::keyOf(*job), api::uid(*cur_pod));
    loop_.enqueue(client::keyOf(*job));
    return;
  }
  if (!finalizer_removed) enqueueOrphanPod(*cur_pod);
  if (api::labels(*old_pod) != api::labels(*cur_pod) || ref_changed)
    for (const auto& job : jobsSelecting(*cur_pod)) loop_.enqueue(client::keyOf(*job));
}

void JobController::deletePod(const ObjectPtr& pod) { deletePodImpl(pod, true); }

void JobController::deletePodImpl(const ObjectPtr& pod, bool final) {
  const json::object* ref = controllerRef(*pod);
  bool has_finalizer = hasJobTrackingFinalizer(*pod);
  if (!ref) {
    // The garbage collector may have removed the reference of a Job's pod.
    if (has_finalizer) enqueueOrphanPod(*pod);
    return;
  }
  ObjectPtr job = resolveControllerRef(api::namespaceOf(*pod), *ref);
  if (!job || isJobFinished(*job)) {
    if (has_finalizer) enqueueOrphanPod(*pod);
    return;
  }
  std::string key = client::keyOf(*job);
  expectations_.deletionObserved(key);
  // The final delete removes the finalizer with the object; an update with
  // a deletion timestamp only when the finalizer is gone.
  if (final || !has_finalizer) finalizerRemovalObserved(key, api::uid(*pod));
  loop_.enqueue(key);
}

// ---- orphan pods ----

Status JobController::syncOrphanPod(const std::string& key) {
  std::string ns, name;
  client::splitKey(key, &ns, &name);
  ObjectPtr pod = pod_informer_.get(ns, name);
  if (!pod) return okStatus();
  if (const json::object* ref = controllerRef(*pod)) {
    // Owned by something other than a batch/v1 Job: not ours to touch.
    if (api::strAt(*ref, {"kind"}) != "Job" || api::strAt(*ref, {"apiVersion"}) != "batch/v1")
      return okStatus();
    ObjectPtr job = resolveControllerRef(ns, *ref);
    // Adopted by a running Job: the finalizer still counts.
    if (job && !isJobFinished(*job)) return okStatus();
  }
  if (!hasJobTrackingFinalizer(*pod)) return okStatus();
  Status s = pod_control_.patchPod(ns, name, removeTrackingFinalizerPatch());
  if (!s.ok() && s.error().code != ErrorCode::kNotFound) return s;
  return okStatus();
}

// ---- pods of a Job ----

Result<std::vector<ObjectPtr>> JobController::getPodsForJob(const Object& job) {
  auto selector = api::LabelSelector::fromObject(api::at(job, {"spec", "selector"}));
  if (!selector.ok()) {
    Error e = selector.error();
    e.message = "couldn't convert Job selector: " + e.message;
    return e;
  }
  std::string ns = api::namespaceOf(job), name = api::name(job), uid = api::uid(job);
  std::vector<ObjectPtr> pods = ownedAndOrphanPods(pod_informer_, ns, uid);
  auto can_adopt = recheckDeletionTimestamp([this, ns, name, uid]() -> Result<ObjectPtr> {
    auto fresh = client_.get(job_kind_, ns, name);
    if (!fresh.ok()) return fresh;
    if (api::uid(**fresh) != uid)
      return makeError(ErrorCode::kConflict, "original Job " + ns + "/" + name +
                                                 " is gone: got uid " + api::uid(**fresh) +
                                                 ", wanted " + uid);
    return fresh;
  });
  // Adoption adds the tracking finalizer along with the reference.
  ControllerRefManager cm(client_, job, job_kind_, std::move(*selector), can_adopt,
                          {kJobTrackingFinalizer});
  BERTH_ASSIGN_OR_RETURN(std::vector<ObjectPtr> claimed, cm.claimPods(pods));
  for (auto& p : claimed) {
    bool referenced = false;
    if (const json::array* refs = api::arrAt(*p, {"metadata", "ownerReferences"}))
      for (const auto& r : *refs)
        if (r.is_object() && api::strAt(r.as_object(), {"uid"}) == uid) referenced = true;
    if (!referenced && !hasJobTrackingFinalizer(*p)) {
      // Just adopted: count it as the server now has it.
      Object copy = *p;
      api::ensureArray(api::mutableMetadata(copy), "finalizers")
          .emplace_back(kJobTrackingFinalizer);
      p = std::make_shared<const Object>(std::move(copy));
    }
  }
  return claimed;
}

// ---- back-off ----

JobController::BackoffRecord JobController::newBackoffRecord(const std::string& key,
                                                             std::vector<ObjectPtr> new_succeeded,
                                                             std::vector<ObjectPtr> new_failed) {
  BackoffRecord rec;
  {
    std::lock_guard lock(mu_);
    if (auto it = backoff_.find(key); it != backoff_.end()) rec = it->second;
  }
  auto by_finish = [](const ObjectPtr& a, const ObjectPtr& b) {
    return finishedTime(*a) < finishedTime(*b);
  };
  std::stable_sort(new_succeeded.begin(), new_succeeded.end(), by_finish);
  std::stable_sort(new_failed.begin(), new_failed.end(), by_finish);
  if (new_succeeded.empty()) {
    if (new_failed.empty()) return rec;
    rec.failures_after_last_success += static_cast<int64_t>(new_failed.size());
    rec.last_failure_time = finishedTime(*new_failed.back());
    return rec;
  }
  // A success resets the count; only failures after it count.
  rec.failures_after_last_success = 0;
  rec.last_failure_time.reset();
  TimePoint last_success = finishedTime(*new_succeeded.back());
  for (auto it = new_failed.rbegin(); it != new_failed.rend(); ++it) {
    TimePoint t = finishedTime(**it);
    if (t <= last_success) break;
    if (!rec.last_failure_time) rec.last_failure_time = t;
    ++rec.failures_after_last_success;
  }
  return rec;
}

std::chrono::milliseconds JobController::remainingBackoff(const BackoffRecord& r) const {
  if (r.failures_after_last_success == 0 || !r.last_failure_time)
    return std::chrono::milliseconds(0);
  std::chrono::milliseconds backoff = kDefaultBackoff;
  for (int64_t i = 1; i < r.failures_after_last_success; ++i) {
    backoff *= 2;
    if (backoff >= kMaxBackoff) {
      backoff = kMaxBackoff;
      break;
    }
  }
  auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - *r.last_failure_time);
  if (backoff < elapsed) return std::chrono::milliseconds(0);
  return backoff - elapsed;
}

// ---- manageJob ----

std::pair<int64_t, int64_t> JobController::deleteJobPods(Ctx& ctx,
                                                         const std::vector<ObjectPtr>& pods,
                                                         Status* err) {
  int64_t deleted_ready = 0, deleted = 0;
  const std::string ns = api::namespaceOf(ctx.job);
  for (const auto& pod : pods) {
    auto fail = [&](const Error& e) {
      // The informer will not observe this deletion.
      expectations_.deletionObserved(ctx.key);
      if (e.code != ErrorCode::kNotFound) {
        if (err->ok()) *err = e;
      } else {
        ++deleted;
      }
    };
    // The finalizer goes first, so the pod can actually disappear.
    if (hasJobTrackingFinalizer(*pod)) {
      Status s = pod_control_.patchPod(ns, api::name(*pod), removeTrackingFinalizerPatch());
      if (!s.ok()) {
        Error e = s.error();
        e.message = "removing completion finalizer: " + e.message;
        fail(e);
        continue;
      }
    }
    Status s = pod_control_.deletePod(ns, api::name(*pod), ctx.job);
    if (!s.ok()) {
      fail(s.error());
      continue;
    }
    ++deleted;
    if (isPodReady(*pod)) ++deleted_ready;
  }
  return {deleted_ready, deleted};
}

std::pair<int64_t, int64_t> JobController::deleteActivePods(Ctx& ctx, Status* err) {
  int64_t deleted_ready = 0, deleted = 0;
  const std::string ns = api::namespaceOf(ctx.job);
  // Finalizers stay: trackJobStatusAndRemoveFinalizers counts these pods
  // and then releases them.
  for (const auto& pod : ctx.active_pods) {
    Status s = pod_control_.deletePod(ns, api::name(*pod), ctx.job);
    if (!s.ok() && s.error().code != ErrorCode::kNotFound) {
      if (err->ok()) *err = s;
      continue;
    }
    ++deleted;
    if (isPodReady(*pod)) ++deleted_ready;
  }
  return {deleted_ready, deleted};
}

Status JobController::manageJob(Ctx& ctx, int64_t* active_out) {
  Object& job = ctx.job;
  int64_t active = static_cast<int64_t>(ctx.active_pods.size());
  *active_out = active;
  const std::string ns = api::namespaceOf(job);

  // activePodsForRemoval: for Indexed jobs first the pods with a bad or
  // duplicated index, then in ActivePods order.
  auto pods_for_removal = [&](int64_t rm_at_least) {
    std::vector<ObjectPtr> rm, left;
    if (isIndexedJob(job)) {
      int64_t completions = completionsOf(job).value_or(0);
      std::map<int, std::vector<ObjectPtr>> by_index;
      for (const auto& p : ctx.active_pods) {
        int ix = completionIndex(*p);
        if (ix == kUnknownCompletionIndex || ix >= completions)
          rm.push_back(p);
        else
          by_index[ix].push_back(p);
      }
      for (auto& [ix, group] : by_index) {
        if (group.size() > 1) {
          // Keep the most advanced pod of the index.
          sortActivePods(group);
          rm.insert(rm.end(), group.begin(), group.end() - 1);
        }
        left.push_back(group.back());
      }
    } else {
      left = ctx.active_pods;
    }
    if (static_cast<int64_t>(rm.size()) < rm_at_least) {
      sortActivePods(left);
      size_t n = std::min<size_t>(left.size(), static_cast<size_t>(rm_at_least) - rm.size());
      rm.insert(rm.end(), left.begin(), left.begin() + n);
    }
    return rm;
  };

  if (jobSuspended(job)) {
    BERTH_LOG(kDebug, "controllers")
        << "deleting all active pods in suspended job key=" << ctx.key << " active=" << active;
    std::vector<ObjectPtr> to_delete = pods_for_removal(active);
    expectations_.expectDeletions(ctx.key, static_cast<int64_t>(to_delete.size()));
    Status err;
    auto [removed_ready, removed] = deleteJobPods(ctx, to_delete, &err);
    *active_out = active - removed;
    ctx.terminating += removed;
    ctx.ready -= removed_ready;
    return err;
  }

  int64_t want_active = 0;
  int64_t parallelism = parallelismOf(job);
  if (auto completions = completionsOf(job)) {
    // Never more active than remaining completions.
    want_active =
        std::clamp<int64_t>(*completions - ctx.succeeded, 0, std::max<int64_t>(parallelism, 0));
  } else {
    // Without completions, after one success let the rest finish.
    want_active = ctx.succeeded > 0 ? active : parallelism;
  }
  int64_t rm_at_least = std::max<int64_t>(0, active - want_active);
  std::vector<ObjectPtr> to_delete = pods_for_removal(rm_at_least);
  if (to_delete.size() > static_cast<size_t>(kMaxPodCreateDeletePerSync))
    to_delete.resize(kMaxPodCreateDeletePerSync);
  if (!to_delete.empty()) {
    // Deletions and creations never mix in one sync; deletions first.
    expectations_.expectDeletions(ctx.key, static_cast<int64_t>(to_delete.size()));
    Status err;
    auto [removed_ready, removed] = deleteJobPods(ctx, to_delete, &err);
    *active_out = active - removed;
    ctx.terminating += removed;
    ctx.ready -= removed_ready;
    return err;
  }

  int64_t terminating = onlyReplaceFailedPods(job) ? ctx.terminating : 0;
  int64_t diff = want_active - terminating - active;
  if (diff <= 0) return okStatus();
  std::chrono::milliseconds remaining = remainingBackoff(ctx.new_backoff);
  if (remaining.count() > 0) {
    loop_.enqueueAfter(ctx.key,
                       std::max<std::chrono::milliseconds>(remaining, kSyncJobBatchPeriod));
    return okStatus();
  }
  diff = std::min<int64_t>(diff, kMaxPodCreateDeletePerSync);
  std::vector<int> indexes;
  if (isIndexedJob(job)) {
    // firstPendingIndexes: the lowest indexes neither succeeded nor active.
    int64_t completions = completionsOf(job).value_or(0);
    std::vector<int> active_ix;
    for (int ix : completionIndexes(ctx.active_pods)) active_ix.push_back(ix);
    OrderedIntervals non_pending = ctx.succeeded_indexes.withOrderedIndexes(active_ix);
    if (onlyReplaceFailedPods(job)) {
      std::vector<ObjectPtr> term;
      for (const auto& p : ctx.pods)
        if (isPodTerminating(*p)) term.push_back(p);
      std::set<int> term_set = completionIndexes(term);
      std::vector<int> term_ix(term_set.begin(), term_set.end());
      non_pending = non_pending.withOrderedIndexes(term_ix);
    }
    for (int ix = 0; ix < completions && static_cast<int64_t>(indexes.size()) < diff; ++ix)
      if (!non_pending.has(ix)) indexes.push_back(ix);
    diff = static_cast<int64_t>(indexes.size());
    if (diff == 0) return okStatus();
  }
  expectations_.expectCreations(ctx.key, diff);
  BERTH_LOG(kDebug, "controllers")
      << "too few pods running key=" << ctx.key << " need=" << want_active << " creating=" << diff;
  json::object tmpl;
  if (const json::object* t = api::objAt(job, {"spec", "template"})) tmpl = *t;
  if (isIndexedJob(job)) addCompletionIndexEnvVariables(tmpl);
  {
    json::array& fins = api::ensureArray(api::ensureObject(tmpl, "metadata"), "finalizers");
    bool present = false;
    for (const auto& f : fins)
      if (f.is_string() && f.as_string() == kJobTrackingFinalizer) present = true;
    if (!present) fins.emplace_back(kJobTrackingFinalizer);
  }
  json::object ref = newControllerRef(job, job_kind_);
  int64_t created_active = active + diff;
  std::vector<Error> errors;
  size_t next_index = 0;
  int64_t pos = 0;
  for (int64_t batch = std::min<int64_t>(diff, 1); pos < diff;
       batch = std::min<int64_t>(2 * batch, diff - pos)) {
    size_t errors_before = errors.size();
    for (int64_t i = 0; i < batch; ++i) {
      json::object pod_tmpl = tmpl;
      std::string generate_name;
      if (next_index < indexes.size()) {
        int ix = indexes[next_index++];
        json::object& meta = api::ensureObject(pod_tmpl, "metadata");
        api::ensureObject(meta, "annotations")[kJobCompletionIndexAnnotation] = std::to_string(ix);
        api::ensureObject(meta, "labels")[kJobCompletionIndexAnnotation] = std::to_string(ix);
        api::ensureObject(pod_tmpl, "spec")["hostname"] = api::name(job) + "-" + std::to_string(ix);
        generate_name = podGenerateNameWithIndex(api::name(job), ix);
      }
      auto created = pod_control_.createPod(ns, pod_tmpl, job, ref, generate_name);
      if (!created.ok()) {
        expectations_.creationObserved(ctx.key);
        --created_active;
        // Every create fails in a terminating namespace; not an error.
        if (!hasNamespaceTerminatingCause(created.error())) errors.push_back(created.error());
      }
    }
    pos += batch;
    int64_t skipped = diff - pos;
    if (errors.size() > errors_before && skipped > 0) {
      created_active -= skipped;
      expectations_.lowerExpectations(ctx.key, skipped, 0);
      break;
    }
  }
  *active_out = created_active;
  if (!errors.empty()) return errors.front();
  return okStatus();
}
// ---- syncJob ----

Status JobController::sync(const std::string& key) {
  std::string ns, name;
  client::splitKey(key, &ns, &name);
  if (ns.empty() || name.empty())
    return makeError(ErrorCode::kBadRequest,
                     "invalid job key \"" + key + "\": either namespace or name is missing");
  ObjectPtr shared = job_informer_.get(ns, name);
  if (!shared) {
    BERTH_LOG(kDebug, "controllers") << "job deleted key=" << key;
    expectations_.deleteExpectations(key);
    std::lock_guard lock(mu_);
    finalizer_expectations_.erase(key);
    backoff_.erase(key);
    return okStatus();
  }
  if (isJobFinished(*shared)) {
    // A finished Job is never synced again.
    std::lock_guard lock(mu_);
    backoff_.erase(key);
    return okStatus();
  }
  std::string mode = api::strAt(*shared, {"spec", "completionMode"});
  if (!mode.empty() && mode != "NonIndexed" && mode != "Indexed") {
    recorder_.record(*shared, "Warning", "UnknownCompletionMode",
                     "Skipped Job sync because completion mode is unknown");
    return okStatus();
  }

  Ctx ctx;
  ctx.key = key;
  ctx.job = *shared;
  Object& job = ctx.job;
  api::ensureObject(statusOf(job), "uncountedTerminatedPods");
  // Expectations before the pods are read: a pod arriving in between is
  // only picked up by the next sync.
  bool satisfied = expectations_.satisfied(key);
  BERTH_ASSIGN_OR_RETURN(ctx.pods, getPodsForJob(job));
  ctx.active_pods = filterActivePods(ctx.pods);
  for (const auto& p : ctx.active_pods)
    if (isPodReady(*p)) ++ctx.ready;
  for (const auto& p : ctx.pods)
    if (isPodTerminating(*p)) ++ctx.terminating;
  for (const auto& u : uncountedList(job, "succeeded")) ctx.uncounted_succeeded.insert(u);
  for (const auto& u : uncountedList(job, "failed")) ctx.uncounted_failed.insert(u);
  ctx.expected_rm_finalizers = expectedRemovals(key);
  int64_t active = static_cast<int64_t>(ctx.active_pods.size());
  const auto now = clock_.now();
  const int64_t completions = completionsOf(job).value_or(0);
  const bool indexed = isIndexedJob(job);

  // getNewFinishedPods: terminal pods still carrying the finalizer and not
  // yet recorded as uncounted.
  std::vector<ObjectPtr> new_succeeded, new_failed;
  for (const auto& p : ctx.pods) {
    const std::string uid = api::uid(*p);
    if (!hasJobTrackingFinalizer(*p) || ctx.expected_rm_finalizers.count(uid)) continue;
    if (indexed) {
      int ix = completionIndex(*p);
      if (ix == kUnknownCompletionIndex || ix >= completions) continue;
    }
    if (phaseOf(*p) == "Succeeded" && !ctx.uncounted_succeeded.count(uid))
      new_succeeded.push_back(p);
    else if (isPodFailedForJob(*p, job) && !ctx.uncounted_failed.count(uid))
      new_failed.push_back(p);
  }
  ctx.succeeded = statusInt(job, "succeeded") + static_cast<int64_t>(new_succeeded.size()) +
                  static_cast<int64_t>(ctx.uncounted_succeeded.size());
  ctx.failed = statusInt(job, "failed") + static_cast<int64_t>(new_failed.size()) +
               static_cast<int64_t>(ctx.uncounted_failed.size());

  // First start; a suspended Job has not started.
  if (!api::at(job, {"status", "startTime"}) && !jobSuspended(job))
    statusOf(job)["startTime"] = formatRfc3339(now);
  ctx.new_backoff = newBackoffRecord(key, new_succeeded, new_failed);

  Status manage_err;
  if (const json::object* scm = findCondition(job, "SuccessCriteriaMet");
      scm && api::strAt(*scm, {"status"}) == "True") {
    ctx.finished_condition = *scm;
  }
  if (!ctx.finished_condition) {
    if (const json::object* ft = findCondition(job, "FailureTarget");
        ft && api::strAt(*ft, {"status"}) == "True")
      ctx.finished_condition = newCondition("Failed", "True", api::strAt(*ft, {"reason"}),
                                            api::strAt(*ft, {"message"}), now);
  }
  if (!ctx.finished_condition) {
    // pastBackoffLimitOnFailure: restarts of OnFailure pods count too.
    bool past_restarts = false;
    if (api::strAt(job, {"spec", "template", "spec", "restartPolicy"}) == "OnFailure") {
      int64_t restarts = 0;
      for (const auto& p : ctx.pods) {
        std::string ph = phaseOf(*p);
        if (ph != "Running" && ph != "Pending") continue;
        for (const char* list : {"initContainerStatuses", "containerStatuses"})
          if (const json::array* st = api::arrAt(*p, {"status", list}))
            for (const auto& s : *st)
              if (s.is_object())
                restarts += api::intAt(s.as_object(), {"restartCount"}).value_or(0);
      }
      int64_t limit = backoffLimitOf(job);
      past_restarts = limit == 0 ? restarts > 0 : restarts >= limit;
    }
    auto start = timeAt(job, {"status", "startTime"});
    auto ads = api::intAt(job, {"spec", "activeDeadlineSeconds"});
    if (ctx.failed > backoffLimitOf(job) || past_restarts) {
      ctx.finished_condition = newCondition("FailureTarget", "True", "BackoffLimitExceeded",
                                            "Job has reached the specified backoff limit", now);
    } else if (ads && start && !jobSuspended(job) && now - *start >= std::chrono::seconds(*ads)) {
      ctx.finished_condition = newCondition("FailureTarget", "True", "DeadlineExceeded",
                                            "Job was active longer than specified deadline", now);
    } else if (ads && start && !jobSuspended(job)) {
      auto left = std::chrono::seconds(*ads) - (now - *start);
      loop_.enqueueAfter(key, std::chrono::duration_cast<std::chrono::milliseconds>(left));
    }
  }
  if (indexed) {
    // calculateSucceededIndexes.
    ctx.prev_succeeded_indexes = OrderedIntervals::parse(
        api::strAt(job, {"status", "completedIndexes"}), static_cast<int>(completions));
    std::set<int> fresh;
    for (const auto& p : ctx.pods) {
      int ix = completionIndex(*p);
      if (phaseOf(*p) == "Succeeded" && ix != kUnknownCompletionIndex && ix < completions &&
          hasJobTrackingFinalizer(*p))
        fresh.insert(ix);
    }
    ctx.succeeded_indexes =
        ctx.prev_succeeded_indexes.withOrderedIndexes(std::vector<int>(fresh.begin(), fresh.end()));
    ctx.succeeded = ctx.succeeded_indexes.total();
  }

  bool suspend_changed = false;
  if (ctx.finished_condition) {
    // The Job is done: its active pods go.
    Status err;
    auto [deleted_ready, deleted] = deleteActivePods(ctx, &err);
    // Pods not yet deleted, or not yet in the cache: not finished yet.
    if (deleted != active || !satisfied) ctx.finished_condition.reset();
    active -= deleted;
    ctx.terminating += deleted;
    ctx.ready -= deleted_ready;
    manage_err = err;
  } else {
    bool manage_called = false;
    if (satisfied && !hasDeletionTimestamp(job)) {
      manage_err = manageJob(ctx, &active);
      manage_called = true;
    }
    bool complete = false;
    if (auto c = completionsOf(job))
      complete = ctx.succeeded >= *c && active == 0;
    else
      complete = ctx.succeeded > 0 && active == 0;
    if (complete) {
      ctx.finished_condition = newCondition("SuccessCriteriaMet", "True", kReasonCompletionsReached,
                                            kMessageCompletionsReached, now);
    } else if (manage_called) {
      if (jobSuspended(job)) {
        if (ensureJobConditionStatus(job, "Suspended", "True", "JobSuspended", "Job suspended",
                                     now)) {
          suspend_changed = true;
          recorder_.record(job, "Normal", "Suspended", "Job suspended");
        }
      } else if (ensureJobConditionStatus(job, "Suspended", "False", "JobResumed", "Job resumed",
                                          now)) {
        suspend_changed = true;
        recorder_.record(job, "Normal", "Resumed", "Job resumed");
        // activeDeadlineSeconds counts continuous activity: restart it.
        statusOf(job)["startTime"] = formatRfc3339(now);
      }
    }
  }

  json::object& status = statusOf(job);
  bool needs_update =
      suspend_changed || active != statusInt(job, "active") ||
      api::intAt(status, {"ready"}) != std::optional<int64_t>(ctx.ready) ||
      api::intAt(status, {"terminating"}) != std::optional<int64_t>(ctx.terminating);
  setOmitEmpty(status, "active", active);
  status["ready"] = ctx.ready;
  status["terminating"] = ctx.terminating;
  if (Status s = trackJobStatusAndRemoveFinalizers(ctx, needs_update); !s.ok()) {
    Error e = s.error();
    e.message = "tracking status: " + e.message;
    return e;
  }
  return manage_err;
}

}  // namespace berth::controllers
