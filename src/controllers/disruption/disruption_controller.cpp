#include "controllers/disruption/disruption_controller.h"

#include <algorithm>

#include "api/kinds/access.h"
#include "api/object.h"
#include "api/selector.h"
#include "common/log.h"
#include "controllers/pod_util.h"

namespace berth::controllers {

namespace json = boost::json;
using api::Object;
using client::ObjectPtr;

namespace {

constexpr char kDisruptionAllowed[] = "DisruptionAllowed";
constexpr char kDisruptionTarget[] = "DisruptionTarget";

// Exponential per-key backoff of upstream's DefaultControllerRateLimiter
// (5ms doubling, capped at 1000s).
std::chrono::milliseconds backoffFor(int failures) {
  int64_t ms = 5;
  for (int i = 0; i < failures && ms < 1000 * 1000; ++i) ms *= 2;
  return std::chrono::milliseconds(std::min<int64_t>(ms, 1000 * 1000));
}

std::chrono::milliseconds toDelay(std::chrono::nanoseconds d) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(d);
  return ms.count() < 0 ? std::chrono::milliseconds(0) : ms;
}

int64_t generationOf(const Object& obj) {
  return api::intAt(obj, {"metadata", "generation"}).value_or(0);
}

const json::object* findCondition(const json::object& status, std::string_view type) {
  const json::array* conds = api::arrAt(status, {"conditions"});
  if (!conds) return nullptr;
  for (const auto& c : *conds)
    if (const json::object* o = c.if_object(); o && api::strAt(*o, {"type"}) == type) return o;
  return nullptr;
}

// apimeta.SetStatusCondition: a new condition or a status change sets
// lastTransitionTime; reason, message and observedGeneration follow.
void setStatusCondition(json::object& status, const std::string& type,
                        const std::string& cond_status, const std::string& reason,
                        const std::string& message, int64_t observed_generation,
                        const std::string& now) {
  json::array& conds = api::ensureArray(status, "conditions");
  for (auto& c : conds) {
    json::object* o = c.if_object();
    if (!o || api::strAt(*o, {"type"}) != type) continue;
    if (api::strAt(*o, {"status"}) != cond_status) {
      (*o)["status"] = cond_status;
      (*o)["lastTransitionTime"] = now;
    }
    (*o)["reason"] = reason;
    (*o)["message"] = message;
    if (observed_generation != 0)
      (*o)["observedGeneration"] = observed_generation;
    else
      o->erase("observedGeneration");
    return;
  }
  json::object c{{"type", type}, {"status", cond_status}};
  if (observed_generation != 0) c["observedGeneration"] = observed_generation;
  c["lastTransitionTime"] = now;
  c["reason"] = reason;
  c["message"] = message;
  conds.push_back(std::move(c));
}

// pdbhelper.UpdateDisruptionAllowedCondition.
void updateDisruptionAllowedCondition(json::object& status, const std::string& now) {
  int64_t observed = api::intAt(status, {"observedGeneration"}).value_or(0);
  if (api::intAt(status, {"disruptionsAllowed"}).value_or(0) > 0)
    setStatusCondition(status, kDisruptionAllowed, "True", "SufficientPods", "", observed, now);
  else
    setStatusCondition(status, kDisruptionAllowed, "False", "InsufficientPods", "", observed, now);
}

// pdbhelper.ConditionsAreUpToDate.
bool conditionsAreUpToDate(const Object& pdb) {
  const json::object* status = api::objAt(pdb, {"status"});
  if (!status) return false;
  const json::object* cond = findCondition(*status, kDisruptionAllowed);
  if (!cond) return false;
  if (api::intAt(*status, {"observedGeneration"}).value_or(0) != generationOf(pdb)) return false;
  if (api::intAt(*status, {"disruptionsAllowed"}).value_or(0) > 0)
    return api::strAt(*cond, {"status"}) == "True" &&
           api::strAt(*cond, {"reason"}) == "SufficientPods";
  return api::strAt(*cond, {"status"}) == "False" &&
         api::strAt(*cond, {"reason"}) == "InsufficientPods";
}

// intstr.GetScaledValueFromIntOrPercent, with upstream's error texts.
Result<int64_t> scaledValue(const json::value* v, int64_t total, bool round_up) {
  if (!v || v->is_null()) return makeError(ErrorCode::kInternal, "nil value for IntOrString");
  if (auto i = api::asInt(v)) return *i;
  if (!v->is_string())
    return makeError(ErrorCode::kInternal,
                     "invalid value for IntOrString: invalid type: neither int nor percentage");
  std::string s(v->get_string());
  if (s.empty() || s.back() != '%')
    return makeError(ErrorCode::kInternal,
                     "invalid value for IntOrString: invalid type: string is not a percentage");
  std::string digits = s.substr(0, s.size() - 1);
  int64_t pct = 0;
  size_t used = 0;
  try {
    pct = std::stoll(digits, &used);
  } catch (...) {
    used = 0;
  }
  if (digits.empty() || used != digits.size())
    return makeError(ErrorCode::kInternal, "invalid value for IntOrString: invalid value \"" + s +
                                               "\": strconv.Atoi: parsing \"" + digits +
                                               "\": invalid syntax");
  // math.Ceil / math.Floor of pct * total / 100, in integers.
  int64_t num = pct * total;
  int64_t q = num / 100, r = num % 100;
  if (r != 0 && round_up && num > 0) ++q;
  if (r != 0 && !round_up && num < 0) --q;
  return q;
}

// The generated String() of a *metav1.LabelSelector, as upstream's
// UnmanagedPods event prints it with %v.
std::string goLabelSelectorString(const json::value* sel) {
  const json::object* o = api::asObj(sel);
  if (!o) return "nil";
  std::string labels = "map[string]string{";
  for (const auto& [k, v] : api::stringMap(api::at(*o, {"matchLabels"})))
    labels += k + ": " + v + ",";
  labels += "}";
  std::string exprs = "[]LabelSelectorRequirement{";
  if (const json::array* arr = api::arrAt(*o, {"matchExpressions"})) {
    for (const auto& e : *arr) {
      const json::object* r = e.if_object();
      if (!r) continue;
      std::string values = "[";
      if (const json::array* vs = api::arrAt(*r, {"values"}))
        for (size_t i = 0; i < vs->size(); ++i) values += (i ? " " : "") + api::asStr(&(*vs)[i]);
      values += "]";
      exprs += "LabelSelectorRequirement{Key:" + api::strAt(*r, {"key"}) +
               ",Operator:" + api::strAt(*r, {"operator"}) + ",Values:" + values + ",},";
    }
  }
  exprs += "}";
  return "&LabelSelector{MatchLabels:" + labels + ",MatchExpressions:" + exprs + ",}";
}

// schema.ParseGroupVersion's group.
Result<std::string> groupOf(const std::string& api_version) {
  auto slash = api_version.find('/');
  if (slash == std::string::npos) return std::string();
  if (api_version.find('/', slash + 1) != std::string::npos)
    return makeError(ErrorCode::kInternal, "unexpected GroupVersion string: " + api_version);
  return api_version.substr(0, slash);
}

// verifyGroupKind.
bool isGroupKind(const json::object& ref, std::string_view kind,
                 std::initializer_list<std::string_view> groups) {
  if (api::strAt(ref, {"kind"}) != kind) return false;
  auto g = groupOf(api::strAt(ref, {"apiVersion"}));
  if (!g.ok()) return false;
  return std::find(groups.begin(), groups.end(), *g) != groups.end();
}

int64_t replicasOf(const Object& obj) { return api::intAt(obj, {"spec", "replicas"}).value_or(1); }

}  // namespace

