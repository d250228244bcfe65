#pragma once

// The skeleton every level-triggered controller shares, after upstream's
// Run / worker / processNextWorkItem: wait for the informers' first list,
// run `sync(key)` on a few workers, retry a failed key with per-key
// exponential back-off (the DefaultControllerRateLimiter's 5ms doubling,
// capped at 1000s) and forget it once it syncs.
//
// Handlers registered with shared informers outlive a controller; a
// HandlerGate wraps them so that they do nothing once the controller stops
// (close() waits for a handler that is running).
//
// Used by the DaemonSet, StatefulSet, Job, TTL-after-finished, CronJob and
// EndpointSlice controllers; a candidate for src/controllers/controller_util.h.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "client/informer.h"
#include "common/result.h"
#include "controllers/controller_util.h"

namespace berth::controllers {

class HandlerGate {
 public:
  HandlerGate() : state_(std::make_shared<State>()) {}

  // Wraps `fn` so that it runs only while the gate is open.
  template <class... Args, class F>
  std::function<void(Args...)> wrap(F fn) const {
    std::weak_ptr<State> weak = state_;
    return [weak, fn = std::move(fn)](Args... args) {
      auto s = weak.lock();
      if (!s) return;
      std::lock_guard lock(s->mu);
      if (s->open) fn(args...);
    };
  }

  // Closes the gate; returns once no wrapped handler is running.
  void close() {
    std::lock_guard lock(state_->mu);
    state_->open = false;
  }

 private:
  struct State {
    std::mutex mu;
    bool open = true;
  };
  std::shared_ptr<State> state_;
};

// Builds informer handlers that call members of a controller through a gate.
template <class C>
client::EventHandlers gatedHandlers(const HandlerGate& gate, C* self,
                                    void (C::*on_add)(const client::ObjectPtr&),
                                    void (C::*on_update)(const client::ObjectPtr&,
                                                         const client::ObjectPtr&),
                                    void (C::*on_delete)(const client::ObjectPtr&)) {
  client::EventHandlers h;
  if (on_add)
    h.on_add = gate.wrap<const client::ObjectPtr&>(
        [self, on_add](const client::ObjectPtr& o) { (self->*on_add)(o); });
  if (on_update)
    h.on_update = gate.wrap<const client::ObjectPtr&, const client::ObjectPtr&>(
        [self, on_update](const client::ObjectPtr& a, const client::ObjectPtr& b) {
          (self->*on_update)(a, b);
        });
  if (on_delete)
    h.on_delete = gate.wrap<const client::ObjectPtr&>(
        [self, on_delete](const client::ObjectPtr& o) { (self->*on_delete)(o); });
  return h;
}

class SyncLoop {
 public:
  // `name` names the controller in logs; `sync` is the controller's sync;
  // `informers` must have synced before any worker runs.
  SyncLoop(std::string name, std::function<Status(const std::string&)> sync,
           std::vector<client::Informer*> informers, int workers);
  ~SyncLoop();
  SyncLoop(const SyncLoop&) = delete;
  SyncLoop& operator=(const SyncLoop&) = delete;

  // Starts the workers once the informers synced (in the background).
  void start();
  // Stops and joins the workers.
  void stop();

  void enqueue(const std::string& key) { queue_.add(key); }
  // AddAfter. The delay is remembered per key (tests read it back; the
  // queue itself waits in real time).
  void enqueueAfter(const std::string& key, std::chrono::milliseconds delay);
  std::optional<std::chrono::milliseconds> lastDelay(const std::string& key) const;

  WorkQueue& queue() { return queue_; }

  // The retry back-off after `failures` failed syncs of a key.
  static std::chrono::milliseconds backoffFor(int failures);

 private:
  void process(const std::string& key);

  std::string name_;
  std::function<Status(const std::string&)> sync_;
  std::vector<client::Informer*> informers_;
  int workers_count_;
  WorkQueue queue_;
  std::mutex mu_;
  std::atomic<bool> stopping_{false};
  std::thread starter_;
  std::unique_ptr<WorkerPool> workers_;
  mutable std::mutex state_mu_;
  std::map<std::string, int> failures_;
  std::map<std::string, std::chrono::milliseconds> delays_;
};

}  // namespace berth::controllers
