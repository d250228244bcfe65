#include "controllers/nodelifecycle/node_lifecycle_controller.h"

#include <algorithm>

#include "api/kinds/access.h"
#include "api/object.h"
#include "common/log.h"

namespace berth::controllers {

namespace json = boost::json;
using api::asObj;
using api::strAt;
using client::ObjectPtr;
using nodelifecycle::Taint;

namespace {

constexpr char kComponent[] = "node-lifecycle";
constexpr char kNodeLeaseNamespace[] = "kube-node-lease";
// Upstream's NodeHealthUpdateRetry and the taint manager's retries.
constexpr int kRetries = 5;

const json::object* findCondition(const api::Object& obj, const std::string& type) {
  if (const json::array* conds = api::arrAt(obj, {"status", "conditions"}))
    for (const auto& c : *conds)
      if (const json::object* co = asObj(&c); co && strAt(*co, {"type"}) == type) return co;
  return nullptr;
}

json::object* findMutableCondition(api::Object& obj, const std::string& type) {
  json::object& status = api::ensureObj(obj, "status");
  json::value* conds = status.if_contains("conditions");
  if (!conds || !conds->is_array()) return nullptr;
  for (auto& c : conds->as_array())
    if (c.is_object() && strAt(c.as_object(), {"type"}) == type) return &c.as_object();
  return nullptr;
}

bool parseTime(const std::string& s, std::chrono::system_clock::time_point* t) {
  return !s.empty() && parseRfc3339(s, t);
}

bool sameTaints(const std::vector<Taint>& a, const std::vector<Taint>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].key != b[i].key || a[i].value != b[i].value || a[i].effect != b[i].effect)
      return false;
  return true;
}

bool sameTolerations(const ObjectPtr& a, const ObjectPtr& b) {
  const json::value* ta = api::at(*a, {"spec", "tolerations"});
  const json::value* tb = api::at(*b, {"spec", "tolerations"});
  if (!ta || !tb) return !ta && !tb;
  return *ta == *tb;
}

}  // namespace

struct NodeLifecycleController::NodeHealth {
  TimePoint probe;
  TimePoint ready_transition;
  std::optional<json::object> ready;  // the Ready condition as last seen
  TimePoint lease_renew;
  bool have_lease = false;
};

// Informer handlers cannot be removed; they reach the controller through
// this guard, cleared when the controller goes.
struct NodeLifecycleController::Guard {
  std::mutex mu;
  NodeLifecycleController* self = nullptr;
};

NodeLifecycleController::NodeLifecycleController(client::Client& client,
                                                 client::InformerFactory& informers,
                                                 client::EventRecorder& recorder, Clock& clock,
                                                 NodeLifecycleOptions options)
    : client_(client),
      recorder_(recorder),
      clock_(clock),
      options_(options),
      node_kind_(client::kind("", "Node")),
      pod_kind_(client::kind("", "Pod")),
      nodes_(informers.forKind(node_kind_)),
      leases_(informers.forKind(client::kind("coordination.k8s.io", "Lease"))),
      pods_(informers.forKind(pod_kind_)),
      guard_(std::make_shared<Guard>()) {
  guard_->self = this;
  std::weak_ptr<Guard> weak = guard_;
  auto with = [weak](auto fn) {
    if (auto g = weak.lock()) {
      std::lock_guard lock(g->mu);
      if (g->self) fn(g->self);
    }
  };
  client::EventHandlers node_handlers;
  node_handlers.on_add = [with](const ObjectPtr& n) { with([&](auto* c) { c->onNode(n); }); };
  node_handlers.on_update = [with](const ObjectPtr&, const ObjectPtr& n) {
    with([&](auto* c) { c->onNode(n); });
  };
  node_handlers.on_delete = [with](const ObjectPtr& n) {
    with([&](auto* c) { c->onNodeDelete(n); });
  };
  nodes_.addHandlers(std::move(node_handlers));
  client::EventHandlers pod_handlers;
  pod_handlers.on_add = [with](const ObjectPtr& p) {
    with([&](auto* c) { c->onPod(nullptr, p); });
  };
  pod_handlers.on_update = [with](const ObjectPtr& o, const ObjectPtr& p) {
    with([&](auto* c) { c->onPod(o, p); });
  };
  pod_handlers.on_delete = [with](const ObjectPtr& p) {
    with([&](auto* c) { c->onPodDelete(p); });
  };
  pods_.addHandlers(std::move(pod_handlers));
}

