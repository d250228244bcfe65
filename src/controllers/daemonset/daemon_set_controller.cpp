#include "controllers/daemonset/daemon_set_controller.h"

#include <algorithm>
#include <set>

#include "api/kinds/access.h"
#include "api/object.h"
#include "common/log.h"
#include "controllers/daemonset/daemon_util.h"
#include "controllers/pod_util.h"

namespace berth::controllers {

namespace json = boost::json;
using api::Object;
using client::ObjectPtr;

namespace {

// upstream StatusUpdateRetries.
constexpr int kStatusUpdateRetries = 1;

int64_t count(const json::object& status, std::string_view key) {
  return api::intAt(status, {key}).value_or(0);
}

// podByCreationTimestampAndPhase: scheduled pods first, then oldest first,
// then by name.
void sortByCreationAndPhase(std::vector<ObjectPtr>& pods) {
  std::stable_sort(pods.begin(), pods.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
    bool sa = !api::strAt(*a, {"spec", "nodeName"}).empty();
    bool sb = !api::strAt(*b, {"spec", "nodeName"}).empty();
    if (sa != sb) return sa;
    auto ca = creationTime(*a), cb = creationTime(*b);
    if (ca == cb) return api::name(*a) < api::name(*b);
    return ca < cb;
  });
}

std::string phaseOf(const Object& pod) { return api::strAt(pod, {"status", "phase"}); }

// True for the selector that selects every pod ({}), which a DaemonSet may
// not have.
bool selectsEverything(const Object& ds) {
  const json::object* sel = api::objAt(ds, {"spec", "selector"});
  if (!sel) return false;
  const json::object* ml = api::objAt(*sel, {"matchLabels"});
  const json::array* me = api::arrAt(*sel, {"matchExpressions"});
  return (!ml || ml->empty()) && (!me || me->empty());
}

// nodeInSameCondition: the same set of True conditions.
bool nodeInSameCondition(const Object& a, const Object& b) {
  auto trueConds = [](const Object& n) {
    std::set<std::string> out;
    if (const json::array* conds = api::arrAt(n, {"status", "conditions"}))
      for (const auto& c : *conds)
        if (const json::object* co = c.if_object(); co && api::strAt(*co, {"status"}) == "True")
          out.insert(api::strAt(*co, {"type"}));
    return out;
  };
  return trueConds(a) == trueConds(b);
}

// shouldIgnoreNodeUpdate: only the resourceVersion or the conditions'
// details (heartbeats) changed.
bool shouldIgnoreNodeUpdate(const Object& old_node, const Object& cur_node) {
  if (!nodeInSameCondition(old_node, cur_node)) return false;
  Object a = old_node, b = cur_node;
  for (Object* o : {&a, &b}) {
    api::mutableMetadata(*o).erase("resourceVersion");
    if (auto it = o->find("status"); it != o->end() && it->value().is_object())
      it->value().as_object().erase("conditions");
  }
  return a == b;
}

}  // namespace

DaemonSetController::DaemonSetController(client::Client& client, client::InformerFactory& informers,
                                         client::EventRecorder& recorder, Clock& clock, int workers)
    : client_(client),
      ds_kind_(client::kind("apps", "DaemonSet")),
      cr_kind_(client::kind("apps", "ControllerRevision")),
      ds_informer_(informers.forKind(ds_kind_)),
      pod_informer_(informers.forKind("", "Pod")),
      node_informer_(informers.forKind("", "Node")),
      history_informer_(informers.forKind(cr_kind_)),
      recorder_(recorder),
      clock_(clock),
      pod_control_(client, recorder),
      expectations_(clock),
      loop_(
          "daemonset-controller", [this](const std::string& key) { return sync(key); },
          {&ds_informer_, &pod_informer_, &node_informer_, &history_informer_}, workers) {
  using C = DaemonSetController;
  addPodControllerUidIndex(pod_informer_);
  ds_informer_.addHandlers(gatedHandlers(gate_, this, &C::addDs, &C::updateDs, &C::deleteDs));
  pod_informer_.addHandlers(gatedHandlers(gate_, this, &C::addPod, &C::updatePod, &C::deletePod));
  node_informer_.addHandlers(
      gatedHandlers(gate_, this, &C::addNode, &C::updateNode, &C::deleteNode));
  history_informer_.addHandlers(
      gatedHandlers(gate_, this, &C::addHistory, &C::updateHistory, &C::deleteHistory));
}

