#include "apiserver/registry/registry.h"

#include <openssl/rand.h>

#include <cstdio>

#include "api/json_scan.h"
#include "api/object.h"
#include "apiserver/registry/codec.h"
#include "apiserver/registry/pod_admission.h"
#include "apiserver/registry/selection.h"
#include "apiserver/registry/service_admission.h"
#include "apiserver/status.h"
#include "common/log.h"

namespace berth::apiserver {

namespace json = boost::json;
using api::Object;

std::string newUid() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  char out[37];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return out;
}

// Upstream's utilrand.String alphabet: no vowels, no confusable characters.
std::string generateNameSuffix() {
  static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  unsigned char b[5];
  RAND_bytes(b, sizeof b);
  std::string s;
  for (unsigned char c : b) s += kAlphabet[c % 27];
  return s;
}

bool kindHasGeneration(const api::KindInfo& kind) {
  static const char* kGroups[] = {"apps", "batch", "autoscaling", "policy", "networking.k8s.io"};
  for (const char* g : kGroups)
    if (kind.group == g) return true;
  return kind.group.empty() && kind.kind == "ReplicationController";
}

int64_t parseResourceVersion(const std::string& rv, bool* ok) {
  *ok = false;
  if (rv.empty() || rv.size() > 18) return 0;
  int64_t v = 0;
  for (char c : rv) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + (c - '0');
  }
  *ok = true;
  return v;
}

std::vector<std::string>& Registry::threadWarnings() {
  thread_local std::vector<std::string> warnings;
  return warnings;
}

Registry::Registry(const api::KindRegistry& kinds, std::shared_ptr<storage::Store> store, Clock& clock,
                   Options options)
    : kinds_(kinds), store_(std::move(store)), clock_(clock), options_(std::move(options)) {
  auto st = allocators_.service_ips.init(options_.service_cidr);
  if (!st.ok()) BERTH_LOG(kError, "registry") << "service cidr: " << st.error().message;
  allocators_.node_ports.init(options_.node_port_min, options_.node_port_max);
}

std::string Registry::key(const api::KindInfo& kind, const std::string& ns, const std::string& name) {
  if (kind.namespaced) return "/registry/" + kind.storageResource() + "/" + ns + "/" + name;
  return "/registry/" + kind.storageResource() + "/" + name;
}

std::string Registry::prefix(const api::KindInfo& kind, const std::string& ns) {
  if (kind.namespaced && !ns.empty()) return "/registry/" + kind.storageResource() + "/" + ns + "/";
  return "/registry/" + kind.storageResource() + "/";
}

namespace {
const api::KindInfo* storageKindFor(const api::KindRegistry& kinds, std::string_view storage_resource) {
  for (const auto& k : kinds.all())
    if (k->storageResource() == storage_resource) return k.get();
  return nullptr;
}

std::string stripRv(Object obj) {
  if (auto* md = obj.if_contains("metadata"); md && md->is_object()) md->get_object().erase("resourceVersion");
  return json::serialize(obj);
}

Object withoutRv(Object obj) {
  if (auto* md = obj.if_contains("metadata"); md && md->is_object()) md->get_object().erase("resourceVersion");
  return obj;
}

void setRv(Object& obj, int64_t rev) { api::mutableMetadata(obj)["resourceVersion"] = std::to_string(rev); }

std::string nowString(Clock& clock) { return formatRfc3339(clock.now()); }

bool hasFinalizers(const Object& obj) {
  auto* md = api::metadata(obj);
  auto* f = md ? api::findArray(*md, "finalizers") : nullptr;
  return f && !f->empty();
}

bool isTerminating(const Object& obj) {
  auto* md = api::metadata(obj);
  return md && md->contains("deletionTimestamp");
}

void addFinalizer(Object& obj, const std::string& f) {
  auto& arr = api::ensureArray(api::mutableMetadata(obj), "finalizers");
  for (auto& v : arr)
    if (v.is_string() && v.get_string() == f) return;
  arr.push_back(json::string(f));
}
}  // namespace

