#include "controllers/deployment/deployment_util.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <map>

#include "api/kinds/access.h"
#include "api/object.h"
#include "common/clock.h"
#include "controllers/pod_util.h"

namespace berth::controllers::deploymentutil {

namespace json = boost::json;
using api::Object;

namespace {

constexpr int64_t kMaxInt32 = 2147483647;

// strconv.ParseInt(s, 10, bits) without leniency: an optional sign, digits.
std::optional<int64_t> parseInt(std::string_view s, int bits = 64) {
  if (s.empty()) return std::nullopt;
  std::string str(s);
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(str.c_str(), &end, 10);
  if (errno != 0 || end != str.c_str() + str.size()) return std::nullopt;
  if (std::isspace(static_cast<unsigned char>(str[0]))) return std::nullopt;
  if (bits == 32 && (v < INT32_MIN || v > INT32_MAX)) return std::nullopt;
  return v;
}

const json::value* rollingField(const Object& d, std::string_view field) {
  return api::at(d, {"spec", "strategy", "rollingUpdate", field});
}

// apps/v1 SetDefaults_Deployment: absent maxSurge / maxUnavailable are 25%.
json::value rollingValue(const Object& d, std::string_view field) {
  const json::value* v = rollingField(d, field);
  if (!v || v->is_null()) return json::value("25%");
  return *v;
}

// Removes nulls and empty objects / arrays, which Semantic.DeepEqual treats
// like absent (nil) values.
json::value normalized(const json::value& v) {
  if (const json::object* o = v.if_object()) {
    json::object out;
    for (const auto& [k, val] : *o) {
      json::value n = normalized(val);
      if (n.is_null()) continue;
      if (n.is_object() && n.as_object().empty()) continue;
      if (n.is_array() && n.as_array().empty()) continue;
      out[k] = std::move(n);
    }
    return out;
  }
  if (const json::array* a = v.if_array()) {
    json::array out;
    for (const auto& e : *a) out.push_back(normalized(e));
    return out;
  }
  return v;
}

bool creationLess(const ObjectPtr& a, const ObjectPtr& b) {
  TimePoint ta = creationTime(*a), tb = creationTime(*b);
  if (ta == tb) return api::name(*a) < api::name(*b);
  return ta < tb;
}

}  // namespace

// ---- hash ----

uint32_t fnv32a(std::string_view data, uint32_t seed) {
  uint32_t h = seed;
  for (unsigned char c : data) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

std::string safeEncodeString(std::string_view s) {
  static constexpr char kAlphanums[] = "bcdfghjklmnpqrstvwxz2456789";
  constexpr int kLen = sizeof(kAlphanums) - 1;
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) out.push_back(kAlphanums[c % kLen]);
  return out;
}

std::string canonicalJson(const json::value& v) {
  if (const json::object* o = v.if_object()) {
    std::vector<std::string_view> keys;
    for (const auto& kv : *o) keys.push_back(kv.key());
    std::sort(keys.begin(), keys.end());
    std::string out = "{";
    for (size_t i = 0; i < keys.size(); ++i) {
      if (i) out += ",";
      out += json::serialize(json::string(keys[i]));
      out += ":";
      out += canonicalJson(o->at(keys[i]));
    }
    return out + "}";
  }
  if (const json::array* a = v.if_array()) {
    std::string out = "[";
    for (size_t i = 0; i < a->size(); ++i) {
      if (i) out += ",";
      out += canonicalJson((*a)[i]);
    }
    return out + "]";
  }
  return json::serialize(v);
}

std::string computeHash(const json::object& pod_template, std::optional<int64_t> collision_count) {
  uint32_t h = fnv32a(canonicalJson(pod_template));
  if (collision_count) {
    // binary.LittleEndian.PutUint32 into an 8-byte buffer: 4 bytes, 4 zeros.
    uint32_t c = static_cast<uint32_t>(*collision_count);
    char bytes[8] = {static_cast<char>(c & 0xff),
                     static_cast<char>((c >> 8) & 0xff),
                     static_cast<char>((c >> 16) & 0xff),
                     static_cast<char>((c >> 24) & 0xff),
                     0,
                     0,
                     0,
                     0};
    h = fnv32a(std::string_view(bytes, 8), h);
  }
  return safeEncodeString(std::to_string(h));
}

// ---- spec accessors ----

int64_t replicas(const Object& obj) { return api::intAt(obj, {"spec", "replicas"}).value_or(1); }
int64_t minReadySeconds(const Object& obj) {
  return api::intAt(obj, {"spec", "minReadySeconds"}).value_or(0);
}

bool isRollingUpdate(const Object& d) {
  std::string type = api::strAt(d, {"spec", "strategy", "type"});
  return type.empty() || type == "RollingUpdate";
}

bool isPaused(const Object& d) { return api::boolAt(d, {"spec", "paused"}).value_or(false); }

bool hasProgressDeadline(const Object& d) {
  auto v = api::intAt(d, {"spec", "progressDeadlineSeconds"});
  return v && *v != kMaxInt32;
}

int64_t progressDeadlineSeconds(const Object& d) {
  return api::intAt(d, {"spec", "progressDeadlineSeconds"}).value_or(0);
}

bool hasRevisionHistoryLimit(const Object& d) {
  auto v = api::intAt(d, {"spec", "revisionHistoryLimit"});
  return v && *v != kMaxInt32;
}

std::optional<int64_t> collisionCount(const Object& d) {
  return api::intAt(d, {"status", "collisionCount"});
}

Result<int64_t> scaledValueFromIntOrPercent(const json::value* v, int64_t total, bool round_up) {
  if (!v || v->is_null()) return makeError(ErrorCode::kInvalid, "nil value for IntOrString");
  if (auto i = api::asInt(v)) return *i;
  if (!v->is_string()) {
    return makeError(ErrorCode::kInvalid,
                     "invalid value for IntOrString: invalid type: neither int nor percentage");
  }
  std::string s(v->as_string());
  if (s.empty() || s.back() != '%') {
    return makeError(ErrorCode::kInvalid,
                     "invalid value for IntOrString: invalid type: string is not a percentage");
  }
  auto n = parseInt(std::string_view(s).substr(0, s.size() - 1));
  if (!n) {
    return makeError(ErrorCode::kInvalid,
                     "invalid value for IntOrString: invalid value \"" + s + "\"");
  }
  double scaled = static_cast<double>(*n) * static_cast<double>(total) / 100.0;
  return static_cast<int64_t>(round_up ? std::ceil(scaled) : std::floor(scaled));
}

Result<std::pair<int64_t, int64_t>> resolveFenceposts(const json::value* max_surge,
                                                      const json::value* max_unavailable,
                                                      int64_t desired) {
  json::value zero(0);
  BERTH_ASSIGN_OR_RETURN(
      int64_t surge, scaledValueFromIntOrPercent(
                         max_surge && !max_surge->is_null() ? max_surge : &zero, desired, true));
  BERTH_ASSIGN_OR_RETURN(
      int64_t unavailable,
      scaledValueFromIntOrPercent(
          max_unavailable && !max_unavailable->is_null() ? max_unavailable : &zero, desired,
          false));
  // Validation forbids 0/0, but rounding down can produce it; surge may be
  // blocked by quota, so allow one unavailable instead.
  if (surge == 0 && unavailable == 0) unavailable = 1;
  return std::make_pair(surge, unavailable);
}

int64_t maxSurge(const Object& d) {
  if (!isRollingUpdate(d)) return 0;
  json::value s = rollingValue(d, "maxSurge"), u = rollingValue(d, "maxUnavailable");
  auto r = resolveFenceposts(&s, &u, replicas(d));
  return r.ok() ? r->first : 0;
}

int64_t maxUnavailable(const Object& d) {
  if (!isRollingUpdate(d) || replicas(d) == 0) return 0;
  json::value s = rollingValue(d, "maxSurge"), u = rollingValue(d, "maxUnavailable");
  auto r = resolveFenceposts(&s, &u, replicas(d));
  if (!r.ok()) return 0;
  return std::min(r->second, replicas(d));
}

// ---- annotations ----

std::string annotation(const Object& obj, std::string_view key) {
  return api::strAt(obj, {"metadata", "annotations", key});
}

void setAnnotation(Object& obj, std::string_view key, const std::string& value) {
  api::ensureObject(api::mutableMetadata(obj), "annotations")[key] = value;
}

Result<int64_t> revision(const Object& obj) {
  const json::value* v = api::at(obj, {"metadata", "annotations", kRevisionAnnotation});
  if (!v || !v->is_string()) return int64_t{0};
  auto n = parseInt(v->as_string());
  if (!n) {
    return makeError(ErrorCode::kInvalid, "strconv.ParseInt: parsing \"" +
                                              std::string(v->as_string()) + "\": invalid syntax");
  }
  return *n;
}

int64_t maxRevision(const std::vector<ObjectPtr>& rss) {
  int64_t most = 0;
  for (const auto& rs : rss) {
    if (!rs) continue;
    auto v = revision(*rs);
    if (v.ok() && *v > most) most = *v;
  }
  return most;
}

int64_t lastRevision(const std::vector<ObjectPtr>& rss) {
  int64_t most = 0, second = 0;
  for (const auto& rs : rss) {
    if (!rs) continue;
    auto v = revision(*rs);
    if (!v.ok()) continue;
    if (*v >= most) {
      second = most;
      most = *v;
    } else if (*v > second) {
      second = *v;
    }
  }
  return second;
}

std::optional<int64_t> rollbackTo(const Object& d) {
  std::string v = annotation(d, kRollbackToAnnotation);
  if (v.empty()) return std::nullopt;
  return parseInt(v);
}

void clearRollbackTo(Object& d) {
  json::object* meta = d.contains("metadata") ? d["metadata"].if_object() : nullptr;
  if (!meta) return;
  if (json::object* ann =
          meta->contains("annotations") ? (*meta)["annotations"].if_object() : nullptr)
    ann->erase(kRollbackToAnnotation);
}

bool setDeploymentRevision(Object& d, const std::string& rev) {
  if (annotation(d, kRevisionAnnotation) == rev) return false;
  setAnnotation(d, kRevisionAnnotation, rev);
  return true;
}

bool skipCopyAnnotation(std::string_view key) {
  return key == kLastAppliedConfigAnnotation || key == kRevisionAnnotation ||
         key == kRevisionHistoryAnnotation || key == kDesiredReplicasAnnotation ||
         key == kMaxReplicasAnnotation || key == kRollbackToAnnotation;
}

namespace {

bool copyDeploymentAnnotationsToReplicaSet(const Object& d, Object& rs) {
  bool changed = false;
  json::object& rs_ann = api::ensureObject(api::mutableMetadata(rs), "annotations");
  const json::object* d_ann = api::objAt(d, {"metadata", "annotations"});
  if (!d_ann) return false;
  for (const auto& [k, v] : *d_ann) {
    const json::value* cur = rs_ann.if_contains(k);
    if (skipCopyAnnotation(k) || (cur && *cur == v)) continue;
    rs_ann[k] = v;
    changed = true;
  }
  return changed;
}

}  // namespace

bool setNewReplicaSetAnnotations(const Object& d, Object& rs, const std::string& new_revision,
                                 bool exists, size_t max_history_chars) {
  bool changed = copyDeploymentAnnotationsToReplicaSet(d, rs);
  json::object& ann = api::ensureObject(api::mutableMetadata(rs), "annotations");
  const json::value* old_v = ann.if_contains(kRevisionAnnotation);
  bool had_revision = old_v != nullptr;
  std::string old_revision = old_v && old_v->is_string() ? std::string(old_v->as_string()) : "";
  int64_t old_int = 0;
  if (auto n = parseInt(old_revision))
    old_int = *n;
  else if (!old_revision.empty())
    return false;  // garbage revision: leave it alone
  auto new_int = parseInt(new_revision);
  if (!new_int) return false;
  if (old_int < *new_int) {
    ann[kRevisionAnnotation] = new_revision;
    changed = true;
  }
  // A replica set that had a revision and gets a newer one is being rolled
  // back to: keep the old revisions for `kubectl rollout history`.
  if (had_revision && old_int < *new_int) {
    std::string history = api::strAt(ann, {kRevisionHistoryAnnotation});
    if (history.empty()) {
      ann[kRevisionHistoryAnnotation] = old_revision;
    } else {
      std::vector<std::string> olds;
      size_t start = 0;
      while (true) {
        size_t comma = history.find(',', start);
        olds.push_back(
            history.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      size_t total = history.size() + old_revision.size() + 1;
      size_t first = 0;
      while (total > max_history_chars && first < olds.size()) {
        total -= olds[first].size() + 1;
        ++first;
      }
      if (total <= max_history_chars) {
        std::string joined;
        for (size_t i = first; i < olds.size(); ++i) joined += olds[i] + ",";
        joined += old_revision;
        ann[kRevisionHistoryAnnotation] = joined;
      }
    }
  }
  if (!exists && setReplicasAnnotations(rs, replicas(d), replicas(d) + maxSurge(d))) changed = true;
  return changed;
}

void setDeploymentAnnotationsTo(Object& d, const Object& rollback_to_rs) {
  json::object kept;
  if (const json::object* cur = api::objAt(d, {"metadata", "annotations"}))
    for (const auto& [k, v] : *cur)
      if (skipCopyAnnotation(k)) kept[k] = v;
  if (const json::object* from = api::objAt(rollback_to_rs, {"metadata", "annotations"}))
    for (const auto& [k, v] : *from)
      if (!skipCopyAnnotation(k)) kept[k] = v;
  api::mutableMetadata(d)["annotations"] = std::move(kept);
}

bool setReplicasAnnotations(Object& rs, int64_t desired, int64_t max_replicas) {
  bool updated = false;
  json::object& ann = api::ensureObject(api::mutableMetadata(rs), "annotations");
  std::string d = std::to_string(desired), m = std::to_string(max_replicas);
  if (api::strAt(ann, {kDesiredReplicasAnnotation}) != d ||
      !ann.contains(kDesiredReplicasAnnotation)) {
    ann[kDesiredReplicasAnnotation] = d;
    updated = true;
  }
  if (api::strAt(ann, {kMaxReplicasAnnotation}) != m || !ann.contains(kMaxReplicasAnnotation)) {
    ann[kMaxReplicasAnnotation] = m;
    updated = true;
  }
  return updated;
}

bool replicasAnnotationsNeedUpdate(const Object& rs, int64_t desired, int64_t max_replicas) {
  const json::object* ann = api::objAt(rs, {"metadata", "annotations"});
  if (!ann) return true;
  if (!ann->contains(kDesiredReplicasAnnotation) ||
      api::strAt(*ann, {kDesiredReplicasAnnotation}) != std::to_string(desired))
    return true;
  if (!ann->contains(kMaxReplicasAnnotation) ||
      api::strAt(*ann, {kMaxReplicasAnnotation}) != std::to_string(max_replicas))
    return true;
  return false;
}

std::optional<int64_t> intAnnotation(const Object& rs, std::string_view key) {
  const json::value* v = api::at(rs, {"metadata", "annotations", key});
  if (!v || !v->is_string()) return std::nullopt;
  return parseInt(v->as_string(), 32);
}

// ---- selection ----

bool equalIgnoreHash(const json::object& t1, const json::object& t2) {
  auto l1 = api::stringMap(api::at(t1, {"metadata", "labels"}));
  auto l2 = api::stringMap(api::at(t2, {"metadata", "labels"}));
  if (l1.size() > l2.size()) std::swap(l1, l2);
  // Go reads a missing key as "": mirror that comparison exactly.
  for (const auto& [k, v] : l2) {
    auto it = l1.find(k);
    std::string other = it == l1.end() ? "" : it->second;
    if (other != v && k != kPodTemplateHashLabel) return false;
  }
  json::object a = t1, b = t2;
  if (json::object* m = a.contains("metadata") ? a["metadata"].if_object() : nullptr)
    m->erase("labels");
  if (json::object* m = b.contains("metadata") ? b["metadata"].if_object() : nullptr)
    m->erase("labels");
  return normalized(a) == normalized(b);
}

ObjectPtr findNewReplicaSet(const Object& d, std::vector<ObjectPtr> rss) {
  const json::object* tmpl = api::objAt(d, {"spec", "template"});
  json::object empty;
  sortByCreation(rss);
  for (const auto& rs : rss) {
    const json::object* rt = api::objAt(*rs, {"spec", "template"});
    // Several equal replica sets can exist after upgrades (upstream
    // #40415): the oldest wins, deterministically.
    if (equalIgnoreHash(rt ? *rt : empty, tmpl ? *tmpl : empty)) return rs;
  }
  return nullptr;
}

std::pair<std::vector<ObjectPtr>, std::vector<ObjectPtr>> findOldReplicaSets(
    const Object& d, const std::vector<ObjectPtr>& rss) {
  std::vector<ObjectPtr> required, all;
  ObjectPtr new_rs = findNewReplicaSet(d, rss);
  for (const auto& rs : rss) {
    if (new_rs && api::uid(*rs) == api::uid(*new_rs)) continue;
    all.push_back(rs);
    if (replicas(*rs) != 0) required.push_back(rs);
  }
  return {required, all};
}

std::vector<ObjectPtr> filterActiveReplicaSets(const std::vector<ObjectPtr>& rss) {
  std::vector<ObjectPtr> out;
  for (const auto& rs : rss)
    if (rs && replicas(*rs) > 0) out.push_back(rs);
  return out;
}

ObjectPtr findActiveOrLatest(const ObjectPtr& new_rs, std::vector<ObjectPtr>& old_rss) {
  if (!new_rs && old_rss.empty()) return nullptr;
  sortByCreation(old_rss);
  std::reverse(old_rss.begin(), old_rss.end());
  std::vector<ObjectPtr> all = old_rss;
  all.push_back(new_rs);
  std::vector<ObjectPtr> active = filterActiveReplicaSets(all);
  switch (active.size()) {
    case 0:
      // None active: the newest.
      return new_rs ? new_rs : old_rss.front();
    case 1:
      return active.front();
    default:
      return nullptr;
  }
}

namespace {
int64_t sumOf(const std::vector<ObjectPtr>& rss, std::initializer_list<std::string_view> path,
              int64_t fallback) {
  int64_t total = 0;
  for (const auto& rs : rss)
    if (rs) total += api::intAt(*rs, path).value_or(fallback);
  return total;
}
}  // namespace

int64_t replicaCount(const std::vector<ObjectPtr>& rss) {
  int64_t total = 0;
  for (const auto& rs : rss)
    if (rs) total += replicas(*rs);
  return total;
}
int64_t actualReplicaCount(const std::vector<ObjectPtr>& rss) {
  return sumOf(rss, {"status", "replicas"}, 0);
}
int64_t readyReplicaCount(const std::vector<ObjectPtr>& rss) {
  return sumOf(rss, {"status", "readyReplicas"}, 0);
}
int64_t availableReplicaCount(const std::vector<ObjectPtr>& rss) {
  return sumOf(rss, {"status", "availableReplicas"}, 0);
}

void sortByCreation(std::vector<ObjectPtr>& rss) {
  std::stable_sort(rss.begin(), rss.end(), creationLess);
}

void sortBySizeOlder(std::vector<ObjectPtr>& rss) {
  std::stable_sort(rss.begin(), rss.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
    if (replicas(*a) == replicas(*b)) return creationLess(a, b);
    return replicas(*a) > replicas(*b);
  });
}

void sortBySizeNewer(std::vector<ObjectPtr>& rss) {
  std::stable_sort(rss.begin(), rss.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
    if (replicas(*a) == replicas(*b)) return creationLess(b, a);
    return replicas(*a) > replicas(*b);
  });
}

void sortByRevision(std::vector<ObjectPtr>& rss) {
  std::stable_sort(rss.begin(), rss.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
    auto ra = revision(*a), rb = revision(*b);
    if (!ra.ok() || !rb.ok() || *ra == *rb) return creationLess(a, b);
    return *ra < *rb;
  });
}