// Handlers registered with the shared informers capture this guard, not the
// controller: stop() clears it, so a late handler call does nothing.
struct DisruptionController::HandlerGuard {
  std::mutex mu;
  DisruptionController* self = nullptr;
};

DisruptionController::DisruptionController(client::Client& client,
                                           client::InformerFactory& informers,
                                           client::EventRecorder& recorder, Clock& clock,
                                           int workers)
    : client_(client),
      pdb_informer_(informers.forKind("policy", "PodDisruptionBudget")),
      pod_informer_(informers.forKind("", "Pod")),
      rc_informer_(informers.forKind("", "ReplicationController")),
      rs_informer_(informers.forKind("apps", "ReplicaSet")),
      deployment_informer_(informers.forKind("apps", "Deployment")),
      statefulset_informer_(informers.forKind("apps", "StatefulSet")),
      recorder_(recorder),
      clock_(clock),
      pdb_kind_(client::kind("policy", "PodDisruptionBudget")),
      pod_kind_(client::kind("", "Pod")),
      workers_count_(workers),
      guard_(std::make_shared<HandlerGuard>()) {
  guard_->self = this;
  registerHandlers();
}

DisruptionController::~DisruptionController() { stop(); }

void DisruptionController::registerHandlers() {
  std::weak_ptr<HandlerGuard> weak = guard_;
  auto call = [weak](auto&& fn) {
    if (auto g = weak.lock()) {
      std::lock_guard lock(g->mu);
      if (g->self) fn(g->self);
    }
  };
  client::EventHandlers pdb_handlers;
  pdb_handlers.on_add = [call](const ObjectPtr& o) {
    call([&](DisruptionController* c) { c->enqueuePdb(*o); });
  };
  pdb_handlers.on_update = [call](const ObjectPtr&, const ObjectPtr& o) {
    call([&](DisruptionController* c) { c->enqueuePdb(*o); });
  };
  pdb_handlers.on_delete = [call](const ObjectPtr& o) {
    call([&](DisruptionController* c) { c->enqueuePdb(*o); });
  };
  pdb_informer_.addHandlers(std::move(pdb_handlers));

  client::EventHandlers pod_handlers;
  pod_handlers.on_add = [call](const ObjectPtr& o) {
    call([&](DisruptionController* c) {
      c->onPod(o);
      c->enqueueStalePodDisruption(*o);
    });
  };
  pod_handlers.on_update = [call](const ObjectPtr&, const ObjectPtr& o) {
    call([&](DisruptionController* c) {
      c->onPod(o);
      c->enqueueStalePodDisruption(*o);
    });
  };
  pod_handlers.on_delete = [call](const ObjectPtr& o) {
    call([&](DisruptionController* c) { c->onPod(o); });
  };
  pod_informer_.addHandlers(std::move(pod_handlers));

  // Upstream reads the workloads only through listers and waits for a pod
  // event; a scale change alone (pods not yet created or deleted) moves
  // expectedPods too, so it enqueues the namespace's budgets here.
  for (client::Informer* inf :
       {&rc_informer_, &rs_informer_, &deployment_informer_, &statefulset_informer_}) {
    client::EventHandlers h;
    h.on_update = [call](const ObjectPtr& a, const ObjectPtr& b) {
      call([&](DisruptionController* c) { c->onWorkloadUpdate(a, b); });
    };
    inf->addHandlers(std::move(h));
  }
}

