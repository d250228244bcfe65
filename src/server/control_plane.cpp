#include "server/control_plane.h"

#include <atomic>
#include <thread>
#include <vector>

#include "apiserver/registry/registry.h"
#include "client/event_recorder.h"
#include "client/informer.h"
#include "client/inprocess_client.h"
#include "common/log.h"
#include "controllers/cronjob/cronjob_controller.h"
#include "controllers/daemonset/daemon_set_controller.h"
#include "controllers/deployment/deployment_controller.h"
#include "controllers/disruption/disruption_controller.h"
#include "controllers/endpoint/endpoints_controller.h"
#include "controllers/endpointslice/endpoint_slice_controller.h"
#include "controllers/endpointslicemirroring/endpoint_slice_mirroring_controller.h"
#include "controllers/job/job_controller.h"
#include "controllers/job/ttl_after_finished_controller.h"
#include "controllers/nodelifecycle/node_lifecycle_controller.h"
#include "controllers/replicaset/replica_set_controller.h"
#include "controllers/resourcequota/resource_quota_controller.h"
#include "controllers/statefulset/stateful_set_controller.h"
#include "scheduler/scheduler.h"

namespace berth::server {

namespace {

// A started controller, type-erased so that Impl can stop them in reverse.
struct Runnable {
  std::function<void()> start;
  std::function<void()> stop;
  std::shared_ptr<void> owner;
};

template <typename T>
Runnable runnable(std::unique_ptr<T> c) {
  T* raw = c.get();
  return Runnable{[raw] { raw->start(); }, [raw] { raw->stop(); }, std::shared_ptr<void>(std::move(c))};
}

}  // namespace

struct ControlPlane::Impl {
  Clock* clock = nullptr;
  std::unique_ptr<client::InProcessClient> client;
  std::unique_ptr<client::InformerFactory> informers;
  // Recorders outlive the components that record through them.
  std::vector<std::unique_ptr<client::EventRecorder>> recorders;
  std::unique_ptr<scheduler::Scheduler> scheduler;
  std::vector<Runnable> controllers;
  // Starts the scheduler once the informers have synced (upstream's
  // WaitForCacheSync before Run), without delaying server readiness.
  std::thread scheduler_starter;
  std::atomic<bool> stopping{false};
  bool stopped = false;

  client::EventRecorder& recorder(const char* component) {
    recorders.push_back(std::make_unique<client::EventRecorder>(*client, *clock, component));
    return *recorders.back();
  }
};

ControlPlane::ControlPlane(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ControlPlane::~ControlPlane() { stop(); }

client::Client& ControlPlane::client() { return *impl_->client; }

Result<std::unique_ptr<ControlPlane>> ControlPlane::start(apiserver::Registry& registry, Clock& clock,
                                                          const ControlPlaneOptions& options) {
  auto impl = std::make_unique<Impl>();
  Impl& p = *impl;
  p.clock = &clock;
  p.client = std::make_unique<client::InProcessClient>(registry);
  p.informers = std::make_unique<client::InformerFactory>(*p.client);
  client::Client& c = *p.client;
  client::InformerFactory& f = *p.informers;

  scheduler::SchedulerOptions so;
  so.profile.fit.strategy = options.scoring_strategy;
  BERTH_ASSIGN_OR_RETURN(p.scheduler,
                         scheduler::Scheduler::create(c, f, p.recorder("default-scheduler"), clock, so));

  using namespace controllers;
  p.controllers.push_back(
      runnable(std::make_unique<ReplicaSetController>(c, f, p.recorder("replicaset-controller"), clock)));
  p.controllers.push_back(
      runnable(std::make_unique<ReplicationManager>(c, f, p.recorder("replication-controller"), clock)));
  p.controllers.push_back(
      runnable(std::make_unique<DeploymentController>(c, f, p.recorder("deployment-controller"), clock)));
  p.controllers.push_back(
      runnable(std::make_unique<DaemonSetController>(c, f, p.recorder("daemonset-controller"), clock)));
  p.controllers.push_back(
      runnable(std::make_unique<StatefulSetController>(c, f, p.recorder("statefulset-controller"), clock)));
  p.controllers.push_back(runnable(std::make_unique<JobController>(c, f, p.recorder("job-controller"), clock)));
  p.controllers.push_back(runnable(std::make_unique<TtlAfterFinishedController>(c, f, clock)));
  p.controllers.push_back(
      runnable(std::make_unique<CronJobController>(c, f, p.recorder("cronjob-controller"), clock)));
  NodeLifecycleOptions nl;
  nl.node_monitor_period = options.node_monitor_period;
  nl.node_monitor_grace_period = options.node_monitor_grace_period;
  nl.node_eviction_rate = options.node_eviction_rate;
  nl.secondary_node_eviction_rate = options.secondary_node_eviction_rate;
  nl.large_cluster_size_threshold = options.large_cluster_size_threshold;
  nl.unhealthy_zone_threshold = options.unhealthy_zone_threshold;
  p.controllers.push_back(
      runnable(std::make_unique<NodeLifecycleController>(c, f, p.recorder("node-controller"), clock, nl)));
  p.controllers.push_back(
      runnable(std::make_unique<DisruptionController>(c, f, p.recorder("controllermanager"), clock)));
  p.controllers.push_back(
      runnable(std::make_unique<ResourceQuotaController>(c, f, p.recorder("resourcequota-controller"), clock)));
  p.controllers.push_back(runnable(std::make_unique<EndpointSliceController>(c, f)));
  p.controllers.push_back(runnable(std::make_unique<EndpointsController>(c, f)));
  p.controllers.push_back(runnable(std::make_unique<EndpointSliceMirroringController>(c, f)));

  // Every informer exists now (handlers were registered by the
  // constructors); start them, then the controllers (each waits for its
  // own informers' sync before running workers).
  f.start();
  for (auto& r : p.controllers) r.start();
  Impl* raw = impl.get();
  p.scheduler_starter = std::thread([raw] {
    while (!raw->stopping.load()) {
      if (raw->informers->waitForSync(std::chrono::milliseconds(100))) {
        raw->scheduler->start();
        return;
      }
    }
  });
  BERTH_LOG(kInfo, "server") << "control plane started controllers=" << p.controllers.size();
  return std::unique_ptr<ControlPlane>(new ControlPlane(std::move(impl)));
}

void ControlPlane::stop() {
  if (!impl_ || impl_->stopped) return;
  Impl& p = *impl_;
  p.stopped = true;
  p.stopping = true;
  if (p.scheduler_starter.joinable()) p.scheduler_starter.join();
  p.scheduler->stop();
  for (auto it = p.controllers.rbegin(); it != p.controllers.rend(); ++it) it->stop();
  p.informers->stop();
  for (auto& r : p.recorders) r->flush();
  // Destroy in reverse of construction: components hold references to the
  // informers, recorders and client.
  p.controllers.clear();
  p.scheduler.reset();
  p.informers.reset();
  p.recorders.clear();
  p.client.reset();
}

}  // namespace berth::server