storage::KeyValue Registry::decorate(const api::KindRegistry& kinds, storage::KeyValue kv) {
  if (!kv.value) return kv;
  json::error_code ec;
  json::value v = json::parse(*kv.value, ec);
  if (ec || !v.is_object()) return kv;
  Object& obj = v.get_object();
  auto attrs = std::make_shared<ObjectAttrs>();
  attrs->name = api::name(obj);
  attrs->namespace_ = api::namespaceOf(obj);
  for (auto& [k, val] : api::labels(obj)) attrs->labels.emplace(k, val);
  attrs->fields["metadata.name"] = attrs->name;
  // Upstream's DefaultClusterScopedAttr/DefaultNamespaceScopedAttr: the
  // namespace field exists (empty) for cluster-scoped kinds too.
  attrs->fields["metadata.namespace"] = attrs->namespace_;
  // Key: /registry/<resource>/...
  std::string_view key = kv.key;
  if (key.size() > 10) {
    auto rest = key.substr(10);
    auto res = rest.substr(0, rest.find('/'));
    if (const auto* kind = storageKindFor(kinds, res); kind && kind->selectable_fields) {
      for (auto& [f, val] : kind->selectable_fields(obj)) attrs->fields[f] = val;
    }
  }
  // The served bytes carry the resourceVersion: spliced into the stored
  // text where it can be (no second serialization on the store's writer
  // thread, which decorates every write), else set and re-serialized.
  if (auto with_rv = api::withResourceVersion(*kv.value, kv.mod_revision)) {
    kv.value = storage::makeBytes(std::move(*with_rv));
  } else {
    setRv(obj, kv.mod_revision);
    kv.value = storage::makeBytes(json::serialize(obj));
  }
  kv.decoded = std::move(attrs);
  return kv;
}

const api::KindInfo& Registry::storageKind(const api::KindInfo& kind) const {
  const auto* k = storageKindFor(kinds_, kind.storageResource());
  return k ? *k : kind;
}

Object Registry::fromStorage(const api::KindInfo& kind, Object stored) const {
  const auto& sk = storageKind(kind);
  if (&sk == &kind) return stored;
  Object out = kind.from_storage ? kind.from_storage(stored) : std::move(stored);
  out["apiVersion"] = kind.groupVersion();
  out["kind"] = kind.kind;
  return out;
}

Object Registry::toStorage(const api::KindInfo& kind, Object served) const {
  const auto& sk = storageKind(kind);
  if (&sk == &kind) return served;
  Object out = kind.to_storage ? kind.to_storage(served) : std::move(served);
  out["apiVersion"] = sk.groupVersion();
  out["kind"] = sk.kind;
  return out;
}

Object Registry::parseStored(const storage::KeyValue& kv) {
  json::error_code ec;
  json::value v = json::parse(*kv.value, ec);
  if (ec || !v.is_object()) return Object();
  Object obj = std::move(v.get_object());
  setRv(obj, kv.mod_revision);
  return obj;
}

Result<storage::KeyValue> Registry::getRaw(const api::KindInfo& kind, const std::string& ns,
                                           const std::string& name) {
  auto kv = store_->get(key(kind, ns, name));
  if (!kv.ok()) {
    if (kv.error().code == ErrorCode::kNotFound) return notFound(kind.group, kind.resource, name);
    return kv.error();
  }
  if (!kv->decoded) return decorate(kinds_, std::move(kv).value());
  return kv;
}

Result<Object> Registry::get(const api::KindInfo& kind, const std::string& ns, const std::string& name) {
  BERTH_ASSIGN_OR_RETURN(auto kv, getRaw(kind, ns, name));
  return fromStorage(kind, parseStored(kv));
}

