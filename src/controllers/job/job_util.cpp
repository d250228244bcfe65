#include "controllers/job/job_util.h"

#include <algorithm>

#include "api/kinds/access.h"
#include "api/object.h"
#include "controllers/pod_util.h"

namespace berth::controllers {

namespace json = boost::json;
using api::Object;
using client::ObjectPtr;
using TimePoint = std::chrono::system_clock::time_point;

bool isJobFinished(const Object& job) { return !jobFinishedType(job).empty(); }

std::string jobFinishedType(const Object& job) {
  if (const json::array* conds = api::arrAt(job, {"status", "conditions"}))
    for (const auto& c : *conds)
      if (const json::object* co = c.if_object()) {
        std::string type = api::strAt(*co, {"type"});
        if ((type == "Complete" || type == "Failed") && api::strAt(*co, {"status"}) == "True")
          return type;
      }
  return "";
}

bool hasJobTrackingFinalizer(const Object& pod) {
  if (const json::array* f = api::arrAt(pod, {"metadata", "finalizers"}))
    for (const auto& v : *f)
      if (v.is_string() && v.as_string() == kJobTrackingFinalizer) return true;
  return false;
}

namespace jobutil {

const json::object* findCondition(const Object& job, std::string_view type) {
  if (const json::array* conds = api::arrAt(job, {"status", "conditions"}))
    for (const auto& c : *conds)
      if (const json::object* co = c.if_object(); co && api::strAt(*co, {"type"}) == type)
        return co;
  return nullptr;
}

json::object newCondition(const std::string& type, const std::string& status,
                          const std::string& reason, const std::string& message, TimePoint now) {
  json::object c;
  c["type"] = type;
  c["status"] = status;
  c["lastProbeTime"] = formatRfc3339(now);
  c["lastTransitionTime"] = formatRfc3339(now);
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  return c;
}

json::object& statusOf(Object& job) { return api::ensureObject(job, "status"); }

// ensureJobConditionStatus: appends or updates the condition; a missing
// condition is not added as False. Returns whether anything changed.
bool ensureJobConditionStatus(Object& job, const std::string& type, const std::string& status,
                              const std::string& reason, const std::string& message,
                              TimePoint now) {
  json::array& conds = api::ensureArray(statusOf(job), "conditions");
  for (auto& c : conds) {
    json::object* co = c.if_object();
    if (!co || api::strAt(*co, {"type"}) != type) continue;
    if (api::strAt(*co, {"status"}) != status || api::strAt(*co, {"reason"}) != reason ||
        api::strAt(*co, {"message"}) != message) {
      *co = newCondition(type, status, reason, message, now);
      return true;
    }
    return false;
  }
  if (status != "False") {
    conds.push_back(newCondition(type, status, reason, message, now));
    return true;
  }
  if (conds.empty()) statusOf(job).erase("conditions");
  return false;
}

bool jobSuspended(const Object& job) {
  return api::boolAt(job, {"spec", "suspend"}).value_or(false);
}
bool isIndexedJob(const Object& job) {
  return api::strAt(job, {"spec", "completionMode"}) == "Indexed";
}
std::optional<int64_t> completionsOf(const Object& job) {
  return api::intAt(job, {"spec", "completions"});
}
int64_t parallelismOf(const Object& job) {
  return api::intAt(job, {"spec", "parallelism"}).value_or(1);
}
int64_t backoffLimitOf(const Object& job) {
  return api::intAt(job, {"spec", "backoffLimit"}).value_or(6);
}

// onlyReplaceFailedPods: podReplacementPolicy Failed (implied by a
// podFailurePolicy).
bool onlyReplaceFailedPods(const Object& job) {
  return api::strAt(job, {"spec", "podReplacementPolicy"}) == "Failed" ||
         api::at(job, {"spec", "podFailurePolicy"});
}

std::string phaseOf(const Object& pod) { return api::strAt(pod, {"status", "phase"}); }

// isPodFailed: Failed, or (unless only failed pods are replaced) deleted
// before it succeeded, which counts orphans that never reach Failed.
bool isPodFailedForJob(const Object& pod, const Object& job) {
  if (phaseOf(pod) == "Failed") return true;
  if (onlyReplaceFailedPods(job)) return false;
  return hasDeletionTimestamp(pod) && phaseOf(pod) != "Succeeded";
}

// IsPodTerminating: being deleted and not terminal yet.
bool isPodTerminating(const Object& pod) {
  return !isPodTerminal(pod) && hasDeletionTimestamp(pod);
}

int64_t statusInt(const Object& job, std::string_view field) {
  return api::intAt(job, {"status", field}).value_or(0);
}

void setOmitEmpty(json::object& status, std::string_view key, int64_t v) {
  if (v == 0)
    status.erase(key);
  else
    status[key] = v;
}

std::vector<std::string> uncountedList(const Object& job, std::string_view which) {
  std::vector<std::string> out;
  if (const json::array* a = api::arrAt(job, {"status", "uncountedTerminatedPods", which}))
    for (const auto& v : *a)
      if (v.is_string()) out.emplace_back(v.as_string());
  return out;
}

void setUncountedList(Object& job, std::string_view which, const std::vector<std::string>& uids) {
  json::object& u = api::ensureObject(statusOf(job), "uncountedTerminatedPods");
  if (uids.empty()) {
    u.erase(which);
    return;
  }
  json::array a;
  for (const auto& s : uids) a.emplace_back(s);
  u[which] = std::move(a);
}

// getFinishedTime of backoff_utils.go: the last container termination, the
// Ready=False transition, the deletion time minus grace, or creation.
TimePoint finishedTime(const Object& pod) {
  if (const json::array* statuses = api::arrAt(pod, {"status", "containerStatuses"});
      statuses && !statuses->empty()) {
    std::optional<TimePoint> latest;
    bool all = true;
    for (const auto& s : *statuses) {
      const json::object* so = s.if_object();
      std::optional<TimePoint> t;
      if (so) {
        const json::value* v = api::at(*so, {"state", "terminated", "finishedAt"});
        TimePoint tp;
        if (v && v->is_string() && parseRfc3339(std::string(v->as_string()), &tp)) t = tp;
      }
      if (!t) {
        all = false;
        break;
      }
      if (!latest || *latest < *t) latest = t;
    }
    if (all && latest) return *latest;
  }
  if (const json::object* ready = podCondition(pod, "Ready");
      ready && api::strAt(*ready, {"status"}) == "False") {
    TimePoint tp;
    if (parseRfc3339(api::strAt(*ready, {"lastTransitionTime"}), &tp)) return tp;
  }
  if (auto del = timeAt(pod, {"metadata", "deletionTimestamp"}))
    return *del - std::chrono::seconds(
                      api::intAt(pod, {"metadata", "deletionGracePeriodSeconds"}).value_or(0));
  return creationTime(pod);
}

std::string removeTrackingFinalizerPatch() {
  json::object meta{{"$deleteFromPrimitiveList/finalizers", json::array{kJobTrackingFinalizer}}};
  return json::serialize(json::object{{"metadata", meta}});
}

// controller.ActivePods order (deleted first): unassigned, pending, not
// ready, ready for less time, more restarts, newer.
void sortActivePods(std::vector<ObjectPtr>& pods) {
  std::vector<int> ranks(pods.size(), 0);
  sortActivePodsWithRanks(pods, ranks, TimePoint{});
}

}  // namespace jobutil
}  // namespace berth::controllers