NodeLifecycleController::~NodeLifecycleController() {
  stop();
  std::lock_guard lock(guard_->mu);
  guard_->self = nullptr;
}

void NodeLifecycleController::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void NodeLifecycleController::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool NodeLifecycleController::informersSynced() const {
  return nodes_.hasSynced() && leases_.hasSynced() && pods_.hasSynced();
}

void NodeLifecycleController::loop() {
  BERTH_LOG(kInfo, kComponent) << "starting grace_period="
                               << options_.node_monitor_grace_period.count() << "s";
  TimePoint next_monitor{};
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (informersSynced()) {
      if (clock_.now() >= next_monitor) {
        monitorNodeHealth();
        next_monitor = clock_.now() + options_.node_monitor_period;
      }
      doNoExecuteTaintingPass();
      processChanges();
      runDueEvictions();
    }
    // Read before mu_: zones_mu_ is never taken under it.
    std::optional<TimePoint> next_taint = nextTaintAttempt();
    std::unique_lock lock(mu_);
    if (stopping_) return;
    // Wake for the next monitor pass, the next eviction, a change, or at
    // least every second (the clock may be a fake one moved by hand).
    auto wait = std::chrono::milliseconds(1000);
    auto until = [&](TimePoint t) {
      auto d = std::chrono::duration_cast<std::chrono::milliseconds>(t - clock_.now());
      wait = std::clamp(d, std::chrono::milliseconds(1), wait);
    };
    until(next_monitor);
    if (next_taint) until(*next_taint);
    for (const auto& [key, ev] : evictions_) until(ev.fire);
    if (dirty_nodes_.empty() && dirty_pods_.empty())
      cv_.wait_for(lock, wait,
                   [&] { return stopping_ || !dirty_nodes_.empty() || !dirty_pods_.empty(); });
  }
}

void NodeLifecycleController::monitorOnce() {
  monitorNodeHealth();
  doNoExecuteTaintingPass();
  processChanges();
  runDueEvictions();
}

// --- informer handlers -------------------------------------------------------

void NodeLifecycleController::onNode(const ObjectPtr& node) {
  {
    std::lock_guard lock(mu_);
    dirty_nodes_.insert(api::name(*node));
  }
  cv_.notify_all();
}

void NodeLifecycleController::onNodeDelete(const ObjectPtr& node) { onNode(node); }

void NodeLifecycleController::onPod(const ObjectPtr& old_pod, const ObjectPtr& pod) {
  const std::string key = client::keyOf(*pod);
  const std::string node = strAt(*pod, {"spec", "nodeName"});
  {
    std::lock_guard lock(mu_);
    auto it = pod_node_.find(key);
    if (it != pod_node_.end() && it->second != node) {
      pods_by_node_[it->second].erase(key);
      pod_node_.erase(it);
    }
    if (!node.empty()) {
      pod_node_[key] = node;
      pods_by_node_[node].insert(key);
    }
    // The taint manager looks again only when tolerations or the node change,
    // and only at pods on a NoExecute-tainted node (handlePodUpdate ignores
    // the others; a node tainted later goes over its pods_by_node_). Every
    // binding changes the node: waking the controller for each cost a
    // context switch per scheduled pod.
    if (node.empty() || !tainted_nodes_.count(node)) return;
    if (old_pod && strAt(*old_pod, {"spec", "nodeName"}) == node && sameTolerations(old_pod, pod))
      return;
    dirty_pods_.insert(key);
  }
  cv_.notify_all();
}

void NodeLifecycleController::onPodDelete(const ObjectPtr& pod) {
  const std::string key = client::keyOf(*pod);
  {
    std::lock_guard lock(mu_);
    auto it = pod_node_.find(key);
    if (it != pod_node_.end()) {
      pods_by_node_[it->second].erase(key);
      if (pods_by_node_[it->second].empty()) pods_by_node_.erase(it->second);
      pod_node_.erase(it);
    }
    dirty_pods_.insert(key);
  }
  cv_.notify_all();
}