DaemonSetController::~DaemonSetController() { stop(); }

void DaemonSetController::start() { loop_.start(); }

void DaemonSetController::stop() {
  gate_.close();
  loop_.stop();
}

void DaemonSetController::enqueue(const Object& ds) { loop_.enqueue(client::keyOf(ds)); }

// ---- handlers ----

void DaemonSetController::addDs(const ObjectPtr& ds) { enqueue(*ds); }

void DaemonSetController::updateDs(const ObjectPtr& old_ds, const ObjectPtr& cur_ds) {
  if (api::uid(*old_ds) != api::uid(*cur_ds)) deleteDs(old_ds);
  enqueue(*cur_ds);
}

void DaemonSetController::deleteDs(const ObjectPtr& ds) {
  std::string key = client::keyOf(*ds);
  expectations_.deleteExpectations(key);
  loop_.enqueue(key);
}

ObjectPtr DaemonSetController::resolveControllerRef(const std::string& ns,
                                                    const json::object& ref) const {
  return controllers::resolveControllerRef(ds_informer_, ds_kind_.kind, ns, ref);
}

std::vector<ObjectPtr> DaemonSetController::daemonSetsSelecting(const Object& obj) const {
  return ownersSelecting(ds_informer_, obj);
}

void DaemonSetController::addPod(const ObjectPtr& pod) {
  if (hasDeletionTimestamp(*pod)) {
    // Seen after a restart already being deleted: not a creation.
    deletePod(pod);
    return;
  }
  if (const json::object* ref = controllerRef(*pod)) {
    ObjectPtr ds = resolveControllerRef(api::namespaceOf(*pod), *ref);
    if (!ds) return;
    expectations_.creationObserved(client::keyOf(*ds));
    enqueue(*ds);
    return;
  }
  // An orphan: matching DaemonSets may adopt it.
  for (const auto& ds : daemonSetsSelecting(*pod)) enqueue(*ds);
}

void DaemonSetController::updatePod(const ObjectPtr& old_pod, const ObjectPtr& cur_pod) {
  if (api::strAt(*old_pod, {"metadata", "resourceVersion"}) ==
      api::strAt(*cur_pod, {"metadata", "resourceVersion"}))
    return;
  if (hasDeletionTimestamp(*cur_pod)) {
    // Graceful deletion: count it now so a replacement starts at once.
    deletePod(cur_pod);
    return;
  }
  const json::object* cur_ref = controllerRef(*cur_pod);
  const json::object* old_ref = controllerRef(*old_pod);
  bool ref_changed =
      (cur_ref == nullptr) != (old_ref == nullptr) || (cur_ref && *cur_ref != *old_ref);
  if (ref_changed && old_ref) {
    if (ObjectPtr ds = resolveControllerRef(api::namespaceOf(*old_pod), *old_ref)) enqueue(*ds);
  }
  if (cur_ref) {
    ObjectPtr ds = resolveControllerRef(api::namespaceOf(*cur_pod), *cur_ref);
    if (!ds) return;
    enqueue(*ds);
    int64_t min_ready = api::intAt(*ds, {"spec", "minReadySeconds"}).value_or(0);
    if (!isPodReady(*old_pod) && isPodReady(*cur_pod) && min_ready > 0)
      loop_.enqueueAfter(client::keyOf(*ds), std::chrono::seconds(min_ready + 1));
    return;
  }
  bool label_changed = api::labels(*old_pod) != api::labels(*cur_pod);
  if (label_changed || ref_changed)
    for (const auto& ds : daemonSetsSelecting(*cur_pod)) enqueue(*ds);
}

void DaemonSetController::deletePod(const ObjectPtr& pod) {
  const json::object* ref = controllerRef(*pod);
  if (!ref) return;
  ObjectPtr ds = resolveControllerRef(api::namespaceOf(*pod), *ref);
  if (!ds) return;
  expectations_.deletionObserved(client::keyOf(*ds));
  enqueue(*ds);
}

void DaemonSetController::addNode(const ObjectPtr& node) {
  for (const auto& ds : ds_informer_.list())
    if (nodeShouldRunDaemonPod(*node, *ds).should_run) enqueue(*ds);
}

