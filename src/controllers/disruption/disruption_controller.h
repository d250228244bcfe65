#pragma once

// The disruption controller: keeps PodDisruptionBudget status current, after
// upstream's pkg/controller/disruption. The eviction subresource
// (apiserver/registry/eviction.cpp) decides from that status alone, so this
// controller is what makes budgets effective.
//
// Level-triggered: informer handlers enqueue budget keys ("ns/name") when a
// budget changes, when a pod its selector matches changes, and when the
// replicas of a workload in its namespace change; sync(key) reads the caches
// and writes status:
//  - expectedPods: for maxUnavailable or a percentage minAvailable, the sum
//    of the scales (spec.replicas) of the pods' controllers (ReplicaSet,
//    Deployment, StatefulSet, ReplicationController, any kind with a scale
//    subresource); for an integer minAvailable, the number of matching pods
//    (getExpectedPodCount);
//  - desiredHealthy: minAvailable, or expectedPods - maxUnavailable, with
//    percentages of expectedPods rounded up;
//  - currentHealthy: Ready matching pods that are neither being deleted nor
//    recorded in disruptedPods by a recent eviction;
//  - disruptedPods: eviction records younger than kDeletionTimeout whose pod
//    is still there and not yet being deleted (a recheck is scheduled when
//    the oldest expires);
//  - disruptionsAllowed = max(0, currentHealthy - desiredHealthy), 0 while
//    expectedPods is 0;
//  - the DisruptionAllowed condition (SufficientPods / InsufficientPods, or
//    SyncFailed with the error when the computation failed: then
//    disruptionsAllowed is forced to 0, upstream's failSafe) and
//    observedGeneration.
// Events on the budget: NoPods, CalculateExpectedPodCountFailed,
// UnmanagedPods; on pods: MultiplePodDisruptionBudgets, NotDeleted.
//
// It also resets a stale DisruptionTarget=True pod condition (set by an
// eviction whose delete never happened) to False after
// kStalePodDisruptionTimeout, as upstream's stalePodDisruption worker.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/event_recorder.h"
#include "client/informer.h"
#include "common/clock.h"
#include "controllers/controller_util.h"

namespace berth::controllers {

class DisruptionController {
 public:
  // upstream DeletionTimeout: how long an eviction's disruptedPods entry
  // keeps its pod out of currentHealthy while the pod is not yet deleted.
  static constexpr std::chrono::seconds kDeletionTimeout{120};
  // upstream stalePodDisruptionTimeout.
  static constexpr std::chrono::seconds kStalePodDisruptionTimeout{120};

  // The recorder should report as "controllermanager" (upstream's source
  // component for this controller).
  DisruptionController(client::Client& client, client::InformerFactory& informers,
                       client::EventRecorder& recorder, Clock& clock, int workers = 1);
  ~DisruptionController();
  DisruptionController(const DisruptionController&) = delete;
  DisruptionController& operator=(const DisruptionController&) = delete;

  // Starts the workers once the informers have synced (in the background).
  void start();
  // Stops and joins the workers; handlers stay registered but do nothing.
  void stop();

  // Syncs the budget "ns/name". Public for tests.
  Status sync(const std::string& key);
  // Resets a stale DisruptionTarget condition of the pod "ns/name". Public
  // for tests.
  Status syncStalePodDisruption(const std::string& key);

  // The budget work queue (tests drain it to see what handlers enqueued).
  WorkQueue& workQueue() { return queue_; }
  WorkQueue& stalePodQueue() { return stale_queue_; }
  // When the last sync of `key` asked to be run again (disruptedPods entry
  // expiring), if it did.
  std::optional<std::chrono::system_clock::time_point> recheckTime(const std::string& key) const;

 private:
  struct HandlerGuard;
  struct ControllerAndScale {
    std::string uid;
    int64_t scale = 0;
  };
  struct ExpectedCount {
    int64_t expected = 0;
    int64_t desired_healthy = 0;
    std::vector<std::string> unmanaged_pods;
  };

  void registerHandlers();
  void processKey(WorkQueue& queue, const std::string& key, bool stale);

  // Handlers.
  void enqueuePdb(const api::Object& pdb);
  void onPod(const client::ObjectPtr& pod);
  void onWorkloadUpdate(const client::ObjectPtr& old_obj, const client::ObjectPtr& cur_obj);
  void enqueueStalePodDisruption(const api::Object& pod);

  std::vector<client::ObjectPtr> pdbsForPod(const api::Object& pod) const;
  Result<std::vector<client::ObjectPtr>> podsForPdb(const api::Object& pdb) const;
  Status trySync(const api::Object& pdb, const std::string& key);
  Result<ExpectedCount> expectedPodCount(const api::Object& pdb,
                                         const std::vector<client::ObjectPtr>& pods);
  Result<int64_t> expectedScale(const std::vector<client::ObjectPtr>& pods,
                                std::vector<std::string>* unmanaged);
  Result<std::optional<ControllerAndScale>> findController(const boost::json::object& ref,
                                                           const std::string& ns);
  Status failSafe(const api::Object& pdb, const Error& err);
  Status writeStatus(const api::Object& pdb, boost::json::object status);
  // nonTerminatingPodHasStaleDisruptionCondition: whether the pod has one,
  // and how long until it is stale.
  std::pair<bool, std::chrono::nanoseconds> staleDisruptionCondition(const api::Object& pod) const;

  client::Client& client_;
  client::Informer& pdb_informer_;
  client::Informer& pod_informer_;
  client::Informer& rc_informer_;
  client::Informer& rs_informer_;
  client::Informer& deployment_informer_;
  client::Informer& statefulset_informer_;
  client::EventRecorder& recorder_;
  Clock& clock_;
  const api::KindInfo& pdb_kind_;
  const api::KindInfo& pod_kind_;
  int workers_count_;

  WorkQueue queue_;
  WorkQueue stale_queue_;
  std::shared_ptr<HandlerGuard> guard_;
  std::mutex mu_;
  std::atomic<bool> stopping_{false};
  std::thread starter_;
  std::unique_ptr<WorkerPool> workers_;
  std::unique_ptr<WorkerPool> stale_workers_;
  mutable std::mutex state_mu_;
  std::map<std::string, int> failures_;
  std::map<std::string, std::chrono::system_clock::time_point> rechecks_;
};

}  // namespace berth::controllers
