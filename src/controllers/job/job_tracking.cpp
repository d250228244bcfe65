// The Job controller's exactly-once accounting of finished pods, after
// upstream's trackJobStatusAndRemoveFinalizers and
// flushUncountedAndRemoveFinalizers (pkg/controller/job/job_controller.go).

#include <algorithm>

#include "api/kinds/access.h"
#include "api/object.h"
#include "common/log.h"
#include "controllers/job/job_controller.h"
#include "controllers/job/job_util.h"
#include "controllers/pod_util.h"

namespace berth::controllers {

namespace json = boost::json;
using api::Object;
using client::ObjectPtr;
using namespace jobutil;

// ---- status tracking ----

Status JobController::updateJobStatus(Ctx& ctx) {
  auto res = client_.update(job_kind_, ctx.job, client::Subresource::kStatus);
  if (!res.ok()) return res.error();
  ctx.job = **res;
  return okStatus();
}

namespace {

// cleanUncountedPodsWithoutFinalizers: uncounted pods whose finalizer is
// gone move into the counters.
bool cleanUncounted(Object& job, const std::set<std::string>& uids_with_finalizer) {
  bool updated = false;
  for (const char* which : {"succeeded", "failed"}) {
    std::vector<std::string> cur = uncountedList(job, which), kept;
    for (const auto& u : cur)
      if (uids_with_finalizer.count(u)) kept.push_back(u);
    if (kept.size() != cur.size()) {
      updated = true;
      json::object& status = statusOf(job);
      setOmitEmpty(
          status, which,
          api::intAt(status, {which}).value_or(0) + static_cast<int64_t>(cur.size() - kept.size()));
      setUncountedList(job, which, kept);
    }
  }
  return updated;
}

}  // namespace

Status JobController::flushUncountedAndRemoveFinalizers(Ctx& ctx,
                                                        const std::vector<ObjectPtr>& to_remove,
                                                        std::set<std::string>& uids_with_finalizer,
                                                        bool* needs_flush) {
  if (*needs_flush) {
    // The uncounted UIDs (and interim conditions) are recorded before any
    // finalizer goes, so no pod can be lost from the counts.
    if (Status s = updateJobStatus(ctx); !s.ok()) {
      Error e = s.error();
      e.message = "adding uncounted pods to status: " + e.message;
      return e;
    }
    {
      std::lock_guard lock(mu_);
      backoff_[ctx.key] = ctx.new_backoff;
    }
    *needs_flush = false;
  }
  Status rm_err;
  if (!to_remove.empty()) {
    std::vector<std::string> uids;
    for (const auto& p : to_remove) uids.push_back(api::uid(*p));
    expectFinalizersRemoved(ctx.key, uids);
    for (const auto& pod : to_remove) {
      Status s = pod_control_.patchPod(api::namespaceOf(*pod), api::name(*pod),
                                       removeTrackingFinalizerPatch());
      if (!s.ok()) {
        // No update will come for this pod's finalizer.
        finalizerRemovalObserved(ctx.key, api::uid(*pod));
        if (s.error().code != ErrorCode::kNotFound) {
          if (rm_err.ok()) rm_err = s;
          continue;
        }
      }
      uids_with_finalizer.erase(api::uid(*pod));
    }
  }
  if (cleanUncounted(ctx.job, uids_with_finalizer)) *needs_flush = true;
  if (!rm_err.ok() && *needs_flush) {
    // Record the partial progress.
    if (Status s = updateJobStatus(ctx); !s.ok()) {
      Error e = s.error();
      e.message = "removing uncounted pods from status: " + e.message;
      return e;
    }
  }
  return rm_err;
}

bool JobController::enactJobFinished(Ctx& ctx) {
  if (!ctx.finished_condition) return false;
  if (!uncountedList(ctx.job, "succeeded").empty() || !uncountedList(ctx.job, "failed").empty())
    return false;
  // Pods still terminating delay the terminal condition.
  if (ctx.terminating > 0) return false;
  const json::object& cond = *ctx.finished_condition;
  std::string type = api::strAt(cond, {"type"});
  ensureJobConditionStatus(ctx.job, type, api::strAt(cond, {"status"}),
                           api::strAt(cond, {"reason"}), api::strAt(cond, {"message"}),
                           clock_.now());
  if (type == "Complete")
    statusOf(ctx.job)["completionTime"] = api::strAt(cond, {"lastTransitionTime"});
  return true;
}

Status JobController::trackJobStatusAndRemoveFinalizers(Ctx& ctx, bool needs_flush) {
  const bool indexed = isIndexedJob(ctx.job);
  const int64_t completions = completionsOf(ctx.job).value_or(0);
  std::vector<ObjectPtr> pods = ctx.pods;
  if (indexed)
    std::stable_sort(pods.begin(), pods.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
      return completionIndex(*a) < completionIndex(*b);
    });
  std::set<std::string> uids_with_finalizer;
  for (const auto& p : pods)
    if (hasJobTrackingFinalizer(*p) && !ctx.expected_rm_finalizers.count(api::uid(*p)))
      uids_with_finalizer.insert(api::uid(*p));
  if (cleanUncounted(ctx.job, uids_with_finalizer)) needs_flush = true;