void DaemonSetController::updateNode(const ObjectPtr& old_node, const ObjectPtr& cur_node) {
  if (shouldIgnoreNodeUpdate(*old_node, *cur_node)) return;
  for (const auto& ds : ds_informer_.list()) {
    NodeShouldRun before = nodeShouldRunDaemonPod(*old_node, *ds);
    NodeShouldRun now = nodeShouldRunDaemonPod(*cur_node, *ds);
    if (before.should_run != now.should_run ||
        before.should_continue_running != now.should_continue_running)
      enqueue(*ds);
  }
}

void DaemonSetController::deleteNode(const ObjectPtr& node) {
  // Upstream relies on pod GC deleting the node's pods to wake the
  // DaemonSets; recompute desiredNumberScheduled at once instead.
  for (const auto& ds : ds_informer_.list())
    if (nodeShouldRunDaemonPod(*node, *ds).should_continue_running) enqueue(*ds);
}

void DaemonSetController::addHistory(const ObjectPtr& cr) {
  if (hasDeletionTimestamp(*cr)) {
    deleteHistory(cr);
    return;
  }
  if (const json::object* ref = controllerRef(*cr)) {
    if (ObjectPtr ds = resolveControllerRef(api::namespaceOf(*cr), *ref)) enqueue(*ds);
    return;
  }
  for (const auto& ds : daemonSetsSelecting(*cr)) enqueue(*ds);
}

void DaemonSetController::updateHistory(const ObjectPtr& old_cr, const ObjectPtr& cur_cr) {
  if (api::strAt(*old_cr, {"metadata", "resourceVersion"}) ==
      api::strAt(*cur_cr, {"metadata", "resourceVersion"}))
    return;
  const json::object* cur_ref = controllerRef(*cur_cr);
  const json::object* old_ref = controllerRef(*old_cr);
  bool ref_changed =
      (cur_ref == nullptr) != (old_ref == nullptr) || (cur_ref && *cur_ref != *old_ref);
  if (ref_changed && old_ref) {
    if (ObjectPtr ds = resolveControllerRef(api::namespaceOf(*old_cr), *old_ref)) enqueue(*ds);
  }
  if (cur_ref) {
    if (ObjectPtr ds = resolveControllerRef(api::namespaceOf(*cur_cr), *cur_ref)) enqueue(*ds);
    return;
  }
  if (api::labels(*old_cr) != api::labels(*cur_cr) || ref_changed)
    for (const auto& ds : daemonSetsSelecting(*cur_cr)) enqueue(*ds);
}

void DaemonSetController::deleteHistory(const ObjectPtr& cr) {
  const json::object* ref = controllerRef(*cr);
  if (!ref) return;
  if (ObjectPtr ds = resolveControllerRef(api::namespaceOf(*cr), *ref)) enqueue(*ds);
}

// ---- pods of a DaemonSet ----

CanAdoptFunc DaemonSetController::canAdopt(const Object& ds) {
  std::string ns = api::namespaceOf(ds), name = api::name(ds), uid = api::uid(ds);
  return recheckDeletionTimestamp([this, ns, name, uid]() -> Result<ObjectPtr> {
    auto fresh = client_.get(ds_kind_, ns, name);
    if (!fresh.ok()) return fresh;
    if (api::uid(**fresh) != uid)
      return makeError(ErrorCode::kConflict, "original DaemonSet " + ns + "/" + name +
                                                 " is gone: got uid " + api::uid(**fresh) +
                                                 ", wanted " + uid);
    return fresh;
  });
}

Result<std::vector<ObjectPtr>> DaemonSetController::getDaemonPods(const Object& ds) {
  BERTH_ASSIGN_OR_RETURN(api::LabelSelector selector,
                         api::LabelSelector::fromObject(api::at(ds, {"spec", "selector"})));
  // Owned pods (also those that stopped matching) and the namespace's orphans.
  std::vector<ObjectPtr> pods = ownedAndOrphanPods(pod_informer_, api::namespaceOf(ds), api::uid(ds));
  ControllerRefManager cm(client_, ds, ds_kind_, std::move(selector), canAdopt(ds));
  return cm.claimPods(pods);
}

