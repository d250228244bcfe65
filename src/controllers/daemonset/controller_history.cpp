#include "controllers/daemonset/controller_history.h"

#include <algorithm>

#include "api/kinds/access.h"
#include "api/object.h"
#include "controllers/pod_control.h"
#include "controllers/pod_util.h"

namespace berth::controllers {

namespace json = boost::json;
using api::Object;
using client::ObjectPtr;

namespace {

constexpr uint32_t kFnvOffset = 2166136261u;
constexpr uint32_t kFnvPrime = 16777619u;

uint32_t fnv32(std::string_view data, uint32_t h) {
  for (unsigned char c : data) {
    h *= kFnvPrime;
    h ^= c;
  }
  return h;
}

uint32_t fnv32a(std::string_view data, uint32_t h) {
  for (unsigned char c : data) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

void writeCanonical(const json::value& v, std::string& out) {
  if (const json::object* o = v.if_object()) {
    std::vector<std::pair<std::string_view, const json::value*>> entries;
    for (const auto& kv : *o) entries.emplace_back(kv.key(), &kv.value());
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    out += '{';
    bool first = true;
    for (const auto& [k, val] : entries) {
      if (!first) out += ',';
      first = false;
      out += json::serialize(json::string(k));
      out += ':';
      writeCanonical(*val, out);
    }
    out += '}';
  } else if (const json::array* a = v.if_array()) {
    out += '[';
    for (size_t i = 0; i < a->size(); ++i) {
      if (i) out += ',';
      writeCanonical((*a)[i], out);
    }
    out += ']';
  } else {
    out += json::serialize(v);
  }
}

const json::value* dataOf(const Object& revision) { return revision.if_contains("data"); }

}  // namespace

std::string canonicalJson(const json::value& v) {
  std::string out;
  writeCanonical(v, out);
  return out;
}

std::string safeEncodeString(const std::string& s) {
  static constexpr char kAlphanums[] = "bcdfghjklmnpqrstvwxz2456789";
  constexpr size_t kLen = sizeof(kAlphanums) - 1;
  std::string out(s.size(), ' ');
  for (size_t i = 0; i < s.size(); ++i)
    out[i] = kAlphanums[static_cast<unsigned char>(s[i]) % kLen];
  return out;
}

std::string computeTemplateHash(const json::value& tmpl, std::optional<int32_t> collision_count) {
  uint32_t h = fnv32a(canonicalJson(tmpl), kFnvOffset);
  if (collision_count) {
    unsigned char bytes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    uint32_t c = static_cast<uint32_t>(*collision_count);
    for (int i = 0; i < 4; ++i) bytes[i] = static_cast<unsigned char>((c >> (8 * i)) & 0xff);
    h = fnv32a(std::string_view(reinterpret_cast<const char*>(bytes), 8), h);
  }
  return safeEncodeString(std::to_string(h));
}

std::string hashControllerRevision(const Object& revision, std::optional<int32_t> collision_count) {
  uint32_t h = kFnvOffset;
  if (const json::value* d = dataOf(revision); d && !d->is_null()) h = fnv32(canonicalJson(*d), h);
  if (collision_count) h = fnv32(std::to_string(*collision_count), h);
  return safeEncodeString(std::to_string(h));
}

std::string controllerRevisionName(const std::string& prefix, const std::string& hash) {
  std::string p = prefix.size() > 223 ? prefix.substr(0, 223) : prefix;
  return p + "-" + hash;
}

json::object templatePatch(const Object& owner) {
  json::object tmpl;
  if (const json::object* t = api::objAt(owner, {"spec", "template"})) tmpl = *t;
  tmpl["$patch"] = "replace";
  json::object spec;
  spec["template"] = std::move(tmpl);
  json::object patch;
  patch["spec"] = std::move(spec);
  return patch;
}

Object applyRevision(const Object& owner, const Object& revision) {
  Object out = owner;
  const json::object* tmpl = api::objAt(revision, {"data", "spec", "template"});
  if (!tmpl) return out;
  json::object t = *tmpl;
  t.erase("$patch");
  api::ensureObject(out, "spec")["template"] = std::move(t);
  return out;
}

Object newControllerRevision(const Object& parent, const api::KindInfo& parent_kind,
                             const json::object& labels, json::value data, int64_t revision,
                             std::optional<int32_t> collision_count) {
  Object cr;
  cr["apiVersion"] = "apps/v1";
  cr["kind"] = "ControllerRevision";
  json::object meta;
  meta["namespace"] = api::namespaceOf(parent);
  meta["ownerReferences"] = json::array{newControllerRef(parent, parent_kind)};
  cr["metadata"] = std::move(meta);
  cr["data"] = std::move(data);
  cr["revision"] = revision;
  std::string hash = hashControllerRevision(cr, collision_count);
  json::object& m = api::mutableMetadata(cr);
  m["name"] = controllerRevisionName(api::name(parent), hash);
  json::object l = labels;
  l[kControllerRevisionHashLabel] = hash;
  m["labels"] = std::move(l);
  return cr;
}

int64_t revisionNumber(const Object& revision) {
  return api::intAt(revision, {"revision"}).value_or(0);
}

bool equalRevision(const Object& a, const Object& b) {
  const json::value* da = dataOf(a);
  const json::value* db = dataOf(b);
  if (!da || !db) return da == db;
  return *da == *db;
}

std::vector<ObjectPtr> findEqualRevisions(const std::vector<ObjectPtr>& revisions,
                                          const Object& needle) {
  std::vector<ObjectPtr> out;
  for (const auto& r : revisions)
    if (equalRevision(*r, needle)) out.push_back(r);
  return out;
}

void sortRevisions(std::vector<ObjectPtr>& revisions) {
  std::stable_sort(revisions.begin(), revisions.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
    int64_t ra = revisionNumber(*a), rb = revisionNumber(*b);
    if (ra != rb) return ra < rb;
    auto ca = creationTime(*a), cb = creationTime(*b);
    if (ca != cb) return ca < cb;
    return api::name(*a) < api::name(*b);
  });
}

int64_t nextRevision(const std::vector<ObjectPtr>& revisions) {
  if (revisions.empty()) return 1;
  return revisionNumber(*revisions.back()) + 1;
}

Result<ObjectPtr> RevisionHistory::create(const Object& parent, const Object& revision,
                                          int32_t* collision_count) {
  const api::KindInfo& kind = client::kind("apps", "ControllerRevision");
  const std::string ns = api::namespaceOf(parent);
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string hash = hashControllerRevision(revision, *collision_count);
    Object clone = revision;
    json::object& meta = api::mutableMetadata(clone);
    meta["name"] = controllerRevisionName(api::name(parent), hash);
    meta["namespace"] = ns;
    api::ensureObject(meta, "labels")[kControllerRevisionHashLabel] = hash;
    auto created = client_.create(kind, clone);
    if (created.ok() || created.error().code != ErrorCode::kAlreadyExists) return created;
    auto existing = client_.get(kind, ns, api::name(clone));
    if (!existing.ok()) return existing.error();
    if (equalRevision(**existing, clone)) return existing;
    ++*collision_count;
  }
  return makeError(ErrorCode::kInternal,
                   "too many ControllerRevision name collisions for " + api::name(parent));
}

Result<ObjectPtr> RevisionHistory::updateRevision(const Object& revision, int64_t new_revision) {
  const api::KindInfo& kind = client::kind("apps", "ControllerRevision");
  Object clone = revision;
  // Upstream retries on conflict with a fresh read (RetryOnConflict).
  for (int attempt = 0;; ++attempt) {
    if (revisionNumber(clone) == new_revision) return std::make_shared<const Object>(clone);
    clone["revision"] = new_revision;
    auto updated = client_.update(kind, clone);
    if (updated.ok() || updated.error().code != ErrorCode::kConflict || attempt >= 4)
      return updated;
    auto fresh = client_.get(kind, api::namespaceOf(revision), api::name(revision));
    if (!fresh.ok()) return fresh.error();
    clone = **fresh;
  }
}

Status RevisionHistory::remove(const Object& revision) {
  auto res = client_.remove(client::kind("apps", "ControllerRevision"), api::namespaceOf(revision),
                            api::name(revision));
  if (!res.ok() && res.error().code != ErrorCode::kNotFound) return res.error();
  return okStatus();
}

}  // namespace berth::controllers
