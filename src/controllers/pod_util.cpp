#include "controllers/pod_util.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <numeric>

#include "api/kinds/access.h"
#include "api/object.h"
#include "api/selector.h"
#include "common/clock.h"

namespace berth::controllers {

namespace json = boost::json;
using api::Object;

std::optional<TimePoint> timeAt(const Object& obj, std::initializer_list<std::string_view> path) {
  const json::value* v = api::at(obj, path);
  if (!v || !v->is_string()) return std::nullopt;
  TimePoint t;
  if (!parseRfc3339(std::string(v->as_string()), &t)) return std::nullopt;
  return t;
}

TimePoint creationTime(const Object& obj) {
  return timeAt(obj, {"metadata", "creationTimestamp"}).value_or(TimePoint{});
}

bool hasDeletionTimestamp(const Object& obj) {
  const json::value* v = api::at(obj, {"metadata", "deletionTimestamp"});
  return v && !v->is_null();
}

std::string podKey(const Object& pod) {
  return api::strAt(pod, {"metadata", "namespace"}) + "/" + api::strAt(pod, {"metadata", "name"});
}

const json::object* controllerRef(const Object& obj) {
  const json::array* refs = api::arrAt(obj, {"metadata", "ownerReferences"});
  if (!refs) return nullptr;
  for (const auto& r : *refs) {
    const json::object* ref = r.if_object();
    if (!ref) continue;
    const json::value* c = ref->if_contains("controller");
    if (c && c->is_bool() && c->as_bool()) return ref;
  }
  return nullptr;
}

std::string controllerUid(const Object& obj) {
  const json::object* ref = controllerRef(obj);
  return ref ? api::strAt(*ref, {"uid"}) : std::string();
}

client::ObjectPtr resolveControllerRef(const client::Informer& owners, std::string_view kind,
                                       const std::string& ns, const json::object& ref) {
  if (api::strAt(ref, {"kind"}) != kind) return nullptr;
  client::ObjectPtr owner = owners.get(ns, api::strAt(ref, {"name"}));
  if (!owner || api::uid(*owner) != api::strAt(ref, {"uid"})) return nullptr;
  return owner;
}

std::vector<client::ObjectPtr> ownersSelecting(const client::Informer& owners, const Object& obj) {
  std::vector<client::ObjectPtr> out;
  const json::object* labels = api::objAt(obj, {"metadata", "labels"});
  for (const auto& owner : owners.listNamespace(api::namespaceOf(obj))) {
    auto sel = api::LabelSelector::fromObject(api::at(*owner, {"spec", "selector"}));
    if (!sel.ok() || sel->empty() || sel->matchesNothing() || !sel->matches(labels)) continue;
    out.push_back(owner);
  }
  return out;
}

std::string orphanPodIndexKey(std::string_view ns) { return "_ORPHAN_POD/" + std::string(ns); }

void addPodControllerUidIndex(client::Informer& pods) {
  pods.addIndex(kPodControllerUidIndex, [](const Object& pod) -> std::vector<std::string> {
    std::string uid = controllerUid(pod);
    if (!uid.empty()) return {uid};
    return {orphanPodIndexKey(api::namespaceOf(pod))};
  });
}

std::vector<client::ObjectPtr> ownedAndOrphanPods(const client::Informer& pods, const std::string& ns,
                                                  const std::string& uid) {
  std::vector<client::ObjectPtr> out = pods.byIndex(kPodControllerUidIndex, uid);
  std::vector<client::ObjectPtr> orphans = pods.byIndex(kPodControllerUidIndex, orphanPodIndexKey(ns));
  out.insert(out.end(), orphans.begin(), orphans.end());
  return out;
}

const json::object* podCondition(const Object& pod, std::string_view type) {
  const json::array* conds = api::arrAt(pod, {"status", "conditions"});
  if (!conds) return nullptr;
  for (const auto& c : *conds) {
    const json::object* cond = c.if_object();
    if (cond && api::strAt(*cond, {"type"}) == type) return cond;
  }
  return nullptr;
}

bool isPodReady(const Object& pod) {
  const json::object* c = podCondition(pod, "Ready");
  return c && api::strAt(*c, {"status"}) == "True";
}

bool isPodAvailable(const Object& pod, int64_t min_ready_seconds, TimePoint now) {
  if (!isPodReady(pod)) return false;
  if (min_ready_seconds == 0) return true;
  auto since = timeAt(*podCondition(pod, "Ready"), {"lastTransitionTime"});
  return since && *since + std::chrono::seconds(min_ready_seconds) < now;
}

bool isPodTerminal(const Object& pod) {
  std::string phase = api::strAt(pod, {"status", "phase"});
  return phase == "Succeeded" || phase == "Failed";
}

bool isPodActive(const Object& pod) { return !isPodTerminal(pod) && !hasDeletionTimestamp(pod); }

std::vector<client::ObjectPtr> filterActivePods(const std::vector<client::ObjectPtr>& pods) {
  std::vector<client::ObjectPtr> out;
  for (const auto& p : pods)
    if (p && isPodActive(*p)) out.push_back(p);
  return out;
}

int32_t podDeletionCost(const Object& pod) {
  const json::object* ann = api::objAt(pod, {"metadata", "annotations"});
  if (!ann) return 0;
  const json::value* v = ann->if_contains(kPodDeletionCostAnnotation);
  if (!v || !v->is_string()) return 0;
  std::string s(v->as_string());
  // validFirstDigit: no "+", no leading zeros except "0" itself.
  if (s.empty()) return 0;
  if (!(s[0] == '-' || s == "0" || (s[0] >= '1' && s[0] <= '9'))) return 0;
  errno = 0;
  char* end = nullptr;
  long long n = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end == s.c_str() || *end != '\0') return 0;
  if (n < INT32_MIN || n > INT32_MAX) return 0;
  return static_cast<int32_t>(n);
}

