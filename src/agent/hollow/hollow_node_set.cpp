#include "agent/hollow/hollow_node_set.h"

#include <bitset>

#include "api/kinds/access.h"
#include "common/log.h"

namespace berth::agent::hollow {

namespace json = boost::json;
using api::strAt;
using client::ObjectPtr;

namespace {
constexpr char kRegisterPrefix[] = "r:";
constexpr char kLeasePrefix[] = "l:";
constexpr char kStatusPrefix[] = "s:";
constexpr char kPodPrefix[] = "p:";
constexpr char kComponent[] = "hollow";

std::string resourceVersion(const api::Object& obj) {
  return strAt(obj, {"metadata", "resourceVersion"});
}
}  // namespace

struct HollowNodeSet::NodeState {
  NodeIdentity id;
  size_t position = 0;  // in the set, for spreading timers
  bool registered = false;
  bool dark = false;
  std::string uid;
  NodeHealth health;
  NodeConditions conditions;
  ObjectPtr lease;  // as last written
  std::set<std::string> pods;
  std::bitset<256> used_ips;
};

struct HollowNodeSet::PodEntry {
  size_t node = 0;
  std::string uid;
  std::string ip;
  PodSim sim;
  bool deleting = false;
  bool frozen = false;     // adopted in a terminal phase: never rewritten
  std::string written_rv;  // our last write, to skip its watch echo
  std::optional<TimePoint> timer_at;
};

// Informer handlers cannot be removed, so they reach the set through this
// guard, which outlives the set and is cleared when it goes.
struct HollowNodeSet::Guard {
  std::mutex mu;
  HollowNodeSet* self = nullptr;
};

HollowNodeSet::HollowNodeSet(client::Client& client, client::InformerFactory& informers,
                             Clock& clock, HollowOptions options)
    : client_(client),
      informers_(informers),
      clock_(clock),
      options_(std::move(options)),
      node_kind_(client::kind("", "Node")),
      pod_kind_(client::kind("", "Pod")),
      lease_kind_(client::kind("coordination.k8s.io", "Lease")),
      timers_(clock),
      guard_(std::make_shared<Guard>()) {
  guard_->self = this;
  for (int i = 0; i < options_.count; ++i) {
    auto node = std::make_unique<NodeState>();
    node->id = makeNodeIdentity(options_.name_prefix, options_.first_index + i, options_.zones,
                                options_.region);
    node->position = static_cast<size_t>(i);
    by_name_[node->id.name] = nodes_.size();
    nodes_.push_back(std::move(node));
  }
}

HollowNodeSet::~HollowNodeSet() {
  stop(false);
  std::lock_guard lock(guard_->mu);
  guard_->self = nullptr;
}

Status HollowNodeSet::start() {
  {
    std::lock_guard lock(mu_);
    if (started_) return okStatus();
    started_ = true;
  }
  for (const auto& node : nodes_) enqueue(kRegisterPrefix + node->id.name);
  pod_informer_ = &informers_.forKind(pod_kind_);
  std::weak_ptr<Guard> weak = guard_;
  auto with_self = [weak](auto fn) {
    if (auto g = weak.lock()) {
      std::lock_guard lock(g->mu);
      if (g->self) fn(g->self);
    }
  };
  client::EventHandlers handlers;
  handlers.on_add = [with_self](const ObjectPtr& pod) {
    with_self([&](HollowNodeSet* s) { s->onPodUpsert(pod); });
  };
  handlers.on_update = [with_self](const ObjectPtr&, const ObjectPtr& pod) {
    with_self([&](HollowNodeSet* s) { s->onPodUpsert(pod); });
  };
  handlers.on_delete = [with_self](const ObjectPtr& pod) {
    with_self([&](HollowNodeSet* s) { s->onPodDelete(pod); });
  };
  pod_informer_->addHandlers(std::move(handlers));
  if (options_.run_threads) {
    timers_.start();
    auto work = [this](KeyQueue* queue) {
      std::string key;
      while (queue->get(&key)) {
        process(key);
        queue->done(key);
      }
    };
    for (int i = 0; i < std::max(1, options_.node_workers); ++i)
      workers_.emplace_back(work, &node_queue_);
    for (int i = 0; i < std::max(1, options_.workers); ++i)
      workers_.emplace_back(work, &pod_queue_);
    informers_.start();
  }
  BERTH_LOG(kInfo, kComponent) << "hollow nodes starting count=" << options_.count
                               << " prefix=" << options_.name_prefix;
  return okStatus();
}

bool HollowNodeSet::waitRegistered(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return registered_cv_.wait_for(lock, timeout, [&] { return registered_ >= nodes_.size(); });
}

void HollowNodeSet::stop(bool delete_nodes) {
  {
    std::lock_guard lock(mu_);
    if (stopped_ || !started_) {
      stopped_ = true;
      return;
    }
    stopped_ = true;
  }
  timers_.stop();
  node_queue_.shutdown();
  pod_queue_.shutdown();
  for (auto& t : workers_) t.join();
  workers_.clear();
  if (delete_nodes) {
    std::vector<std::string> names = nodeNames();
    for (const auto& name : names) {
      (void)client_.remove(lease_kind_, kNodeLeaseNamespace, name);
      (void)client_.remove(node_kind_, "", name);
    }
  }
  BERTH_LOG(kInfo, kComponent) << "hollow nodes stopped count=" << options_.count
                               << " deleted=" << (delete_nodes ? "true" : "false");
}

void HollowNodeSet::step() {
  // Bounded, so a bug that keeps re-queuing work fails a test instead of hanging it.
  for (int i = 0; i < 1000000; ++i) {
    timers_.runDue(clock_.now());
    std::string key;
    KeyQueue* queue = &node_queue_;
    if (!queue->tryGet(&key)) {
      queue = &pod_queue_;
      if (!queue->tryGet(&key)) {
        auto next = timers_.nextDue();
        if (!next || *next > clock_.now()) return;
        continue;
      }
    }
    process(key);
    queue->done(key);
  }
  BERTH_LOG(kError, kComponent) << "step did not settle";
}

void HollowNodeSet::process(const std::string& key) {
  if (key.size() < 2) return;
  std::string rest = key.substr(2);
  switch (key[0]) {
    case 'r':
      registerNode(rest);
      break;
    case 'l':
      renewLease(rest);
      break;
    case 's':
      updateNodeStatus(rest);
      break;
    case 'p':
      syncPod(rest);
      break;
    default:
      break;
  }
}

void HollowNodeSet::enqueue(const std::string& key) {
  // Pods wait in their own queue: a burst of 150,000 pod starts must not
  // hold back lease renewals, or the node lifecycle controller would see
  // the nodes go silent (the kubelet's lease loop is independent too).
  if (key.rfind(kPodPrefix, 0) == 0)
    pod_queue_.add(key);
  else
    node_queue_.add(key);
}

void HollowNodeSet::retryLater(const std::string& key) {
  errors_++;
  timers_.schedule(clock_.now() + options_.retry_delay, [this, key] { enqueue(key); });
}

void HollowNodeSet::schedulePeriodic(const std::string& prefix, const std::string& name,
                                     TimePoint first, std::chrono::seconds period) {
  // The timer re-arms itself; the work it queues checks whether the node is dark.
  timers_.schedule(first, [this, prefix, name, first, period] {
    enqueue(prefix + name);
    schedulePeriodic(prefix, name, first + period, period);
  });
}

// --- nodes -----------------------------------------------------------------

void HollowNodeSet::registerNode(const std::string& name) {
  NodeIdentity id;
  {
    std::lock_guard lock(mu_);
    auto it = by_name_.find(name);
    if (it == by_name_.end() || nodes_[it->second]->registered) return;
    id = nodes_[it->second]->id;
  }
  const TimePoint now = clock_.now();
  std::string uid;
  bool was_ready = true;
  auto created = client_.create(node_kind_, nodeObject(id, options_.labels));
  if (created.ok()) {
    uid = strAt(**created, {"metadata", "uid"});
  } else if (created.error().code == ErrorCode::kAlreadyExists) {
    // A node from an earlier run of the agent: take it over.
    auto existing = client_.get(node_kind_, "", name);
    if (!existing.ok()) return retryLater(kRegisterPrefix + name);
    uid = strAt(**existing, {"metadata", "uid"});
    was_ready = false;
    if (const json::array* conds = api::arrAt(**existing, {"status", "conditions"}))
      for (const auto& c : *conds)
        if (const json::object* co = api::asObj(&c); co && strAt(*co, {"type"}) == "Ready")
          was_ready = strAt(*co, {"status"}) == "True";
  } else {
    BERTH_LOG(kWarning, kComponent)
        << "register node failed node=" << name << " error=" << created.error().message;
    return retryLater(kRegisterPrefix + name);
  }

  json::array conditions;
  {
    std::lock_guard lock(mu_);
    NodeState& node = *nodes_[by_name_.at(name)];
    node.uid = uid;
    if (!was_ready) node.conditions.reset(now);
    conditions = node.conditions.update(node.health, now);
  }
  json::object patch{{"status", nodeStatus(id, options_.resources, std::move(conditions))}};
  auto patched = client_.patch(node_kind_, "", name, client::PatchType::kMerge,
                               json::serialize(patch), client::Subresource::kStatus);
  if (!patched.ok()) {
    BERTH_LOG(kWarning, kComponent)
        << "node status failed node=" << name << " error=" << patched.error().message;
    return retryLater(kRegisterPrefix + name);
  }
  node_registrations_++;
  size_t position = 0;
  {
    std::lock_guard lock(mu_);
    NodeState& node = *nodes_[by_name_.at(name)];
    node.registered = true;
    position = node.position;
    ++registered_;
  }
  registered_cv_.notify_all();
  renewLease(name);
  // Spread every node's renewals and status posts evenly over the period, so
  // 5,000 nodes make a steady 500 renewals a second rather than bursts.
  size_t count = std::max<size_t>(1, nodes_.size());
  auto spread = [&](std::chrono::seconds period) {
    auto offset = std::chrono::duration_cast<std::chrono::milliseconds>(period) *
                  static_cast<int64_t>(position) / static_cast<int64_t>(count);
    return now + offset + period;
  };
  schedulePeriodic(kLeasePrefix, name, spread(options_.lease_renew_interval),
                   options_.lease_renew_interval);
  schedulePeriodic(kStatusPrefix, name, spread(options_.status_update_interval),
                   options_.status_update_interval);
}

void HollowNodeSet::renewLease(const std::string& name) {
  ObjectPtr lease;
  std::string uid;
  {
    std::lock_guard lock(mu_);
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return;
    NodeState& node = *nodes_[it->second];
    if (node.dark || !node.registered) return;
    lease = node.lease;
    uid = node.uid;
  }
  const int duration = static_cast<int>(options_.lease_duration.count());
  bool conflicted = false;
  Result<ObjectPtr> result =
      node::renewLease(client_, name, uid, duration, clock_.now(), lease, &conflicted);
  if (conflicted) conflicts_++;
  if (!result.ok()) {
    BERTH_LOG(kWarning, kComponent)
        << "lease renewal failed node=" << name << " error=" << result.error().message;
    return retryLater(kLeasePrefix + name);
  }
  lease_renewals_++;
  std::lock_guard lock(mu_);
  nodes_[by_name_.at(name)]->lease = *result;
}

void HollowNodeSet::updateNodeStatus(const std::string& name) {
  json::array conditions;
  {
    std::lock_guard lock(mu_);
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return;
    NodeState& node = *nodes_[it->second];
    if (node.dark || !node.registered) return;
    conditions = node.conditions.update(node.health, clock_.now());
  }
  // Only the conditions change after registration; a merge patch of them is
  // the kubelet's heartbeat.
  json::object patch{{"status", json::object{{"conditions", std::move(conditions)}}}};
  auto patched = client_.patch(node_kind_, "", name, client::PatchType::kMerge,
                               json::serialize(patch), client::Subresource::kStatus);
  if (patched.ok()) {
    node_status_updates_++;
    return;
  }
  if (patched.error().code == ErrorCode::kNotFound) {
    // Deleted behind our back: register again, as a restarted kubelet would.
    {
      std::lock_guard lock(mu_);
      NodeState& node = *nodes_[by_name_.at(name)];
      if (node.registered) {
        node.registered = false;
        --registered_;
      }
      node.lease.reset();
    }
    enqueue(kRegisterPrefix + name);
    return;
  }
  retryLater(kStatusPrefix + name);
}

void HollowNodeSet::setDark(const std::string& name, bool dark) {
  std::vector<std::string> pods;
  {
    std::lock_guard lock(mu_);
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return;
    NodeState& node = *nodes_[it->second];
    if (node.dark == dark) return;
    node.dark = dark;
    if (dark) return;
    // Back from a blackout the kubelet re-reports every condition as new.
    node.conditions.reset(clock_.now());
    pods.assign(node.pods.begin(), node.pods.end());
  }
  enqueue(kStatusPrefix + name);
  enqueue(kLeasePrefix + name);
  for (const auto& key : pods) enqueue(kPodPrefix + key);
}

void HollowNodeSet::setHealth(const std::string& name, const NodeHealth& health) {
  {
    std::lock_guard lock(mu_);
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return;
    nodes_[it->second]->health = health;
  }
  enqueue(kStatusPrefix + name);
}

// --- pods ------------------------------------------------------------------

std::string HollowNodeSet::allocateIpLocked(NodeState& node, const std::string& wanted) {
  for (uint32_t host = 2; host < 255; ++host) {
    std::string ip = ipv4(node.id.pod_base + host);
    if (!wanted.empty() && ip == wanted) {
      node.used_ips.set(host);
      return ip;
    }
  }
  for (uint32_t host = 2; host < 255; ++host)
    if (!node.used_ips.test(host)) {
      node.used_ips.set(host);
      return ipv4(node.id.pod_base + host);
    }
  // More pods than a /24 holds (far past any pods capacity): share addresses.
  return ipv4(node.id.pod_base + 2 + static_cast<uint32_t>(node.pods.size() % 253));
}

void HollowNodeSet::releaseIpLocked(NodeState& node, const std::string& ip) {
  for (uint32_t host = 2; host < 255; ++host)
    if (ipv4(node.id.pod_base + host) == ip) {
      node.used_ips.reset(host);
      return;
    }
}

void HollowNodeSet::onPodUpsert(const ObjectPtr& pod) {
  const std::string node_name = strAt(*pod, {"spec", "nodeName"});
  if (node_name.empty()) return;
  const std::string key = client::keyOf(*pod);
  const std::string uid = strAt(*pod, {"metadata", "uid"});
  {
    std::lock_guard lock(mu_);
    auto nit = by_name_.find(node_name);
    if (nit == by_name_.end()) return;
    NodeState& node = *nodes_[nit->second];
    auto pit = pods_.find(key);
    if (pit != pods_.end() && pit->second->uid != uid) {
      // Same name, new pod: forget the old one.
      NodeState& old_node = *nodes_[pit->second->node];
      releaseIpLocked(old_node, pit->second->ip);
      old_node.pods.erase(key);
      pods_.erase(pit);
      pit = pods_.end();
    }
    if (pit == pods_.end()) {
      auto entry = std::make_unique<PodEntry>();
      entry->node = nit->second;
      entry->uid = uid;
      entry->sim.script = scriptFor(*pod, options_.startup_latency, options_.ready_delay);
      entry->sim.acknowledged = clock_.now();
      std::string wanted;
      if (adoptExistingStatus(*pod, &entry->sim)) {
        entry->frozen = entry->sim.stage == PodStage::kDone;
        wanted = strAt(*pod, {"status", "podIP"});
      }
      entry->ip = allocateIpLocked(node, wanted);
      node.pods.insert(key);
      pit = pods_.emplace(key, std::move(entry)).first;
    } else if (!pit->second->written_rv.empty() &&
               resourceVersion(*pod) == pit->second->written_rv) {
      return;  // the echo of our own status write
    }
    if (api::at(*pod, {"metadata", "deletionTimestamp"})) pit->second->deleting = true;
  }
  enqueue(kPodPrefix + key);
}

void HollowNodeSet::onPodDelete(const ObjectPtr& pod) {
  const std::string key = client::keyOf(*pod);
  std::lock_guard lock(mu_);
  auto pit = pods_.find(key);
  if (pit == pods_.end() || pit->second->uid != strAt(*pod, {"metadata", "uid"})) return;
  NodeState& node = *nodes_[pit->second->node];
  releaseIpLocked(node, pit->second->ip);
  node.pods.erase(key);
  pods_.erase(pit);
}

void HollowNodeSet::schedulePodTimerLocked(const std::string& key, PodEntry& entry, TimePoint at) {
  if (entry.timer_at && *entry.timer_at == at) return;
  entry.timer_at = at;
  // A superseded timer finds timer_at changed and does nothing.
  timers_.schedule(at, [this, key, at] {
    {
      std::lock_guard lock(mu_);
      auto it = pods_.find(key);
      if (it == pods_.end() || !it->second->timer_at || *it->second->timer_at != at) return;
      it->second->timer_at.reset();
    }
    enqueue(kPodPrefix + key);
  });
}

void HollowNodeSet::syncPod(const std::string& key) {
  ObjectPtr pod = pod_informer_ ? pod_informer_->get(key) : nullptr;
  if (!pod) return;
  std::string ns, name;
  client::splitKey(key, &ns, &name);
  // Builds the status under the lock from a given pod object; false when
  // the pod is not ours to write now.
  auto build = [&](const api::Object& obj, json::object* status, bool* deleting, std::string* uid) {
    std::lock_guard lock(mu_);
    auto it = pods_.find(key);
    if (it == pods_.end()) return false;
    PodEntry& entry = *it->second;
    NodeState& node = *nodes_[entry.node];
    if (node.dark || entry.uid != strAt(obj, {"metadata", "uid"})) return false;
    *uid = entry.uid;
    *deleting = entry.deleting;
    if (entry.deleting || entry.frozen) return true;
    const TimePoint now = clock_.now();
    if (auto next = entry.sim.advance(now)) schedulePodTimerLocked(key, entry, *next);
    *status = buildPodStatus(obj, entry.sim, node.id.internal_ip, entry.ip, now);
    return true;
  };
  json::object status;
  bool deleting = false;
  std::string uid;
  if (!build(*pod, &status, &deleting, &uid)) return;
  if (deleting) return deletePod(key, ns, name, uid);
  if (status.empty()) return;  // frozen
  if (const json::object* current = api::objAt(*pod, {"status"}); current && *current == status)
    return;

  api::Object copy = *pod;
  copy["status"] = std::move(status);
  auto updated = client_.update(pod_kind_, std::move(copy), client::Subresource::kStatus);
  if (!updated.ok() && updated.error().code == ErrorCode::kConflict) {
    // Someone else wrote the pod in between (the scheduler, a controller
    // marking it not ready): rebuild on the latest and try once more.
    conflicts_++;
    auto latest = client_.get(pod_kind_, ns, name);
    if (!latest.ok()) {
      if (latest.error().code != ErrorCode::kNotFound) retryLater(kPodPrefix + key);
      return;
    }
    status = json::object();
    if (!build(**latest, &status, &deleting, &uid)) return;
    if (deleting) return deletePod(key, ns, name, uid);
    if (status.empty()) return;
    copy = **latest;
    copy["status"] = std::move(status);
    updated = client_.update(pod_kind_, std::move(copy), client::Subresource::kStatus);
  }
  if (!updated.ok()) {
    if (updated.error().code != ErrorCode::kNotFound) retryLater(kPodPrefix + key);
    return;
  }
  pod_status_updates_++;
  std::lock_guard lock(mu_);
  if (auto it = pods_.find(key); it != pods_.end())
    it->second->written_rv = resourceVersion(**updated);
}

void HollowNodeSet::deletePod(const std::string& key, const std::string& ns,
                              const std::string& name, const std::string& uid) {
  // The kubelet has "killed the containers": it confirms the deletion with
  // a zero grace period, guarded by the uid so a new pod of the same name is
  // not deleted.
  client::DeleteOptions opts;
  opts.grace_period_seconds = 0;
  opts.precondition_uid = uid;
  auto removed = client_.remove(pod_kind_, ns, name, opts);
  if (removed.ok()) {
    pod_deletions_++;
    return;
  }
  if (removed.error().code == ErrorCode::kNotFound || removed.error().code == ErrorCode::kConflict)
    return;
  retryLater(kPodPrefix + key);
}

// --- observation -----------------------------------------------------------

std::vector<std::string> HollowNodeSet::nodeNames() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  out.reserve(nodes_.size());
  for (const auto& n : nodes_) out.push_back(n->id.name);
  return out;
}

size_t HollowNodeSet::registeredCount() const {
  std::lock_guard lock(mu_);
  return registered_;
}

size_t HollowNodeSet::podCount() const {
  std::lock_guard lock(mu_);
  return pods_.size();
}

std::string HollowNodeSet::podIp(const std::string& pod_key) const {
  std::lock_guard lock(mu_);
  auto it = pods_.find(pod_key);
  return it == pods_.end() ? "" : it->second->ip;
}

HollowNodeSet::Stats HollowNodeSet::stats() const {
  Stats s;
  s.node_registrations = node_registrations_;
  s.lease_renewals = lease_renewals_;
  s.node_status_updates = node_status_updates_;
  s.pod_status_updates = pod_status_updates_;
  s.pod_deletions = pod_deletions_;
  s.conflicts = conflicts_;
  s.errors = errors_;
  return s;
}

}  // namespace berth::agent::hollow