// --- node health ---------------------------------------------------------------

void NodeLifecycleController::monitorNodeHealth() {
  std::vector<ObjectPtr> nodes = nodes_.list();
  std::vector<ObjectPtr> added;
  std::vector<std::string> deleted;
  {
    std::lock_guard lock(mu_);
    std::set<std::string> current;
    for (const auto& n : nodes) {
      current.insert(api::name(*n));
      if (known_nodes_.insert(api::name(*n)).second) added.push_back(n);
    }
    for (auto it = known_nodes_.begin(); it != known_nodes_.end();) {
      if (!current.count(*it)) {
        deleted.push_back(*it);
        health_.erase(*it);
        nodes_to_retry_.erase(*it);
        it = known_nodes_.erase(it);
      } else {
        ++it;
      }
    }
  }
  // Upstream's classifyNodes / addPodEvictorForNewZone: a tainter for every
  // zone not seen before (or dropped when it had no nodes left).
  for (const auto& n : nodes) addTainterForNewZone(*n);
  for (const auto& n : added) {
    std::string name = api::name(*n);
    recordNodeEvent(*n, "Normal", "RegisteredNode",
                    "Node " + name + " event: Registered Node " + name + " in Controller");
    // As upstream, a node new to the controller (all of them after a
    // restart) starts untainted; the monitor pass below taints it again,
    // through the zone's rate limiter, if it is still not Ready.
    markNodeAsReachable(n);
  }
  for (const auto& name : deleted) {
    api::Object ref{{"metadata", json::object{{"name", name}}}};
    recordNodeEvent(ref, "Normal", "RemovingNode",
                    "Node " + name + " event: Removing Node " + name + " from Controller");
  }

  // The Ready status of every node, by zone, for the zone states.
  std::map<std::string, std::vector<std::string>> zone_statuses;
  std::vector<ObjectPtr> latest;
  latest.reserve(nodes.size());
  for (const auto& n : nodes) {
    const std::string name = api::name(*n);
    std::string observed, current;
    ObjectPtr updated = tryUpdateNodeHealth(n, &observed, &current);
    if (!updated) {
      BERTH_LOG(kWarning, kComponent) << "update node health failed, no pods evicted node=" << name;
      latest.push_back(n);
      continue;
    }
    if (!nodelifecycle::excludedFromDisruption(*updated))
      zone_statuses[nodelifecycle::zoneKey(*updated)].push_back(current);
    updated = reconcileConditionTaints(updated);
    if (!current.empty()) {
      updated = processTaintBasedEviction(updated, current);
      bool retry = false;
      {
        std::lock_guard lock(mu_);
        retry = nodes_to_retry_.count(name) > 0;
      }
      bool mark = false;
      if (current != "True" && observed == "True") {
        // Reported once, on the change.
        recordNodeEvent(*updated, "Normal", "NodeNotReady",
                        "Node " + name + " status is now: NodeNotReady");
        mark = true;
      } else if (retry && observed != "True") {
        mark = true;
      }
      bool ok = !mark || markPodsNotReady(name);
      std::lock_guard lock(mu_);
      if (ok)
        nodes_to_retry_.erase(name);
      else
        nodes_to_retry_.insert(name);
    }
    latest.push_back(updated);
  }
  handleDisruption(zone_statuses, latest);
}

