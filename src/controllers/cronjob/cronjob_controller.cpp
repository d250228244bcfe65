#include "controllers/cronjob/cronjob_controller.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <set>

#include "api/kinds/access.h"
#include "api/object.h"
#include "common/log.h"
#include "controllers/pod_control.h"
#include "controllers/pod_util.h"

namespace berth::controllers {

namespace json = boost::json;
using api::Object;
using client::ObjectPtr;
using TimePoint = std::chrono::system_clock::time_point;

namespace {

int64_t unixSeconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// The finished condition ("Complete" / "Failed") of a Job, or "".
std::string finishedType(const Object& job) {
  if (const json::array* conds = api::arrAt(job, {"status", "conditions"}))
    for (const auto& c : *conds)
      if (const json::object* co = c.if_object()) {
        std::string type = api::strAt(*co, {"type"});
        if ((type == "Complete" || type == "Failed") && api::strAt(*co, {"status"}) == "True")
          return type;
      }
  return "";
}

bool inActiveList(const Object& cj, const std::string& uid) {
  if (const json::array* active = api::arrAt(cj, {"status", "active"}))
    for (const auto& r : *active)
      if (r.is_object() && api::strAt(r.as_object(), {"uid"}) == uid) return true;
  return false;
}

bool inActiveListByName(const Object& cj, const std::string& ns, const std::string& name) {
  if (const json::array* active = api::arrAt(cj, {"status", "active"}))
    for (const auto& r : *active)
      if (r.is_object() && api::strAt(r.as_object(), {"name"}) == name &&
          api::strAt(r.as_object(), {"namespace"}) == ns)
        return true;
  return false;
}

void deleteFromActiveList(Object& cj, const std::string& uid) {
  json::object& status = api::ensureObject(cj, "status");
  auto it = status.find("active");
  if (it == status.end() || !it->value().is_array()) return;
  json::array kept;
  for (const auto& r : it->value().as_array())
    if (!r.is_object() || api::strAt(r.as_object(), {"uid"}) != uid) kept.push_back(r);
  if (kept.empty())
    status.erase("active");
  else
    status["active"] = std::move(kept);
}

// time.RFC1123Z in UTC: "Fri, 01 Mar 2024 10:00:00 +0000".
std::string rfc1123z(TimePoint t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

json::object jobRef(const Object& job) {
  json::object ref;
  ref["kind"] = "Job";
  ref["namespace"] = api::namespaceOf(job);
  ref["name"] = api::name(job);
  ref["uid"] = api::uid(job);
  ref["apiVersion"] = "batch/v1";
  ref["resourceVersion"] = api::strAt(job, {"metadata", "resourceVersion"});
  return ref;
}

}  // namespace

std::string cronJobName(const std::string& cronjob, TimePoint scheduled) {
  // getTimeHashInMinutes.
  return cronjob + "-" + std::to_string(unixSeconds(scheduled) / 60);
}

MostRecent mostRecentScheduleTime(const Object& cj, TimePoint now, const CronSchedule& sched,
                                  bool include_starting_deadline) {
  MostRecent out;
  out.earliest = creationTime(cj);
  if (auto last = timeAt(cj, {"status", "lastScheduleTime"})) out.earliest = *last;
  if (include_starting_deadline) {
    if (auto sds = api::intAt(cj, {"spec", "startingDeadlineSeconds"})) {
      // Nothing before this point is scheduled any more.
      TimePoint deadline = now - std::chrono::seconds(*sds);
      if (deadline > out.earliest) out.earliest = deadline;
    }
  }
  auto too_close =
      makeError(ErrorCode::kInvalid, "time difference between two schedules is less than 1 second");
  auto t1 = sched.next(out.earliest);
  if (t1 && now < *t1) return out;
  auto t2 = t1 ? sched.next(*t1) : std::nullopt;
  if (t1 && t2 && now < *t2) {
    out.most_recent = t1;
    out.missed = MostRecent::kFew;
    return out;
  }
  if (!t1 || !t2) {
    out.error = too_close;
    return out;
  }
  // A rough count of missed schedules: how many t1..t2 intervals fit until
  // now; then walk from a little before the estimate.
  int64_t between =
      (std::chrono::duration_cast<std::chrono::milliseconds>(*t2 - *t1).count() + 500) / 1000;
  if (between < 1) {
    out.error = too_close;
    return out;
  }
  int64_t elapsed = std::chrono::duration_cast<std::chrono::seconds>(now - *t1).count();
  int64_t missed = elapsed / between + 1;
  TimePoint potential = *t1 + std::chrono::seconds((missed - 2) * between);
  for (auto t = sched.next(potential); t && *t <= now; t = sched.next(*t)) out.most_recent = t;
  if (missed > 100)
    out.missed = MostRecent::kMany;
  else if (missed > 0)
    out.missed = MostRecent::kFew;
  return out;
}

std::optional<std::chrono::milliseconds> nextScheduleTimeDuration(const Object& cj, TimePoint now,
                                                                  const CronSchedule& sched) {
  MostRecent mr = mostRecentScheduleTime(cj, now, sched, false);
  TimePoint base;
  if (!mr.error.ok())
    base = now;  // still requeue, aiming for the next slot from now
  else if (mr.most_recent)
    base = *mr.most_recent;
  else
    base = mr.earliest;
  auto next = sched.next(base);
  if (!next) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(*next - now) +
         CronJobController::kNextScheduleDelta;
}

CronJobController::CronJobController(client::Client& client, client::InformerFactory& informers,
                                     client::EventRecorder& recorder, Clock& clock, int workers)
    : client_(client),
      cj_kind_(client::kind("batch", "CronJob")),
      job_kind_(client::kind("batch", "Job")),
      cj_informer_(informers.forKind(cj_kind_)),
      job_informer_(informers.forKind(job_kind_)),
      recorder_(recorder),
      clock_(clock),
      loop_(
          "cronjob-controller", [this](const std::string& key) { return sync(key); },
          {&cj_informer_, &job_informer_}, workers) {
  using C = CronJobController;
  cj_informer_.addHandlers(
      gatedHandlers(gate_, this, &C::addCronJob, &C::updateCronJob, &C::deleteCronJob));
  job_informer_.addHandlers(gatedHandlers(gate_, this, &C::addJob, &C::updateJob, &C::deleteJob));
}

CronJobController::~CronJobController() { stop(); }

void CronJobController::start() { loop_.start(); }

void CronJobController::stop() {
  gate_.close();
  loop_.stop();
}

// ---- handlers ----

void CronJobController::addCronJob(const ObjectPtr& cj) { loop_.enqueue(client::keyOf(*cj)); }

void CronJobController::updateCronJob(const ObjectPtr& old_cj, const ObjectPtr& cur_cj) {
  std::string key = client::keyOf(*cur_cj);
  const json::value* old_tz = api::at(*old_cj, {"spec", "timeZone"});
  const json::value* cur_tz = api::at(*cur_cj, {"spec", "timeZone"});
  bool schedule_changed =
      api::strAt(*old_cj, {"spec", "schedule"}) != api::strAt(*cur_cj, {"spec", "schedule"}) ||
      (old_tz == nullptr) != (cur_tz == nullptr) || (old_tz && cur_tz && *old_tz != *cur_tz);
  if (!schedule_changed) {
    // Other changes: sync now (within the deadline it may start a Job).
    loop_.enqueue(key);
    return;
  }
  // The schedule changed: requeue for the new next time.
  auto sched = scheduleOf(*cur_cj, false);
  if (!sched.ok()) {
    recorder_.record(
        *cur_cj, "Warning", "UnParseableCronJobSchedule",
        "unparseable schedule for cronjob: " + api::strAt(*cur_cj, {"spec", "schedule"}));
    return;
  }
  if (auto d = nextScheduleTimeDuration(*cur_cj, clock_.now(), *sched)) loop_.enqueueAfter(key, *d);
}

void CronJobController::deleteCronJob(const ObjectPtr& cj) { loop_.enqueue(client::keyOf(*cj)); }

ObjectPtr CronJobController::resolveControllerRef(const std::string& ns,
                                                  const json::object& ref) const {
  return controllers::resolveControllerRef(cj_informer_, cj_kind_.kind, ns, ref);
}

void CronJobController::addJob(const ObjectPtr& job) {
  if (hasDeletionTimestamp(*job)) {
    deleteJob(job);
    return;
  }
  if (const json::object* ref = controllerRef(*job))
    if (ObjectPtr cj = resolveControllerRef(api::namespaceOf(*job), *ref))
      loop_.enqueue(client::keyOf(*cj));
}

void CronJobController::updateJob(const ObjectPtr& old_job, const ObjectPtr& cur_job) {
  if (api::strAt(*old_job, {"metadata", "resourceVersion"}) ==
      api::strAt(*cur_job, {"metadata", "resourceVersion"}))
    return;
  const json::object* cur_ref = controllerRef(*cur_job);
  const json::object* old_ref = controllerRef(*old_job);
  bool ref_changed =
      (cur_ref == nullptr) != (old_ref == nullptr) || (cur_ref && *cur_ref != *old_ref);
  if (ref_changed && old_ref)
    if (ObjectPtr cj = resolveControllerRef(api::namespaceOf(*old_job), *old_ref))
      loop_.enqueue(client::keyOf(*cj));
  if (cur_ref)
    if (ObjectPtr cj = resolveControllerRef(api::namespaceOf(*cur_job), *cur_ref))
      loop_.enqueue(client::keyOf(*cj));
}

void CronJobController::deleteJob(const ObjectPtr& job) {
  if (const json::object* ref = controllerRef(*job))
    if (ObjectPtr cj = resolveControllerRef(api::namespaceOf(*job), *ref))
      loop_.enqueue(client::keyOf(*cj));
}

// ---- sync ----

Result<CronSchedule> CronJobController::scheduleOf(const Object& cj, bool record) {
  std::string schedule = api::strAt(cj, {"spec", "schedule"});
  // formatSchedule: TZ in the schedule itself is used as is (but not
  // supported); otherwise spec.timeZone applies.
  if (schedule.find("TZ") != std::string::npos) {
    if (record)
      recorder_.record(cj, "Warning", "UnsupportedSchedule",
                       "CRON_TZ or TZ used in schedule \"" + schedule +
                           "\" is not officially supported, see "
                           "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ "
                           "for more details");
    return CronSchedule::parse(schedule);
  }
  TimeZone zone;
  if (const json::value* tz = api::at(cj, {"spec", "timeZone"}); tz && tz->is_string()) {
    auto loaded = TimeZone::load(std::string(tz->as_string()));
    if (loaded.ok()) zone = *loaded;
  }
  return CronSchedule::parse(schedule, zone);
}

bool CronJobController::deleteJobOf(Object& cj, const Object& job) {
  client::DeleteOptions opts;
  opts.propagation = client::Propagation::kBackground;
  auto res = client_.remove(job_kind_, api::namespaceOf(job), api::name(job), opts);
  if (!res.ok() && res.error().code != ErrorCode::kNotFound) {
    recorder_.record(cj, "Warning", "FailedDelete", "Deleted job: " + res.error().message);
    BERTH_LOG(kWarning, "controllers")
        << "error deleting job from cronjob job=" << client::keyOf(job)
        << " err=" << res.error().message;
    return false;
  }
  deleteFromActiveList(cj, api::uid(job));
  recorder_.record(cj, "Normal", "SuccessfulDelete", "Deleted job " + api::name(job));
  return true;
}

bool CronJobController::removeOldestJobs(Object& cj, std::vector<ObjectPtr> jobs,
                                         int64_t max_jobs) {
  int64_t to_delete = static_cast<int64_t>(jobs.size()) - max_jobs;
  if (to_delete <= 0) return false;
  // byJobStartTime: started before unstarted, oldest first, then by name.
  std::stable_sort(jobs.begin(), jobs.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
    auto sa = timeAt(*a, {"status", "startTime"}), sb = timeAt(*b, {"status", "startTime"});
    if (!sb) return sa.has_value();
    if (!sa) return false;
    if (*sa == *sb) return api::name(*a) < api::name(*b);
    return *sa < *sb;
  });
  bool updated = false;
  for (int64_t i = 0; i < to_delete; ++i)
    if (deleteJobOf(cj, *jobs[i])) updated = true;
  return updated;
}

bool CronJobController::cleanupFinishedJobs(Object& cj, const std::vector<ObjectPtr>& jobs) {
  auto successful_limit = api::intAt(cj, {"spec", "successfulJobsHistoryLimit"});
  auto failed_limit = api::intAt(cj, {"spec", "failedJobsHistoryLimit"});
  if (!successful_limit && !failed_limit) return false;
  std::vector<ObjectPtr> successful, failed;
  for (const auto& j : jobs) {
    std::string type = finishedType(*j);
    if (type == "Complete")
      successful.push_back(j);
    else if (type == "Failed")
      failed.push_back(j);
  }
  bool updated = false;
  if (successful_limit && removeOldestJobs(cj, successful, *successful_limit)) updated = true;
  if (failed_limit && removeOldestJobs(cj, failed, *failed_limit)) updated = true;
  return updated;
}

Result<std::optional<std::chrono::milliseconds>> CronJobController::syncCronJob(
    Object& cj, const std::vector<ObjectPtr>& jobs, bool* update_status) {
  using Requeue = std::optional<std::chrono::milliseconds>;
  const TimePoint now = clock_.now();
  const std::string ns = api::namespaceOf(cj);
  std::set<std::string> children;
  for (const auto& j : jobs) {
    const std::string uid = api::uid(*j);
    children.insert(uid);
    bool found = inActiveList(cj, uid);
    std::string finished = finishedType(*j);
    if (!found && finished.empty()) {
      // Our status may be older than the Job list: check a fresh copy.
      BERTH_ASSIGN_OR_RETURN(ObjectPtr fresh, client_.get(cj_kind_, ns, api::name(cj)));
      if (inActiveList(*fresh, uid)) {
        cj = *fresh;
        continue;
      }
      recorder_.record(cj, "Warning", "UnexpectedJob",
                       "Saw a job that the controller did not create or forgot: " + api::name(*j));
    } else if (found && !finished.empty()) {
      deleteFromActiveList(cj, uid);
      recorder_.record(cj, "Normal", "SawCompletedJob",
                       "Saw completed job: " + api::name(*j) + ", status: " + finished);
      *update_status = true;
    } else if (finished == "Complete") {
      // A Job need not be active to count as the last success.
      auto completed = timeAt(*j, {"status", "completionTime"});
      auto last = timeAt(cj, {"status", "lastSuccessfulTime"});
      if (completed && (!last || *completed > *last)) {
        api::ensureObject(cj, "status")["lastSuccessfulTime"] = formatRfc3339(*completed);
        *update_status = true;
      }
    }
  }
  // Active entries whose Job is gone would keep the CronJob "active"
  // forever; check the API, not just the cache, before dropping them.
  std::vector<json::object> active;
  if (const json::array* a = api::arrAt(cj, {"status", "active"}))
    for (const auto& r : *a)
      if (r.is_object()) active.push_back(r.as_object());
  for (const auto& ref : active) {
    if (children.count(api::strAt(ref, {"uid"}))) continue;
    auto got =
        client_.get(job_kind_, api::strAt(ref, {"namespace"}, ns), api::strAt(ref, {"name"}));
    if (got.ok()) continue;
    if (got.error().code != ErrorCode::kNotFound) return got.error();
    recorder_.record(cj, "Normal", "MissingJob",
                     "Active job went missing: " + api::strAt(ref, {"name"}));
    deleteFromActiveList(cj, api::strAt(ref, {"uid"}));
    *update_status = true;
  }

  if (hasDeletionTimestamp(cj)) return Requeue();
  TimeZone zone;
  if (const json::value* tz = api::at(cj, {"spec", "timeZone"}); tz && tz->is_string()) {
    std::string name(tz->as_string());
    auto loaded = TimeZone::load(name);
    if (!loaded.ok()) {
      recorder_.record(cj, "Warning", "UnknownTimeZone",
                       "invalid timeZone: \"" + name + "\": " + loaded.error().message);
      return Requeue();
    }
    zone = *loaded;
  }
  if (api::boolAt(cj, {"spec", "suspend"}).value_or(false)) {
    BERTH_LOG(kDebug, "controllers")
        << "not starting job because the cronjob is suspended cronjob=" << client::keyOf(cj);
    return Requeue();
  }
  auto sched = scheduleOf(cj, true);
  if (!sched.ok()) {
    recorder_.record(cj, "Warning", "UnparseableSchedule",
                     "unparseable schedule: \"" + api::strAt(cj, {"spec", "schedule"}) +
                         "\" : " + sched.error().message);
    return Requeue();
  }
  // nextScheduleTime.
  MostRecent mr = mostRecentScheduleTime(cj, now, *sched, true);
  std::optional<TimePoint> scheduled;
  if (mr.most_recent && *mr.most_recent <= now) {
    scheduled = mr.most_recent;
    if (mr.missed == MostRecent::kMany)
      recorder_.record(cj, "Warning", "TooManyMissedTimes",
                       "too many missed start times. Set or decrease .spec.startingDeadlineSeconds "
                       "or check clock "
                       "skew");
  }
  if (!mr.error.ok()) {
    recorder_.record(cj, "Warning", "InvalidSchedule",
                     "invalid schedule: " + api::strAt(cj, {"spec", "schedule"}) + " : " +
                         mr.error.error().message);
    return Requeue();
  }
  if (!scheduled) return nextScheduleTimeDuration(cj, now, *sched);

  if (auto sds = api::intAt(cj, {"spec", "startingDeadlineSeconds"});
      sds && *scheduled + std::chrono::seconds(*sds) < now) {
    recorder_.record(cj, "Warning", "MissSchedule",
                     "Missed scheduled time to start a job: " + rfc1123z(*scheduled));
    return nextScheduleTimeDuration(cj, now, *sched);
  }
  const std::string job_name = cronJobName(api::name(cj), *scheduled);
  auto last = timeAt(cj, {"status", "lastScheduleTime"});
  if (inActiveListByName(cj, ns, job_name) ||
      (last && unixSeconds(*last) == unixSeconds(*scheduled))) {
    // This scheduled time was processed already.
    return nextScheduleTimeDuration(cj, now, *sched);
  }
  std::string policy = api::strAt(cj, {"spec", "concurrencyPolicy"}, "Allow");
  const json::array* active_now = api::arrAt(cj, {"status", "active"});
  if (policy == "Forbid" && active_now && !active_now->empty()) {
    recorder_.record(
        cj, "Normal", "JobAlreadyActive",
        "Not starting job because prior execution is running and concurrency policy is Forbid");
    return nextScheduleTimeDuration(cj, now, *sched);
  }
  if (policy == "Replace" && active_now) {
    std::vector<json::object> to_replace;
    for (const auto& r : *active_now)
      if (r.is_object()) to_replace.push_back(r.as_object());
    for (const auto& ref : to_replace) {
      auto job =
          client_.get(job_kind_, api::strAt(ref, {"namespace"}, ns), api::strAt(ref, {"name"}));
      if (!job.ok()) {
        recorder_.record(cj, "Warning", "FailedGet", "Get job: " + job.error().message);
        return job.error();
      }
      if (!deleteJobOf(cj, **job))
        return makeError(ErrorCode::kInternal, "could not replace job " + api::namespaceOf(**job) +
                                                   "/" + api::name(**job));
      *update_status = true;
    }
  }

  // getJobFromTemplate2: a deterministic name per scheduled time, so a Job
  // is never started twice for it.
  Object job;
  job["apiVersion"] = "batch/v1";
  job["kind"] = "Job";
  json::object meta;
  meta["name"] = job_name;
  meta["namespace"] = ns;
  json::object labels, annotations;
  if (const json::object* l = api::objAt(cj, {"spec", "jobTemplate", "metadata", "labels"}))
    labels = *l;
  if (const json::object* a = api::objAt(cj, {"spec", "jobTemplate", "metadata", "annotations"}))
    annotations = *a;
  annotations[kCronJobScheduledTimestampAnnotation] = formatRfc3339In(*scheduled, zone);
  if (!labels.empty()) meta["labels"] = std::move(labels);
  meta["annotations"] = std::move(annotations);
  meta["ownerReferences"] = json::array{newControllerRef(cj, cj_kind_)};
  job["metadata"] = std::move(meta);
  if (const json::object* spec = api::objAt(cj, {"spec", "jobTemplate", "spec"}))
    job["spec"] = *spec;
  else
    job["spec"] = json::object();

  bool already_exists = false;
  ObjectPtr created;
  auto res = client_.create(job_kind_, job);
  if (!res.ok()) {
    if (hasNamespaceTerminatingCause(res.error())) return res.error();
    if (res.error().code != ErrorCode::kAlreadyExists) {
      recorder_.record(cj, "Warning", "FailedCreate", "Error creating job: " + res.error().message);
      return res.error();
    }
    // Created earlier (by us, with the status update lost, or by someone
    // else, who then keeps the status).
    already_exists = true;
    BERTH_ASSIGN_OR_RETURN(created, client_.get(job_kind_, ns, job_name));
    if (controllerUid(*created) != api::uid(cj)) return Requeue();
    if (inActiveList(cj, api::uid(*created))) return Requeue();
  } else {
    created = *res;
  }
  if (already_exists) {
    BERTH_LOG(kInfo, "controllers")
        << "job already exists cronjob=" << client::keyOf(cj) << " job=" << job_name;
  } else {
    recorder_.record(cj, "Normal", "SuccessfulCreate", "Created job " + api::name(*created));
  }
  json::object& status = api::ensureObject(cj, "status");
  api::ensureArray(status, "active").push_back(jobRef(*created));
  status["lastScheduleTime"] = formatRfc3339(*scheduled);
  *update_status = true;
  return nextScheduleTimeDuration(cj, now, *sched);
}

Status CronJobController::sync(const std::string& key) {
  std::string ns, name;
  client::splitKey(key, &ns, &name);
  ObjectPtr cached = cj_informer_.get(ns, name);
  if (!cached) return okStatus();
  // getJobsToBeReconciled: every Job controlled by this CronJob, even if its
  // labels no longer match the template.
  std::vector<ObjectPtr> jobs;
  for (const auto& j : job_informer_.listNamespace(ns))
    if (const json::object* ref = controllerRef(*j);
        ref && api::strAt(*ref, {"kind"}) == cj_kind_.kind && api::strAt(*ref, {"name"}) == name)
      jobs.push_back(j);
  Object cj = *cached;
  bool update_after_cleanup = cleanupFinishedJobs(cj, jobs);
  bool update_after_sync = false;
  auto requeue = syncCronJob(cj, jobs, &update_after_sync);
  if (update_after_cleanup || update_after_sync) {
    auto res = client_.update(cj_kind_, cj, client::Subresource::kStatus);
    if (!res.ok()) return res.error();
  }
  if (!requeue.ok()) return requeue.error();
  if (*requeue) loop_.enqueueAfter(key, **requeue);
  return okStatus();
}

}  // namespace berth::controllers