namespace {
struct ContinueToken {
  int64_t rv = 0;
  std::string start;
};

std::string base64UrlEncode(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += t[n >> 18];
    out += t[(n >> 12) & 63];
    out += t[(n >> 6) & 63];
    out += t[n & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    out += t[n >> 18];
    out += t[(n >> 12) & 63];
  } else if (i + 2 == in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += t[n >> 18];
    out += t[(n >> 12) & 63];
    out += t[(n >> 6) & 63];
  }
  return out;
}

bool base64UrlDecode(const std::string& in, std::string* out) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-' || c == '+') return 62;
    if (c == '_' || c == '/') return 63;
    return -1;
  };
  uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int v = val(c);
    if (v < 0) return false;
    buf = (buf << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(char((buf >> bits) & 0xff));
    }
  }
  return true;
}

std::string encodeContinue(int64_t rv, const std::string& last_key) {
  json::object o;
  o["v"] = "meta.k8s.io/v1";
  o["rv"] = rv;
  o["start"] = last_key + std::string(1, '\0');
  return base64UrlEncode(json::serialize(o));
}

Result<ContinueToken> decodeContinue(const std::string& token, const std::string& prefix) {
  std::string raw;
  auto bad = [] { return makeError(ErrorCode::kBadRequest, "continue key is not valid: illegal base64 data"); };
  if (!base64UrlDecode(token, &raw)) return bad();
  json::error_code ec;
  auto v = json::parse(raw, ec);
  if (ec || !v.is_object()) return bad();
  auto& o = v.get_object();
  ContinueToken t;
  if (auto* rv = o.if_contains("rv"); rv && rv->is_int64()) t.rv = rv->get_int64();
  if (auto* s = o.if_contains("start"); s && s->is_string()) t.start = std::string(s->get_string());
  if (t.rv <= 0 || t.start.empty())
    return makeError(ErrorCode::kBadRequest, "continue key is not valid: incorrect encoded start resourceVersion");
  // The start key must lie under the listed prefix.
  if (t.start.back() == '\0') t.start.pop_back();
  if (t.start.compare(0, prefix.size(), prefix) != 0)
    return makeError(ErrorCode::kBadRequest, "continue key is not valid: does not match the requested resource");
  return t;
}
}  // namespace

Result<ListPage> Registry::list(const api::KindInfo& kind, const std::string& ns, const ListParams& params) {
  BERTH_ASSIGN_OR_RETURN(auto selection, Selection::parse(kind, params.label_selector, params.field_selector));
  std::string pfx = prefix(kind, ns);
  storage::ListOptions lo;
  lo.prefix = pfx;
  if (!params.continue_token.empty()) {
    BERTH_ASSIGN_OR_RETURN(auto tok, decodeContinue(params.continue_token, pfx));
    lo.start_after = tok.start;
    lo.revision = tok.rv;
  }
  ListPage page;
  auto decorateAll = [&](std::vector<storage::KeyValue>& items) {
    for (auto& kv : items)
      if (!kv.decoded) kv = decorate(kinds_, std::move(kv));
  };
  if (selection.empty()) {
    lo.limit = params.limit;
    BERTH_ASSIGN_OR_RETURN(auto res, store_->list(lo));
    decorateAll(res.items);
    page.revision = res.revision;
    if (res.more && !res.items.empty()) {
      page.continue_token = encodeContinue(res.revision, res.items.back().key);
      page.remaining = res.remaining;
    }
    page.items = std::move(res.items);
    return page;
  }
  // With a selector, read in chunks until the page is full, as upstream's
  // storage does when paginating filtered lists.
  const int64_t chunk = params.limit > 0 ? std::max<int64_t>(params.limit, 500) : 0;
  while (true) {
    lo.limit = chunk;
    BERTH_ASSIGN_OR_RETURN(auto res, store_->list(lo));
    decorateAll(res.items);
    if (page.revision == 0) page.revision = res.revision;
    lo.revision = res.revision;
    std::string last_key;
    for (auto& kv : res.items) {
      last_key = kv.key;
      auto* attrs = static_cast<const ObjectAttrs*>(kv.decoded.get());
      if (!attrs || !selection.matches(*attrs)) continue;
      page.items.push_back(std::move(kv));
      if (params.limit > 0 && static_cast<int64_t>(page.items.size()) >= params.limit) {
        bool more = res.more || &kv != &res.items.back();
        if (more) page.continue_token = encodeContinue(res.revision, page.items.back().key);
        return page;
      }
    }
    if (!res.more || res.items.empty()) return page;
    lo.start_after = last_key;
  }
}

