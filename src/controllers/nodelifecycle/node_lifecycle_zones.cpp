// The node lifecycle controller's zone disruption handling and rate-limited
// NoExecute tainting (upstream's processTaintBaseEviction,
// markNodeForTainting, markNodeAsReachable, addPodEvictorForNewZone,
// handleDisruption, setLimiterInZone and doNoExecuteTaintingPass).
#include <algorithm>

#include "api/kinds/access.h"
#include "api/object.h"
#include "common/log.h"
#include "controllers/nodelifecycle/node_lifecycle_controller.h"

namespace berth::controllers {

namespace json = boost::json;
using api::strAt;
using client::ObjectPtr;
using nodelifecycle::RateLimitedTimedQueue;
using nodelifecycle::Taint;
using nodelifecycle::ZoneState;

namespace {

constexpr char kComponent[] = "node-lifecycle";
// A queued node that cannot be judged yet is tried again after this long
// (upstream: "retry in 50 millisecond").
constexpr std::chrono::milliseconds kTaintRetry{50};

const Taint kNotReadyTaint{nodelifecycle::kTaintNotReady, "", "NoExecute", ""};
const Taint kUnreachableTaint{nodelifecycle::kTaintUnreachable, "", "NoExecute", ""};

bool hasTaint(const api::Object& node, const Taint& taint) {
  for (const auto& t : nodelifecycle::parseTaints(node))
    if (t.matches(taint)) return true;
  return false;
}

// The status of the node's Ready condition; nullopt when it has none.
std::optional<std::string> readyStatus(const api::Object& node) {
  if (const json::array* conds = api::arrAt(node, {"status", "conditions"}))
    for (const auto& c : *conds)
      if (const json::object* co = api::asObj(&c); co && strAt(*co, {"type"}) == "Ready")
        return strAt(*co, {"status"});
  return std::nullopt;
}

}  // namespace

ObjectPtr NodeLifecycleController::processTaintBasedEviction(ObjectPtr node,
                                                             const std::string& ready) {
  // Unreachable and not-ready mirror the Ready condition, so they are
  // mutually exclusive: a node already tainted with the opposite one is
  // swapped at once (it was let through the limiter before), others queue.
  auto swap_or_queue = [&](const Taint& want, const Taint& opposite) {
    if (hasTaint(*node, opposite)) {
      if (ObjectPtr written = swapNoExecuteTaint(node, want, opposite)) return written;
      BERTH_LOG(kWarning, kComponent)
          << "swap taint failed, retried next pass node=" << api::name(*node);
      return node;
    }
    markNodeForTainting(*node, ready);
    return node;
  };
  if (ready == "False") return swap_or_queue(kNotReadyTaint, kUnreachableTaint);
  if (ready == "Unknown") return swap_or_queue(kUnreachableTaint, kNotReadyTaint);
  if (ready == "True") markNodeAsReachable(node);
  return node;
}

void NodeLifecycleController::markNodeForTainting(const api::Object& node,
                                                  const std::string& ready) {
  const std::string name = api::name(node);
  std::lock_guard lock(zones_mu_);
  auto it = zone_tainters_.find(nodelifecycle::zoneKey(node));
  if (it == zone_tainters_.end()) return;  // every listed node's zone has one
  RateLimitedTimedQueue& tainter = *it->second;
  // A node that was let through but has lost its taint since (someone
  // removed it) is queued afresh; one still tainted stays done.
  if ((ready == "False" && !hasTaint(node, kNotReadyTaint)) ||
      (ready == "Unknown" && !hasTaint(node, kUnreachableTaint)))
    tainter.remove(name);
  tainter.add(name, api::uid(node), clock_.now());
}

bool NodeLifecycleController::markNodeAsReachable(ObjectPtr node) {
  ObjectPtr written = updateTaints(node, [](const api::Object&, const std::vector<Taint>& taints,
                                            std::vector<Taint>*, std::vector<Taint>* remove) {
    for (const auto& t : taints)
      if (t.matches(kUnreachableTaint) || t.matches(kNotReadyTaint)) remove->push_back(t);
  });
  if (!written) {
    BERTH_LOG(kWarning, kComponent)
        << "remove NoExecute taints failed, retried next pass node=" << api::name(*node);
    return false;
  }
  std::lock_guard lock(zones_mu_);
  auto it = zone_tainters_.find(nodelifecycle::zoneKey(*node));
  if (it != zone_tainters_.end()) it->second->remove(api::name(*node));
  return true;
}

void NodeLifecycleController::addTainterForNewZone(const api::Object& node) {
  const std::string zone = nodelifecycle::zoneKey(node);
  std::lock_guard lock(zones_mu_);
  if (zone_states_.count(zone)) return;
  zone_states_[zone] = ZoneState::kInitial;
  // A new bucket, full: the zone's first taint is not held back.
  zone_tainters_[zone] = std::make_unique<RateLimitedTimedQueue>(options_.node_eviction_rate);
  BERTH_LOG(kInfo, kComponent) << "initializing eviction limiter for zone zone="
                               << nodelifecycle::printableZone(zone);
}

double NodeLifecycleController::reducedQps(size_t zone_size) const {
  // Large zones keep draining slowly; small ones stop: with few nodes a
  // majority down says more about the network than about the nodes.
  if (zone_size > static_cast<size_t>(std::max(options_.large_cluster_size_threshold, 0)))
    return options_.secondary_node_eviction_rate;
  return 0;
}

double NodeLifecycleController::healthyQps(size_t) const { return options_.node_eviction_rate; }

void NodeLifecycleController::setLimiterInZoneLocked(const std::string& zone, size_t zone_size,
                                                     ZoneState state, TimePoint now) {
  auto it = zone_tainters_.find(zone);
  if (it == zone_tainters_.end()) return;
  switch (state) {
    case ZoneState::kNormal:
      it->second->swapLimiter(options_.node_eviction_rate, now);
      break;
    case ZoneState::kPartialDisruption:
      it->second->swapLimiter(reducedQps(zone_size), now);
      break;
    case ZoneState::kFullDisruption:
      // Upstream's HealthyQPSFunc: a zone that is down while others are not
      // is really down, so its pods move elsewhere at the normal pace.
      it->second->swapLimiter(healthyQps(zone_size), now);
      break;
    case ZoneState::kInitial:
      break;
  }
}

void NodeLifecycleController::handleDisruption(
    const std::map<std::string, std::vector<std::string>>& zone_statuses,
    const std::vector<ObjectPtr>& nodes) {
  const TimePoint now = clock_.now();
  std::map<std::string, ZoneState> new_states;
  bool all_full = true;
  for (const auto& [zone, statuses] : zone_statuses) {
    auto health = nodelifecycle::computeZoneState(statuses, options_.unhealthy_zone_threshold);
    if (health.state != ZoneState::kFullDisruption) all_full = false;
    new_states[zone] = health.state;
  }

  bool entering = false;
  bool exiting = false;
  {
    std::lock_guard lock(zones_mu_);
    for (const auto& [zone, statuses] : zone_statuses)
      if (zone_states_.emplace(zone, ZoneState::kInitial).second)
        BERTH_LOG(kWarning, kComponent)
            << "setting initial state for unseen zone zone=" << nodelifecycle::printableZone(zone);
    // Zones without nodes are forgotten (their tainter is replaced if nodes
    // come back, as upstream).
    for (auto it = zone_states_.begin(); it != zone_states_.end();)
      it = zone_statuses.count(it->first) ? std::next(it) : zone_states_.erase(it);
    bool all_was_full = std::all_of(zone_states_.begin(), zone_states_.end(), [](const auto& z) {
      return z.second == ZoneState::kFullDisruption;
    });
    // Every zone was and still is fully disrupted: the limiters are already
    // stopped, nothing changes.
    if (all_full && all_was_full) return;
    if (all_full) {
      // No node in the cluster is Ready: far likelier the control plane (or
      // its network) than every node at once. Stop all tainting.
      entering = true;
      for (auto& [zone, state] : zone_states_) {
        if (auto it = zone_tainters_.find(zone); it != zone_tainters_.end())
          it->second->swapLimiter(0, now);
        state = ZoneState::kFullDisruption;
      }
    } else if (all_was_full) {
      // Back from master disruption: every zone's limiter for its state.
      exiting = true;
      for (auto& [zone, state] : zone_states_) {
        setLimiterInZoneLocked(zone, zone_statuses.at(zone).size(), new_states[zone], now);
        state = new_states[zone];
      }
    } else {
      for (auto& [zone, state] : zone_states_) {
        ZoneState next = new_states[zone];
        if (state == next) continue;
        BERTH_LOG(kInfo, kComponent)
            << "zone state changed zone=" << nodelifecycle::printableZone(zone)
            << " state=" << nodelifecycle::zoneStateName(next);
        setLimiterInZoneLocked(zone, zone_statuses.at(zone).size(), next, now);
        state = next;
      }
    }
  }
  if (entering) {
    // Upstream: "Controller detected that all Nodes are not-Ready. Entering
    // master disruption mode". The NoExecute taints already placed go too.
    BERTH_LOG(kWarning, kComponent) << "all nodes not ready, entering master disruption mode";
    for (const auto& n : nodes) markNodeAsReachable(n);
  }
  if (exiting) {
    // Upstream: "Controller detected that some Nodes are Ready. Exiting
    // master disruption mode". Every node gets a fresh grace period.
    BERTH_LOG(kInfo, kComponent) << "some nodes ready, exiting master disruption mode";
    resetNodeTimestamps(nodes, now);
  }
}

void NodeLifecycleController::doNoExecuteTaintingPass() {
  std::lock_guard lock(zones_mu_);
  const TimePoint now = clock_.now();
  for (auto& [zone, tainter] : zone_tainters_)
    tainter->tryProcess(
        now, [&](const RateLimitedTimedQueue::Value& v) { return taintQueuedNode(v.value); });
}

std::pair<bool, std::chrono::nanoseconds> NodeLifecycleController::taintQueuedNode(
    const std::string& name) {
  // Read from the server rather than the informer: the node was usually
  // marked Unknown in this very pass and the cache may not show it yet.
  auto got = client_.get(node_kind_, "", name);
  if (!got.ok()) {
    if (got.error().code == ErrorCode::kNotFound) return {true, {}};
    return {false, kTaintRetry};
  }
  const ObjectPtr& node = *got;
  std::optional<std::string> ready = readyStatus(*node);
  if (!ready) return {false, kTaintRetry};
  ObjectPtr written;
  if (*ready == "False")
    written = swapNoExecuteTaint(node, kNotReadyTaint, kUnreachableTaint);
  else if (*ready == "Unknown")
    written = swapNoExecuteTaint(node, kUnreachableTaint, kNotReadyTaint);
  else
    return {true, {}};  // Ready again: nothing to taint
  return {written != nullptr, {}};
}

std::optional<NodeLifecycleController::TimePoint> NodeLifecycleController::nextTaintAttempt()
    const {
  std::lock_guard lock(zones_mu_);
  const TimePoint now = clock_.now();
  std::optional<TimePoint> next;
  for (const auto& [zone, tainter] : zone_tainters_)
    if (auto t = tainter->nextAttempt(now); t && (!next || *t < *next)) next = t;
  return next;
}

std::optional<ZoneState> NodeLifecycleController::zoneState(const std::string& zone_key) const {
  std::lock_guard lock(zones_mu_);
  auto it = zone_states_.find(zone_key);
  if (it == zone_states_.end()) return std::nullopt;
  return it->second;
}

}  // namespace berth::controllers