Result<DaemonSetController::PodsByNode> DaemonSetController::getNodesToDaemonPods(
    const Object& ds, bool include_deleted_terminal) {
  BERTH_ASSIGN_OR_RETURN(std::vector<ObjectPtr> claimed, getDaemonPods(ds));
  PodsByNode by_node;
  for (const auto& pod : claimed) {
    // A terminal pod being deleted waits only for its finalizers or the
    // agent; nothing left to do with it.
    if (!include_deleted_terminal && isPodTerminal(*pod) && hasDeletionTimestamp(*pod)) continue;
    auto node = targetNodeName(*pod);
    if (!node) {
      BERTH_LOG(kDebug, "controllers") << "daemon pod without target node pod=" << podKey(*pod);
      continue;
    }
    by_node[*node].push_back(pod);
  }
  return by_node;
}

bool DaemonSetController::isPodUpdated(const Object& pod, const std::string& hash,
                                       const Object& ds) const {
  auto labels = api::labels(pod);
  if (!hash.empty()) {
    auto it = labels.find(kControllerRevisionHashLabel);
    if (it != labels.end() && it->second == hash) return true;
  }
  std::string gen =
      api::strAt(ds, {"metadata", "annotations", kDeprecatedTemplateGenerationAnnotation});
  if (gen.empty()) return false;
  auto it = labels.find(kDaemonSetTemplateGenerationLabel);
  return it != labels.end() && it->second == gen;
}

// ---- failed pods back-off (flowcontrol.Backoff) ----

bool DaemonSetController::failedPodInBackoff(const std::string& key,
                                             std::chrono::system_clock::time_point now,
                                             std::chrono::milliseconds* delay) {
  std::lock_guard lock(backoff_mu_);
  auto it = failed_pods_backoff_.find(key);
  if (it == failed_pods_backoff_.end()) return false;
  *delay = it->second.backoff;
  return now - it->second.last_update < it->second.backoff;
}

void DaemonSetController::failedPodNext(const std::string& key,
                                        std::chrono::system_clock::time_point now) {
  std::lock_guard lock(backoff_mu_);
  auto it = failed_pods_backoff_.find(key);
  std::chrono::milliseconds max = kFailedPodsBackoffMax;
  // An entry untouched for twice the maximum starts over.
  if (it == failed_pods_backoff_.end() || now - it->second.last_update > 2 * max) {
    failed_pods_backoff_[key] = BackoffEntry{kFailedPodsBackoffInitial, now};
    return;
  }
  it->second.backoff = std::min(it->second.backoff * 2, max);
  it->second.last_update = now;
}

// ---- manage ----

