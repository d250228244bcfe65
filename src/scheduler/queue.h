#pragma once

// The scheduling queue (upstream's PriorityQueue, before queueing hints):
//   activeQ        pods to try now, highest priority first, then the
//                  earliest timestamp (PrioritySort);
//   backoffQ       pods waiting out their back-off (1s doubling to 10s per
//                  attempt), ordered by expiry;
//   unschedulable  pods rejected by filters; a cluster event one of the
//                  rejecting plugins registered for moves them back (to
//                  backoffQ while they still back off), and so does a 5
//                  minute timeout;
//   gated          pods with spec.schedulingGates (the SchedulingGates
//                  PreEnqueue plugin) until an update removes the gates.
// A pod that fails while a move request came in during its cycle goes to
// backoffQ instead of the unschedulable pool, so no event is lost. Time
// comes from the injected Clock; the scheduler calls the flush functions
// every second.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "scheduler/framework.h"
#include "scheduler/nominator.h"

namespace berth::scheduler {

// framework.QueuedPodInfo.
struct QueuedPodInfo {
  PodInfoPtr pod;
  // When the pod was added to the queue or last failed (activeQ order and
  // the base of its back-off).
  TimePoint timestamp{};
  std::optional<TimePoint> initial_attempt_timestamp;
  int attempts = 0;
  // Plugins that rejected the pod in its last attempt.
  std::set<std::string> unschedulable_plugins;
};
using QueuedPodInfoPtr = std::shared_ptr<QueuedPodInfo>;

struct QueueOptions {
  std::chrono::nanoseconds initial_backoff = std::chrono::seconds(1);
  std::chrono::nanoseconds max_backoff = std::chrono::seconds(10);
  std::chrono::nanoseconds max_unschedulable_duration = std::chrono::minutes(5);
  // Labels of a namespace, for matching affinity terms against assigned pods.
  std::function<LabelMap(const std::string& ns)> namespace_labels;
};

class SchedulingQueue {
 public:
  SchedulingQueue(Clock& clock, Nominator& nominator, QueueOptions options = {});

  // Plugin name -> events it registered (Framework::eventsByPlugin).
  void setEventsByPlugin(std::map<std::string, std::vector<ClusterEvent>> events);

  // A new pending pod (informer add).
  void add(const PodInfoPtr& pod);
  // A pending pod changed. In the unschedulable pool a real change (not just
  // status or resourceVersion) makes it worth retrying.
  void update(const PodInfoPtr& old_pod, const PodInfoPtr& new_pod);
  // A pending pod was deleted or got bound: forget it everywhere.
  void remove(const std::string& uid);

  // After a failed attempt of a popped pod: to the unschedulable pool, or to
  // backoffQ when a move request arrived during its cycle (or nothing
  // rejected it, i.e. an error). No-op when the pod is already queued again
  // or was deleted meanwhile.
  void addUnschedulableIfNotPresent(const QueuedPodInfoPtr& info, int64_t pod_scheduling_cycle);
  // The popped pod's cycle is over (bound, failed or skipped).
  void done(const std::string& uid);

  // MoveAllToActiveOrBackoffQueue: unschedulable pods whose rejecting
  // plugins registered for `event` (and that pass `pre_check`) move back.
  void moveAllToActiveOrBackoffQueue(
      const ClusterEvent& event, const std::function<bool(const PodInfo&)>& pre_check = nullptr);
  // An assigned pod appeared / changed: pods with affinity terms or spread
  // constraints matching it may now fit.
  void assignedPodAdded(const PodInfo& pod);
  void assignedPodUpdated(const PodInfo& pod);

  // Blocks until a pod is in activeQ (nullptr after close()).
  QueuedPodInfoPtr pop();
  // Non-blocking pop; nullptr when activeQ is empty.
  QueuedPodInfoPtr tryPop();
  void close();

  // flushBackoffQCompleted: pods whose back-off ended move to activeQ.
  void flushBackoffQCompleted();
  // flushUnschedulablePodsLeftover: pods unschedulable for longer than the
  // max duration move back.
  void flushUnschedulablePodsLeftover();

  int64_t schedulingCycle() const;
  std::chrono::nanoseconds backoffDuration(int attempts) const;

  // Introspection (tests, metrics).
  enum class Where { kNone, kActive, kBackoff, kUnschedulable, kGated, kInFlight };
  Where where(const std::string& uid) const;
  size_t activeCount() const;
  size_t backoffCount() const;
  size_t unschedulableCount() const;
  size_t pendingCount() const;  // everything queued, in flight excluded

 private:
  struct Entry {
    QueuedPodInfoPtr info;
    Where where = Where::kNone;
    uint64_t seq = 0;
    TimePoint backoff_expiry{};
  };
  struct ActiveKey {
    int32_t priority;
    TimePoint timestamp;
    uint64_t seq;
    bool operator<(const ActiveKey& o) const {
      if (priority != o.priority) return priority > o.priority;
      if (timestamp != o.timestamp) return timestamp < o.timestamp;
      return seq < o.seq;
    }
  };
  struct BackoffKey {
    TimePoint expiry;
    uint64_t seq;
    bool operator<(const BackoffKey& o) const {
      return expiry != o.expiry ? expiry < o.expiry : seq < o.seq;
    }
  };
  struct InFlight {
    QueuedPodInfoPtr info;
    bool updated = false;  // a real update arrived during the cycle
    bool deleted = false;
  };

  void eraseLocked(const std::string& uid);
  void placeLocked(QueuedPodInfoPtr info, Where where);
  // addToActiveQ with the PreEnqueue check (scheduling gates).
  void toActiveOrGatedLocked(QueuedPodInfoPtr info);
  void toActiveOrBackoffLocked(QueuedPodInfoPtr info);
  bool isBackingOffLocked(const QueuedPodInfo& info) const;
  TimePoint backoffExpiryLocked(const QueuedPodInfo& info) const;
  bool podMatchesEventLocked(const QueuedPodInfo& info, const ClusterEvent& event) const;
  void movePodsLocked(const std::vector<QueuedPodInfoPtr>& pods, const ClusterEvent& event);
  std::vector<QueuedPodInfoPtr> podsRelatedToAssignedLocked(const PodInfo& pod) const;
  QueuedPodInfoPtr popLocked();

  Clock& clock_;
  Nominator& nominator_;
  QueueOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::vector<ClusterEvent>> events_by_plugin_;
  std::unordered_map<std::string, Entry> entries_;
  std::map<ActiveKey, std::string> active_;
  std::map<BackoffKey, std::string> backoff_;
  std::unordered_map<std::string, InFlight> in_flight_;
  size_t unschedulable_ = 0;
  uint64_t seq_ = 0;
  int64_t scheduling_cycle_ = 0;
  int64_t move_request_cycle_ = -1;
  bool closed_ = false;
};

}  // namespace berth::scheduler