Status Registry::checkNamespace(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                                bool creating) {
  auto kv = store_->get("/registry/namespaces/" + ns);
  if (!kv.ok()) {
    if (kv.error().code == ErrorCode::kNotFound) return notFound("", "namespaces", ns);
    return kv.error();
  }
  if (creating) {
    auto obj = parseStored(*kv);
    if (isTerminating(obj) || api::getStringPath(obj, "status.phase") == "Terminating") {
      Error e = forbidden(kind.group, kind.resource, name,
                          "unable to create new content in namespace " + ns + " because it is being terminated");
      e.causes.push_back({"NamespaceTerminating", "namespace " + ns + " is being terminated", "metadata.namespace"});
      return e;
    }
  }
  return okStatus();
}

Result<Object> Registry::admitCreate(const api::KindInfo& kind, Object& obj, const WriteOptions& opts) {
  if (kind.group.empty() && kind.kind == "Service") {
    BERTH_RETURN_IF_ERROR(admitServiceCreate(allocators_, obj));
  }
  if (kind.group.empty() && kind.kind == "Pod") {
    BERTH_RETURN_IF_ERROR(admitPodCreate(*this, obj));
  }
  return obj;
}

void Registry::releaseOnDelete(const api::KindInfo& kind, const Object& obj) {
  if (kind.group.empty() && kind.kind == "Service") releaseService(allocators_, obj);
}

namespace {
Status validateMetaBasics(const api::KindInfo& kind, const std::string& ns, Object& obj) {
  auto& md = api::mutableMetadata(obj);
  if (kind.namespaced) {
    std::string body_ns = api::getString(md, "namespace");
    if (!body_ns.empty() && body_ns != ns)
      return makeError(ErrorCode::kBadRequest,
                       "the namespace of the provided object does not match the namespace sent on the request");
    md["namespace"] = ns;
  } else {
    md.erase("namespace");
  }
  return okStatus();
}

Status runValidation(const api::KindInfo& kind, const Object& obj, const Object* old) {
  api::FieldErrors errs;
  if (kind.validate) kind.validate(obj, old, errs);
  if (!errs.empty()) return errs.toError(kind.group, kind.kind, api::name(obj));
  return okStatus();
}
}  // namespace

