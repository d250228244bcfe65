#pragma once

// The Job controller (batch/v1), after upstream's pkg/controller/job
// (job_controller.go, backoff_utils.go, indexed_job_utils.go,
// tracking_utils.go) as of Kubernetes 1.32.
//
// Level-triggered: handlers for Jobs and Pods only enqueue keys; sync(key)
// reads the caches and
//  - claims pods (adoption adds the batch.kubernetes.io/job-tracking
//    finalizer; every pod the controller creates carries it);
//  - counts finished pods exactly once: a terminal pod with the finalizer
//    is first recorded in status.uncountedTerminatedPods, then its finalizer
//    is removed, then it moves into status.succeeded / status.failed (for
//    Indexed jobs succeeded indexes go to status.completedIndexes);
//  - keeps min(parallelism, completions - succeeded) pods active (with
//    completions unset: parallelism until one succeeds), creating them in
//    slow-start batches, Indexed ones for the lowest pending indexes, after
//    the pod failure back-off (10s doubling per failure since the last
//    success, at most 6 minutes);
//  - fails the Job when failures exceed backoffLimit (BackoffLimitExceeded)
//    or it ran longer than activeDeadlineSeconds (DeadlineExceeded): first
//    the FailureTarget condition, active pods deleted, then Failed once no
//    pod is left uncounted or terminating; completes it when enough pods
//    succeeded: SuccessCriteriaMet, then Complete (CompletionsReached) and
//    completionTime;
//  - suspend deletes the active pods and sets Suspended; resume resets
//    startTime;
//  - writes status active, ready, terminating, succeeded, failed,
//    startTime, completionTime, conditions.
// Events: SuccessfulCreate / FailedCreate / SuccessfulDelete (PodControl),
// Completed, BackoffLimitExceeded / DeadlineExceeded, Suspended, Resumed,
// TooManySucceededPods.
// Not implemented: podFailurePolicy, backoffLimitPerIndex, successPolicy,
// managedBy (Jobs using them are handled as if the fields were unset).

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client/event_recorder.h"
#include "client/informer.h"
#include "common/clock.h"
#include "controllers/daemonset/sync_loop.h"
#include "controllers/expectations.h"
#include "controllers/job/indexed_job_utils.h"
#include "controllers/job/job_util.h"
#include "controllers/pod_control.h"

namespace berth::controllers {

class JobController {
 public:
  // DefaultJobPodFailureBackOff / MaxJobPodFailureBackOff.
  static constexpr std::chrono::seconds kDefaultBackoff{10};
  static constexpr std::chrono::seconds kMaxBackoff{360};
  // MaxUncountedPods and MaxPodCreateDeletePerSync.
  static constexpr int kMaxUncountedPods = 500;
  static constexpr int kMaxPodCreateDeletePerSync = 500;

  // The recorder should report as "job-controller".
  JobController(client::Client& client, client::InformerFactory& informers,
                client::EventRecorder& recorder, Clock& clock, int workers = 2);
  ~JobController();
  JobController(const JobController&) = delete;
  JobController& operator=(const JobController&) = delete;

  void start();
  void stop();

  // syncJob for "ns/name". Public for tests.
  Status sync(const std::string& key);
  // syncOrphanPod for "ns/name" of a pod: removes the tracking finalizer
  // from a pod whose Job is gone or finished. Public for tests.
  Status syncOrphanPod(const std::string& key);

  ControllerExpectations& expectations() { return expectations_; }
  SyncLoop& loop() { return loop_; }
  SyncLoop& orphanLoop() { return orphan_loop_; }

 private:
  struct BackoffRecord {
    int64_t failures_after_last_success = 0;
    std::optional<std::chrono::system_clock::time_point> last_failure_time;
  };
  // syncJobCtx: what one sync knows about a Job.
  struct Ctx {
    std::string key;
    api::Object job;
    std::vector<client::ObjectPtr> pods;
    std::vector<client::ObjectPtr> active_pods;
    int64_t ready = 0;
    int64_t terminating = 0;
    int64_t succeeded = 0;
    int64_t failed = 0;
    std::set<std::string> uncounted_succeeded;
    std::set<std::string> uncounted_failed;
    std::set<std::string> expected_rm_finalizers;
    std::optional<boost::json::object> finished_condition;
    OrderedIntervals prev_succeeded_indexes;
    OrderedIntervals succeeded_indexes;
    BackoffRecord new_backoff;
  };

  // Handlers.
  void addJob(const client::ObjectPtr& job);
  void updateJob(const client::ObjectPtr& old_job, const client::ObjectPtr& cur_job);
  void deleteJob(const client::ObjectPtr& job);
  void addPod(const client::ObjectPtr& pod);
  void updatePod(const client::ObjectPtr& old_pod, const client::ObjectPtr& cur_pod);
  void deletePod(const client::ObjectPtr& pod);
  void deletePodImpl(const client::ObjectPtr& pod, bool final);

  client::ObjectPtr resolveControllerRef(const std::string& ns,
                                         const boost::json::object& ref) const;
  std::vector<client::ObjectPtr> jobsSelecting(const api::Object& pod) const;
  void enqueueOrphanPod(const api::Object& pod);

  Result<std::vector<client::ObjectPtr>> getPodsForJob(const api::Object& job);
  Status manageJob(Ctx& ctx, int64_t* active);
  std::pair<int64_t, int64_t> deleteJobPods(Ctx& ctx, const std::vector<client::ObjectPtr>& pods,
                                            Status* err);
  std::pair<int64_t, int64_t> deleteActivePods(Ctx& ctx, Status* err);
  Status trackJobStatusAndRemoveFinalizers(Ctx& ctx, bool needs_flush);
  Status flushUncountedAndRemoveFinalizers(Ctx& ctx,
                                           const std::vector<client::ObjectPtr>& to_remove,
                                           std::set<std::string>& uids_with_finalizer,
                                           bool* needs_flush);
  bool enactJobFinished(Ctx& ctx);
  Status updateJobStatus(Ctx& ctx);

  BackoffRecord newBackoffRecord(const std::string& key,
                                 std::vector<client::ObjectPtr> new_succeeded,
                                 std::vector<client::ObjectPtr> new_failed);
  std::chrono::milliseconds remainingBackoff(const BackoffRecord& r) const;

  // finalizerExpectations: pods whose finalizer removal is in flight.
  void expectFinalizersRemoved(const std::string& key, const std::vector<std::string>& uids);
  void finalizerRemovalObserved(const std::string& key, const std::string& uid);
  std::set<std::string> expectedRemovals(const std::string& key);

  client::Client& client_;
  const api::KindInfo& job_kind_;
  const api::KindInfo& pod_kind_;
  client::Informer& job_informer_;
  client::Informer& pod_informer_;
  client::EventRecorder& recorder_;
  Clock& clock_;
  PodControl pod_control_;
  ControllerExpectations expectations_;

  std::mutex mu_;
  std::map<std::string, std::set<std::string>> finalizer_expectations_;
  std::map<std::string, BackoffRecord> backoff_;

  HandlerGate gate_;
  SyncLoop loop_;
  SyncLoop orphan_loop_;
};

}  // namespace berth::controllers
