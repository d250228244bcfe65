#pragma once

// Upstream's node lifecycle controller (pkg/controller/nodelifecycle) with
// its taint-based eviction (pkg/controller/tainteviction), over the client
// interface and shared informers:
//  - node health: a node whose Lease in kube-node-lease (or Ready condition)
//    has not been renewed for the grace period (40 s) gets Ready,
//    MemoryPressure, DiskPressure and PIDPressure set to Unknown
//    (NodeStatusUnknown, "Kubelet stopped posting node status."); a node
//    that never posted status gets them after the startup grace period
//    (NodeStatusNeverUpdated). Pods on a node leaving Ready get Ready=False.
//  - taints: node.kubernetes.io/unreachable:NoExecute for Ready=Unknown,
//    node.kubernetes.io/not-ready:NoExecute for Ready=False, removed when
//    the node is Ready again; and the NoSchedule taints that mirror node
//    conditions and spec.unschedulable (TaintNodesByCondition).
//  - taint-based eviction: pods that do not tolerate a node's NoExecute
//    taints are deleted at once; pods tolerating them for tolerationSeconds
//    are deleted when that runs out (counted from when the controller saw
//    the taint), after a DisruptionTarget condition is added, so their
//    controllers replace them elsewhere.
//
// Differences from upstream, kept small on purpose: the NoExecute taint is
// added in the same monitor pass that marks the node Unknown (upstream queues
// it for the next pass), evictions are not rate limited per zone and zone
// disruption states (full / partial disruption) are not tracked; pods
// already terminating are not deleted again.
//
// Threads: start() runs one loop that monitors every node_monitor_period and
// processes node / pod changes and due evictions as they come. Tests do not
// call start(): monitorOnce() runs one whole pass on the caller's thread.

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>

#include "client/client.h"
#include "client/event_recorder.h"
#include "client/informer.h"
#include "common/clock.h"
#include "controllers/nodelifecycle/taints.h"

namespace berth::controllers {

struct NodeLifecycleOptions {
  std::chrono::seconds node_monitor_period{5};
  // --node-monitor-grace-period
  std::chrono::seconds node_monitor_grace_period{40};
  // --node-startup-grace-period: for a node that never posted Ready.
  std::chrono::seconds node_startup_grace_period{60};
  // A failed eviction is tried again after this long.
  std::chrono::seconds eviction_retry{5};
};

class NodeLifecycleController {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  // Registers handlers on the factory's Node, Lease and Pod informers.
  NodeLifecycleController(client::Client& client, client::InformerFactory& informers,
                          client::EventRecorder& recorder, Clock& clock,
                          NodeLifecycleOptions options = {});
  ~NodeLifecycleController();
  NodeLifecycleController(const NodeLifecycleController&) = delete;
  NodeLifecycleController& operator=(const NodeLifecycleController&) = delete;

  void start();
  void stop();

  // One deterministic pass: node health, taints, pods NotReady, then the
  // node / pod changes seen so far and the evictions due now.
  void monitorOnce();

  // The time a pod ("ns/name") is scheduled to be evicted, if it is.
  std::optional<TimePoint> scheduledEviction(const std::string& pod_key) const;
  size_t scheduledEvictions() const;

 private:
  struct NodeHealth;
  struct Eviction {
    TimePoint created;
    TimePoint fire;
    std::string node;
  };
  struct Guard;

  void loop();
  bool informersSynced() const;
  void monitorNodeHealth();
  // Returns the node as it now is (after any status write), or nullptr on
  // failure. Sets the Ready condition status seen before and after.
  client::ObjectPtr tryUpdateNodeHealth(const client::ObjectPtr& node, std::string* observed_ready,
                                        std::string* current_ready);
  bool markPodsNotReady(const std::string& node_name);
  // Brings the node's taints in line: the condition NoSchedule taints, and
  // with manage_no_execute the NoExecute taint for its Ready status.
  void reconcileTaints(client::ObjectPtr node, bool manage_no_execute);

  void processChanges();
  void handleNodeUpdate(const std::string& name);
  void handlePodUpdate(const std::string& key);
  // Under mu_.
  void processPodOnNodeLocked(const std::string& pod_key, const api::Object& pod,
                              const std::string& node,
                              const std::vector<nodelifecycle::Taint>& taints, TimePoint now);
  void cancelEvictionLocked(const std::string& pod_key);
  void runDueEvictions();
  bool evictPod(const std::string& key);

  void onNode(const client::ObjectPtr& node);
  void onNodeDelete(const client::ObjectPtr& node);
  void onPod(const client::ObjectPtr& old_pod, const client::ObjectPtr& pod);
  void onPodDelete(const client::ObjectPtr& pod);

  void recordNodeEvent(const api::Object& node, const std::string& type, const std::string& reason,
                       const std::string& message);
  void recordPodEvent(const std::string& pod_key, const std::string& type,
                      const std::string& reason, const std::string& message);

  client::Client& client_;
  client::EventRecorder& recorder_;
  Clock& clock_;
  NodeLifecycleOptions options_;
  const api::KindInfo& node_kind_;
  const api::KindInfo& pod_kind_;
  client::Informer& nodes_;
  client::Informer& leases_;
  client::Informer& pods_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, std::unique_ptr<NodeHealth>> health_;
  std::set<std::string> known_nodes_;
  std::set<std::string> nodes_to_retry_;
  std::unordered_map<std::string, std::set<std::string>> pods_by_node_;
  std::unordered_map<std::string, std::string> pod_node_;
  std::set<std::string> dirty_nodes_;
  std::set<std::string> dirty_pods_;
  // The NoExecute taints of each tainted node, as the taint manager last saw them.
  std::unordered_map<std::string, std::vector<nodelifecycle::Taint>> tainted_nodes_;
  std::map<std::string, Eviction> evictions_;

  std::shared_ptr<Guard> guard_;
  std::thread thread_;
  bool stopping_ = false;
};

}  // namespace berth::controllers
