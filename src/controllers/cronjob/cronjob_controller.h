#pragma once

// The CronJob controller (batch/v1), after upstream's
// pkg/controller/cronjob (cronjob_controllerv2.go, utils.go).
//
// Level-triggered: handlers for CronJobs and Jobs enqueue the CronJob key;
// sync(key) reads the caches and
//  - reconciles status.active with the Jobs it owns: finished Jobs leave
//    the list (SawCompletedJob), Jobs that went missing too (MissingJob),
//    lastSuccessfulTime follows the newest completion;
//  - deletes the oldest finished Jobs beyond successfulJobsHistoryLimit /
//    failedJobsHistoryLimit (SuccessfulDelete);
//  - unless suspended, finds the most recent unmet schedule time since
//    status.lastScheduleTime (or creation), bounded by
//    startingDeadlineSeconds (MissSchedule when too late), and starts a Job
//    "<cronjob>-<scheduled time in minutes since the epoch>" from the
//    jobTemplate with the batch.kubernetes.io/cronjob-scheduled-timestamp
//    annotation (SuccessfulCreate), honouring concurrencyPolicy: Allow,
//    Forbid (JobAlreadyActive) or Replace (deletes the active Jobs first);
//  - requeues itself for the next schedule time (+100ms), computed from the
//    injected clock, in spec.timeZone when set (UTC otherwise).
// Jobs are deleted with background propagation.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "client/event_recorder.h"
#include "client/informer.h"
#include "common/clock.h"
#include "controllers/cronjob/cron_schedule.h"
#include "controllers/daemonset/sync_loop.h"

namespace berth::controllers {

inline constexpr char kCronJobScheduledTimestampAnnotation[] =
    "batch.kubernetes.io/cronjob-scheduled-timestamp";

// getJobName: "<cronjob>-<scheduled time in minutes since the epoch>".
std::string cronJobName(const std::string& cronjob,
                        std::chrono::system_clock::time_point scheduled);

// mostRecentScheduleTime / nextScheduleTime / nextScheduleTimeDuration of
// utils.go, exposed for tests.
struct MostRecent {
  std::chrono::system_clock::time_point earliest;
  std::optional<std::chrono::system_clock::time_point> most_recent;
  enum Missed { kNone, kFew, kMany } missed = kNone;
  Status error;
};
MostRecent mostRecentScheduleTime(const api::Object& cj, std::chrono::system_clock::time_point now,
                                  const CronSchedule& sched, bool include_starting_deadline);
// The delay until the next schedule time (+100ms); nullopt when the
// schedule has no next time.
std::optional<std::chrono::milliseconds> nextScheduleTimeDuration(
    const api::Object& cj, std::chrono::system_clock::time_point now, const CronSchedule& sched);

class CronJobController {
 public:
  // nextScheduleDelta: requeue a little after the schedule time.
  static constexpr std::chrono::milliseconds kNextScheduleDelta{100};

  // The recorder should report as "cronjob-controller".
  CronJobController(client::Client& client, client::InformerFactory& informers,
                    client::EventRecorder& recorder, Clock& clock, int workers = 1);
  ~CronJobController();
  CronJobController(const CronJobController&) = delete;
  CronJobController& operator=(const CronJobController&) = delete;

  void start();
  void stop();

  // sync for "ns/name"; requeues the key for the next schedule. Public for
  // tests.
  Status sync(const std::string& key);

  SyncLoop& loop() { return loop_; }

 private:
  void addCronJob(const client::ObjectPtr& cj);
  void updateCronJob(const client::ObjectPtr& old_cj, const client::ObjectPtr& cur_cj);
  void deleteCronJob(const client::ObjectPtr& cj);
  void addJob(const client::ObjectPtr& job);
  void updateJob(const client::ObjectPtr& old_job, const client::ObjectPtr& cur_job);
  void deleteJob(const client::ObjectPtr& job);
  client::ObjectPtr resolveControllerRef(const std::string& ns,
                                         const boost::json::object& ref) const;

  // The schedule with spec.timeZone applied (formatSchedule); records
  // UnsupportedSchedule for TZ= in the schedule when `recorder` is set.
  Result<CronSchedule> scheduleOf(const api::Object& cj, bool record);

  // syncCronJob: the requeue delay, if any; `cj` is updated in place and
  // *update_status says whether its status changed.
  Result<std::optional<std::chrono::milliseconds>> syncCronJob(
      api::Object& cj, const std::vector<client::ObjectPtr>& jobs, bool* update_status);
  bool cleanupFinishedJobs(api::Object& cj, const std::vector<client::ObjectPtr>& jobs);
  bool removeOldestJobs(api::Object& cj, std::vector<client::ObjectPtr> jobs, int64_t max_jobs);
  // deleteJob of the controller: the Job (background) and its active entry.
  bool deleteJobOf(api::Object& cj, const api::Object& job);

  client::Client& client_;
  const api::KindInfo& cj_kind_;
  const api::KindInfo& job_kind_;
  client::Informer& cj_informer_;
  client::Informer& job_informer_;
  client::EventRecorder& recorder_;
  Clock& clock_;
  HandlerGate gate_;
  SyncLoop loop_;
};

}  // namespace berth::controllers