void DisruptionController::start() {
  std::lock_guard lock(mu_);
  if (starter_.joinable() || stopping_) return;
  starter_ = std::thread([this] {
    // WaitForNamedCacheSync over every lister the sync reads.
    std::vector<client::Informer*> all = {&pdb_informer_,        &pod_informer_,
                                          &rc_informer_,         &rs_informer_,
                                          &deployment_informer_, &statefulset_informer_};
    for (client::Informer* inf : all)
      while (!stopping_ && !inf->waitForSync(std::chrono::milliseconds(100))) {
      }
    std::lock_guard lock(mu_);
    if (stopping_) return;
    workers_ = std::make_unique<WorkerPool>(
        queue_, [this](const std::string& key) { processKey(queue_, key, false); }, workers_count_);
    stale_workers_ = std::make_unique<WorkerPool>(
        stale_queue_, [this](const std::string& key) { processKey(stale_queue_, key, true); }, 1);
    BERTH_LOG(kInfo, "controllers")
        << "started controller name=disruption workers=" << workers_count_;
  });
}

void DisruptionController::stop() {
  {
    std::lock_guard lock(guard_->mu);
    guard_->self = nullptr;
  }
  stopping_ = true;
  queue_.shutdown();
  stale_queue_.shutdown();
  if (starter_.joinable()) starter_.join();
  std::lock_guard lock(mu_);
  if (workers_) workers_->stop();
  if (stale_workers_) stale_workers_->stop();
  workers_.reset();
  stale_workers_.reset();
}

void DisruptionController::processKey(WorkQueue& queue, const std::string& key, bool stale) {
  Status s = stale ? syncStalePodDisruption(key) : sync(key);
  std::string failure_key = (stale ? "pod:" : "pdb:") + key;
  int n = 0;
  {
    std::lock_guard lock(state_mu_);
    if (s.ok()) {
      failures_.erase(failure_key);
      return;
    }
    n = failures_[failure_key]++;
  }
  BERTH_LOG(kWarning, "controllers")
      << "sync failed controller=disruption key=" << key << " err=" << s.error().message;
  queue.addAfter(key, backoffFor(n));
}

