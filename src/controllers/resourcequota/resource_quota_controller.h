#pragma once

// The ResourceQuota controller: keeps status.hard and status.used current,
// after upstream's pkg/controller/resourcequota with the evaluators of
// pkg/quota/v1 (quota_evaluator.h). For every quota, status.hard is
// spec.hard and status.used holds, for each resource in hard that an
// evaluator tracks, the usage summed over the namespace's objects that fall
// under the quota's scopes (object counts, pod compute requests and limits
// of non-terminal pods, PVC storage requests, service node ports and load
// balancers). Names no evaluator tracks are left out of used.
//
// Level-triggered: the quota informer enqueues a quota when it is added or
// its spec changes; informers on the tracked kinds (created when a quota
// first needs them) enqueue the quotas of a namespace when an object they
// count is added, deleted or changed in a way that changes usage
// (upstream's QuotaMonitor replenishment, here also on adds because quota
// admission is not implemented: nothing charges usage at create time); and
// every kResyncPeriod all quotas are recalculated.
//
// Not in scope: quota admission (refusing creates that would exceed hard).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "client/event_recorder.h"
#include "client/informer.h"
#include "common/clock.h"
#include "controllers/controller_util.h"
#include "controllers/resourcequota/quota_evaluator.h"

namespace berth::controllers {

class ResourceQuotaController {
 public:
  // The controller manager's --resource-quota-sync-period default.
  static constexpr std::chrono::minutes kResyncPeriod{5};

  // Upstream's quota controller records no events; the recorder is taken
  // for a uniform controller signature.
  ResourceQuotaController(client::Client& client, client::InformerFactory& informers,
                          client::EventRecorder& recorder, Clock& clock, int workers = 1);
  ~ResourceQuotaController();
  ResourceQuotaController(const ResourceQuotaController&) = delete;
  ResourceQuotaController& operator=(const ResourceQuotaController&) = delete;

  // Starts the workers once the quota and pod informers have synced, and
  // the periodic full resync (in the background).
  void start();
  void stop();

  // syncResourceQuota for "ns/name". Public for tests.
  Status sync(const std::string& key);
  // Enqueues every quota (the periodic full resync).
  void resyncAll();

  WorkQueue& workQueue() { return queue_; }

 private:
  struct HandlerGuard;

  void registerQuotaHandlers();
  void processKey(const std::string& key);
  // The informer for a tracked group resource ("pods", "deployments.apps"),
  // created with replenishment handlers on first use; nullptr when no
  // served kind has that resource.
  client::Informer* informerFor(const std::string& group_resource);
  // Enqueues the quotas of `ns` that track `group_resource`.
  void replenish(const std::string& ns, const std::string& group_resource);

  client::Client& client_;
  client::InformerFactory& informers_;
  client::Informer& quota_informer_;
  Clock& clock_;
  const api::KindInfo& quota_kind_;
  int workers_count_;

  WorkQueue queue_;
  std::shared_ptr<HandlerGuard> guard_;
  std::mutex mu_;
  std::condition_variable stop_cv_;
  std::atomic<bool> stopping_{false};
  std::thread starter_;
  std::thread resync_;
  std::unique_ptr<WorkerPool> workers_;
  std::mutex state_mu_;
  std::map<std::string, client::Informer*> tracked_;  // group resource -> informer (nullptr: none)
  std::map<std::string, int> failures_;
};

}  // namespace berth::controllers
