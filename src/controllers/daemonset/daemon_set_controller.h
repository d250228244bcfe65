#pragma once

// The DaemonSet controller (apps/v1), after upstream's pkg/controller/daemon
// (daemon_controller.go, update.go).
//
// Level-triggered: handlers for DaemonSets, Pods, Nodes and
// ControllerRevisions only enqueue "ns/name" keys (and keep the
// expectations current); sync(key) reads the caches and
//  - records the template as a ControllerRevision named
//    "<ds>-<hash>" (the current one, older ones kept up to
//    revisionHistoryLimit) and labels new pods controller-revision-hash;
//  - for every node decides whether a daemon pod should run there
//    (nodeSelector, required node affinity, taints against the pod's
//    tolerations plus the default daemon tolerations), creates the missing
//    pods with a required node affinity on metadata.name=<node> (the
//    scheduler binds them), deletes pods on nodes that no longer qualify,
//    failed pods (with a per-node back-off), succeeded pods and surplus
//    pods;
//  - rolls out a changed template: RollingUpdate deletes old pods within
//    maxUnavailable or, with maxSurge, starts the new pod first and deletes
//    the old one once the new one is available; OnDelete waits for the user;
//  - writes status: desiredNumberScheduled, currentNumberScheduled,
//    numberMisscheduled, numberReady, numberAvailable, numberUnavailable,
//    updatedNumberScheduled, observedGeneration (what `kubectl rollout
//    status ds` reads).
// Events on the DaemonSet: SuccessfulCreate / FailedCreate /
// SuccessfulDelete / FailedDelete (PodControl), FailedDaemonPod,
// SucceededDaemonPod, SelectingAll.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "client/event_recorder.h"
#include "client/informer.h"
#include "common/clock.h"
#include "controllers/daemonset/controller_history.h"
#include "controllers/daemonset/sync_loop.h"
#include "controllers/expectations.h"
#include "controllers/pod_control.h"

namespace berth::controllers {

// Event reasons of daemon_controller.go.
inline constexpr char kFailedDaemonPodReason[] = "FailedDaemonPod";
inline constexpr char kSucceededDaemonPodReason[] = "SucceededDaemonPod";
inline constexpr char kSelectingAllReason[] = "SelectingAll";
// extensions.DaemonSetTemplateGenerationKey and the deprecated annotation
// it is read from.
inline constexpr char kDaemonSetTemplateGenerationLabel[] = "pod-template-generation";
inline constexpr char kDeprecatedTemplateGenerationAnnotation[] =
    "deprecated.daemonset.template.generation";

class DaemonSetController {
 public:
  // upstream BurstReplicas of the DaemonSet controller.
  static constexpr int kBurstReplicas = 250;
  // failedPodsBackoff: 1s doubling up to 15 minutes per (ds, generation, node).
  static constexpr std::chrono::seconds kFailedPodsBackoffInitial{1};
  static constexpr std::chrono::seconds kFailedPodsBackoffMax{15 * 60};

  // The recorder should report as "daemonset-controller".
  DaemonSetController(client::Client& client, client::InformerFactory& informers,
                      client::EventRecorder& recorder, Clock& clock, int workers = 2);
  ~DaemonSetController();
  DaemonSetController(const DaemonSetController&) = delete;
  DaemonSetController& operator=(const DaemonSetController&) = delete;

  void start();
  void stop();

  // syncDaemonSet for "ns/name". Public for tests.
  Status sync(const std::string& key);

  ControllerExpectations& expectations() { return expectations_; }
  SyncLoop& loop() { return loop_; }
  void setBurstReplicas(int n) { burst_replicas_ = n; }

 private:
  using PodsByNode = std::map<std::string, std::vector<client::ObjectPtr>>;