Result<Object> Registry::create(const api::KindInfo& kind, const std::string& ns, Object obj,
                                const WriteOptions& opts) {
  BERTH_RETURN_IF_ERROR(validateMetaBasics(kind, ns, obj));
  auto& md = api::mutableMetadata(obj);
  if (!api::getString(md, "resourceVersion").empty())
    return makeError(ErrorCode::kBadRequest, "resourceVersion should not be set on objects to be created");
  std::string name = api::getString(md, "name");
  if (name.empty()) {
    std::string gen = api::getString(md, "generateName");
    if (gen.empty()) {
      api::FieldErrors errs;
      errs.required("metadata.name", "name or generateName is required");
      return errs.toError(kind.group, kind.kind, "");
    }
    name = gen + generateNameSuffix();
    md["name"] = name;
  }
  md["uid"] = newUid();
  md["creationTimestamp"] = nowString(clock_);
  md.erase("deletionTimestamp");
  md.erase("deletionGracePeriodSeconds");
  md.erase("selfLink");
  md.erase("resourceVersion");
  if (kindHasGeneration(kind)) md["generation"] = 1;
  else md.erase("generation");
  if (kind.has_status) obj.erase("status");
  if (kind.defaults) kind.defaults(obj);
  if (kind.prepare) kind.prepare(obj, nullptr);
  BERTH_RETURN_IF_ERROR(runValidation(kind, obj, nullptr));
  if (kind.namespaced) BERTH_RETURN_IF_ERROR(checkNamespace(kind, ns, name, true));
  BERTH_RETURN_IF_ERROR(admitCreate(kind, obj, opts));
  if (opts.dry_run) {
    releaseOnDelete(kind, obj);
    return obj;
  }
  Object stored = toStorage(kind, obj);
  auto res = store_->create(key(kind, ns, name), stripRv(std::move(stored)));
  if (!res.ok()) {
    releaseOnDelete(kind, obj);
    if (res.error().code == ErrorCode::kAlreadyExists) return alreadyExists(kind.group, kind.resource, name);
    return res.error();
  }
  setRv(obj, res->mod_revision);
  return obj;
}

namespace {
// Fields of ObjectMeta the server owns: carried from the stored object on update.
void carryServerMeta(Object& obj, const Object& old) {
  auto& md = api::mutableMetadata(obj);
  const Object* omd = api::metadata(old);
  if (!omd) return;
  for (const char* f : {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation",
                        "namespace", "name"}) {
    if (auto* v = omd->if_contains(f)) md[f] = *v;
    else md.erase(f);
  }
  md.erase("selfLink");
}

json::value specPart(const Object& obj) {
  Object copy = obj;
  copy.erase("metadata");
  copy.erase("status");
  return copy;
}

// Terminating objects may only lose finalizers, not gain them (upstream's
// ValidateObjectMetaUpdate "no new finalizers can be added if the object is being deleted").
Status checkTerminatingFinalizers(const api::KindInfo& kind, const Object& obj, const Object& old) {
  if (!isTerminating(old)) return okStatus();
  auto set = [](const Object& o) {
    std::vector<std::string> out;
    auto* md = api::metadata(o);
    if (auto* f = md ? api::findArray(*md, "finalizers") : nullptr)
      for (auto& v : *f)
        if (v.is_string()) out.emplace_back(v.get_string());
    return out;
  };
  auto oldf = set(old);
  for (auto& f : set(obj)) {
    if (std::find(oldf.begin(), oldf.end(), f) == oldf.end()) {
      api::FieldErrors errs;
      errs.forbidden("metadata.finalizers", "no new finalizers can be added if the object is being deleted, found new finalizers []string{\"" + f + "\"}");
      return errs.toError(kind.group, kind.kind, api::name(obj));
    }
  }
  return okStatus();
}
}  // namespace

