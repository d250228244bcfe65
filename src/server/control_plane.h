#pragma once

#include <chrono>
#include <memory>

#include "common/clock.h"
#include "common/result.h"
#include "scheduler/config.h"

namespace berth::apiserver {
class Registry;
}
namespace berth::client {
class Client;
}

namespace berth::server {

struct ControlPlaneOptions {
  // kube-controller-manager's --node-monitor-period / --node-monitor-grace-period.
  std::chrono::seconds node_monitor_period{5};
  std::chrono::seconds node_monitor_grace_period{40};
  // --node-eviction-rate, --secondary-node-eviction-rate (nodes per second
  // the node lifecycle controller taints NoExecute in a Normal / partially
  // disrupted zone), --large-cluster-size-threshold,
  // --unhealthy-zone-threshold; upstream's defaults.
  double node_eviction_rate = 0.1;
  double secondary_node_eviction_rate = 0.01;
  int large_cluster_size_threshold = 50;
  double unhealthy_zone_threshold = 0.55;
  // The default profile's NodeResourcesFit scoring strategy
  // (--scheduler-strategy least|most).
  scheduler::ScoringStrategy scoring_strategy = scheduler::ScoringStrategy::kLeastAllocated;
};

// What kube-scheduler and kube-controller-manager are upstream, inside the
// server process: one in-process client over the Registry (no HTTP, objects
// parsed once), one shared informer factory, an event recorder per
// component, the scheduler and the workload, node-lifecycle, disruption and
// quota controllers. Start after bootstrap; stop before the Registry goes.
class ControlPlane {
 public:
  static Result<std::unique_ptr<ControlPlane>> start(apiserver::Registry& registry, Clock& clock,
                                                     const ControlPlaneOptions& options);
  ~ControlPlane();
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // Stops the scheduler and the controllers (joining their threads), then
  // the informers, then flushes the event recorders. Idempotent.
  void stop();

  // The in-process client the controllers use (benches, embedded agents).
  client::Client& client();

  struct Impl;

 private:
  explicit ControlPlane(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::server