ObjectPtr NodeLifecycleController::tryUpdateNodeHealth(const ObjectPtr& node_in,
                                                       std::string* observed_ready,
                                                       std::string* current_ready) {
  ObjectPtr node = node_in;
  const std::string name = api::name(*node);
  for (int attempt = 0; attempt < kRetries; ++attempt) {
    const TimePoint now = clock_.now();
    // Read in place: a copy is made only for a node that needs writing
    // (5,000 healthy nodes every 5 s must cost next to nothing).
    const json::object* ready = findCondition(*node, "Ready");
    std::chrono::seconds grace = options_.node_monitor_grace_period;
    std::optional<json::object> observed;
    std::string creation = strAt(*node, {"metadata", "creationTimestamp"});
    TimePoint created = now;
    parseTime(creation, &created);
    bool expired = false;
    {
      std::lock_guard lock(mu_);
      auto& slot = health_[name];
      bool fresh = !slot;
      if (fresh) slot = std::make_unique<NodeHealth>();
      NodeHealth& h = *slot;
      if (!ready) {
        // The kubelet never posted status: the startup grace period counts
        // from the node's creation.
        grace = options_.node_startup_grace_period;
        if (fresh) h.probe = h.ready_transition = created;
      } else {
        observed = *ready;
        if (fresh) {
          h.probe = h.ready_transition = now;
        } else if (!h.ready || *h.ready != *ready) {
          h.probe = now;
          if (!h.ready || strAt(*h.ready, {"status"}) != strAt(*ready, {"status"}))
            h.ready_transition = now;
        }
        if (!h.ready || *h.ready != *ready) h.ready = *ready;
      }
      // A renewed Lease is a heartbeat as well (the kubelet's cheap one).
      if (ObjectPtr lease = leases_.get(kNodeLeaseNamespace, name)) {
        TimePoint renew;
        if (parseTime(strAt(*lease, {"spec", "renewTime"}), &renew) &&
            (!h.have_lease || h.lease_renew < renew)) {
          h.have_lease = true;
          h.lease_renew = renew;
          h.probe = now;
        }
      }
      expired = now > h.probe + grace;
    }
    *observed_ready = observed ? strAt(*observed, {"status"}) : "";
    *current_ready = *observed_ready;
    if (!expired) return node;
    api::Object copy = *node;

    // Not heard from within the grace period: every kubelet-owned condition
    // becomes Unknown, whatever it said last.
    const std::string now_str = formatRfc3339(now);
    json::array& conds = api::ensureArray(api::ensureObj(copy, "status"), "conditions");
    for (const char* type : {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}) {
      json::object* c = findMutableCondition(copy, type);
      if (!c) {
        conds.push_back(json::object{{"type", type},
                                     {"status", "Unknown"},
                                     {"lastHeartbeatTime", creation},
                                     {"lastTransitionTime", now_str},
                                     {"reason", "NodeStatusNeverUpdated"},
                                     {"message", "Kubelet never posted node status."}});
      } else if (strAt(*c, {"status"}) != "Unknown") {
        (*c)["status"] = "Unknown";
        (*c)["reason"] = "NodeStatusUnknown";
        (*c)["message"] = "Kubelet stopped posting node status.";
        (*c)["lastTransitionTime"] = now_str;
      }
    }
    const json::object* now_ready = findCondition(copy, "Ready");
    *current_ready = now_ready ? strAt(*now_ready, {"status"}) : "";
    if (observed && now_ready && *observed == *now_ready) return node;
    auto written = client_.update(node_kind_, copy, client::Subresource::kStatus);
    if (written.ok()) {
      BERTH_LOG(kInfo, kComponent) << "node status unknown node=" << name;
      std::lock_guard lock(mu_);
      if (auto it = health_.find(name); it != health_.end()) {
        if (const json::object* r = findCondition(**written, "Ready")) it->second->ready = *r;
        it->second->ready_transition = now;
      }
      return *written;
    }
    if (written.error().code == ErrorCode::kNotFound) return nullptr;
    // Stale copy (the kubelet wrote meanwhile): read it again and retry.
    auto fresh = client_.get(node_kind_, "", name);
    if (!fresh.ok()) return nullptr;
    node = *fresh;
  }
  return nullptr;
}

void NodeLifecycleController::resetNodeTimestamps(const std::vector<ObjectPtr>& nodes,
                                                  TimePoint now) {
  std::lock_guard lock(mu_);
  for (const auto& n : nodes)
    if (auto it = health_.find(api::name(*n)); it != health_.end())
      it->second->probe = it->second->ready_transition = now;
}