  // Handlers.
  void addDs(const client::ObjectPtr& ds);
  void updateDs(const client::ObjectPtr& old_ds, const client::ObjectPtr& cur_ds);
  void deleteDs(const client::ObjectPtr& ds);
  void addPod(const client::ObjectPtr& pod);
  void updatePod(const client::ObjectPtr& old_pod, const client::ObjectPtr& cur_pod);
  void deletePod(const client::ObjectPtr& pod);
  void addNode(const client::ObjectPtr& node);
  void updateNode(const client::ObjectPtr& old_node, const client::ObjectPtr& cur_node);
  void deleteNode(const client::ObjectPtr& node);
  void addHistory(const client::ObjectPtr& cr);
  void updateHistory(const client::ObjectPtr& old_cr, const client::ObjectPtr& cur_cr);
  void deleteHistory(const client::ObjectPtr& cr);

  client::ObjectPtr resolveControllerRef(const std::string& ns,
                                         const boost::json::object& ref) const;
  std::vector<client::ObjectPtr> daemonSetsSelecting(const api::Object& obj) const;
  void enqueue(const api::Object& ds);

  // getDaemonPods / getNodesToDaemonPods.
  Result<std::vector<client::ObjectPtr>> getDaemonPods(const api::Object& ds);
  Result<PodsByNode> getNodesToDaemonPods(const api::Object& ds, bool include_deleted_terminal);

  Status updateDaemonSet(const api::Object& ds, const std::vector<client::ObjectPtr>& nodes,
                         const std::string& hash, const std::string& key,
                         const std::vector<client::ObjectPtr>& old);
  Status manage(const api::Object& ds, const std::vector<client::ObjectPtr>& nodes,
                const std::string& hash);
  void podsShouldBeOnNode(const api::Object& node, const PodsByNode& by_node, const api::Object& ds,
                          const std::string& hash, std::vector<std::string>* nodes_needing,
                          std::vector<std::string>* pods_to_delete);
  Status syncNodes(const api::Object& ds, const std::vector<std::string>& pods_to_delete,
                   const std::vector<std::string>& nodes_needing, const std::string& hash);
  Status updateStatus(const api::Object& ds, const std::vector<client::ObjectPtr>& nodes,
                      const std::string& hash, bool update_observed_generation);

  // update.go.
  Status rollingUpdate(const api::Object& ds, const std::vector<client::ObjectPtr>& nodes,
                       const std::string& hash);
  struct History {
    client::ObjectPtr cur;
    std::vector<client::ObjectPtr> old;
  };
  Result<History> constructHistory(const api::Object& ds);
  Result<std::vector<client::ObjectPtr>> controlledHistories(const api::Object& ds);
  Result<client::ObjectPtr> snapshot(const api::Object& ds, int64_t revision);
  Result<client::ObjectPtr> dedupCurHistories(const api::Object& ds,
                                              const std::vector<client::ObjectPtr>& cur);
  Status cleanupHistory(const api::Object& ds, const std::vector<client::ObjectPtr>& old);

  bool isPodUpdated(const api::Object& pod, const std::string& hash, const api::Object& ds) const;
  CanAdoptFunc canAdopt(const api::Object& ds);

  // flowcontrol.Backoff for failed daemon pods.
  bool failedPodInBackoff(const std::string& key, std::chrono::system_clock::time_point now,
                          std::chrono::milliseconds* delay);
  void failedPodNext(const std::string& key, std::chrono::system_clock::time_point now);

  client::Client& client_;
  const api::KindInfo& ds_kind_;
  const api::KindInfo& cr_kind_;
  client::Informer& ds_informer_;
  client::Informer& pod_informer_;
  client::Informer& node_informer_;
  client::Informer& history_informer_;
  client::EventRecorder& recorder_;
  Clock& clock_;
  PodControl pod_control_;
  ControllerExpectations expectations_;
  int burst_replicas_ = kBurstReplicas;

  struct BackoffEntry {
    std::chrono::milliseconds backoff{0};
    std::chrono::system_clock::time_point last_update;
  };
  std::mutex backoff_mu_;
  std::map<std::string, BackoffEntry> failed_pods_backoff_;

  HandlerGate gate_;
  SyncLoop loop_;
};

}  // namespace berth::controllers
