#pragma once

// The ReplicaSet controller (apps/v1) and the ReplicationController manager
// (core/v1), after upstream's pkg/controller/replicaset, which serves both
// kinds with one implementation (pkg/controller/replication only converts).
//
// Level-triggered: informer handlers only enqueue "ns/name" keys (and keep
// the expectations current); sync(key) reads the caches and
//  - claims pods: adopts orphans matching the selector, releases owned pods
//    that no longer match (ControllerRefManager);
//  - when the expectations of its last actions are met, creates pods in slow
//    start batches (1, 2, 4, ...; at most kBurstReplicas per sync) or deletes
//    the surplus in ActivePodsWithRanks order (unscheduled, pending,
//    not-ready, ... first);
//  - writes status: replicas, fullyLabeledReplicas, readyReplicas,
//    availableReplicas (minReadySeconds), observedGeneration, and the
//    ReplicaFailure condition when creating or deleting failed.
// Events on the owner: SuccessfulCreate, FailedCreate, SuccessfulDelete,
// FailedDelete (through PodControl).

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/selector.h"
#include "client/event_recorder.h"
#include "client/informer.h"
#include "common/clock.h"
#include "controllers/controller_util.h"
#include "controllers/expectations.h"
#include "controllers/pod_control.h"

namespace berth::controllers {

class ReplicaSetController {
 public:
  // upstream BurstReplicas: a ReplicaSet creates or deletes at most this
  // many pods per sync, then waits for the watch events of those.
  static constexpr int kBurstReplicas = 500;
  // upstream controller.SlowStartInitialBatchSize.
  static constexpr int kSlowStartInitialBatchSize = 1;

  // A ReplicaSet controller (apps/v1 ReplicaSet). The recorder should report
  // as "replicaset-controller".
  ReplicaSetController(client::Client& client, client::InformerFactory& informers,
                       client::EventRecorder& recorder, Clock& clock, int workers = 5);
  virtual ~ReplicaSetController();
  ReplicaSetController(const ReplicaSetController&) = delete;
  ReplicaSetController& operator=(const ReplicaSetController&) = delete;

  // Starts the workers once the ReplicaSet and Pod informers have synced
  // (in the background: start() does not block).
  void start();
  // Stops and joins the workers. Handlers stay registered with the shared
  // informers but do nothing afterwards.
  void stop();

  // syncReplicaSet for "ns/name". Public for tests.
  Status sync(const std::string& key);

  const api::KindInfo& kind() const { return kind_; }
  UidTrackingExpectations& expectations() { return expectations_; }
  // The work queue (tests drain it to see what handlers enqueued).
  WorkQueue& workQueue() { return queue_; }

  // The burst limit per sync; tests lower it.
  void setBurstReplicas(int n) { burst_replicas_ = n; }

 protected:
  // For ReplicationManager: the same controller over `kind` (core/v1
  // ReplicationController).
  ReplicaSetController(const api::KindInfo& kind, client::Client& client,
                       client::InformerFactory& informers, client::EventRecorder& recorder,
                       Clock& clock, int workers);

 private:
  struct HandlerGuard;

  void registerHandlers();
  void processKey(const std::string& key);

  // Kind adapters: RS spec.selector is a LabelSelector, RC spec.selector a map.
  Result<api::LabelSelector> selectorOf(const api::Object& rs) const;
  int64_t replicasOf(const api::Object& rs) const;

  // Handlers.
  void addRs(const client::ObjectPtr& rs);
  void updateRs(const client::ObjectPtr& old_rs, const client::ObjectPtr& cur_rs);
  void deleteRs(const client::ObjectPtr& rs);
  void addPod(const client::ObjectPtr& pod);
  void updatePod(const client::ObjectPtr& old_pod, const client::ObjectPtr& cur_pod);
  void deletePod(const client::ObjectPtr& pod);

  client::ObjectPtr resolveControllerRef(const std::string& ns,
                                         const boost::json::object& ref) const;
  std::vector<client::ObjectPtr> podReplicaSets(const api::Object& pod) const;
  std::vector<client::ObjectPtr> indirectlyRelatedPods(const api::Object& rs) const;

  Status manageReplicas(const std::vector<client::ObjectPtr>& filtered_pods, const api::Object& rs,
                        const std::string& key);
  boost::json::object calculateStatus(const api::Object& rs,
                                      const std::vector<client::ObjectPtr>& filtered_pods,
                                      const Status& manage_err) const;
  Result<client::ObjectPtr> updateStatus(const api::Object& rs,
                                         const boost::json::object& new_status);

  const api::KindInfo& kind_;
  client::Client& client_;
  client::Informer& rs_informer_;
  client::Informer& pod_informer_;
  Clock& clock_;
  PodControl pod_control_;
  UidTrackingExpectations expectations_;
  int workers_count_;
  int burst_replicas_ = kBurstReplicas;

  WorkQueue queue_;
  std::shared_ptr<HandlerGuard> guard_;
  std::mutex mu_;
  std::atomic<bool> stopping_{false};
  std::thread starter_;
  std::unique_ptr<WorkerPool> workers_;
  std::mutex failures_mu_;
  std::map<std::string, int> failures_;
};

// The ReplicationController manager (upstream pkg/controller/replication):
// the same logic over core/v1 ReplicationControllers. The recorder should
// report as "replication-controller".
class ReplicationManager : public ReplicaSetController {
 public:
  ReplicationManager(client::Client& client, client::InformerFactory& informers,
                     client::EventRecorder& recorder, Clock& clock, int workers = 5);
};

// slowStartBatch: calls fn `count` times in batches of 1, 2, 4, ... (from
// `initial_batch_size`); a batch with a failure ends the run after that
// batch. Returns the number of successful calls and the first error. The
// calls of one batch run on up to `parallelism` threads at once (upstream
// runs a batch as goroutines), so fn must be thread-safe when it is > 1.
struct SlowStartResult {
  int successes = 0;
  Status error;
};
SlowStartResult slowStartBatch(int count, int initial_batch_size,
                               const std::function<Status()>& fn, int parallelism = 1);

}  // namespace berth::controllers
