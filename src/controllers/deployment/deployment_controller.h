#pragma once

// The Deployment controller (apps/v1), after upstream's
// pkg/controller/deployment: a Deployment owns ReplicaSets, one per pod
// template ("revision"), named "<deployment>-<pod-template-hash>".
//
// sync(key), in upstream's order of precedence:
//   deleted / being deleted  -> status only
//   paused                   -> proportional scaling only (no rollout),
//                               Progressing=Unknown DeploymentPaused
//   rollback-to annotation   -> copy the old template back (deprecated API;
//                               kubectl ≥1.x rolls back client-side by
//                               patching the template, which lands below)
//   scaling event            -> proportional scaling across replica sets
//   Recreate                 -> old replica sets to 0, wait for their pods
//                               to stop, then the new one to full size
//   RollingUpdate            -> new replica set up within replicas +
//                               maxSurge, old ones down keeping replicas -
//                               maxUnavailable available
// A template equal to an old replica set's (ignoring the hash label) reuses
// that replica set and moves it to the newest revision, recording the old
// revision in deployment.kubernetes.io/revision-history. Old replica sets
// beyond revisionHistoryLimit are deleted once scaled down. Status carries
// replicas, updatedReplicas, readyReplicas, availableReplicas,
// unavailableReplicas, observedGeneration, collisionCount and the
// Available / Progressing (/ ReplicaFailure) conditions that
// `kubectl rollout status` reads. Events: ScalingReplicaSet
// "Scaled up replica set web-5d4f7c9b8 from 0 to 3", ReplicaSetCreateError,
// SelectingAll, DeploymentRollback*.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/event_recorder.h"
#include "client/informer.h"
#include "common/clock.h"
#include "controllers/controller_util.h"

namespace berth::controllers {

class DeploymentController {
 public:
  // upstream maxRetries: a deployment failing this often in a row is
  // dropped from the queue until its next change.
  static constexpr int kMaxRetries = 15;

  // The recorder should report as "deployment-controller".
  DeploymentController(client::Client& client, client::InformerFactory& informers,
                       client::EventRecorder& recorder, Clock& clock, int workers = 5);
  ~DeploymentController();
  DeploymentController(const DeploymentController&) = delete;
  DeploymentController& operator=(const DeploymentController&) = delete;

  // Starts the workers once the Deployment, ReplicaSet and Pod informers
  // have synced (in the background).
  void start();
  void stop();

  // syncDeployment for "ns/name". Public for tests.
  Status sync(const std::string& key);

  // The work queue (tests drain it to see what handlers enqueued).
  WorkQueue& workQueue() { return queue_; }
  // The last delayed requeue asked for a key by the progress check
  // (requeueStuckDeployment), for tests; zero when none.
  std::chrono::milliseconds lastProgressRequeue(const std::string& key);

 private:
  struct HandlerGuard;
  // The replica sets of one sync. Entries are replaced when this sync
  // updates them, so later steps of the same sync see its own writes.
  using RsList = std::vector<client::ObjectPtr>;
  struct RsSets {
    client::ObjectPtr new_rs;
    RsList old_rss;
  };

  void registerHandlers();
  void processKey(const std::string& key);

  // Handlers.
  void enqueue(const api::Object& d);
  void addReplicaSet(const client::ObjectPtr& rs);
  void updateReplicaSet(const client::ObjectPtr& old_rs, const client::ObjectPtr& cur_rs);
  void deleteReplicaSet(const client::ObjectPtr& rs);
  void deletePod(const client::ObjectPtr& pod);
  client::ObjectPtr resolveControllerRef(const std::string& ns,
                                         const boost::json::object& ref) const;
  std::vector<client::ObjectPtr> deploymentsForReplicaSet(const api::Object& rs) const;
  client::ObjectPtr deploymentForPod(const api::Object& pod) const;

  // Reads.
  Result<RsList> replicaSetsForDeployment(const api::Object& d);
  std::map<std::string, std::vector<client::ObjectPtr>> podMapForDeployment(
      const api::Object& d, const RsList& rss) const;

  // sync.go
  Status syncStatusOnly(api::Object& d, RsList& rss);
  Status syncScale(api::Object& d, RsList& rss);
  Status checkPausedConditions(api::Object& d);
  Result<RsSets> allReplicaSetsAndSyncRevision(api::Object& d, RsList& rss, bool create);
  Result<client::ObjectPtr> newReplicaSet(api::Object& d, RsList& rss, const RsList& old_rss,
                                          bool create);
  Status scale(api::Object& d, const client::ObjectPtr& new_rs, RsList& old_rss);
  Result<client::ObjectPtr> scaleReplicaSetAndRecordEvent(const client::ObjectPtr& rs,
                                                          int64_t new_scale, const api::Object& d,
                                                          bool* scaled);
  Result<client::ObjectPtr> scaleReplicaSet(const client::ObjectPtr& rs, int64_t new_scale,
                                            const api::Object& d, bool* scaled);
  Status cleanupDeployment(const RsList& old_rss, const api::Object& d);
  Status syncDeploymentStatus(const RsList& all_rss, const client::ObjectPtr& new_rs,
                              api::Object& d);
  boost::json::object calculateStatus(const RsList& all_rss, const client::ObjectPtr& new_rs,
                                      const api::Object& d) const;
  Result<bool> isScalingEvent(api::Object& d, RsList& rss);

  // rolling.go
  Status rolloutRolling(api::Object& d, RsList& rss);
  Result<bool> reconcileNewReplicaSet(const RsList& all_rss, const client::ObjectPtr& new_rs,
                                      const api::Object& d);
  Result<bool> reconcileOldReplicaSets(const RsList& all_rss, RsList old_rss,
                                       const client::ObjectPtr& new_rs, const api::Object& d);
  Result<int64_t> cleanupUnhealthyReplicas(RsList& old_rss, const api::Object& d,
                                           int64_t max_cleanup);
  Result<int64_t> scaleDownOldReplicaSetsForRollingUpdate(const RsList& all_rss, RsList old_rss,
                                                          const api::Object& d);

  // recreate.go
  Status rolloutRecreate(api::Object& d, RsList& rss,
                         const std::map<std::string, std::vector<client::ObjectPtr>>& pods);

  // rollback.go
  Status rollback(api::Object& d, RsList& rss);
  Status updateDeploymentAndClearRollbackTo(api::Object& d);

  // progress.go
  Status syncRolloutStatus(const RsList& all_rss, const client::ObjectPtr& new_rs, api::Object& d);
  void requeueStuckDeployment(const api::Object& d, const boost::json::object& new_status);

  // Writes d.status (UpdateStatus), carrying the new resourceVersion into d.
  Status writeStatus(api::Object& d);

  client::Client& client_;
  client::Informer& d_informer_;
  client::Informer& rs_informer_;
  client::Informer& pod_informer_;
  client::EventRecorder& recorder_;
  Clock& clock_;
  int workers_count_;

  WorkQueue queue_;
  std::shared_ptr<HandlerGuard> guard_;
  std::mutex mu_;
  std::atomic<bool> stopping_{false};
  std::thread starter_;
  std::unique_ptr<WorkerPool> workers_;
  std::mutex failures_mu_;
  std::map<std::string, int> failures_;
  std::map<std::string, std::chrono::milliseconds> progress_requeues_;
};

}  // namespace berth::controllers