// ---- scaling ----

bool isSaturated(const Object& d, const ObjectPtr& rs) {
  if (!rs) return false;
  const json::value* v = api::at(*rs, {"metadata", "annotations", kDesiredReplicasAnnotation});
  if (!v || !v->is_string()) return false;
  auto desired = parseInt(v->as_string());
  if (!desired) return false;
  int64_t want = replicas(d);
  return replicas(*rs) == want && *desired == want &&
         api::intAt(*rs, {"status", "availableReplicas"}).value_or(0) == want;
}

Result<int64_t> newRSNewReplicas(const Object& d, const std::vector<ObjectPtr>& all_rss,
                                 const Object& new_rs) {
  std::string type = api::strAt(d, {"spec", "strategy", "type"});
  if (type.empty() || type == "RollingUpdate") {
    json::value surge_v = rollingValue(d, "maxSurge");
    BERTH_ASSIGN_OR_RETURN(int64_t surge, scaledValueFromIntOrPercent(&surge_v, replicas(d), true));
    int64_t current = replicaCount(all_rss);
    int64_t max_total = replicas(d) + surge;
    if (current >= max_total) return replicas(new_rs);  // Cannot scale up.
    int64_t up = std::min(max_total - current, replicas(d) - replicas(new_rs));
    return replicas(new_rs) + up;
  }
  if (type == "Recreate") return replicas(d);
  return makeError(ErrorCode::kInvalid, "deployment type " + type + " isn't supported");
}