bool NodeLifecycleController::markPodsNotReady(const std::string& node_name) {
  std::vector<std::string> keys;
  {
    std::lock_guard lock(mu_);
    if (auto it = pods_by_node_.find(node_name); it != pods_by_node_.end())
      keys.assign(it->second.begin(), it->second.end());
  }
  bool ok = true;
  for (const auto& key : keys) {
    ObjectPtr pod = pods_.get(key);
    if (!pod || strAt(*pod, {"spec", "nodeName"}) != node_name) continue;
    const json::object* ready = findCondition(*pod, "Ready");
    if (!ready || strAt(*ready, {"status"}) == "False") continue;
    api::Object copy = *pod;
    json::object* c = findMutableCondition(copy, "Ready");
    (*c)["status"] = "False";
    (*c)["lastTransitionTime"] = formatRfc3339(clock_.now());
    auto r = client_.update(pod_kind_, std::move(copy), client::Subresource::kStatus);
    if (!r.ok()) {
      if (r.error().code == ErrorCode::kNotFound) continue;
      BERTH_LOG(kWarning, kComponent)
          << "mark pod not ready failed pod=" << key << " error=" << r.error().message;
      ok = false;
      continue;
    }
    recordPodEvent(key, "Warning", "NodeNotReady", "Node is not ready");
  }
  return ok;
}

ObjectPtr NodeLifecycleController::updateTaints(ObjectPtr node, const TaintPlan& plan) {
  const std::string name = api::name(*node);
  for (int attempt = 0; attempt < kRetries; ++attempt) {
    std::vector<Taint> taints = nodelifecycle::parseTaints(*node);
    std::vector<Taint> add;
    std::vector<Taint> remove;
    plan(*node, taints, &add, &remove);
    if (add.empty() && remove.empty()) return node;

    const std::string now = formatRfc3339(clock_.now());
    json::array out;
    for (const auto& t : taints)
      if (std::none_of(remove.begin(), remove.end(), [&](const Taint& r) { return r.matches(t); }))
        out.push_back(nodelifecycle::taintJson(t));
    for (auto t : add) {
      t.time_added = now;
      out.push_back(nodelifecycle::taintJson(t));
    }
    api::Object copy = *node;
    json::object& spec = api::ensureObj(copy, "spec");
    if (out.empty())
      spec.erase("taints");
    else
      spec["taints"] = std::move(out);
    auto written = client_.update(node_kind_, std::move(copy));
    if (written.ok()) {
      for (const auto& t : add)
        BERTH_LOG(kInfo, kComponent)
            << "taint added node=" << name << " taint=" << t.key << ":" << t.effect;
      for (const auto& t : remove)
        BERTH_LOG(kInfo, kComponent)
            << "taint removed node=" << name << " taint=" << t.key << ":" << t.effect;
      return *written;
    }
    if (written.error().code == ErrorCode::kNotFound) return nullptr;
    auto fresh = client_.get(node_kind_, "", name);
    if (!fresh.ok()) return nullptr;
    node = *fresh;
  }
  BERTH_LOG(kWarning, kComponent) << "taint update failed node=" << name;
  return nullptr;
}

ObjectPtr NodeLifecycleController::reconcileConditionTaints(ObjectPtr node) {
  ObjectPtr written = updateTaints(node, [](const api::Object& now,
                                            const std::vector<Taint>& taints,
                                            std::vector<Taint>* add, std::vector<Taint>* remove) {
    // From the conditions of the node as this attempt reads it.
    std::vector<Taint> want = nodelifecycle::conditionTaints(now);
    // The managed NoSchedule taints are exactly the ones the conditions call for.
    for (const auto& w : want)
      if (std::none_of(taints.begin(), taints.end(), [&](const Taint& t) { return t.matches(w); }))
        add->push_back(w);
    for (const auto& t : taints)
      if (t.effect == "NoSchedule" && nodelifecycle::isConditionTaintKey(t.key) &&
          std::none_of(want.begin(), want.end(), [&](const Taint& w) { return t.matches(w); }))
        remove->push_back(t);
  });
  return written ? written : node;
}