Result<Object> Registry::updateLocked(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                                      const storage::KeyValue& current, Object obj, const WriteOptions& opts,
                                      bool has_client_rv) {
  Object old = fromStorage(kind, parseStored(current));
  auto& md = api::mutableMetadata(obj);
  std::string body_name = api::getString(md, "name");
  if (!body_name.empty() && body_name != name)
    return makeError(ErrorCode::kBadRequest,
                     "the name of the object (" + body_name + ") does not match the name on the URL (" + name + ")");
  if (kind.namespaced) {
    std::string body_ns = api::getString(md, "namespace");
    if (!body_ns.empty() && body_ns != ns)
      return makeError(ErrorCode::kBadRequest,
                       "the namespace of the provided object does not match the namespace sent on the request");
  }
  std::string body_uid = api::getString(md, "uid");
  if (!body_uid.empty() && body_uid != api::uid(old)) {
    api::FieldErrors errs;
    errs.immutable("metadata.uid", api::FieldErrors::quote(body_uid));
    return errs.toError(kind.group, kind.kind, name);
  }
  if (opts.subresource == Subresource::kStatus) {
    // Status updates change status and annotations: upstream's status
    // strategies reset spec (and, for workloads, labels) to the stored
    // object, and controllers record e.g. deployment.kubernetes.io/revision
    // with their status writes.
    Object next = old;
    if (auto* st = obj.if_contains("status")) next["status"] = *st;
    else next.erase("status");
    auto& next_md = api::mutableMetadata(next);
    const Object* want_md = api::metadata(obj);
    if (want_md && want_md->contains("annotations")) next_md["annotations"] = want_md->at("annotations");
    else next_md.erase("annotations");
    obj = std::move(next);
  } else if (opts.subresource == Subresource::kFinalize) {
    Object next = old;
    auto& spec = api::ensureObject(next, "spec");
    const Object* want = api::findObject(obj, "spec");
    if (want && want->contains("finalizers")) spec["finalizers"] = want->at("finalizers");
    else spec.erase("finalizers");
    obj = std::move(next);
  } else {
    if (kind.has_status) {
      if (auto* st = old.if_contains("status")) obj["status"] = *st;
      else obj.erase("status");
    }
    carryServerMeta(obj, old);
    if (kindHasGeneration(kind) && specPart(obj) != specPart(old)) {
      int64_t gen = 0;
      if (auto* omd = api::metadata(old)) gen = api::getInt(*omd, "generation", 0);
      api::mutableMetadata(obj)["generation"] = gen + 1;
    }
    if (kind.defaults) kind.defaults(obj);
  }
  BERTH_RETURN_IF_ERROR(checkTerminatingFinalizers(kind, obj, old));
  if (kind.prepare && opts.subresource != Subresource::kFinalize) kind.prepare(obj, &old);
  BERTH_RETURN_IF_ERROR(runValidation(kind, obj, &old));
  if (kind.group.empty() && kind.kind == "Service" && opts.subresource == Subresource::kNone) {
    BERTH_RETURN_IF_ERROR(admitServiceUpdate(allocators_, obj, old, opts.dry_run));
  }
  setRv(obj, current.mod_revision);
  // A no-op update writes nothing and keeps the resourceVersion, as upstream.
  if (withoutRv(obj) == withoutRv(old)) return obj;
  if (opts.dry_run) return obj;
  std::string k = key(kind, ns, name);
  Object stored = toStorage(kind, obj);
  // Upstream's ShouldDeleteDuringUpdate: the object goes once no finalizer
  // remains, if a delete was requested and its grace period is over (0 or
  // none); a pod in its grace period waits for the agent's final delete.
  const json::value* grace = api::findPath(old, "metadata.deletionGracePeriodSeconds");
  const bool grace_over = !grace || !grace->is_int64() || grace->get_int64() == 0;
  if (isTerminating(old) && !hasFinalizers(stored) && grace_over) {
    return finishDeleteIfReady(kind, k, std::move(stored), current.mod_revision);
  }
  auto res = store_->update(k, stripRv(std::move(stored)), current.mod_revision);
  if (!res.ok()) {
    if (res.error().code == ErrorCode::kConflict)
      return conflict(kind.group, kind.resource, name,
                      "the object has been modified; please apply your changes to the latest version and try again");
    if (res.error().code == ErrorCode::kNotFound) return notFound(kind.group, kind.resource, name);
    return res.error();
  }
  setRv(obj, res->mod_revision);
  return obj;
}

Result<Object> Registry::finishDeleteIfReady(const api::KindInfo& kind, const std::string& k, Object stored,
                                             int64_t revision) {
  // Pods with a grace period wait for the node agent to confirm termination.
  auto res = store_->remove(k, revision);
  if (!res.ok()) {
    if (res.error().code == ErrorCode::kConflict)
      return conflict(kind.group, kind.resource, api::name(stored),
                      "the object has been modified; please apply your changes to the latest version and try again");
    return res.error();
  }
  releaseOnDelete(kind, stored);
  Object out = fromStorage(kind, std::move(stored));
  setRv(out, res->mod_revision);
  return out;
}

