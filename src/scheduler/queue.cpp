#include "scheduler/queue.h"

#include "scheduler/plugins/helpers.h"

namespace berth::scheduler {

namespace {

// isPodUpdated: anything beyond resourceVersion, generation, managedFields,
// finalizers and status changed.
bool podChanged(const PodInfo& a, const PodInfo& b) {
  if (!a.object || !b.object) return a.object != b.object;
  auto strip = [](const api::Object& o) {
    api::Object c = o;
    c.erase("status");
    if (auto* m = c.if_contains("metadata"); m && m->is_object()) {
      auto& mo = m->as_object();
      mo.erase("resourceVersion");
      mo.erase("generation");
      mo.erase("managedFields");
      mo.erase("finalizers");
    }
    return c;
  };
  return strip(*a.object) != strip(*b.object);
}

}  // namespace

SchedulingQueue::SchedulingQueue(Clock& clock, Nominator& nominator, QueueOptions options)
    : clock_(clock), nominator_(nominator), options_(std::move(options)) {}

void SchedulingQueue::setEventsByPlugin(std::map<std::string, std::vector<ClusterEvent>> events) {
  std::lock_guard lock(mu_);
  events_by_plugin_ = std::move(events);
}

void SchedulingQueue::eraseLocked(const std::string& uid) {
  auto it = entries_.find(uid);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  switch (e.where) {
    case Where::kActive:
      active_.erase({e.info->pod->priority, e.info->timestamp, e.seq});
      break;
    case Where::kBackoff:
      backoff_.erase({e.backoff_expiry, e.seq});
      break;
    case Where::kUnschedulable:
      --unschedulable_;
      break;
    default:
      break;
  }
  entries_.erase(it);
}

// `info` by value: callers may pass the entry's own pointer, which
// eraseLocked destroys.
void SchedulingQueue::placeLocked(QueuedPodInfoPtr info, Where where) {
  const std::string uid = info->pod->uid;
  eraseLocked(uid);
  Entry e;
  e.info = info;
  e.where = where;
  e.seq = ++seq_;
  switch (where) {
    case Where::kActive:
      active_.emplace(ActiveKey{info->pod->priority, info->timestamp, e.seq}, uid);
      cv_.notify_one();
      break;
    case Where::kBackoff:
      e.backoff_expiry = backoffExpiryLocked(*info);
      backoff_.emplace(BackoffKey{e.backoff_expiry, e.seq}, uid);
      break;
    case Where::kUnschedulable:
      ++unschedulable_;
      break;
    default:
      break;
  }
  entries_[uid] = std::move(e);
}

void SchedulingQueue::toActiveOrGatedLocked(QueuedPodInfoPtr info) {
  placeLocked(info, info->pod->scheduling_gated ? Where::kGated : Where::kActive);
}

void SchedulingQueue::toActiveOrBackoffLocked(QueuedPodInfoPtr info) {
  placeLocked(info, isBackingOffLocked(*info) ? Where::kBackoff : Where::kActive);
}

std::chrono::nanoseconds SchedulingQueue::backoffDuration(int attempts) const {
  auto d = options_.initial_backoff;
  for (int i = 1; i < attempts; ++i) {
    if (d > options_.max_backoff - d) return options_.max_backoff;
    d += d;
  }
  return d;
}

TimePoint SchedulingQueue::backoffExpiryLocked(const QueuedPodInfo& info) const {
  return info.timestamp + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                              backoffDuration(info.attempts));
}

bool SchedulingQueue::isBackingOffLocked(const QueuedPodInfo& info) const {
  return backoffExpiryLocked(info) > clock_.now();
}

void SchedulingQueue::add(const PodInfoPtr& pod) {
  std::lock_guard lock(mu_);
  if (in_flight_.count(pod->uid)) return;
  auto it = entries_.find(pod->uid);
  QueuedPodInfoPtr info;
  if (it != entries_.end()) {
    info = it->second.info;
    if (it->second.where == Where::kActive || it->second.where == Where::kBackoff) {
      info->pod = pod;
      return;
    }
    info->pod = pod;
  } else {
    info = std::make_shared<QueuedPodInfo>();
    info->pod = pod;
    info->timestamp = clock_.now();
  }
  toActiveOrGatedLocked(info);
  if (!pod->nominated_node_name.empty()) nominator_.add(pod, pod->nominated_node_name);
}

