#pragma once

// The pods of one real node, from the API to the runtime and back, in the
// role of the kubelet's pod workers and status manager
// (pkg/kubelet/pod_workers.go, pkg/kubelet/status/status_manager.go): the
// pods bound to this node arrive through an informer; each pod is synced
// by one worker at a time (a de-duplicating key queue); a sync runs the
// PodSyncer and then reports what it found: events, a merge patch of
// pods/status when the status changed, and — once a deleted pod has fully
// stopped — the final delete with a zero grace period, guarded by the uid.
//
// A pod syncs again when its spec or metadata change, when the syncer asks
// (a back-off ends), when someone calls enqueue() (a container exited, a
// probe result changed, a ConfigMap changed) and every resync period.
// Whatever the runtime holds of pods the API no longer has (deleted while
// the agent was down, or never this agent's) is cleaned up by a sweep.
//
// A deleted pod stops within its grace period on a thread of its own (as
// each pod has its own goroutine upstream), so pods that take their time
// to stop hold none of the workers that start other pods.
//
// Run mode uses threads; test mode (run_threads = false) does everything in
// step() on the caller's thread, so a FakeClient and a FakeClock drive it.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/hollow/key_queue.h"
#include "agent/hollow/timer_queue.h"
#include "agent/pod_syncer.h"
#include "client/client.h"
#include "client/event_recorder.h"
#include "client/informer.h"
#include "common/clock.h"

namespace berth::agent {

struct PodWorkerOptions {
  int workers = 4;
  // Every pod syncs at least this often (upstream's syncFrequency is 1 m).
  std::chrono::seconds resync_period{60};
  // A failed API write is tried again after this.
  std::chrono::seconds retry_delay{1};
  bool run_threads = true;
};

class PodWorkers {
 public:
  struct Hooks {
    // After each sync of a pod the API has (probes, exit watches and the
    // log lookup follow the running containers through this).
    std::function<void(const api::Object& pod, const SyncOutcome& outcome)> synced;
    // After the runtime let go of a pod.
    std::function<void(const std::string& pod_uid)> removed;
    // Before a sync: a message when the node evicts this pod now (node
    // pressure). The pod's containers are killed and it fails with reason
    // Evicted instead of syncing.
    std::function<std::optional<std::string>(const api::Object& pod)> eviction;
  };

  PodWorkers(client::Client& client, client::Informer& pods, PodSyncer& syncer, PodRuntime& runtime,
             client::EventRecorder& recorder, Clock& clock, PodWorkerOptions options,
             Hooks hooks = {});
  ~PodWorkers();
  PodWorkers(const PodWorkers&) = delete;
  PodWorkers& operator=(const PodWorkers&) = delete;

  // Subscribes to the informer (which the caller starts). Run mode starts
  // the workers and the timers; the first sweep runs once the informer has
  // synced.
  void start();
  void stop();

  // A pod ("ns/name") needs a sync.
  void enqueue(const std::string& key);
  // Test mode: fires the timers due now and processes all queued work.
  void step();

  struct Stats {
    uint64_t syncs = 0;
    uint64_t status_patches = 0;
    uint64_t deletions = 0;
    uint64_t cleanups = 0;
    uint64_t errors = 0;
  };
  Stats stats() const;

 private:
  void process(const std::string& key);
  // Run mode: a deleted pod's sync on its own thread (which marks the key done).
  bool terminating(const std::string& key) const;
  void startTerminator(const std::string& key);
  void syncPod(const std::string& key);
  void sweep();
  void cleanupUid(const std::string& uid);
  void retryLater(const std::string& key);
  void schedule(std::chrono::system_clock::time_point at, const std::string& key);
  void scheduleResync();
  Status writeStatus(const api::Object& pod, const boost::json::object& status);

  client::Client& client_;
  client::Informer& pods_;
  PodSyncer& syncer_;
  PodRuntime& runtime_;
  client::EventRecorder& recorder_;
  Clock& clock_;
  const PodWorkerOptions options_;
  Hooks hooks_;
  const api::KindInfo& pod_kind_;

  hollow::KeyQueue queue_;
  hollow::TimerQueue timers_;
  std::vector<std::thread> workers_;
  std::thread sweeper_;
  struct Terminator {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::mutex terminators_mu_;
  std::vector<Terminator> terminators_;
  std::atomic<bool> stopping_{false};
  struct Guard;
  std::shared_ptr<Guard> guard_;

  mutable std::mutex mu_;
  std::map<std::string, std::string> uids_;             // pod key -> uid the runtime has
  std::map<std::string, boost::json::object> written_;  // uid -> last status written
  Stats stats_;
};

}  // namespace berth::agent
