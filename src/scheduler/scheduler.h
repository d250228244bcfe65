#pragma once

// The scheduler (upstream's pkg/scheduler Scheduler): watches pods, nodes,
// namespaces and PodDisruptionBudgets through shared informers, keeps the
// cache and the scheduling queue, and runs one scheduling cycle at a time on
// its own thread (scheduleOne): snapshot, PreFilter, Filter over enough
// nodes in parallel, PostFilter (preemption) when none fit, PreScore, Score,
// pick a host, assume, Reserve, Permit. Binding cycles (WaitOnPermit, Bind
// through pods/binding) run on a pool so that many binds are in flight at
// once; a failed bind forgets the assumed pod and requeues it.
// Unschedulable pods get PodScheduled=False / Unschedulable with upstream's
// summary and a FailedScheduling event; bound pods a Scheduled event.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/event_recorder.h"
#include "client/informer.h"
#include "common/clock.h"
#include "scheduler/cache.h"
#include "scheduler/config.h"
#include "scheduler/fit_error.h"
#include "scheduler/framework_runtime.h"
#include "scheduler/nominator.h"
#include "scheduler/parallel.h"
#include "scheduler/queue.h"

namespace berth::scheduler {

struct SchedulerOptions {
  ProfileConfig profile = defaultProfile();
  // Threads for per-node filter / score work; 0 = hardware threads (inline
  // on machines with two or fewer, see Parallelizer).
  int parallelism = 0;
  // Binding cycles in flight at once. 0 binds inline on the scheduling
  // thread (deterministic tests).
  int bind_workers = 64;
  std::chrono::nanoseconds pod_initial_backoff = std::chrono::seconds(1);
  std::chrono::nanoseconds pod_max_backoff = std::chrono::seconds(10);
  std::chrono::nanoseconds max_unschedulable_duration = std::chrono::minutes(5);
  // 0: assumed pods never expire (upstream's default).
  std::chrono::nanoseconds assumed_pod_ttl = std::chrono::nanoseconds(0);
  // Seed for tie-breaking between equally scored nodes and preemption's
  // candidate offset; 0 = random.
  uint64_t seed = 0;
};

// The outcome of one scheduling cycle, for tests and the bench.
struct CycleOutcome {
  enum class Kind { kNone, kScheduled, kUnschedulable, kError, kSkipped } kind = Kind::kNone;
  std::string pod;  // ns/name
  std::string node;
  std::string message;
  int evaluated_nodes = 0;
  int feasible_nodes = 0;
};

class Scheduler {
 public:
  // Registers event handlers on the factory's pod, node, namespace and
  // PodDisruptionBudget informers (creating them). Start the factory
  // separately (or feed the informers with injectUpsert in tests).
  Scheduler(client::Client& client, client::InformerFactory& informers,
            client::EventRecorder& recorder, Clock& clock, SchedulerOptions options = {});
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Fails when the profile is invalid (unknown plugin).
  static Result<std::unique_ptr<Scheduler>> create(client::Client& client,
                                                   client::InformerFactory& informers,
                                                   client::EventRecorder& recorder, Clock& clock,
                                                   SchedulerOptions options = {});

  // Starts the scheduling thread, the binders and the periodic flushes
  // (back-off every second, unschedulable leftovers every 30s, assumed pod
  // expiry every second).
  void start();
  // Stops everything and joins; binds in flight finish first. Idempotent.
  void stop();

  // For tests: one scheduling cycle for the next pod in activeQ, on the
  // calling thread (without start()). Returns kNone when activeQ is empty.
  CycleOutcome scheduleOne();
  // Runs the periodic queue and cache maintenance once, at clock.now().
  void flushQueues();
  // Waits until no binding cycle or status write is in flight.
  void waitForBinds();

  SchedulingQueue& queue() { return *queue_; }
  Cache& cache() { return cache_; }
  Nominator& nominator() { return nominator_; }
  Framework& framework() { return *framework_; }

  // Counters (bench, logs).
  uint64_t scheduledCount() const { return scheduled_.load(); }
  uint64_t bindFailures() const { return bind_failures_.load(); }