std::optional<std::chrono::system_clock::time_point> DisruptionController::recheckTime(
    const std::string& key) const {
  std::lock_guard lock(state_mu_);
  auto it = rechecks_.find(key);
  if (it == rechecks_.end()) return std::nullopt;
  return it->second;
}

// ---- handlers ----

void DisruptionController::enqueuePdb(const Object& pdb) { queue_.add(client::keyOf(pdb)); }

std::vector<ObjectPtr> DisruptionController::pdbsForPod(const Object& pod) const {
  // GetPodPodDisruptionBudgets: unlike the eviction handler, an empty
  // selector matches every pod here; a pod without labels matches none.
  std::vector<ObjectPtr> out;
  const json::object* labels = api::objAt(pod, {"metadata", "labels"});
  if (!labels || labels->empty()) return out;
  for (const auto& pdb : pdb_informer_.listNamespace(api::namespaceOf(pod))) {
    auto sel = api::LabelSelector::fromObject(api::at(*pdb, {"spec", "selector"}));
    if (!sel.ok() || !sel->matches(labels)) continue;
    out.push_back(pdb);
  }
  return out;
}

void DisruptionController::onPod(const ObjectPtr& pod) {
  auto pdbs = pdbsForPod(*pod);
  if (pdbs.empty()) return;
  if (pdbs.size() > 1) {
    std::string msg = "Pod \"" + api::namespaceOf(*pod) + "\"/\"" + api::name(*pod) +
                      "\" matches multiple PodDisruptionBudgets.  Chose \"" + api::name(*pdbs[0]) +
                      "\" arbitrarily.";
    recorder_.record(*pod, "Warning", "MultiplePodDisruptionBudgets", msg);
  }
  // Upstream enqueues only the first budget; every matching budget's
  // status depends on the pod, so all are synced.
  for (const auto& pdb : pdbs) enqueuePdb(*pdb);
}

void DisruptionController::onWorkloadUpdate(const ObjectPtr& old_obj, const ObjectPtr& cur_obj) {
  if (api::intAt(*old_obj, {"spec", "replicas"}) == api::intAt(*cur_obj, {"spec", "replicas"}))
    return;
  for (const auto& pdb : pdb_informer_.listNamespace(api::namespaceOf(*cur_obj))) enqueuePdb(*pdb);
}

void DisruptionController::enqueueStalePodDisruption(const Object& pod) {
  auto [has, clean_after] = staleDisruptionCondition(pod);
  if (has) stale_queue_.addAfter(client::keyOf(pod), toDelay(clean_after));
}

std::pair<bool, std::chrono::nanoseconds> DisruptionController::staleDisruptionCondition(
    const Object& pod) const {
  if (hasDeletionTimestamp(pod)) return {false, {}};
  // A condition set by the kubelet is never stale (the pod may take
  // arbitrarily long to terminate), nor is one on a terminal pod.
  const json::object* cond = podCondition(pod, kDisruptionTarget);
  if (!cond || api::strAt(*cond, {"status"}) != "True" ||
      api::strAt(*cond, {"reason"}) == "TerminationByKubelet" || isPodTerminal(pod))
    return {false, {}};
  std::chrono::system_clock::time_point since{};
  parseRfc3339(api::strAt(*cond, {"lastTransitionTime"}), &since);
  auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(kStalePodDisruptionTimeout) -
              std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.now() - since);
  if (wait.count() < 0) wait = {};
  return {true, wait};
}

// ---- sync ----

Result<std::vector<ObjectPtr>> DisruptionController::podsForPdb(const Object& pdb) const {
  BERTH_ASSIGN_OR_RETURN(auto sel,
                         api::LabelSelector::fromObject(api::at(pdb, {"spec", "selector"})));
  std::vector<ObjectPtr> pods;
  for (const auto& pod : pod_informer_.listNamespace(api::namespaceOf(pdb)))
    if (sel.matches(api::objAt(*pod, {"metadata", "labels"}))) pods.push_back(pod);
  return pods;
}