ObjectPtr NodeLifecycleController::swapNoExecuteTaint(ObjectPtr node, const Taint& add,
                                                      const Taint& remove) {
  return updateTaints(std::move(node),
                      [&](const api::Object&, const std::vector<Taint>& taints,
                          std::vector<Taint>* to_add, std::vector<Taint>* to_remove) {
                        auto has = [&](const Taint& x) {
                          return std::any_of(taints.begin(), taints.end(),
                                             [&](const Taint& t) { return t.matches(x); });
                        };
                        if (!has(add)) to_add->push_back(add);
                        if (has(remove)) to_remove->push_back(remove);
                      });
}

// --- taint-based eviction ------------------------------------------------------

void NodeLifecycleController::processChanges() {
  std::set<std::string> nodes;
  std::set<std::string> pods;
  {
    std::lock_guard lock(mu_);
    nodes.swap(dirty_nodes_);
    pods.swap(dirty_pods_);
  }
  // Nodes first, as upstream's workers prefer node updates: the taints a pod
  // is judged against must be current.
  for (const auto& n : nodes) handleNodeUpdate(n);
  for (const auto& p : pods) handlePodUpdate(p);
}

void NodeLifecycleController::handleNodeUpdate(const std::string& name) {
  ObjectPtr node = nodes_.get(name);
  if (!node) {
    std::lock_guard lock(mu_);
    tainted_nodes_.erase(name);
    return;
  }
  node = reconcileConditionTaints(node);
  std::vector<Taint> taints = nodelifecycle::noExecuteTaints(nodelifecycle::parseTaints(*node));
  const TimePoint now = clock_.now();
  std::lock_guard lock(mu_);
  auto it = tainted_nodes_.find(name);
  if (it != tainted_nodes_.end() ? sameTaints(it->second, taints) : taints.empty()) return;
  if (taints.empty())
    tainted_nodes_.erase(name);
  else
    tainted_nodes_[name] = taints;
  auto pit = pods_by_node_.find(name);
  if (pit == pods_by_node_.end()) return;
  for (const auto& key : pit->second) {
    if (taints.empty()) {
      cancelEvictionLocked(key);
      continue;
    }
    if (ObjectPtr pod = pods_.get(key)) processPodOnNodeLocked(key, *pod, name, taints, now);
  }
}

void NodeLifecycleController::handlePodUpdate(const std::string& key) {
  ObjectPtr pod = pods_.get(key);
  const TimePoint now = clock_.now();
  std::lock_guard lock(mu_);
  if (!pod) {
    cancelEvictionLocked(key);
    return;
  }
  std::string node = strAt(*pod, {"spec", "nodeName"});
  if (node.empty()) return;
  auto it = tainted_nodes_.find(node);
  if (it == tainted_nodes_.end()) return;
  processPodOnNodeLocked(key, *pod, node, it->second, now);
}

void NodeLifecycleController::processPodOnNodeLocked(const std::string& key, const api::Object& pod,
                                                     const std::string& node,
                                                     const std::vector<Taint>& taints,
                                                     TimePoint now) {
  // A pod already on its way out is left to finish (upstream would delete it again).
  if (api::at(pod, {"metadata", "deletionTimestamp"})) return;
  std::vector<nodelifecycle::Toleration> used;
  if (!nodelifecycle::matchingTolerations(taints, nodelifecycle::parseTolerations(pod), &used)) {
    cancelEvictionLocked(key);
    evictions_[key] = Eviction{now, now, node};
    return;
  }
  auto min = nodelifecycle::minTolerationTime(used);
  if (!min) {
    cancelEvictionLocked(key);  // tolerated forever
    return;
  }
  TimePoint start = now;
  if (auto it = evictions_.find(key); it != evictions_.end()) {
    // Keep counting from when the eviction was first scheduled.
    start = it->second.created;
    if (start + *min < now + *min) return;
    cancelEvictionLocked(key);
  }
  evictions_[key] = Eviction{start, start + *min, node};
}

void NodeLifecycleController::cancelEvictionLocked(const std::string& key) {
  if (evictions_.erase(key))
    recordPodEvent(key, "Normal", "TaintManagerEviction", "Cancelling deletion of Pod " + key);
}