  std::vector<std::string> unc_succeeded = uncountedList(ctx.job, "succeeded");
  std::vector<std::string> unc_failed = uncountedList(ctx.job, "failed");
  std::vector<int> new_succeeded_indexes;
  std::vector<ObjectPtr> to_remove;
  bool reached_max = false;
  const bool finished_failing =
      ctx.finished_condition &&
      api::strAt(*ctx.finished_condition, {"type"}) != "SuccessCriteriaMet";
  for (const auto& pod : pods) {
    const std::string uid = api::uid(*pod);
    if (!hasJobTrackingFinalizer(*pod) || ctx.expected_rm_finalizers.count(uid)) continue;
    bool consider_failed = isPodFailedForJob(*pod, ctx.job);
    // canRemoveFinalizer.
    bool can_remove = hasDeletionTimestamp(ctx.job) || ctx.finished_condition ||
                      phaseOf(*pod) == "Succeeded" || consider_failed;
    if (!can_remove) continue;
    to_remove.push_back(pod);
    if (phaseOf(*pod) == "Succeeded" && !ctx.uncounted_failed.count(uid)) {
      if (indexed) {
        int ix = completionIndex(*pod);
        if (ix != kUnknownCompletionIndex && ix < completions &&
            !ctx.prev_succeeded_indexes.has(ix)) {
          new_succeeded_indexes.push_back(ix);
          needs_flush = true;
        }
      } else if (!ctx.uncounted_succeeded.count(uid)) {
        needs_flush = true;
        unc_succeeded.push_back(uid);
      }
    } else if (consider_failed || finished_failing) {
      // A finished Job counts every pod that did not succeed as failed.
      int ix = completionIndex(*pod);
      if (!ctx.uncounted_failed.count(uid) &&
          (!indexed || (ix != kUnknownCompletionIndex && ix < completions))) {
        needs_flush = true;
        unc_failed.push_back(uid);
      }
    }
    if (static_cast<int>(new_succeeded_indexes.size() + unc_succeeded.size() + unc_failed.size()) >=
        kMaxUncountedPods) {
      // Keep status small; the status update and pod events bring the Job
      // back for the rest.
      reached_max = true;
      break;
    }
  }
  setUncountedList(ctx.job, "succeeded", unc_succeeded);
  setUncountedList(ctx.job, "failed", unc_failed);
  if (indexed) {
    std::sort(new_succeeded_indexes.begin(), new_succeeded_indexes.end());
    ctx.succeeded_indexes = ctx.succeeded_indexes.withOrderedIndexes(new_succeeded_indexes);
    std::string str = ctx.succeeded_indexes.toString();
    json::object& status = statusOf(ctx.job);
    if (str != api::strAt(status, {"completedIndexes"})) needs_flush = true;
    setOmitEmpty(status, "succeeded", ctx.succeeded_indexes.total());
    if (str.empty())
      status.erase("completedIndexes");
    else
      status["completedIndexes"] = str;
  }
  if (ctx.finished_condition && api::strAt(*ctx.finished_condition, {"type"}) == "FailureTarget") {
    // The interim FailureTarget is recorded before the finalizers go; the
    // final Failed follows once the pods are accounted for.
    api::ensureArray(statusOf(ctx.job), "conditions").push_back(*ctx.finished_condition);
    needs_flush = true;
    ctx.finished_condition =
        newCondition("Failed", "True", api::strAt(*ctx.finished_condition, {"reason"}),
                     api::strAt(*ctx.finished_condition, {"message"}), clock_.now());
  }
  if (ctx.finished_condition &&
      api::strAt(*ctx.finished_condition, {"type"}) == "SuccessCriteriaMet") {
    if (!findCondition(ctx.job, "SuccessCriteriaMet")) {
      api::ensureArray(statusOf(ctx.job), "conditions").push_back(*ctx.finished_condition);
      needs_flush = true;
    }
    ctx.finished_condition =
        newCondition("Complete", "True", api::strAt(*ctx.finished_condition, {"reason"}),
                     api::strAt(*ctx.finished_condition, {"message"}), clock_.now());
  }
  BERTH_RETURN_IF_ERROR(
      flushUncountedAndRemoveFinalizers(ctx, to_remove, uids_with_finalizer, &needs_flush));
  bool job_finished = !reached_max && enactJobFinished(ctx);
  if (job_finished) needs_flush = true;
  if (!needs_flush) return okStatus();
  if (Status s = updateJobStatus(ctx); !s.ok()) {
    Error e = s.error();
    e.message = "removing uncounted pods from status: " + e.message;
    return e;
  }
  {
    std::lock_guard lock(mu_);
    backoff_[ctx.key] = ctx.new_backoff;
  }
  if (job_finished) {
    const json::object& cond = *ctx.finished_condition;
    if (api::strAt(cond, {"type"}) == "Complete") {
      auto completions_opt = completionsOf(ctx.job);
      if (completions_opt && statusInt(ctx.job, "succeeded") > *completions_opt)
        recorder_.record(ctx.job, "Warning", "TooManySucceededPods",
                         "Too many succeeded pods running after completion count reached");
      recorder_.record(ctx.job, "Normal", "Completed", "Job completed");
    } else {
      recorder_.record(ctx.job, "Warning", api::strAt(cond, {"reason"}),
                       api::strAt(cond, {"message"}));
    }
  }
  return okStatus();
}

}  // namespace berth::controllers