void DaemonSetController::podsShouldBeOnNode(const Object& node, const PodsByNode& by_node,
                                             const Object& ds, const std::string& hash,
                                             std::vector<std::string>* nodes_needing,
                                             std::vector<std::string>* pods_to_delete) {
  NodeShouldRun sr = nodeShouldRunDaemonPod(node, ds);
  const std::string node_name = api::name(node);
  auto it = by_node.find(node_name);
  bool exists = it != by_node.end();
  if (sr.should_run && !exists) {
    nodes_needing->push_back(node_name);
    return;
  }
  if (sr.should_continue_running) {
    if (!exists) return;
    std::vector<ObjectPtr> running;
    for (const auto& pod : it->second) {
      if (hasDeletionTimestamp(*pod)) continue;
      std::string phase = phaseOf(*pod);
      if (phase == "Failed") {
        // The agent may keep rejecting the pod: back off per node instead of
        // fighting it in a hot loop.
        std::string backoff_key =
            api::uid(ds) + "/" +
            std::to_string(api::intAt(ds, {"status", "observedGeneration"}).value_or(0)) + "/" +
            node_name;
        auto now = clock_.now();
        std::chrono::milliseconds delay{0};
        if (failedPodInBackoff(backoff_key, now, &delay)) {
          BERTH_LOG(kDebug, "controllers")
              << "deleting failed daemon pod limited by backoff pod=" << podKey(*pod)
              << " node=" << node_name;
          loop_.enqueueAfter(client::keyOf(ds), delay);
          continue;
        }
        failedPodNext(backoff_key, now);
        recorder_.record(ds, "Warning", kFailedDaemonPodReason,
                         "Found failed daemon pod " + podKey(*pod) + " on node " + node_name +
                             ", will try to kill it");
        pods_to_delete->push_back(api::name(*pod));
      } else if (phase == "Succeeded") {
        recorder_.record(ds, "Normal", kSucceededDaemonPodReason,
                         "Found succeeded daemon pod " + podKey(*pod) + " on node " + node_name +
                             ", will try to delete it");
        pods_to_delete->push_back(api::name(*pod));
      } else {
        running.push_back(pod);
      }
    }
    auto surge = surgeCount(ds, 1);
    bool allows_surge = surge.ok() && *surge > 0;
    if (!allows_surge) {
      // More than one pod on the node: keep the oldest.
      if (running.size() <= 1) return;
      sortByCreationAndPhase(running);
      for (size_t i = 1; i < running.size(); ++i) pods_to_delete->push_back(api::name(*running[i]));
      return;
    }
    if (running.size() <= 1) {
      // Surging: the node needs at least one pod that is not being deleted.
      if (running.empty() && sr.should_run) nodes_needing->push_back(node_name);
      return;
    }
    // Surging keeps two pods only while the oldest new one is not ready and
    // the oldest old one is; otherwise the old one goes.
    ObjectPtr oldest_new, oldest_old;
    sortByCreationAndPhase(running);
    for (const auto& pod : running) {
      auto labels = api::labels(*pod);
      auto h = labels.find(kControllerRevisionHashLabel);
      bool is_new = h != labels.end() && h->second == hash;
      if (is_new && !oldest_new) {
        oldest_new = pod;
        continue;
      }
      if (!is_new && !oldest_old) {
        oldest_old = pod;
        continue;
      }
      pods_to_delete->push_back(api::name(*pod));
    }
    if (oldest_new && oldest_old) {
      int64_t min_ready = api::intAt(ds, {"spec", "minReadySeconds"}).value_or(0);
      if (!isPodReady(*oldest_old) || isPodAvailable(*oldest_new, min_ready, clock_.now()))
        pods_to_delete->push_back(api::name(*oldest_old));
    }
    return;
  }
  if (exists) {
    // The pod should not run here: delete every daemon pod of the node.
    for (const auto& pod : it->second)
      if (!hasDeletionTimestamp(*pod)) pods_to_delete->push_back(api::name(*pod));
  }
}

Status DaemonSetController::manage(const Object& ds, const std::vector<ObjectPtr>& nodes,
                                   const std::string& hash) {
  auto by_node = getNodesToDaemonPods(ds, false);
  if (!by_node.ok()) {
    Error e = by_node.error();
    e.message = "couldn't get node to daemon pod mapping for daemon set \"" + api::name(ds) +
                "\": " + e.message;
    return e;
  }
  std::vector<std::string> nodes_needing, pods_to_delete;
  std::set<std::string> node_names;
  for (const auto& node : nodes) {
    node_names.insert(api::name(*node));
    podsShouldBeOnNode(*node, *by_node, ds, hash, &nodes_needing, &pods_to_delete);
  }
  // getUnscheduledPodsWithoutNode: pods pinned to a node that does not
  // exist are never scheduled and pod GC does not see them.
  for (const auto& [node, pods] : *by_node) {
    if (node_names.count(node)) continue;
    for (const auto& pod : pods)
      if (api::strAt(*pod, {"spec", "nodeName"}).empty()) pods_to_delete.push_back(api::name(*pod));
  }
  return syncNodes(ds, pods_to_delete, nodes_needing, hash);
}

