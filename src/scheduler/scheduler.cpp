// The Scheduler's wiring: informer event handlers (upstream's
// eventhandlers.go), threads, the binder pool and periodic maintenance.
// The scheduling cycle itself is in schedule_one.cpp.

#include "scheduler/scheduler.h"

#include <pthread.h>

#include <cstdlib>
#include <string_view>

#include "api/kinds/access.h"
#include "api/object.h"
#include "common/log.h"

namespace berth::scheduler {

namespace {

bool terminalPhase(std::string_view phase) { return phase == "Succeeded" || phase == "Failed"; }
bool terminal(const PodInfo& p) { return terminalPhase(p.phase); }

// nodeSchedulingPropertiesChange: which scheduling-relevant parts of a node
// changed (0 = none; heartbeats alone do not move pods).
uint32_t nodeChanges(const NodeData& old_node, const NodeData& new_node) {
  uint32_t actions = 0;
  // Only a node becoming schedulable helps (NodeSpecUnschedulableChange).
  if (old_node.unschedulable != new_node.unschedulable && !new_node.unschedulable)
    actions |= kUpdateNodeTaint;
  if (!(old_node.allocatable == new_node.allocatable)) actions |= kUpdateNodeAllocatable;
  if (old_node.labels != new_node.labels) actions |= kUpdateNodeLabel;
  auto taints_equal = [](const std::vector<Taint>& a, const std::vector<Taint>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (a[i].key != b[i].key || a[i].value != b[i].value || a[i].effect != b[i].effect)
        return false;
    return true;
  };
  if (!taints_equal(old_node.taints, new_node.taints)) actions |= kUpdateNodeTaint;
  if (old_node.conditions != new_node.conditions) actions |= kUpdateNodeCondition;
  if (old_node.annotations != new_node.annotations) actions |= kUpdateNodeAnnotation;
  return actions;
}

}  // namespace

Result<std::unique_ptr<Scheduler>> Scheduler::create(client::Client& client,
                                                     client::InformerFactory& informers,
                                                     client::EventRecorder& recorder, Clock& clock,
                                                     SchedulerOptions options) {
  Handle probe;
  auto fw = Framework::create(options.profile, probe, inTreeRegistry());
  if (!fw.ok()) return std::move(fw).error();
  return std::make_unique<Scheduler>(client, informers, recorder, clock, std::move(options));
}

Scheduler::Scheduler(client::Client& client, client::InformerFactory& informers,
                     client::EventRecorder& recorder, Clock& clock, SchedulerOptions options)
    : client_(client),
      informers_(informers),
      recorder_(recorder),
      clock_(clock),
      options_(std::move(options)),
      pods_(informers.forKind("", "Pod")),
      nodes_(informers.forKind("", "Node")),
      namespaces_(informers.forKind("", "Namespace")),
      pdbs_(informers.forKind("policy", "PodDisruptionBudget")),
      cache_(clock, options_.assumed_pod_ttl),
      parallelizer_(options_.parallelism),
      rng_(options_.seed ? options_.seed : std::random_device{}()) {
  auto ns_labels = [this](const std::string& ns) {
    LabelMap out;
    if (auto obj = namespaces_.get(ns)) {
      auto labels = api::labels(*obj);
      out = LabelMap(labels.begin(), labels.end());
    }
    return out;
  };
  QueueOptions qopts;
  qopts.initial_backoff = options_.pod_initial_backoff;
  qopts.max_backoff = options_.pod_max_backoff;
  qopts.max_unschedulable_duration = options_.max_unschedulable_duration;
  qopts.namespace_labels = ns_labels;
  queue_ = std::make_unique<SchedulingQueue>(clock_, nominator_, qopts);

  handle_.snapshot = &snapshot_;
  handle_.parallelizer = &parallelizer_;
  handle_.client = &client_;
  handle_.recorder = &recorder_;
  handle_.clock = &clock_;
  handle_.nominator = &nominator_;
  handle_.scheduler_name = options_.profile.scheduler_name;
  handle_.namespace_labels = ns_labels;
  handle_.namespaces_matching = [this](const api::LabelSelector& sel) {
    std::vector<std::string> out;
    for (const auto& ns : namespaces_.list())
      if (sel.matches(api::objAt(*ns, {"metadata", "labels"}))) out.push_back(api::name(*ns));
    return out;
  };
  handle_.pdbs = [this] { return pdbs_.list(); };
  handle_.random = [this] {
    std::lock_guard lock(rng_mu_);
    return static_cast<uint64_t>(rng_());
  };
  auto fw = Framework::create(options_.profile, handle_, inTreeRegistry());
  if (!fw.ok()) {
    BERTH_LOG(kError, "scheduler") << "invalid scheduler profile: " << fw.error().message;
    std::abort();
  }
  framework_ = std::move(fw.value());
  queue_->setEventsByPlugin(framework_->eventsByPlugin());
  registerHandlers();
}

Scheduler::~Scheduler() {
  stop();
  std::unique_lock lock(guard_->mu);
  guard_->alive = false;
}

void Scheduler::registerHandlers() {
  // Each handler runs only while the scheduler lives (see HandlerGuard).
  auto guarded = [g = guard_](auto fn) {
    return [g, fn](auto&&... args) {
      std::shared_lock lock(g->mu);
      if (g->alive) fn(args...);
    };
  };
  client::EventHandlers pod_handlers;
  pod_handlers.on_add = guarded([this](const client::ObjectPtr& o) { onPodAdd(o); });
  pod_handlers.on_update = guarded(
      [this](const client::ObjectPtr& a, const client::ObjectPtr& b) { onPodUpdate(a, b); });
  pod_handlers.on_delete = guarded([this](const client::ObjectPtr& o) { onPodDelete(o); });
  pods_.addHandlers(std::move(pod_handlers));
  client::EventHandlers node_handlers;
  node_handlers.on_add = guarded([this](const client::ObjectPtr& o) { onNodeAdd(o); });
  node_handlers.on_update = guarded(
      [this](const client::ObjectPtr& a, const client::ObjectPtr& b) { onNodeUpdate(a, b); });
  node_handlers.on_delete = guarded([this](const client::ObjectPtr& o) { onNodeDelete(o); });
  nodes_.addHandlers(std::move(node_handlers));
}

bool Scheduler::responsibleFor(const PodInfo& pod) const {
  return pod.scheduler_name == options_.profile.scheduler_name;
}

void Scheduler::onPodAdd(const client::ObjectPtr& obj) {
  PodInfoPtr pod = makePodInfo(obj);
  if (!pod->node_name.empty()) {
    if (terminal(*pod)) return;
    cache_.addPod(pod);
    queue_->assignedPodAdded(*pod);
  } else if (responsibleFor(*pod)) {
    queue_->add(pod);
  }
}

void Scheduler::onPodUpdate(const client::ObjectPtr& old_obj, const client::ObjectPtr& new_obj) {
  PodInfoPtr new_pod = makePodInfo(new_obj);
  // The old version only matters for its node and phase here (the cache
  // keys pods by uid), except for queue updates: a whole PodInfo of it is
  // built only there. Every binding lands here, so this is one PodInfo per
  // binding less.
  const bool old_assigned = old_obj && !api::strAt(*old_obj, {"spec", "nodeName"}).empty();
  auto old_terminal = [&] {
    return old_obj && terminalPhase(api::strAt(*old_obj, {"status", "phase"}));
  };
  if (!new_pod->node_name.empty()) {
    if (!old_assigned) {
      // Bound (by us or someone else): it leaves the queue and enters the cache.
      queue_->remove(new_pod->uid);
      if (!terminal(*new_pod)) {
        cache_.addPod(new_pod);
        queue_->assignedPodAdded(*new_pod);
      }
      return;
    }
    if (terminal(*new_pod)) {
      // A finished pod frees its resources like a deleted one.
      cache_.removePod(new_pod);
      queue_->moveAllToActiveOrBackoffQueue({EventResource::kPod, kDelete, "AssignedPodDelete"});
      return;
    }
    if (old_terminal()) return;
    cache_.updatePod(new_pod);
    queue_->assignedPodUpdated(*new_pod);
    return;
  }
  if (!responsibleFor(*new_pod)) {
    queue_->remove(new_pod->uid);
    return;
  }
  // An update of a pod we assumed and are binding changes nothing we use.
  if (cache_.isAssumedPod(new_pod->uid)) return;
  queue_->update(makePodInfo(old_obj), new_pod);
}

void Scheduler::onPodDelete(const client::ObjectPtr& obj) {
  PodInfoPtr pod = makePodInfo(obj);
  if (!pod->node_name.empty()) {
    cache_.removePod(pod);
    queue_->moveAllToActiveOrBackoffQueue({EventResource::kPod, kDelete, "AssignedPodDelete"});
    return;
  }
  queue_->remove(pod->uid);
  framework_->rejectWaitingPod(pod->uid, "removed");
}

void Scheduler::onNodeAdd(const client::ObjectPtr& obj) {
  cache_.addNode(makeNodeData(obj));
  queue_->moveAllToActiveOrBackoffQueue({EventResource::kNode, kAdd, "NodeAdd"});
}

void Scheduler::onNodeUpdate(const client::ObjectPtr& old_obj, const client::ObjectPtr& new_obj) {
  NodeDataPtr old_node = makeNodeData(old_obj);
  NodeDataPtr new_node = makeNodeData(new_obj);
  cache_.updateNode(new_node);
  if (uint32_t actions = nodeChanges(*old_node, *new_node))
    queue_->moveAllToActiveOrBackoffQueue({EventResource::kNode, actions, "NodeUpdate"});
}

void Scheduler::onNodeDelete(const client::ObjectPtr& obj) {
  cache_.removeNode(api::name(*obj));
  queue_->moveAllToActiveOrBackoffQueue({EventResource::kNode, kDelete, "NodeDelete"});
}

void Scheduler::start() {
  std::lock_guard lock(run_mu_);
  if (started_) return;
  started_ = true;
  for (int i = 0; i < options_.bind_workers; ++i) binders_.emplace_back([this] { binderLoop(); });
  pool_running_ = options_.bind_workers > 0;
  scheduling_thread_ = std::thread([this] { schedulingLoop(); });
  maintenance_thread_ = std::thread([this] { maintenanceLoop(); });
}

void Scheduler::stop() {
  {
    std::lock_guard lock(run_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  run_cv_.notify_all();
  queue_->close();
  if (scheduling_thread_.joinable()) scheduling_thread_.join();
  if (maintenance_thread_.joinable()) maintenance_thread_.join();
  // Binding cycles already handed out finish (they write to the API).
  {
    std::lock_guard lock(pool_mu_);
    pool_stop_ = true;
  }
  pool_cv_.notify_all();
  for (auto& t : binders_) t.join();
  binders_.clear();
  pool_running_ = false;
  // Tasks never picked up (no workers): run them here so nothing is lost.
  std::deque<std::function<void()>> rest;
  {
    std::lock_guard lock(pool_mu_);
    rest.swap(tasks_);
  }
  for (auto& fn : rest) fn();
}

void Scheduler::schedulingLoop() {
  // Named so that `top -H`, perf and the bench can tell the scheduling
  // thread from the binders (at most 15 characters).
  pthread_setname_np(pthread_self(), "sched-cycle");
  while (auto info = queue_->pop()) scheduleQueued(info);
}

void Scheduler::maintenanceLoop() {
  pthread_setname_np(pthread_self(), "sched-maint");
  // flushBackoffQCompleted every second, flushUnschedulablePodsLeftover
  // every 30 seconds, cleanupAssumedPods every second.
  int tick = 0;
  std::unique_lock lock(run_mu_);
  while (!stopping_) {
    run_cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    queue_->flushBackoffQCompleted();
    if (++tick % 30 == 0) queue_->flushUnschedulablePodsLeftover();
    if (!cache_.cleanupExpiredAssumedPods().empty())
      queue_->moveAllToActiveOrBackoffQueue({EventResource::kPod, kDelete, "AssignedPodDelete"});
    lock.lock();
  }
}

void Scheduler::flushQueues() {
  queue_->flushBackoffQCompleted();
  queue_->flushUnschedulablePodsLeftover();
  if (!cache_.cleanupExpiredAssumedPods().empty())
    queue_->moveAllToActiveOrBackoffQueue({EventResource::kPod, kDelete, "AssignedPodDelete"});
}

void Scheduler::submit(std::function<void()> fn) {
  if (!pool_running_) {
    fn();
    return;
  }
  {
    std::lock_guard lock(pool_mu_);
    tasks_.push_back(std::move(fn));
  }
  pool_cv_.notify_one();
}

void Scheduler::binderLoop() {
  pthread_setname_np(pthread_self(), "sched-bind");
  std::unique_lock lock(pool_mu_);
  for (;;) {
    pool_cv_.wait(lock, [&] { return pool_stop_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopping and drained
    auto fn = std::move(tasks_.front());
    tasks_.pop_front();
    ++busy_;
    lock.unlock();
    fn();
    lock.lock();
    if (--busy_ == 0 && tasks_.empty()) idle_cv_.notify_all();
  }
}

void Scheduler::waitForBinds() {
  std::unique_lock lock(pool_mu_);
  idle_cv_.wait(lock, [&] { return (busy_ == 0 && tasks_.empty()) || !pool_running_; });
}

}  // namespace berth::scheduler