Result<Object> Registry::update(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                                Object obj, const WriteOptions& opts) {
  std::string client_rv;
  if (auto* md = api::metadata(obj)) client_rv = api::getString(*md, "resourceVersion");
  for (int attempt = 0;; ++attempt) {
    BERTH_ASSIGN_OR_RETURN(auto current, getRaw(kind, ns, name));
    if (!client_rv.empty()) {
      bool ok;
      int64_t rv = parseResourceVersion(client_rv, &ok);
      if (!ok) return badRequest("invalid resourceVersion \"" + client_rv + "\"");
      if (rv != current.mod_revision)
        return conflict(kind.group, kind.resource, name,
                        "the object has been modified; please apply your changes to the latest version and try again");
    }
    auto res = updateLocked(kind, ns, name, current, obj, opts, !client_rv.empty());
    if (res.ok() || !client_rv.empty() || res.error().code != ErrorCode::kConflict || attempt > 20) return res;
  }
}

Result<Object> Registry::patch(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                               PatchType type, const std::string& patch_body, const WriteOptions& opts) {
  for (int attempt = 0;; ++attempt) {
    BERTH_ASSIGN_OR_RETURN(auto current, getRaw(kind, ns, name));
    Object old = fromStorage(kind, parseStored(current));
    BERTH_ASSIGN_OR_RETURN(auto patched, applyPatch(type, json::value(old), patch_body, kind, opts.subresource));
    if (!patched.is_object()) return badRequest("patch produced a non-object");
    Object obj = std::move(patched.get_object());
    auto& warnings = threadWarnings();
    BERTH_RETURN_IF_ERROR(checkFields(obj, kind, opts.field_validation, &warnings));
    // A resourceVersion in the patch is a precondition.
    std::string new_rv = api::getStringPath(obj, "metadata.resourceVersion");
    bool client_rv = new_rv != std::to_string(current.mod_revision);
    if (client_rv && !new_rv.empty())
      return conflict(kind.group, kind.resource, name,
                      "the object has been modified; please apply your changes to the latest version and try again");
    auto res = updateLocked(kind, ns, name, current, std::move(obj), opts, false);
    if (res.ok() || res.error().code != ErrorCode::kConflict || attempt > 20) return res;
  }
}

Result<Object> Registry::mutate(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                                const std::function<Status(Object&)>& fn, Subresource sub) {
  WriteOptions opts;
  opts.subresource = sub;
  for (int attempt = 0;; ++attempt) {
    BERTH_ASSIGN_OR_RETURN(auto current, getRaw(kind, ns, name));
    Object obj = fromStorage(kind, parseStored(current));
    BERTH_RETURN_IF_ERROR(fn(obj));
    auto res = updateLocked(kind, ns, name, current, std::move(obj), opts, false);
    if (res.ok() || res.error().code != ErrorCode::kConflict || attempt > 50) return res;
  }
}