Status DaemonSetController::syncNodes(const Object& ds,
                                      const std::vector<std::string>& pods_to_delete,
                                      const std::vector<std::string>& nodes_needing,
                                      const std::string& hash) {
  const std::string key = client::keyOf(ds);
  const std::string ns = api::namespaceOf(ds);
  int create_diff = std::min<int>(static_cast<int>(nodes_needing.size()), burst_replicas_);
  int delete_diff = std::min<int>(static_cast<int>(pods_to_delete.size()), burst_replicas_);
  // Expectations before acting: the informer may see a new pod before
  // create returns.
  expectations_.setExpectations(key, create_diff, delete_diff);
  std::vector<Error> errors;

  // CreatePodTemplate: the default tolerations and the revision labels.
  json::object tmpl;
  if (const json::object* t = api::objAt(ds, {"spec", "template"})) tmpl = *t;
  json::object& tspec = api::ensureObject(tmpl, "spec");
  addDaemonPodTolerations(tspec);
  json::object& tlabels = api::ensureObject(api::ensureObject(tmpl, "metadata"), "labels");
  std::string generation =
      api::strAt(ds, {"metadata", "annotations", kDeprecatedTemplateGenerationAnnotation});
  if (!generation.empty()) tlabels[kDaemonSetTemplateGenerationLabel] = generation;
  if (!hash.empty()) tlabels[kControllerRevisionHashLabel] = hash;
  json::object ref = newControllerRef(ds, ds_kind_);

  // Slow start: batches of 1, 2, 4, ...; a failing batch ends the run.
  int pos = 0;
  for (int batch = std::min(create_diff, 1); pos < create_diff;
       batch = std::min(2 * batch, create_diff - pos)) {
    size_t errors_before = errors.size();
    for (int i = pos; i < pos + batch; ++i) {
      Object pod = podFromTemplate(tmpl, ds, &ref);
      // The scheduler binds the pod to its node through this affinity.
      replaceNodeNameAffinity(api::ensureObject(pod, "spec"), nodes_needing[i]);
      auto created = pod_control_.createPodObject(ns, std::move(pod), ds);
      if (!created.ok()) {
        if (hasNamespaceTerminatingCause(created.error())) continue;
        expectations_.creationObserved(key);
        errors.push_back(created.error());
      }
    }
    pos += batch;
    int skipped = create_diff - pos;
    if (errors.size() > errors_before && skipped > 0) {
      // Pods never attempted will not be observed.
      expectations_.lowerExpectations(key, skipped, 0);
      break;
    }
  }

  for (int i = 0; i < delete_diff; ++i) {
    Status s = pod_control_.deletePod(ns, pods_to_delete[i], ds);
    if (!s.ok()) {
      expectations_.deletionObserved(key);
      if (s.error().code != ErrorCode::kNotFound) errors.push_back(s.error());
    }
  }
  if (!errors.empty()) return aggregateErrors(errors);
  return okStatus();
}

Status DaemonSetController::updateDaemonSet(const Object& ds, const std::vector<ObjectPtr>& nodes,
                                            const std::string& hash, const std::string& key,
                                            const std::vector<ObjectPtr>& old) {
  BERTH_RETURN_IF_ERROR(manage(ds, nodes, hash));
  // Roll out only once the manage loop's actions were observed.
  if (expectations_.satisfied(key) &&
      api::strAt(ds, {"spec", "updateStrategy", "type"}) == "RollingUpdate")
    BERTH_RETURN_IF_ERROR(rollingUpdate(ds, nodes, hash));
  Status s = cleanupHistory(ds, old);
  if (!s.ok()) {
    Error e = s.error();
    e.message = "failed to clean up revisions of DaemonSet: " + e.message;
    return e;
  }
  return okStatus();
}

// ---- status ----