Status DisruptionController::sync(const std::string& key) {
  ObjectPtr pdb = pdb_informer_.get(key);
  if (!pdb) {
    std::lock_guard lock(state_mu_);
    rechecks_.erase(key);
    return okStatus();
  }
  Status s = trySync(*pdb, key);
  // A conflict only means the cache is behind: retry without failSafe.
  if (s.ok() || s.error().code == ErrorCode::kConflict) return s;
  BERTH_LOG(kWarning, "controllers")
      << "failed to sync pdb key=" << key << " err=" << s.error().message;
  return failSafe(*pdb, s.error());
}

Status DisruptionController::trySync(const Object& pdb, const std::string& key) {
  auto pods = podsForPdb(pdb);
  if (!pods.ok()) {
    recorder_.record(pdb, "Warning", "NoPods", "Failed to get pods: " + pods.error().message);
    return pods.error();
  }
  if (pods->empty()) recorder_.record(pdb, "Normal", "NoPods", "No matching pods found");

  auto expected = expectedPodCount(pdb, *pods);
  if (!expected.ok()) {
    recorder_.record(
        pdb, "Warning", "CalculateExpectedPodCountFailed",
        "Failed to calculate the number of expected pods: " + expected.error().message);
    return expected.error();
  }
  if (!expected->unmanaged_pods.empty()) {
    recorder_.record(
        pdb, "Warning", "UnmanagedPods",
        "Pods selected by this PodDisruptionBudget (selector: " +
            goLabelSelectorString(api::at(pdb, {"spec", "selector"})) +
            ") were found to be unmanaged. As a result, the status of the PDB cannot be calculated "
            "correctly, which may result in undefined behavior. To account for these pods please "
            "set "
            "\".spec.minAvailable\" field of the PDB to an integer value.");
  }

  // buildDisruptedPodMap: keep the eviction records of pods still there and
  // not yet being deleted, until kDeletionTimeout after the eviction.
  const auto now = clock_.now();
  json::object disrupted;
  std::optional<std::chrono::system_clock::time_point> recheck;
  std::map<std::string, std::chrono::system_clock::time_point> disrupted_at;
  if (const json::object* old = api::objAt(pdb, {"status", "disruptedPods"})) {
    for (const auto& pod : *pods) {
      if (hasDeletionTimestamp(*pod)) continue;
      const json::value* entry = old->if_contains(api::name(*pod));
      if (!entry) continue;
      std::chrono::system_clock::time_point at{};
      parseRfc3339(api::asStr(entry), &at);
      auto expected_deletion = at + kDeletionTimeout;
      if (expected_deletion < now) {
        // Upstream's message names the namespace twice; the budget's name
        // is what was meant.
        recorder_.record(*pod, "Warning", "NotDeleted",
                         "Pod was expected by PDB " + api::namespaceOf(pdb) + "/" + api::name(pdb) +
                             " to be deleted but it wasn't");
        continue;
      }
      if (!recheck || expected_deletion < *recheck) recheck = expected_deletion;
      disrupted[api::name(*pod)] = *entry;
      disrupted_at[api::name(*pod)] = at;
    }
  }

  // countHealthyPods.
  int64_t current_healthy = 0;
  for (const auto& pod : *pods) {
    if (hasDeletionTimestamp(*pod)) continue;
    auto it = disrupted_at.find(api::name(*pod));
    if (it != disrupted_at.end() && it->second + kDeletionTimeout > now) continue;
    if (isPodReady(*pod)) ++current_healthy;
  }

  // updatePdbStatus. expectedPods must be > 0 so that a budget matching no
  // pods yet is safe when its first pods appear before the next sync.
  int64_t allowed = current_healthy - expected->desired_healthy;
  if (expected->expected <= 0 || allowed <= 0) allowed = 0;
  const int64_t generation = generationOf(pdb);
  static const json::object kEmpty;
  const json::object* old_status = api::objAt(pdb, {"status"});
  const json::object& st = old_status ? *old_status : kEmpty;
  const json::object* old_disrupted = api::objAt(st, {"disruptedPods"});
  bool same_disrupted = old_disrupted ? *old_disrupted == disrupted : disrupted.empty();
  Status written = okStatus();
  if (!(api::intAt(st, {"currentHealthy"}).value_or(0) == current_healthy &&
        api::intAt(st, {"desiredHealthy"}).value_or(0) == expected->desired_healthy &&
        api::intAt(st, {"expectedPods"}).value_or(0) == expected->expected &&
        api::intAt(st, {"disruptionsAllowed"}).value_or(0) == allowed && same_disrupted &&
        api::intAt(st, {"observedGeneration"}).value_or(0) == generation &&
        conditionsAreUpToDate(pdb))) {
    json::object status;
    if (generation != 0) status["observedGeneration"] = generation;
    if (!disrupted.empty()) status["disruptedPods"] = disrupted;
    status["disruptionsAllowed"] = allowed;
    status["currentHealthy"] = current_healthy;
    status["desiredHealthy"] = expected->desired_healthy;
    status["expectedPods"] = expected->expected;
    if (const json::array* conds = api::arrAt(st, {"conditions"})) status["conditions"] = *conds;
    updateDisruptionAllowedCondition(status, formatRfc3339(now));
    written = writeStatus(pdb, std::move(status));
  }

  std::lock_guard lock(state_mu_);
  if (written.ok() && recheck) {
    // At most one recheck per budget waits; the earliest wins.
    rechecks_[key] = *recheck;
    queue_.addAfter(key, toDelay(*recheck - now));
  } else {
    rechecks_.erase(key);
  }
  return written;
}