void SchedulingQueue::update(const PodInfoPtr& old_pod, const PodInfoPtr& new_pod) {
  std::lock_guard lock(mu_);
  // updateNominatedPod: keep a nomination made in memory when neither
  // version carries it yet; otherwise follow the new object.
  std::string kept = nominator_.nodeFor(new_pod->uid);
  if (old_pod && old_pod->nominated_node_name.empty() && new_pod->nominated_node_name.empty() &&
      !kept.empty())
    nominator_.add(new_pod, kept);
  else
    nominator_.add(new_pod, new_pod->nominated_node_name);

  if (auto f = in_flight_.find(new_pod->uid); f != in_flight_.end()) {
    if (!old_pod || podChanged(*old_pod, *new_pod)) f->second.updated = true;
    return;
  }
  auto it = entries_.find(new_pod->uid);
  if (it == entries_.end()) {
    // Not queued anywhere: queue it as new.
    auto info = std::make_shared<QueuedPodInfo>();
    info->pod = new_pod;
    info->timestamp = clock_.now();
    toActiveOrGatedLocked(info);
    return;
  }
  Entry& e = it->second;
  QueuedPodInfoPtr info = e.info;
  switch (e.where) {
    case Where::kActive:
    case Where::kBackoff:
      info->pod = new_pod;  // priority and timestamp (the keys) do not change
      break;
    case Where::kGated:
      info->pod = new_pod;
      if (!new_pod->scheduling_gated) placeLocked(info, Where::kActive);
      break;
    case Where::kUnschedulable:
      info->pod = new_pod;
      if (!old_pod || podChanged(*old_pod, *new_pod)) toActiveOrBackoffLocked(info);
      break;
    default:
      break;
  }
}

void SchedulingQueue::remove(const std::string& uid) {
  std::lock_guard lock(mu_);
  eraseLocked(uid);
  if (auto f = in_flight_.find(uid); f != in_flight_.end()) f->second.deleted = true;
  nominator_.remove(uid);
}

void SchedulingQueue::addUnschedulableIfNotPresent(const QueuedPodInfoPtr& info,
                                                   int64_t pod_scheduling_cycle) {
  std::lock_guard lock(mu_);
  const std::string uid = info->pod->uid;
  bool updated = false;
  if (auto f = in_flight_.find(uid); f != in_flight_.end()) {
    bool deleted = f->second.deleted;
    updated = f->second.updated;
    in_flight_.erase(f);
    if (deleted) return;
  }
  if (entries_.count(uid)) return;
  info->timestamp = clock_.now();
  // A move request during the cycle (or an update of the pod itself) may
  // have been the event that makes the pod schedulable; an error rejected by
  // no plugin is retried after back-off too.
  if (move_request_cycle_ >= pod_scheduling_cycle || info->unschedulable_plugins.empty() || updated)
    placeLocked(info, Where::kBackoff);
  else
    placeLocked(info, Where::kUnschedulable);
}

void SchedulingQueue::done(const std::string& uid) {
  std::lock_guard lock(mu_);
  in_flight_.erase(uid);
}

bool SchedulingQueue::podMatchesEventLocked(const QueuedPodInfo& info,
                                            const ClusterEvent& event) const {
  if (event.resource == EventResource::kWildcard) return true;
  for (const auto& plugin : info.unschedulable_plugins) {
    auto it = events_by_plugin_.find(plugin);
    if (it == events_by_plugin_.end()) continue;
    for (const auto& registered : it->second)
      if (registered.covers(event)) return true;
  }
  return false;
}

void SchedulingQueue::movePodsLocked(const std::vector<QueuedPodInfoPtr>& pods,
                                     const ClusterEvent& event) {
  for (const auto& info : pods) {
    if (!info->unschedulable_plugins.empty() && !podMatchesEventLocked(*info, event)) continue;
    toActiveOrBackoffLocked(info);
  }
  move_request_cycle_ = scheduling_cycle_;
}

void SchedulingQueue::moveAllToActiveOrBackoffQueue(
    const ClusterEvent& event, const std::function<bool(const PodInfo&)>& pre_check) {
  std::lock_guard lock(mu_);
  std::vector<QueuedPodInfoPtr> pods;
  for (const auto& [uid, e] : entries_)
    if (e.where == Where::kUnschedulable && (!pre_check || pre_check(*e.info->pod)))
      pods.push_back(e.info);
  movePodsLocked(pods, event);
}