Status DaemonSetController::updateStatus(const Object& ds, const std::vector<ObjectPtr>& nodes,
                                         const std::string& hash, bool update_observed_generation) {
  auto by_node = getNodesToDaemonPods(ds, false);
  if (!by_node.ok()) {
    Error e = by_node.error();
    e.message = "couldn't get node to daemon pod mapping for daemon set \"" + api::name(ds) +
                "\": " + e.message;
    return e;
  }
  int64_t desired = 0, current = 0, misscheduled = 0, ready = 0, updated = 0, available = 0;
  int64_t min_ready = api::intAt(ds, {"spec", "minReadySeconds"}).value_or(0);
  auto now = clock_.now();
  for (const auto& node : nodes) {
    NodeShouldRun sr = nodeShouldRunDaemonPod(*node, ds);
    auto it = by_node->find(api::name(*node));
    bool scheduled = it != by_node->end() && !it->second.empty();
    if (sr.should_run) {
      ++desired;
      if (!scheduled) continue;
      ++current;
      // The oldest pod of the node stands for it.
      std::vector<ObjectPtr> pods = it->second;
      sortByCreationAndPhase(pods);
      const Object& pod = *pods.front();
      if (isPodReady(pod)) {
        ++ready;
        if (isPodAvailable(pod, min_ready, now)) ++available;
      }
      if (isPodUpdated(pod, hash, ds)) ++updated;
    } else if (scheduled) {
      ++misscheduled;
    }
  }
  int64_t unavailable = desired - available;

  const json::object* cur = api::objAt(ds, {"status"});
  json::object empty;
  const json::object& old_status = cur ? *cur : empty;
  int64_t generation = api::intAt(ds, {"metadata", "generation"}).value_or(0);
  bool unchanged = count(old_status, "desiredNumberScheduled") == desired &&
                   count(old_status, "currentNumberScheduled") == current &&
                   count(old_status, "numberMisscheduled") == misscheduled &&
                   count(old_status, "numberReady") == ready &&
                   count(old_status, "updatedNumberScheduled") == updated &&
                   count(old_status, "numberAvailable") == available &&
                   count(old_status, "numberUnavailable") == unavailable &&
                   count(old_status, "observedGeneration") >= generation;
  if (!unchanged) {
    Object obj = ds;
    for (int i = 0;; ++i) {
      json::object& status = api::ensureObject(obj, "status");
      if (update_observed_generation) status["observedGeneration"] = generation;
      status["desiredNumberScheduled"] = desired;
      status["currentNumberScheduled"] = current;
      status["numberMisscheduled"] = misscheduled;
      status["numberReady"] = ready;
      // omitempty fields.
      auto set_or_erase = [&](const char* k, int64_t v) {
        if (v == 0)
          status.erase(k);
        else
          status[k] = v;
      };
      set_or_erase("updatedNumberScheduled", updated);
      set_or_erase("numberAvailable", available);
      set_or_erase("numberUnavailable", unavailable);
      auto res = client_.update(ds_kind_, obj, client::Subresource::kStatus);
      if (res.ok()) break;
      if (i >= kStatusUpdateRetries) {
        Error e = res.error();
        e.message = "error storing status for daemon set " + client::keyOf(ds) + ": " + e.message;
        return e;
      }
      auto fresh = client_.get(ds_kind_, api::namespaceOf(ds), api::name(ds));
      if (!fresh.ok()) return fresh.error();
      obj = **fresh;
    }
  }
  // Resync after minReadySeconds as a last line of defence against clock
  // skew: ready pods become available without any event.
  if (min_ready > 0 && ready != available)
    loop_.enqueueAfter(client::keyOf(ds), std::chrono::seconds(min_ready));
  return okStatus();
}

// ---- sync ----

Status DaemonSetController::sync(const std::string& key) {
  std::string ns, name;
  client::splitKey(key, &ns, &name);
  ObjectPtr ds_ptr = ds_informer_.get(ns, name);
  if (!ds_ptr) {
    BERTH_LOG(kDebug, "controllers") << "daemon set deleted key=" << key;
    expectations_.deleteExpectations(key);
    return okStatus();
  }
  const Object& ds = *ds_ptr;
  std::vector<ObjectPtr> nodes = node_informer_.list();
  if (selectsEverything(ds)) {
    recorder_.record(ds, "Warning", kSelectingAllReason,
                     "This daemon set is selecting all pods. A non-empty selector is required.");
    return okStatus();
  }
  // A DaemonSet being deleted may have lost its history objects already;
  // its status cannot be computed reliably.
  if (hasDeletionTimestamp(ds)) return okStatus();

  auto history = constructHistory(ds);
  if (!history.ok()) {
    Error e = history.error();
    e.message = "failed to construct revisions of DaemonSet: " + e.message;
    return e;
  }
  std::string hash =
      api::strAt(*history->cur, {"metadata", "labels", kControllerRevisionHashLabel});

  if (!expectations_.satisfied(key)) {
    // Only status; observedGeneration is not raised for a generation that
    // was not acted on.
    return updateStatus(ds, nodes, hash, false);
  }
  Status err = updateDaemonSet(ds, nodes, hash, key, history->old);
  Status status_err = updateStatus(ds, nodes, hash, true);
  if (!err.ok()) {
    if (!status_err.ok())
      BERTH_LOG(kWarning, "controllers")
          << "failed to update status key=" << key << " err=" << status_err.error().message;
    return err;
  }
  return status_err;
}

}  // namespace berth::controllers