int64_t getProportion(const Object& rs, const Object& d, int64_t to_add, int64_t added) {
  if (replicas(rs) == 0 || to_add == 0 || to_add == added) return 0;
  int64_t fraction;
  if (replicas(d) == 0) {
    // Scaling down to zero: the whole replica set goes.
    fraction = -replicas(rs);
  } else {
    int64_t deployment_replicas = replicas(d) + maxSurge(d);
    auto annotated = intAnnotation(rs, kMaxReplicasAnnotation);
    // Without the annotation fall back to the current size; the min/max
    // below keep the result within bounds anyway.
    int64_t base = annotated ? *annotated : api::intAt(d, {"status", "replicas"}).value_or(0);
    if (base <= 0) return 0;
    double size =
        static_cast<double>(replicas(rs) * deployment_replicas) / static_cast<double>(base);
    fraction = static_cast<int64_t>(std::llround(size)) - replicas(rs);
  }
  int64_t allowed = to_add - added;
  return to_add > 0 ? std::min(fraction, allowed) : std::max(fraction, allowed);
}

// ---- conditions ----

const json::object* getCondition(const json::object& status, std::string_view type) {
  const json::array* conds = api::arrAt(status, {"conditions"});
  if (!conds) return nullptr;
  for (const auto& c : *conds)
    if (const json::object* o = c.if_object(); o && api::strAt(*o, {"type"}) == type) return o;
  return nullptr;
}