int64_t maxContainerRestarts(const Object& pod) {
  int64_t most = 0;
  const json::array* statuses = api::arrAt(pod, {"status", "containerStatuses"});
  if (!statuses) return 0;
  for (const auto& s : *statuses) {
    const json::object* st = s.if_object();
    if (!st) continue;
    most = std::max(most, api::intAt(*st, {"restartCount"}).value_or(0));
  }
  return most;
}

namespace {

// Phase ordinals of podPhaseToOrdinal; phases not listed (Succeeded, Failed,
// "") read as 0 like a Go map miss.
int phaseOrdinal(const Object& pod) {
  std::string phase = api::strAt(pod, {"status", "phase"});
  if (phase == "Unknown") return 1;
  if (phase == "Running") return 2;
  return 0;
}

// The lastTransitionTime of a Ready=True condition, else the zero time.
std::optional<TimePoint> podReadyTime(const Object& pod) {
  if (!isPodReady(pod)) return std::nullopt;
  return timeAt(*podCondition(pod, "Ready"), {"lastTransitionTime"});
}

// afterOrZero: t1 after t2, where the zero time counts as after everything.
bool afterOrZero(const std::optional<TimePoint>& t1, const std::optional<TimePoint>& t2) {
  if (!t1 || !t2) return !t1;
  return *t1 > *t2;
}

// logarithmicRankDiff: difference of floor(log2(now - t)) in nanoseconds;
// a non-positive age ranks -1.
int64_t logarithmicRankDiff(TimePoint t1, TimePoint t2, TimePoint now) {
  auto rank = [&](TimePoint t) -> int64_t {
    auto d = std::chrono::duration_cast<std::chrono::nanoseconds>(now - t).count();
    if (d <= 0) return -1;
    return static_cast<int64_t>(std::log2(static_cast<double>(d)));
  };
  return rank(t1) - rank(t2);
}

// Step 6 and 8 of Less: compares two differing times, exactly or in
// logarithmic buckets.
bool timeLess(const std::optional<TimePoint>& ti, const std::optional<TimePoint>& tj,
              const Object& a, const Object& b, TimePoint now) {
  if (now == TimePoint{} || !ti || !tj) return afterOrZero(ti, tj);
  int64_t diff = logarithmicRankDiff(*ti, *tj, now);
  if (diff == 0) return api::uid(a) < api::uid(b);
  return diff < 0;
}

}  // namespace

bool activePodsWithRanksLess(const Object& a, int rank_a, const Object& b, int rank_b,
                             TimePoint now) {
  // 1. Unassigned < assigned.
  std::string node_a = api::strAt(a, {"spec", "nodeName"});
  std::string node_b = api::strAt(b, {"spec", "nodeName"});
  if (node_a != node_b && (node_a.empty() || node_b.empty())) return node_a.empty();
  // 2. Pending < Unknown < Running.
  int pa = phaseOrdinal(a), pb = phaseOrdinal(b);
  if (pa != pb) return pa < pb;
  // 3. Not ready < ready.
  bool ra = isPodReady(a), rb = isPodReady(b);
  if (ra != rb) return !ra;
  // 4. Lower pod-deletion-cost < higher.
  int32_t ca = podDeletionCost(a), cb = podDeletionCost(b);
  if (ca != cb) return ca < cb;
  // 5. Doubled up < not doubled up.
  if (rank_a != rank_b) return rank_a > rank_b;
  // 6. Been ready for less time < more time.
  if (ra && rb) {
    auto ta = podReadyTime(a), tb = podReadyTime(b);
    if (ta != tb) return timeLess(ta, tb, a, b, now);
  }
  // 7. More restarts < fewer restarts.
  int64_t xa = maxContainerRestarts(a), xb = maxContainerRestarts(b);
  if (xa != xb) return xa > xb;
  // 8. Newer < older (empty creation time first).
  auto ca_t = timeAt(a, {"metadata", "creationTimestamp"});
  auto cb_t = timeAt(b, {"metadata", "creationTimestamp"});
  if (ca_t != cb_t) return timeLess(ca_t, cb_t, a, b, now);
  return false;
}

void sortActivePodsWithRanks(std::vector<client::ObjectPtr>& pods, std::vector<int>& ranks,
                             TimePoint now) {
  std::vector<size_t> idx(pods.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t i, size_t j) {
    return activePodsWithRanksLess(*pods[i], ranks[i], *pods[j], ranks[j], now);
  });
  std::vector<client::ObjectPtr> sorted_pods;
  std::vector<int> sorted_ranks;
  sorted_pods.reserve(pods.size());
  sorted_ranks.reserve(ranks.size());
  for (size_t i : idx) {
    sorted_pods.push_back(pods[i]);
    sorted_ranks.push_back(ranks[i]);
  }
  pods = std::move(sorted_pods);
  ranks = std::move(sorted_ranks);
}

}  // namespace berth::controllers