void NodeLifecycleController::runDueEvictions() {
  const TimePoint now = clock_.now();
  std::vector<std::string> due;
  {
    std::lock_guard lock(mu_);
    for (auto it = evictions_.begin(); it != evictions_.end();) {
      if (it->second.fire <= now) {
        due.push_back(it->first);
        it = evictions_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& key : due) {
    recordPodEvent(key, "Normal", "TaintManagerEviction", "Marking for deletion Pod " + key);
    if (!evictPod(key)) {
      std::lock_guard lock(mu_);
      if (!evictions_.count(key)) {
        TimePoint t = clock_.now() + options_.eviction_retry;
        evictions_[key] = Eviction{t, t, pod_node_.count(key) ? pod_node_[key] : ""};
      }
    }
  }
}

bool NodeLifecycleController::evictPod(const std::string& key) {
  std::string ns, name;
  client::splitKey(key, &ns, &name);
  for (int attempt = 0; attempt < kRetries; ++attempt) {
    auto pod = client_.get(pod_kind_, ns, name);
    if (!pod.ok()) return pod.error().code == ErrorCode::kNotFound;
    // The DisruptionTarget condition tells the pod's owner why it went.
    const json::object* existing = findCondition(**pod, "DisruptionTarget");
    if (!existing || strAt(*existing, {"status"}) != "True" ||
        strAt(*existing, {"reason"}) != "DeletionByTaintManager") {
      api::Object copy = **pod;
      json::object cond{{"type", "DisruptionTarget"},
                        {"status", "True"},
                        {"lastProbeTime", nullptr},
                        {"lastTransitionTime", formatRfc3339(clock_.now())},
                        {"reason", "DeletionByTaintManager"},
                        {"message", "Taint manager: deleting due to NoExecute taint"}};
      if (json::object* c = findMutableCondition(copy, "DisruptionTarget")) {
        if (strAt(*c, {"status"}) == "True")
          cond["lastTransitionTime"] = strAt(*c, {"lastTransitionTime"});
        *c = std::move(cond);
      } else {
        api::ensureArray(api::ensureObj(copy, "status"), "conditions").push_back(std::move(cond));
      }
      auto written = client_.update(pod_kind_, std::move(copy), client::Subresource::kStatus);
      if (!written.ok()) {
        if (written.error().code == ErrorCode::kNotFound) return true;
        continue;  // conflict: read again
      }
    }
    auto removed = client_.remove(pod_kind_, ns, name);
    if (removed.ok() || removed.error().code == ErrorCode::kNotFound) {
      BERTH_LOG(kInfo, kComponent) << "pod evicted pod=" << key;
      return true;
    }
  }
  BERTH_LOG(kWarning, kComponent) << "pod eviction failed pod=" << key;
  return false;
}

std::optional<NodeLifecycleController::TimePoint> NodeLifecycleController::scheduledEviction(
    const std::string& pod_key) const {
  std::lock_guard lock(mu_);
  auto it = evictions_.find(pod_key);
  if (it == evictions_.end()) return std::nullopt;
  return it->second.fire;
}

size_t NodeLifecycleController::scheduledEvictions() const {
  std::lock_guard lock(mu_);
  return evictions_.size();
}

// --- events ----------------------------------------------------------------------

void NodeLifecycleController::recordNodeEvent(const api::Object& node, const std::string& type,
                                              const std::string& reason,
                                              const std::string& message) {
  api::Object ref{{"apiVersion", "v1"},
                  {"kind", "Node"},
                  {"metadata", json::object{{"name", api::name(node)}, {"uid", api::uid(node)}}}};
  recorder_.record(ref, type, reason, message);
}

void NodeLifecycleController::recordPodEvent(const std::string& key, const std::string& type,
                                             const std::string& reason,
                                             const std::string& message) {
  std::string ns, name;
  client::splitKey(key, &ns, &name);
  api::Object ref{{"apiVersion", "v1"},
                  {"kind", "Pod"},
                  {"metadata", json::object{{"name", name}, {"namespace", ns}}}};
  if (ObjectPtr pod = pods_.get(key)) ref["metadata"].as_object()["uid"] = api::uid(*pod);
  recorder_.record(ref, type, reason, message);
}

}  // namespace berth::controllers
