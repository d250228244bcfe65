#pragma once

// Hollow nodes, after upstream's kubemark hollow kubelet: N simulated nodes
// that register core/v1 Nodes, renew their Leases in kube-node-lease, post
// node status, and move the pods bound to them through the status
// transitions a kubelet reports (pods/status), without running anything.
// Built for scale tests of the control plane: 5,000 nodes x 30 pods on one
// small machine. There is no thread per node: one shared pod informer
// (filtered by node name here, instead of one field-selector watch per
// node), one timer heap for every lease renewal (spread over the renew
// period), status refresh and scripted pod transition, and two small worker
// pools that perform the API writes from de-duplicating key queues (node
// work apart from pod work, so pod bursts never delay lease renewals).
//
// Run mode (Options::run_threads) uses real threads and follows the Clock.
// Test mode has no threads: step() fires the timers due at the clock's
// current time and drains the queue on the caller's thread, so a FakeClient
// and a FakeClock make every transition deterministic.
//
// Failure injection: setDark() stops a node's lease renewals, status posts
// and pod handling (as a killed kubelet or a partitioned machine), and
// setHealth() reports NotReady or pressure conditions. Pod annotations
// script containers (hollow_pod.h). stop() without cleanup leaves the Node
// objects behind with leases that are no longer renewed: the nodes go dark,
// as when the process is killed.

#include <atomic>
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
#include <vector>

#include "agent/hollow/hollow_node.h"
#include "agent/hollow/hollow_pod.h"
#include "agent/hollow/key_queue.h"
#include "agent/hollow/timer_queue.h"
#include "client/client.h"
#include "client/informer.h"
#include "common/clock.h"
#include "common/result.h"

namespace berth::agent::hollow {

struct HollowOptions {
  int count = 1;
  // Nodes are named name_prefix + (first_index .. first_index+count-1); the
  // index also picks the node's addresses, so several agent processes with
  // distinct ranges get distinct IPs.
  int first_index = 0;
  std::string name_prefix = "hollow-node-";
  NodeResources resources;
  // topology.kubernetes.io/zone spreads round-robin over these.
  std::vector<std::string> zones = {"hollow-zone-a", "hollow-zone-b", "hollow-zone-c"};
  std::string region = "hollow-region";
  std::map<std::string, std::string> labels;  // extra node labels
  Duration startup_latency{0};                // bound -> containers running
  Duration ready_delay{0};                    // running -> Ready
  std::chrono::seconds lease_duration{40};
  std::chrono::seconds lease_renew_interval{10};
  std::chrono::seconds status_update_interval{60};
  // How long a failed write waits before it is retried.
  Duration retry_delay{std::chrono::seconds(1)};
  // Threads writing pod status (and confirming deletions).
  int workers = 8;
  // Threads for node registration, lease renewals and heartbeats.
  int node_workers = 2;
  bool run_threads = true;
};

class HollowNodeSet {
 public:
  HollowNodeSet(client::Client& client, client::InformerFactory& informers, Clock& clock,
                HollowOptions options);
  ~HollowNodeSet();
  HollowNodeSet(const HollowNodeSet&) = delete;
  HollowNodeSet& operator=(const HollowNodeSet&) = delete;

  // Subscribes to the shared pod informer and queues the registration of
  // every node. Run mode also starts the timer thread, the workers and the
  // informer factory.
  Status start();
  // Run mode: waits until every node is registered (true) or the timeout.
  bool waitRegistered(std::chrono::milliseconds timeout) const;
  // Stops timers and workers. With delete_nodes the Nodes and Leases are
  // deleted; without, they stay and the nodes go dark.
  void stop(bool delete_nodes = false);

  // Test mode: fires the timers due now and processes all queued work.
  void step();

  // Failure injection.
  void setDark(const std::string& node, bool dark);
  void setHealth(const std::string& node, const NodeHealth& health);

  std::vector<std::string> nodeNames() const;
  size_t registeredCount() const;
  // Pods bound to this set's nodes that it tracks.
  size_t podCount() const;
  // The fake IP a tracked pod got ("" when unknown).
  std::string podIp(const std::string& pod_key) const;

  struct Stats {
    uint64_t node_registrations = 0;
    uint64_t lease_renewals = 0;
    uint64_t node_status_updates = 0;
    uint64_t pod_status_updates = 0;
    uint64_t pod_deletions = 0;
    uint64_t conflicts = 0;
    uint64_t errors = 0;
  };
  Stats stats() const;

 private:
  struct NodeState;
  struct PodEntry;
  struct Guard;

  void process(const std::string& key);
  void registerNode(const std::string& name);
  void renewLease(const std::string& name);
  void updateNodeStatus(const std::string& name);
  void syncPod(const std::string& key);
  void deletePod(const std::string& key, const std::string& ns, const std::string& name,
                 const std::string& uid);

  void onPodUpsert(const client::ObjectPtr& pod);
  void onPodDelete(const client::ObjectPtr& pod);
  // Under mu_.
  void schedulePodTimerLocked(const std::string& key, PodEntry& entry, TimePoint at);
  std::string allocateIpLocked(NodeState& node, const std::string& wanted);
  void releaseIpLocked(NodeState& node, const std::string& ip);
  void enqueue(const std::string& key);
  void retryLater(const std::string& key);
  void schedulePeriodic(const std::string& prefix, const std::string& name, TimePoint first,
                        std::chrono::seconds period);

  client::Client& client_;
  client::InformerFactory& informers_;
  client::Informer* pod_informer_ = nullptr;
  Clock& clock_;
  HollowOptions options_;
  const api::KindInfo& node_kind_;
  const api::KindInfo& pod_kind_;
  const api::KindInfo& lease_kind_;

  mutable std::mutex mu_;
  mutable std::condition_variable registered_cv_;
  std::vector<std::unique_ptr<NodeState>> nodes_;
  std::unordered_map<std::string, size_t> by_name_;
  std::unordered_map<std::string, std::unique_ptr<PodEntry>> pods_;
  size_t registered_ = 0;

  TimerQueue timers_;
  // Node work (registration, leases, heartbeats) and pod work have separate
  // queues and workers, so pod bursts never delay a lease renewal.
  KeyQueue node_queue_;
  KeyQueue pod_queue_;
  std::vector<std::thread> workers_;
  std::shared_ptr<Guard> guard_;
  bool started_ = false;
  bool stopped_ = false;

  std::atomic<uint64_t> node_registrations_{0}, lease_renewals_{0}, node_status_updates_{0},
      pod_status_updates_{0}, pod_deletions_{0}, conflicts_{0}, errors_{0};
};

}  // namespace berth::agent::hollow