json::object newCondition(std::string_view type, std::string_view status, std::string_view reason,
                          const std::string& message, TimePoint now) {
  json::object c;
  c["type"] = type;
  c["status"] = status;
  c["lastUpdateTime"] = formatRfc3339(now);
  c["lastTransitionTime"] = formatRfc3339(now);
  c["reason"] = reason;
  c["message"] = message;
  return c;
}

void removeCondition(json::object& status, std::string_view type) {
  json::array* conds = status.contains("conditions") ? status["conditions"].if_array() : nullptr;
  if (!conds) return;
  json::array kept;
  for (auto& c : *conds)
    if (!c.is_object() || api::strAt(c.as_object(), {"type"}) != type) kept.push_back(c);
  if (kept.empty())
    status.erase("conditions");
  else
    status["conditions"] = std::move(kept);
}

void setCondition(json::object& status, json::object condition) {
  std::string type = api::strAt(condition, {"type"});
  if (const json::object* cur = getCondition(status, type)) {
    if (api::strAt(*cur, {"status"}) == api::strAt(condition, {"status"}) &&
        api::strAt(*cur, {"reason"}) == api::strAt(condition, {"reason"}))
      return;
    // Same status, new reason: the transition time stays.
    if (api::strAt(*cur, {"status"}) == api::strAt(condition, {"status"}))
      condition["lastTransitionTime"] =
          cur->contains("lastTransitionTime") ? cur->at("lastTransitionTime") : nullptr;
  }
  removeCondition(status, type);
  api::ensureArray(status, "conditions").push_back(std::move(condition));
}