Result<DisruptionController::ExpectedCount> DisruptionController::expectedPodCount(
    const Object& pdb, const std::vector<ObjectPtr>& pods) {
  ExpectedCount out;
  const json::value* max_unavailable = api::at(pdb, {"spec", "maxUnavailable"});
  const json::value* min_available = api::at(pdb, {"spec", "minAvailable"});
  if (max_unavailable && !max_unavailable->is_null()) {
    BERTH_ASSIGN_OR_RETURN(out.expected, expectedScale(pods, &out.unmanaged_pods));
    BERTH_ASSIGN_OR_RETURN(int64_t max, scaledValue(max_unavailable, out.expected, true));
    out.desired_healthy = std::max<int64_t>(0, out.expected - max);
  } else if (min_available && !min_available->is_null()) {
    if (auto n = api::asInt(min_available)) {
      // An integer minAvailable needs no controllers: the matching pods
      // are what is expected.
      out.desired_healthy = *n;
      out.expected = static_cast<int64_t>(pods.size());
    } else if (min_available->is_string()) {
      BERTH_ASSIGN_OR_RETURN(out.expected, expectedScale(pods, &out.unmanaged_pods));
      BERTH_ASSIGN_OR_RETURN(out.desired_healthy, scaledValue(min_available, out.expected, true));
    }
  }
  return out;
}

Result<int64_t> DisruptionController::expectedScale(const std::vector<ObjectPtr>& pods,
                                                    std::vector<std::string>* unmanaged) {
  // The fraction's denominator is the sum of the scales of the pods'
  // controllers; a pod without a controller cannot be accounted for.
  std::map<std::string, int64_t> controller_scale;
  for (const auto& pod : pods) {
    const json::object* ref = controllerRef(*pod);
    if (!ref) {
      unmanaged->push_back(api::name(*pod));
      continue;
    }
    if (controller_scale.count(api::strAt(*ref, {"uid"}))) continue;
    BERTH_ASSIGN_OR_RETURN(auto found, findController(*ref, api::namespaceOf(*pod)));
    if (!found)
      return makeError(ErrorCode::kInternal,
                       "found no controllers for pod \"" + api::name(*pod) + "\"");
    controller_scale[found->uid] = found->scale;
  }
  int64_t total = 0;
  for (const auto& [uid, scale] : controller_scale) total += scale;
  return total;
}