std::vector<QueuedPodInfoPtr> SchedulingQueue::podsRelatedToAssignedLocked(
    const PodInfo& pod) const {
  std::vector<QueuedPodInfoPtr> out;
  if (unschedulable_ == 0) return out;
  LabelMap ns_labels;
  bool have_labels = false;
  for (const auto& [uid, e] : entries_) {
    if (e.where != Where::kUnschedulable) continue;
    const PodInfo& p = *e.info->pod;
    bool related = false;
    if (!p.required_affinity.empty()) {
      if (!have_labels && options_.namespace_labels) ns_labels = options_.namespace_labels(pod.ns);
      have_labels = true;
      for (const auto& t : p.required_affinity)
        if (affinityTermMatches(t, pod, ns_labels)) related = true;
    }
    if (!related && p.ns == pod.ns)
      for (const auto& c : p.spread_constraints)
        if (c.selector.matches(pod.labels)) related = true;
    if (related) out.push_back(e.info);
  }
  return out;
}

void SchedulingQueue::assignedPodAdded(const PodInfo& pod) {
  std::lock_guard lock(mu_);
  movePodsLocked(podsRelatedToAssignedLocked(pod), {EventResource::kPod, kAdd, "AssignedPodAdd"});
}

void SchedulingQueue::assignedPodUpdated(const PodInfo& pod) {
  std::lock_guard lock(mu_);
  movePodsLocked(podsRelatedToAssignedLocked(pod),
                 {EventResource::kPod, kUpdate, "AssignedPodUpdate"});
}

QueuedPodInfoPtr SchedulingQueue::popLocked() {
  auto it = active_.begin();
  std::string uid = it->second;
  active_.erase(it);
  auto e = entries_.find(uid);
  QueuedPodInfoPtr info = e->second.info;
  entries_.erase(e);
  ++info->attempts;
  ++scheduling_cycle_;
  if (!info->initial_attempt_timestamp) info->initial_attempt_timestamp = clock_.now();
  in_flight_[uid] = InFlight{info};
  return info;
}

QueuedPodInfoPtr SchedulingQueue::pop() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return closed_ || !active_.empty(); });
  if (closed_) return nullptr;
  return popLocked();
}

QueuedPodInfoPtr SchedulingQueue::tryPop() {
  std::lock_guard lock(mu_);
  if (closed_ || active_.empty()) return nullptr;
  return popLocked();
}

void SchedulingQueue::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

void SchedulingQueue::flushBackoffQCompleted() {
  std::lock_guard lock(mu_);
  TimePoint now = clock_.now();
  while (!backoff_.empty() && backoff_.begin()->first.expiry <= now) {
    std::string uid = backoff_.begin()->second;
    QueuedPodInfoPtr info = entries_.at(uid).info;
    placeLocked(std::move(info), Where::kActive);
  }
}

void SchedulingQueue::flushUnschedulablePodsLeftover() {
  std::lock_guard lock(mu_);
  TimePoint now = clock_.now();
  std::vector<QueuedPodInfoPtr> pods;
  for (const auto& [uid, e] : entries_)
    if (e.where == Where::kUnschedulable &&
        now - e.info->timestamp > options_.max_unschedulable_duration)
      pods.push_back(e.info);
  if (!pods.empty())
    movePodsLocked(pods, {EventResource::kWildcard, kAllActions, "UnschedulableTimeout"});
}

int64_t SchedulingQueue::schedulingCycle() const {
  std::lock_guard lock(mu_);
  return scheduling_cycle_;
}

SchedulingQueue::Where SchedulingQueue::where(const std::string& uid) const {
  std::lock_guard lock(mu_);
  if (in_flight_.count(uid)) return Where::kInFlight;
  auto it = entries_.find(uid);
  return it == entries_.end() ? Where::kNone : it->second.where;
}

size_t SchedulingQueue::activeCount() const {
  std::lock_guard lock(mu_);
  return active_.size();
}

size_t SchedulingQueue::backoffCount() const {
  std::lock_guard lock(mu_);
  return backoff_.size();
}

size_t SchedulingQueue::unschedulableCount() const {
  std::lock_guard lock(mu_);
  return unschedulable_;
}

size_t SchedulingQueue::pendingCount() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace berth::scheduler