int64_t statusCount(const json::object& status, std::string_view key) {
  return api::intAt(status, {key}).value_or(0);
}

void setStatusCount(json::object& status, std::string_view key, int64_t v) {
  if (v == 0)
    status.erase(key);
  else
    status[key] = v;
}

bool deploymentComplete(const Object& d, const json::object& s) {
  int64_t want = replicas(d);
  return statusCount(s, "updatedReplicas") == want && statusCount(s, "replicas") == want &&
         statusCount(s, "availableReplicas") == want &&
         statusCount(s, "observedGeneration") >=
             api::intAt(d, {"metadata", "generation"}).value_or(0);
}

bool deploymentProgressing(const Object& d, const json::object& s) {
  json::object empty;
  const json::object* old_p = api::objAt(d, {"status"});
  const json::object& old = old_p ? *old_p : empty;
  int64_t old_old = statusCount(old, "replicas") - statusCount(old, "updatedReplicas");
  int64_t new_old = statusCount(s, "replicas") - statusCount(s, "updatedReplicas");
  return statusCount(s, "updatedReplicas") > statusCount(old, "updatedReplicas") ||
         new_old < old_old || statusCount(s, "readyReplicas") > statusCount(old, "readyReplicas") ||
         statusCount(s, "availableReplicas") > statusCount(old, "availableReplicas");
}

bool deploymentTimedOut(const Object& d, const json::object& s, TimePoint now) {
  if (!hasProgressDeadline(d)) return false;
  const json::object* cond = getCondition(s, "Progressing");
  if (!cond) return false;
  // A completed rollout is not re-evaluated: scaling it later must not time
  // it out.
  std::string reason = api::strAt(*cond, {"reason"});
  if (reason == kNewRSAvailableReason) return false;
  if (reason == kTimedOutReason) return true;
  auto from = timeAt(*cond, {"lastUpdateTime"});
  if (!from) from = TimePoint{};
  return *from + std::chrono::seconds(progressDeadlineSeconds(d)) < now;
}

}  // namespace berth::controllers::deploymentutil
