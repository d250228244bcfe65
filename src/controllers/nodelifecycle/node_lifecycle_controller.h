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
//  - zone disruption and rate-limited NoExecute tainting: nodes are grouped
//    into zones by their topology.kubernetes.io (or beta failure-domain)
//    region and zone labels (nodes without them share the "" zone). A zone is
//    FullDisruption when none of its nodes is Ready, PartialDisruption when
//    more than 2 are not and they are at least the unhealthy zone threshold
//    (0.55), Normal otherwise. The NoExecute taints go through a token bucket
//    per zone (burst 1): --node-eviction-rate (0.1 nodes/s) in Normal and
//    FullDisruption zones, --secondary-node-eviction-rate (0.01) in a
//    PartialDisruption zone of more than --large-cluster-size-threshold (50)
//    nodes and none in a smaller one. When every zone is in FullDisruption
//    the controller blames the control plane ("master disruption mode"): it
//    removes the NoExecute taints it placed and taints nothing until some
//    node is Ready again, then resets the limiters and node timestamps.
//
// Differences from upstream, kept small on purpose: a node is queued for its
// NoExecute taint in the same monitor pass that marks it Unknown or sees it
// NotReady (upstream queues it from the Ready status observed before the
// pass, so one pass later), and the tainting pass runs after every monitor
// pass and whenever a zone's next token is due (upstream polls every 100 ms)
// and reads the queued node from the API rather than the informer cache;
// pods already terminating are not deleted again.
//
// Threads: start() runs one loop that monitors every node_monitor_period and
// processes node / pod changes and due evictions as they come. Tests do not
// call start(): monitorOnce() runs one whole pass on the caller's thread.

#include <chrono>
#include <condition_variable>
#include <functional>
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
#include "controllers/nodelifecycle/rate_limited_queue.h"
#include "controllers/nodelifecycle/taints.h"
#include "controllers/nodelifecycle/zones.h"

namespace berth::controllers {

struct NodeLifecycleOptions {
  std::chrono::seconds node_monitor_period{5};
  // --node-monitor-grace-period
  std::chrono::seconds node_monitor_grace_period{40};
  // --node-startup-grace-period: for a node that never posted Ready.
  std::chrono::seconds node_startup_grace_period{60};
  // A failed eviction is tried again after this long.
  std::chrono::seconds eviction_retry{5};
  // --node-eviction-rate: nodes a second, per zone, that get their NoExecute
  // taint while the zone is Normal (or FullDisruption with other zones not).
  double node_eviction_rate = 0.1;
  // --secondary-node-eviction-rate: the same for a PartialDisruption zone of
  // more than large_cluster_size_threshold nodes (smaller ones get none).
  double secondary_node_eviction_rate = 0.01;
  // --large-cluster-size-threshold: compared with the zone's node count, as upstream.
  int large_cluster_size_threshold = 50;
  // --unhealthy-zone-threshold: the fraction of not-Ready nodes (and more
  // than 2) that makes a zone PartialDisruption.
  double unhealthy_zone_threshold = 0.55;
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

  // The disruption state of a zone (a key as nodelifecycle::zoneKey builds
  // it), if the controller has seen nodes in it.
  std::optional<nodelifecycle::ZoneState> zoneState(const std::string& zone_key) const;

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

  // Rewrites spec.taints: the plan picks, from the node as read and its
  // taints, the ones to add (stamped timeAdded now) and remove; retried with
  // a fresh read on conflict. Returns the node as it now is, nullptr on
  // failure.
  using TaintPlan = std::function<void(
      const api::Object& node, const std::vector<nodelifecycle::Taint>& taints,
      std::vector<nodelifecycle::Taint>* add, std::vector<nodelifecycle::Taint>* remove)>;
  client::ObjectPtr updateTaints(client::ObjectPtr node, const TaintPlan& plan);
  // TaintNodesByCondition: the NoSchedule taints the conditions call for.
  // Returns the node as it now is (the input when the write failed).
  client::ObjectPtr reconcileConditionTaints(client::ObjectPtr node);
  // SwapNodeControllerTaint: adds one NoExecute taint, removes its opposite.
  client::ObjectPtr swapNoExecuteTaint(client::ObjectPtr node, const nodelifecycle::Taint& add,
                                       const nodelifecycle::Taint& remove);

  // --- zones and rate-limited NoExecute tainting (node_lifecycle_zones.cpp)
  // processTaintBaseEviction for the node's Ready status: an opposite taint
  // is swapped at once, a missing one is queued in the zone's tainter, a
  // Ready node loses both. Returns the node as it now is.
  client::ObjectPtr processTaintBasedEviction(client::ObjectPtr node, const std::string& ready);
  void markNodeForTainting(const api::Object& node, const std::string& ready);
  // Removes the NoExecute taints and the node from its zone's tainter;
  // false when the taints could not be removed.
  bool markNodeAsReachable(client::ObjectPtr node);
  void addTainterForNewZone(const api::Object& node);
  // Zone states from each zone's Ready statuses, limiters to match, and the
  // master disruption mode when every zone is in FullDisruption.
  void handleDisruption(const std::map<std::string, std::vector<std::string>>& zone_statuses,
                        const std::vector<client::ObjectPtr>& nodes);
  // Under zones_mu_.
  void setLimiterInZoneLocked(const std::string& zone, size_t zone_size,
                              nodelifecycle::ZoneState state, TimePoint now);
  // ReducedQPSFunc / HealthyQPSFunc.
  double reducedQps(size_t zone_size) const;
  double healthyQps(size_t zone_size) const;
  // doNoExecuteTaintingPass: each zone's tainter adds the taints it may now.
  void doNoExecuteTaintingPass();
  std::pair<bool, std::chrono::nanoseconds> taintQueuedNode(const std::string& name);
  std::optional<TimePoint> nextTaintAttempt() const;
  // Leaving master disruption mode: every node's probe and Ready transition
  // timestamps become now.
  void resetNodeTimestamps(const std::vector<client::ObjectPtr>& nodes, TimePoint now);

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

  // Upstream's evictorLock: the zone states and each zone's NoExecute
  // tainter. Only the monitor thread changes them; held across the tainting
  // pass's writes, so mu_ may be taken under it but never the other way round.
  mutable std::mutex zones_mu_;
  std::map<std::string, nodelifecycle::ZoneState> zone_states_;
  std::map<std::string, std::unique_ptr<nodelifecycle::RateLimitedTimedQueue>> zone_tainters_;

  std::shared_ptr<Guard> guard_;
  std::thread thread_;
  bool stopping_ = false;
};

}  // namespace berth::controllers