Result<std::optional<DisruptionController::ControllerAndScale>>
DisruptionController::findController(const json::object& ref, const std::string& ns) {
  using Found = std::optional<ControllerAndScale>;
  const std::string name = api::strAt(ref, {"name"});
  const std::string uid = api::strAt(ref, {"uid"});
  // upstream finders(), in order: ReplicationController, Deployment (via
  // its ReplicaSet), ReplicaSet not owned by a Deployment, StatefulSet, and
  // the scale subresource of anything else.
  if (isGroupKind(ref, "ReplicationController", {""})) {
    if (ObjectPtr rc = rc_informer_.get(ns, name); rc && api::uid(*rc) == uid)
      return Found(ControllerAndScale{uid, replicasOf(*rc)});
  }
  if (isGroupKind(ref, "ReplicaSet", {"apps", "extensions"})) {
    if (ObjectPtr rs = rs_informer_.get(ns, name); rs && api::uid(*rs) == uid) {
      const json::object* rs_ref = controllerRef(*rs);
      if (rs_ref && isGroupKind(*rs_ref, "Deployment", {"apps", "extensions"})) {
        ObjectPtr d = deployment_informer_.get(ns, api::strAt(*rs_ref, {"name"}));
        if (d && api::uid(*d) == api::strAt(*rs_ref, {"uid"}))
          return Found(ControllerAndScale{api::uid(*d), replicasOf(*d)});
      }
      if (!rs_ref || api::strAt(*rs_ref, {"kind"}) != "Deployment")
        return Found(ControllerAndScale{uid, replicasOf(*rs)});
    }
  }
  if (isGroupKind(ref, "StatefulSet", {"apps"})) {
    if (ObjectPtr ss = statefulset_informer_.get(ns, name); ss && api::uid(*ss) == uid)
      return Found(ControllerAndScale{uid, replicasOf(*ss)});
  }
  // getScaleController: the owner's scale through the API.
  const std::string api_version = api::strAt(ref, {"apiVersion"});
  BERTH_ASSIGN_OR_RETURN(std::string group, groupOf(api_version));
  std::string version = api_version.substr(
      api_version.find('/') == std::string::npos ? 0 : api_version.find('/') + 1);
  const std::string kind_name = api::strAt(ref, {"kind"});
  const api::KindInfo* kind = api::KindRegistry::builtin().byKind(group, version, kind_name);
  if (!kind)
    return makeError(ErrorCode::kInternal, "no matches for kind \"" + kind_name +
                                               "\" in version \"" + api_version + "\"");
  if (!kind->has_scale)
    return makeError(ErrorCode::kInternal,
                     (group.empty() ? kind->resource : kind->resource + "." + group) +
                         " does not implement the scale subresource");
  auto owner = client_.get(*kind, ns, name);
  if (!owner.ok()) {
    if (owner.error().code == ErrorCode::kNotFound) return Found();
    return owner.error();
  }
  if (api::uid(**owner) != uid) return Found();
  return Found(ControllerAndScale{uid, replicasOf(**owner)});
}

Status DisruptionController::failSafe(const Object& pdb, const Error& err) {
  // Fail open on the eviction side: with disruptionsAllowed at 0 the
  // eviction handler refuses evictions this controller could not vouch for.
  json::object status;
  if (const json::object* old = api::objAt(pdb, {"status"})) status = *old;
  status["disruptionsAllowed"] = 0;
  setStatusCondition(status, kDisruptionAllowed, "False", "SyncFailed", err.message,
                     api::intAt(status, {"observedGeneration"}).value_or(0),
                     formatRfc3339(clock_.now()));
  return writeStatus(pdb, std::move(status));
}

Status DisruptionController::writeStatus(const Object& pdb, json::object status) {
  // One attempt: a failure is retried through the queue with backoff.
  Object next = pdb;
  next["status"] = std::move(status);
  auto res = client_.update(pdb_kind_, std::move(next), client::Subresource::kStatus);
  if (!res.ok()) return res.error();
  return okStatus();
}

Status DisruptionController::syncStalePodDisruption(const std::string& key) {
  ObjectPtr pod = pod_informer_.get(key);
  if (!pod) return okStatus();
  auto [has, clean_after] = staleDisruptionCondition(*pod);
  if (!has) return okStatus();
  if (clean_after.count() > 0) {
    stale_queue_.addAfter(key, toDelay(clean_after));
    return okStatus();
  }
  // UpdatePodCondition with {DisruptionTarget, False}: reason and message go.
  Object next = *pod;
  json::array& conds = api::ensureArray(api::ensureObject(next, "status"), "conditions");
  for (auto& c : conds) {
    json::object* o = c.if_object();
    if (!o || api::strAt(*o, {"type"}) != kDisruptionTarget) continue;
    c = json::object{{"type", kDisruptionTarget},
                     {"status", "False"},
                     {"lastProbeTime", nullptr},
                     {"lastTransitionTime", formatRfc3339(clock_.now())}};
    break;
  }
  auto res = client_.update(pod_kind_, std::move(next), client::Subresource::kStatus);
  if (!res.ok()) return res.error();
  BERTH_LOG(kInfo, "controllers") << "reset stale DisruptionTarget condition to False pod=" << key;
  return okStatus();
}

}  // namespace berth::controllers