Result<DeleteResult> Registry::remove(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                                      const DeleteOptions& opts) {
  // NamespaceLifecycle admission: the immortal namespaces.
  if (kind.group.empty() && kind.kind == "Namespace" &&
      (name == "default" || name == "kube-system" || name == "kube-public"))
    return forbidden(kind.group, kind.resource, name, "this namespace may not be deleted");
  for (int attempt = 0;; ++attempt) {
    BERTH_ASSIGN_OR_RETURN(auto current, getRaw(kind, ns, name));
    Object stored = parseStored(current);
    std::string obj_uid = api::uid(stored);
    if (!opts.precondition_uid.empty() && opts.precondition_uid != obj_uid)
      return conflict(kind.group, kind.resource, name,
                      "Precondition failed: UID in precondition: " + opts.precondition_uid +
                          ", UID in object meta: " + obj_uid);
    if (!opts.precondition_resource_version.empty() &&
        opts.precondition_resource_version != std::to_string(current.mod_revision))
      return conflict(kind.group, kind.resource, name,
                      "Precondition failed: ResourceVersion in precondition: " + opts.precondition_resource_version +
                          ", ResourceVersion in object meta: " + std::to_string(current.mod_revision));
    Object next = stored;
    auto& md = api::mutableMetadata(next);
    bool pending = false;
    const bool is_namespace = kind.group.empty() && kind.kind == "Namespace";
    const bool is_pod = kind.group.empty() && kind.kind == "Pod";
    if (opts.propagation == Propagation::kForeground) {
      addFinalizer(next, "foregroundDeletion");
    } else if (opts.propagation == Propagation::kOrphan) {
      addFinalizer(next, "orphan");
    }
    if (is_namespace) {
      // Namespaces go Terminating; the namespace controller empties them and
      // removes the "kubernetes" finalizer from spec.finalizers.
      auto* spec = api::findObject(next, "spec");
      auto* sf = spec ? api::findArray(*spec, "finalizers") : nullptr;
      if (!isTerminating(stored) || (sf && !sf->empty())) {
        pending = true;
        api::ensureObject(next, "status")["phase"] = "Terminating";
      }
    }
    if (is_pod && !pending) {
      // Graceful pod deletion (upstream's pod strategy CheckGracefulDelete):
      // a pod bound to a node waits for its agent unless the grace period is 0
      // or the pod never started / already finished.
      std::string node = api::getStringPath(stored, "spec.nodeName");
      std::string phase = api::getStringPath(stored, "status.phase");
      int64_t grace = 30;
      if (auto* spec = api::findObject(stored, "spec")) grace = api::getInt(*spec, "terminationGracePeriodSeconds", 30);
      if (opts.grace_period_seconds) grace = *opts.grace_period_seconds;
      if (node.empty() || phase == "Succeeded" || phase == "Failed") grace = 0;
      if (grace > 0) {
        int64_t existing = api::getInt(md, "deletionGracePeriodSeconds", -1);
        if (existing < 0 || grace < existing) {
          md["deletionGracePeriodSeconds"] = grace;
          md["deletionTimestamp"] = formatRfc3339(clock_.now() + std::chrono::seconds(grace));
        }
        pending = true;
      }
    }
    if (hasFinalizers(next)) pending = true;
    if (opts.dry_run) {
      DeleteResult r;
      r.object = fromStorage(kind, std::move(next));
      r.deleted = !pending;
      return r;
    }
    std::string k = key(kind, ns, name);
    if (pending) {
      if (!md.contains("deletionTimestamp")) {
        md["deletionTimestamp"] = nowString(clock_);
        md["deletionGracePeriodSeconds"] = 0;
      }
      if (withoutRv(next) == withoutRv(stored)) {
        DeleteResult r;
        r.object = fromStorage(kind, std::move(stored));
        return r;
      }
      auto res = store_->update(k, stripRv(next), current.mod_revision);
      if (!res.ok()) {
        if (res.error().code == ErrorCode::kConflict && attempt < 20) continue;
        if (res.error().code == ErrorCode::kNotFound) return notFound(kind.group, kind.resource, name);
        return res.error();
      }
      setRv(next, res->mod_revision);
      DeleteResult r;
      r.object = fromStorage(kind, std::move(next));
      return r;
    }
    auto res = store_->remove(k, current.mod_revision);
    if (!res.ok()) {
      if (res.error().code == ErrorCode::kConflict && attempt < 20) continue;
      if (res.error().code == ErrorCode::kNotFound) return notFound(kind.group, kind.resource, name);
      return res.error();
    }
    releaseOnDelete(kind, stored);
    DeleteResult r;
    r.object = fromStorage(kind, std::move(stored));
    r.deleted = true;
    return r;
  }
}

}  // namespace berth::apiserver
