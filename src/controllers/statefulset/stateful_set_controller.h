#pragma once

// The StatefulSet controller (apps/v1), after upstream's
// pkg/controller/statefulset (stateful_set.go, stateful_set_control.go,
// stateful_pod_control.go, stateful_set_status_updater.go).
//
// Level-triggered: handlers for StatefulSets and Pods only enqueue
// "ns/name" keys; sync(key) reads the caches and
//  - records the template as ControllerRevisions (the current and the update
//    revision; pods carry the revision name in controller-revision-hash),
//    adopting orphan revisions and trimming history beyond
//    revisionHistoryLimit;
//  - keeps pods "<set>-<ordinal>" for ordinals [start, start+replicas):
//    OrderedReady creates them in order and waits for each to be Running and
//    Ready (and available after minReadySeconds) before the next, deletes
//    the surplus from the highest ordinal down, one at a time; Parallel
//    creates and deletes without waiting;
//  - creates each pod's PersistentVolumeClaims "<claim>-<set>-<ordinal>"
//    from volumeClaimTemplates before the pod (never updated or deleted:
//    persistentVolumeClaimRetentionPolicy is not enforced);
//  - RollingUpdate deletes the highest-ordinal pod not at the update
//    revision (down to the partition), waiting for every pod to be
//    available in between; OnDelete leaves replacement to the user;
//  - writes status: replicas, readyReplicas, currentReplicas,
//    updatedReplicas, availableReplicas, currentRevision, updateRevision,
//    collisionCount, observedGeneration (what `kubectl rollout status sts`
//    reads).
// Events on the StatefulSet: SuccessfulCreate / FailedCreate ("create Pod
// web-0 in StatefulSet web successful", "create Claim data-web-0 Pod web-0
// in StatefulSet web success"), SuccessfulDelete / FailedDelete,
// SuccessfulUpdate / FailedUpdate.

#include <memory>
#include <string>
#include <vector>

#include "api/selector.h"
#include "client/event_recorder.h"
#include "client/informer.h"
#include "common/clock.h"
#include "controllers/daemonset/controller_history.h"
#include "controllers/daemonset/sync_loop.h"
#include "controllers/pod_control.h"

namespace berth::controllers {

class StatefulSetController {
 public:
  // The recorder should report as "statefulset-controller".
  StatefulSetController(client::Client& client, client::InformerFactory& informers,
                        client::EventRecorder& recorder, Clock& clock, int workers = 2);
  ~StatefulSetController();
  StatefulSetController(const StatefulSetController&) = delete;
  StatefulSetController& operator=(const StatefulSetController&) = delete;

  void start();
  void stop();

  // sync for "ns/name". Public for tests.
  Status sync(const std::string& key);

  SyncLoop& loop() { return loop_; }

 private:
  // Handlers.
  void addSet(const client::ObjectPtr& set);
  void updateSet(const client::ObjectPtr& old_set, const client::ObjectPtr& cur_set);
  void deleteSet(const client::ObjectPtr& set);
  void addPod(const client::ObjectPtr& pod);
  void updatePod(const client::ObjectPtr& old_pod, const client::ObjectPtr& cur_pod);
  void deletePod(const client::ObjectPtr& pod);

  client::ObjectPtr resolveControllerRef(const std::string& ns,
                                         const boost::json::object& ref) const;
  std::vector<client::ObjectPtr> setsSelecting(const api::Object& pod) const;
  CanAdoptFunc canAdopt(const api::Object& set);

  // ListRevisions: revisions matching the selector owned by the set or by
  // nobody; adoptOrphanRevisions.
  std::vector<client::ObjectPtr> listRevisions(const api::Object& set,
                                               const api::LabelSelector& selector) const;
  Status adoptOrphanRevisions(const api::Object& set, const api::LabelSelector& selector);
  Result<std::vector<client::ObjectPtr>> getPodsForStatefulSet(const api::Object& set,
                                                               const api::LabelSelector& selector);

  // stateful_set_control.go.
  struct Revisions {
    client::ObjectPtr current;
    client::ObjectPtr update;
    int32_t collision_count = 0;
  };
  struct ReplicaStatus {
    int64_t replicas = 0, ready = 0, available = 0, current = 0, updated = 0;
  };
  Result<boost::json::object> updateStatefulSet(const api::Object& set,
                                                const std::vector<client::ObjectPtr>& pods,
                                                const api::LabelSelector& selector);
  Result<Revisions> getStatefulSetRevisions(const api::Object& set,
                                            std::vector<client::ObjectPtr>& revisions);
  // Runs the pod loops; fills `status`. Errors are returned after the status
  // was computed (the caller writes it anyway).
  Status updatePods(const api::Object& set, const Revisions& revs,
                    const std::vector<client::ObjectPtr>& pods, boost::json::object& status);
  void computeReplicaStatus(const std::vector<client::ObjectPtr>& pods, int64_t min_ready,
                            const std::string& current, const std::string& update,
                            ReplicaStatus& out) const;
  Status truncateHistory(const api::Object& set, const std::vector<client::ObjectPtr>& pods,
                         const std::vector<client::ObjectPtr>& revisions, const Revisions& revs);
  Status updateStatefulSetStatus(const api::Object& set, boost::json::object status);

  // The replica loop steps: {should exit, error}.
  struct Step {
    bool exit = false;
    Status error;
  };
  Step processReplica(const api::Object& set, const api::Object& update_set, bool monotonic,
                      std::vector<client::ObjectPtr>& replicas, size_t i);
  Step processCondemned(const api::Object& set, const client::ObjectPtr& first_unhealthy,
                        bool monotonic, const std::vector<client::ObjectPtr>& condemned, size_t i);

  // stateful_pod_control.go.
  Status createStatefulPod(const api::Object& set, const api::Object& pod);
  Status updateStatefulPod(const api::Object& set, const api::Object& pod);
  Status deleteStatefulPod(const api::Object& set, const api::Object& pod);
  Status createMissingClaims(const api::Object& set, const api::Object& pod);
  void recordPodEvent(const std::string& verb, const api::Object& set, const api::Object& pod,
                      const Status& err);
  void recordClaimEvent(const std::string& verb, const api::Object& set, const api::Object& pod,
                        const std::string& claim, const Status& err);

  client::Client& client_;
  const api::KindInfo& set_kind_;
  const api::KindInfo& pod_kind_;
  const api::KindInfo& pvc_kind_;
  const api::KindInfo& cr_kind_;
  client::Informer& set_informer_;
  client::Informer& pod_informer_;
  client::Informer& pvc_informer_;
  client::Informer& history_informer_;
  client::EventRecorder& recorder_;
  Clock& clock_;
  RevisionHistory history_;
  HandlerGate gate_;
  SyncLoop loop_;
};

}  // namespace berth::controllers