 private:
  struct BindTask;

  void registerHandlers();
  bool responsibleFor(const PodInfo& pod) const;
  void onPodAdd(const client::ObjectPtr& obj);
  void onPodUpdate(const client::ObjectPtr& old_obj, const client::ObjectPtr& new_obj);
  void onPodDelete(const client::ObjectPtr& obj);
  void onNodeAdd(const client::ObjectPtr& obj);
  void onNodeUpdate(const client::ObjectPtr& old_obj, const client::ObjectPtr& new_obj);
  void onNodeDelete(const client::ObjectPtr& obj);

  CycleOutcome scheduleQueued(const QueuedPodInfoPtr& info);
  // schedulePod: the node for the pod, or a fit error / error in `status`.
  struct ScheduleResult {
    std::string node;
    bool fit_error = false;  // no node fits (the status is Unschedulable)
    int evaluated = 0;
    int feasible = 0;
  };
  ScheduleResult schedulePod(CycleState& state, const PodInfo& pod, Diagnosis* diag,
                             PluginStatus* status);
  // Filters `nodes` from next_start_node_index_ until enough are feasible.
  // Rejected nodes' statuses go to `diag` only when none is feasible (the
  // fit error and preemption read them; a successful cycle drops them, as
  // upstream drops its Diagnosis); *rejected counts them either way.
  std::vector<NodeInfo*> findNodesThatPassFilters(CycleState& state, const PodInfo& pod,
                                                  const std::vector<NodeInfo*>& nodes,
                                                  Diagnosis* diag, PluginStatus* error,
                                                  int* rejected);
  int numFeasibleNodesToFind(int num_all_nodes) const;
  // Reservoir sampling over the nodes with the highest total score.
  std::string selectHost(const std::vector<NodeInfo*>& nodes, const std::vector<int64_t>& totals);

  void runBindingCycle(std::shared_ptr<BindTask> task);
  void handleBindingFailure(const std::shared_ptr<BindTask>& task, const PluginStatus& status);
  // handleSchedulingFailure: requeue, record, write status.
  void handleFailure(const QueuedPodInfoPtr& info, const PluginStatus& status,
                     const std::string& message, std::optional<std::string> nominated_node,
                     int64_t cycle);
  void updatePodStatus(const PodInfo& pod, const std::string& reason, const std::string& message,
                       const std::optional<std::string>& nominated_node);

  // The binder pool: tasks run in FIFO order on bind_workers threads.
  void submit(std::function<void()> fn);
  void binderLoop();
  void maintenanceLoop();
  void schedulingLoop();

  client::Client& client_;
  client::InformerFactory& informers_;
  client::EventRecorder& recorder_;
  Clock& clock_;
  SchedulerOptions options_;
  client::Informer& pods_;
  client::Informer& nodes_;
  client::Informer& namespaces_;
  client::Informer& pdbs_;

  Nominator nominator_;
  Cache cache_;
  std::unique_ptr<SchedulingQueue> queue_;
  Parallelizer parallelizer_;
  Handle handle_;
  std::unique_ptr<Framework> framework_;
  Snapshot snapshot_;
  int next_start_node_index_ = 0;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::condition_variable idle_cv_;
  std::deque<std::function<void()>> tasks_;
  int busy_ = 0;
  bool pool_stop_ = false;
  // Binders run (between start() and stop()); otherwise tasks run inline.
  std::atomic<bool> pool_running_{false};
  std::vector<std::thread> binders_;

  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool started_ = false;
  bool stopping_ = false;
  std::thread scheduling_thread_;
  std::thread maintenance_thread_;

  // Informer handlers outlive the scheduler (the factory has no way to
  // remove them): they check this under a shared lock, the destructor
  // clears it under the exclusive one.
  struct HandlerGuard {
    std::shared_mutex mu;
    bool alive = true;
  };
  std::shared_ptr<HandlerGuard> guard_ = std::make_shared<HandlerGuard>();

  std::atomic<uint64_t> scheduled_{0};
  std::atomic<uint64_t> bind_failures_{0};
};

}  // namespace berth::scheduler
