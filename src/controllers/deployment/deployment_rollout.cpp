// The rollout strategies, rollback and progress reporting of the Deployment
// controller: upstream's rolling.go, recreate.go, rollback.go and
// progress.go.

#include <algorithm>

#include "api/kinds/access.h"
#include "api/object.h"
#include "common/log.h"
#include "controllers/deployment/deployment_controller.h"
#include "controllers/deployment/deployment_util.h"
#include "controllers/pod_util.h"

namespace berth::controllers {

namespace json = boost::json;
namespace du = deploymentutil;
using api::Object;
using client::ObjectPtr;

// ---- rolling.go ----

Status DeploymentController::rolloutRolling(Object& d, RsList& rss) {
  BERTH_ASSIGN_OR_RETURN(RsSets sets, allReplicaSetsAndSyncRevision(d, rss, true));
  RsList all = sets.old_rss;
  all.push_back(sets.new_rs);

  // Scale up, if we can.
  BERTH_ASSIGN_OR_RETURN(bool scaled_up, reconcileNewReplicaSet(all, sets.new_rs, d));
  if (scaled_up) return syncRolloutStatus(all, sets.new_rs, d);

  // Scale down, if we can.
  BERTH_ASSIGN_OR_RETURN(
      bool scaled_down,
      reconcileOldReplicaSets(all, du::filterActiveReplicaSets(sets.old_rss), sets.new_rs, d));
  if (scaled_down) return syncRolloutStatus(all, sets.new_rs, d);

  const json::object* status = api::objAt(d, {"status"});
  json::object empty;
  if (du::deploymentComplete(d, status ? *status : empty))
    BERTH_RETURN_IF_ERROR(cleanupDeployment(sets.old_rss, d));
  return syncRolloutStatus(all, sets.new_rs, d);
}

Result<bool> DeploymentController::reconcileNewReplicaSet(const RsList& all_rss,
                                                          const ObjectPtr& new_rs,
                                                          const Object& d) {
  const int64_t want = du::replicas(d);
  bool scaled = false;
  if (du::replicas(*new_rs) == want) return false;  // Scaling not required.
  if (du::replicas(*new_rs) > want) {
    auto r = scaleReplicaSetAndRecordEvent(new_rs, want, d, &scaled);
    if (!r.ok()) return r.error();
    return scaled;
  }
  BERTH_ASSIGN_OR_RETURN(int64_t new_count, du::newRSNewReplicas(d, all_rss, *new_rs));
  auto r = scaleReplicaSetAndRecordEvent(new_rs, new_count, d, &scaled);
  if (!r.ok()) return r.error();
  return scaled;
}

Result<bool> DeploymentController::reconcileOldReplicaSets(const RsList& all_rss, RsList old_rss,
                                                           const ObjectPtr& new_rs,
                                                           const Object& d) {
  int64_t old_pods = du::replicaCount(old_rss);
  if (old_pods == 0) return false;  // Can't scale down further.
  int64_t all_pods = du::replicaCount(all_rss);
  int64_t max_unavailable = du::maxUnavailable(d);
  // Scale down as far as keeps minAvailable, counting the new replica set's
  // unavailable pods against the budget: otherwise a crash-looping new
  // revision would let old pods go and lower availability further.
  //   10 replicas, maxUnavailable 2, maxSurge 3: new RS at 5 crash-looping,
  //   old at 8: 13 - 8 - 5 = 0, nothing more goes until the new pods are up.
  int64_t min_available = du::replicas(d) - max_unavailable;
  int64_t new_unavailable =
      du::replicas(*new_rs) - api::intAt(*new_rs, {"status", "availableReplicas"}).value_or(0);
  int64_t max_scaled_down = all_pods - min_available - new_unavailable;
  if (max_scaled_down <= 0) return false;

  // Unhealthy old replicas go first: they do not reduce availability, and
  // they would otherwise block the rollout (upstream #16737).
  auto cleaned = cleanupUnhealthyReplicas(old_rss, d, max_scaled_down);
  if (!cleaned.ok()) return false;
  RsList all = old_rss;
  all.push_back(new_rs);
  auto scaled = scaleDownOldReplicaSetsForRollingUpdate(all, old_rss, d);
  if (!scaled.ok()) return false;
  return *cleaned + *scaled > 0;
}

Result<int64_t> DeploymentController::cleanupUnhealthyReplicas(RsList& old_rss, const Object& d,
                                                               int64_t max_cleanup) {
  du::sortByCreation(old_rss);
  int64_t total = 0;
  for (auto& rs : old_rss) {
    if (total >= max_cleanup) break;
    int64_t replicas = du::replicas(*rs);
    if (replicas == 0) continue;
    int64_t available = api::intAt(*rs, {"status", "availableReplicas"}).value_or(0);
    if (replicas == available) continue;  // No unhealthy replicas.
    int64_t down = std::min(max_cleanup - total, replicas - available);
    int64_t new_count = replicas - down;
    if (new_count > replicas) {
      return makeError(ErrorCode::kInternal,
                       "when cleaning up unhealthy replicas, got invalid request to scale down " +
                           client::keyOf(*rs) + " " + std::to_string(replicas) + " -> " +
                           std::to_string(new_count));
    }
    bool scaled = false;
    auto updated = scaleReplicaSetAndRecordEvent(rs, new_count, d, &scaled);
    if (!updated.ok()) return updated.error();
    total += down;
    rs = *updated;
  }
  return total;
}

Result<int64_t> DeploymentController::scaleDownOldReplicaSetsForRollingUpdate(const RsList& all_rss,
                                                                              RsList old_rss,
                                                                              const Object& d) {
  int64_t min_available = du::replicas(d) - du::maxUnavailable(d);
  int64_t available = du::availableReplicaCount(all_rss);
  if (available <= min_available) return int64_t{0};  // Cannot scale down.
  du::sortByCreation(old_rss);
  int64_t total = 0;
  const int64_t budget = available - min_available;
  for (const auto& rs : old_rss) {
    if (total >= budget) break;
    int64_t replicas = du::replicas(*rs);
    if (replicas == 0) continue;
    int64_t down = std::min(replicas, budget - total);
    int64_t new_count = replicas - down;
    if (new_count > replicas) {
      return makeError(ErrorCode::kInternal,
                       "when scaling down old RS, got invalid request to scale down " +
                           client::keyOf(*rs) + " " + std::to_string(replicas) + " -> " +
                           std::to_string(new_count));
    }
    bool scaled = false;
    auto updated = scaleReplicaSetAndRecordEvent(rs, new_count, d, &scaled);
    if (!updated.ok()) return updated.error();
    total += down;
  }
  return total;
}

// ---- recreate.go ----

namespace {

// oldPodsRunning: old replica sets still report pods, or pods of old
// replica sets are not terminal yet (Unknown counts as running).
bool oldPodsRunning(const ObjectPtr& new_rs, const std::vector<ObjectPtr>& old_rss,
                    const std::map<std::string, std::vector<ObjectPtr>>& pod_map) {
  if (du::actualReplicaCount(old_rss) > 0) return true;
  for (const auto& [rs_uid, pods] : pod_map) {
    if (new_rs && api::uid(*new_rs) == rs_uid) continue;
    for (const auto& pod : pods)
      if (!isPodTerminal(*pod)) return true;
  }
  return false;
}

}  // namespace

Status DeploymentController::rolloutRecreate(
    Object& d, RsList& rss, const std::map<std::string, std::vector<ObjectPtr>>& pod_map) {
  // No new replica set yet: scaling up must wait for the scale down.
  BERTH_ASSIGN_OR_RETURN(RsSets sets, allReplicaSetsAndSyncRevision(d, rss, false));
  RsList all = sets.old_rss;
  all.push_back(sets.new_rs);

  // Scale down old replica sets.
  bool scaled_down = false;
  for (const auto& rs : du::filterActiveReplicaSets(sets.old_rss)) {
    bool scaled = false;
    auto r = scaleReplicaSetAndRecordEvent(rs, 0, d, &scaled);
    if (!r.ok()) return r.error();
    scaled_down = scaled_down || scaled;
  }
  if (scaled_down) return syncRolloutStatus(all, sets.new_rs, d);

  // Wait until no old pod runs.
  if (oldPodsRunning(sets.new_rs, sets.old_rss, pod_map))
    return syncRolloutStatus(all, sets.new_rs, d);

  if (!sets.new_rs) {
    BERTH_ASSIGN_OR_RETURN(sets, allReplicaSetsAndSyncRevision(d, rss, true));
    all = sets.old_rss;
    all.push_back(sets.new_rs);
  }

  // Scale up the new replica set.
  bool scaled = false;
  auto up = scaleReplicaSetAndRecordEvent(sets.new_rs, du::replicas(d), d, &scaled);
  if (!up.ok()) return up.error();

  const json::object* status = api::objAt(d, {"status"});
  json::object empty;
  if (du::deploymentComplete(d, status ? *status : empty))
    BERTH_RETURN_IF_ERROR(cleanupDeployment(sets.old_rss, d));
  return syncRolloutStatus(all, sets.new_rs, d);
}

// ---- rollback.go ----

Status DeploymentController::rollback(Object& d, RsList& rss) {
  BERTH_ASSIGN_OR_RETURN(RsSets sets, allReplicaSetsAndSyncRevision(d, rss, true));
  RsList all = sets.old_rss;
  all.push_back(sets.new_rs);
  int64_t to = du::rollbackTo(d).value_or(0);
  // Revision 0: the previous revision.
  if (to == 0) {
    to = du::lastRevision(all);
    if (to == 0) {
      recorder_.record(d, "Warning", du::kRollbackRevisionNotFound,
                       "Unable to find last revision.");
      return updateDeploymentAndClearRollbackTo(d);
    }
  }
  for (const auto& rs : all) {
    if (!rs) continue;
    auto v = du::revision(*rs);
    if (!v.ok() || *v != to) continue;
    // Copy the template back; the revision moves up on the next sync, when
    // this replica set is found to be the new one.
    const json::object* rs_tmpl = api::objAt(*rs, {"spec", "template"});
    const json::object* d_tmpl = api::objAt(d, {"spec", "template"});
    json::object empty;
    bool performed = false;
    if (!du::equalIgnoreHash(d_tmpl ? *d_tmpl : empty, rs_tmpl ? *rs_tmpl : empty)) {
      json::object tmpl = rs_tmpl ? *rs_tmpl : empty;
      if (json::object* meta = tmpl.contains("metadata") ? tmpl["metadata"].if_object() : nullptr)
        if (json::object* labels =
                meta->contains("labels") ? (*meta)["labels"].if_object() : nullptr)
          labels->erase(du::kPodTemplateHashLabel);
      api::ensureObject(d, "spec")["template"] = std::move(tmpl);
      // The deployment takes the old revision's annotations (change-cause),
      // or the current ones would be copied onto the old replica set.
      du::setDeploymentAnnotationsTo(d, *rs);
      performed = true;
    } else {
      recorder_.record(d, "Warning", du::kRollbackTemplateUnchanged,
                       "The rollback revision contains the same template as current deployment \"" +
                           api::name(d) + "\"");
    }
    Status s = updateDeploymentAndClearRollbackTo(d);
    if (performed && s.ok()) {
      recorder_.record(
          d, "Normal", du::kRollbackDone,
          "Rolled back deployment \"" + api::name(d) + "\" to revision " + std::to_string(to));
    }
    return s;
  }
  recorder_.record(d, "Warning", du::kRollbackRevisionNotFound,
                   "Unable to find the revision to rollback to.");
  return updateDeploymentAndClearRollbackTo(d);
}

Status DeploymentController::updateDeploymentAndClearRollbackTo(Object& d) {
  du::clearRollbackTo(d);
  auto updated = client_.update(client::kind("apps", "Deployment"), d);
  if (!updated.ok()) return updated.error();
  return okStatus();
}

// ---- progress.go ----

Status DeploymentController::syncRolloutStatus(const RsList& all_rss, const ObjectPtr& new_rs,
                                               Object& d) {
  json::object new_status = calculateStatus(all_rss, new_rs, d);
  auto now = clock_.now();
  if (!du::hasProgressDeadline(d)) du::removeCondition(new_status, "Progressing");

  json::object empty;
  const json::object* old_status_p = api::objAt(d, {"status"});
  const json::object& old_status = old_status_p ? *old_status_p : empty;
  const json::object* current = du::getCondition(old_status, "Progressing");
  // A resync of a finished rollout with one replica set: no progress to
  // estimate.
  bool complete_before =
      du::statusCount(new_status, "replicas") == du::statusCount(new_status, "updatedReplicas") &&
      current && api::strAt(*current, {"reason"}) == du::kNewRSAvailableReason;
  if (du::hasProgressDeadline(d) && !complete_before) {
    std::string subject = new_rs ? "ReplicaSet \"" + api::name(*new_rs) + "\""
                                 : "Deployment \"" + api::name(d) + "\"";
    if (du::deploymentComplete(d, new_status)) {
      du::setCondition(new_status,
                       du::newCondition("Progressing", "True", du::kNewRSAvailableReason,
                                        subject + " has successfully progressed.", now));
    } else if (du::deploymentProgressing(d, new_status)) {
      // Progress refreshes lastUpdateTime even with an unchanged reason,
      // which setCondition alone would not do.
      json::object cond = du::newCondition("Progressing", "True", du::kReplicaSetUpdatedReason,
                                           subject + " is progressing.", now);
      if (current) {
        if (api::strAt(*current, {"status"}) == "True" && current->contains("lastTransitionTime"))
          cond["lastTransitionTime"] = current->at("lastTransitionTime");
        du::removeCondition(new_status, "Progressing");
      }
      du::setCondition(new_status, std::move(cond));
    } else if (du::deploymentTimedOut(d, new_status, now)) {
      du::setCondition(new_status, du::newCondition("Progressing", "False", du::kTimedOutReason,
                                                    subject + " has timed out progressing.", now));
    }
  }

  // ReplicaFailure of the replica sets (the new one's first) moves up.
  std::vector<json::object> failures;
  auto collect = [&](const ObjectPtr& rs) {
    if (!rs) return;
    const json::array* conds = api::arrAt(*rs, {"status", "conditions"});
    if (!conds) return;
    for (const auto& c : *conds) {
      const json::object* co = c.if_object();
      if (!co || api::strAt(*co, {"type"}) != "ReplicaFailure") continue;
      json::object dc;
      dc["type"] = "ReplicaFailure";
      dc["status"] = api::strAt(*co, {"status"});
      dc["lastUpdateTime"] = api::strAt(*co, {"lastTransitionTime"});
      dc["lastTransitionTime"] = api::strAt(*co, {"lastTransitionTime"});
      dc["reason"] = api::strAt(*co, {"reason"});
      dc["message"] = api::strAt(*co, {"message"});
      failures.push_back(std::move(dc));
    }
  };
  collect(new_rs);
  if (failures.empty())
    for (const auto& rs : all_rss) collect(rs);
  if (!failures.empty())
    du::setCondition(new_status, failures.front());
  else
    du::removeCondition(new_status, "ReplicaFailure");

  if (old_status_p && old_status == new_status) {
    requeueStuckDeployment(d, new_status);
    return okStatus();
  }
  d["status"] = std::move(new_status);
  return writeStatus(d);
}

void DeploymentController::requeueStuckDeployment(const Object& d, const json::object& new_status) {
  const json::object* status = api::objAt(d, {"status"});
  const json::object* current = status ? du::getCondition(*status, "Progressing") : nullptr;
  if (!du::hasProgressDeadline(d) || !current) return;
  if (du::deploymentComplete(d, new_status) ||
      api::strAt(*current, {"reason"}) == du::kTimedOutReason)
    return;
  // No progress now: check again when the deadline would pass, measured
  // from the last progress (lastUpdateTime), +1s against skew.
  auto last = timeAt(*current, {"lastUpdateTime"}).value_or(TimePoint{});
  auto after = std::chrono::duration_cast<std::chrono::milliseconds>(
      last + std::chrono::seconds(du::progressDeadlineSeconds(d)) - clock_.now());
  std::string key = client::keyOf(d);
  std::chrono::milliseconds delay;
  if (after < std::chrono::seconds(1)) {
    delay = std::chrono::milliseconds(5);
  } else {
    delay = after + std::chrono::seconds(1);
  }
  {
    std::lock_guard lock(failures_mu_);
    progress_requeues_[key] = delay;
  }
  queue_.addAfter(key, delay);
}

}  // namespace berth::controllers
