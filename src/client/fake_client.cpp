#include "client/fake_client.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <thread>
#include <utility>

#include "api/field_errors.h"
#include "api/object.h"
#include "api/selector.h"
#include "apiserver/registry/codec.h"
#include "apiserver/status.h"

namespace berth::client {

namespace json = boost::json;

namespace {

// Events kept for watches that start from an older resourceVersion (the
// informer's list-then-watch); older starting points get 410 Gone, as a
// compacted etcd or a full watch cache answers.
constexpr size_t kHistoryLimit = 10000;

constexpr const char* kModifiedDetail =
    "the object has been modified; please apply your changes to the latest version and try again";

bool sameVersion(const api::KindInfo& a, const api::KindInfo& b) {
  return a.group == b.group && a.version == b.version && a.kind == b.kind;
}

// The KindInfo whose version is stored for a storage resource: the first one
// registered (autoscaling/v2 for HPAs, core/v1 for events), as the Registry.
const api::KindInfo& storageKindOf(const api::KindInfo& kind) {
  static const auto table = [] {
    std::map<std::string, const api::KindInfo*, std::less<>> t;
    for (const auto& k : api::KindRegistry::builtin().all())
      t.emplace(k->storageResource(), k.get());
    return t;
  }();
  auto it = table.find(kind.storageResource());
  return it == table.end() ? kind : *it->second;
}

Object toStored(const api::KindInfo& kind, Object served) {
  const auto& sk = storageKindOf(kind);
  if (sameVersion(sk, kind)) return served;
  Object out = kind.to_storage ? kind.to_storage(served) : std::move(served);
  out["apiVersion"] = sk.groupVersion();
  out["kind"] = sk.kind;
  return out;
}

// Shares the stored object when no conversion is needed (the common case).
ObjectPtr toServed(const api::KindInfo& kind, const ObjectPtr& stored) {
  if (!stored || sameVersion(storageKindOf(kind), kind)) return stored;
  Object out = kind.from_storage ? kind.from_storage(*stored) : *stored;
  out["apiVersion"] = kind.groupVersion();
  out["kind"] = kind.kind;
  return std::make_shared<const Object>(std::move(out));
}

std::string storeKey(const api::KindInfo& kind, const std::string& ns, const std::string& name) {
  return kind.namespaced ? makeKey(ns, name) : name;
}

std::string rvOf(const Object& obj) { return api::getStringPath(obj, "metadata.resourceVersion"); }

void setRv(Object& obj, int64_t rev) {
  api::mutableMetadata(obj)["resourceVersion"] = std::to_string(rev);
}

std::string now(Clock& clock) { return formatRfc3339(clock.now()); }

bool hasFinalizers(const Object& obj) {
  const auto* md = api::metadata(obj);
  const auto* f = md ? api::findArray(*md, "finalizers") : nullptr;
  return f && !f->empty();
}

bool isTerminating(const Object& obj) {
  const auto* md = api::metadata(obj);
  return md && md->contains("deletionTimestamp");
}

std::vector<std::string> finalizersOf(const Object& obj) {
  std::vector<std::string> out;
  const auto* md = api::metadata(obj);
  if (const auto* f = md ? api::findArray(*md, "finalizers") : nullptr)
    for (const auto& v : *f)
      if (v.is_string()) out.emplace_back(v.get_string());
  return out;
}

void addFinalizer(Object& obj, const std::string& f) {
  auto& arr = api::ensureArray(api::mutableMetadata(obj), "finalizers");
  for (const auto& v : arr)
    if (v.is_string() && v.get_string() == f) return;
  arr.push_back(json::string(f));
}

json::value specPart(const Object& obj) {
  Object copy = obj;
  copy.erase("metadata");
  copy.erase("status");
  return copy;
}

// Fields of ObjectMeta the server owns: carried from the stored object on a
// PUT of the main resource (as the Registry and upstream's rest.BeforeUpdate).
void carryServerMeta(Object& obj, const Object& old) {
  auto& md = api::mutableMetadata(obj);
  const Object* omd = api::metadata(old);
  if (!omd) return;
  for (const char* f : {"uid", "creationTimestamp", "deletionTimestamp",
                        "deletionGracePeriodSeconds", "generation", "namespace", "name"}) {
    if (const auto* v = omd->if_contains(f))
      md[f] = *v;
    else
      md.erase(f);
  }
  md.erase("selfLink");
}

Object successStatus() {
  return Object{{"kind", "Status"},
                {"apiVersion", "v1"},
                {"metadata", Object{}},
                {"status", "Success"},
                {"code", 201}};
}

// A parsed labelSelector + fieldSelector. Field selectors may name
// metadata.name, metadata.namespace and the kind's selectable fields (400
// otherwise, as the API server).
struct Matcher {
  const api::KindInfo* kind = nullptr;
  std::optional<api::LabelSelector> labels;
  std::optional<api::FieldSelector> fields;

  bool empty() const { return !labels && !fields; }

  bool matches(const Object& obj) const {
    if (labels) {
      const auto* md = api::metadata(obj);
      if (!labels->matches(md ? api::findObject(*md, "labels") : nullptr)) return false;
    }
    if (fields) {
      std::optional<std::map<std::string, std::string>> selectable;
      auto get = [&](std::string_view field) -> std::string {
        if (field == "metadata.name") return api::name(obj);
        if (field == "metadata.namespace") return api::namespaceOf(obj);
        if (!kind->selectable_fields) return "";
        if (!selectable) selectable = kind->selectable_fields(obj);
        auto it = selectable->find(std::string(field));
        return it == selectable->end() ? "" : it->second;
      };
      if (!fields->matches(get)) return false;
    }
    return true;
  }
};

Result<Matcher> parseMatcher(const api::KindInfo& kind, const ListOptions& opts) {
  Matcher m;
  m.kind = &kind;
  if (!opts.label_selector.empty()) {
    BERTH_ASSIGN_OR_RETURN(auto l, api::LabelSelector::parse(opts.label_selector));
    if (!l.empty()) m.labels = std::move(l);
  }
  if (!opts.field_selector.empty()) {
    BERTH_ASSIGN_OR_RETURN(auto f, api::FieldSelector::parse(opts.field_selector));
    std::vector<std::string> supported = {"metadata.name", "metadata.namespace"};
    if (kind.selectable_fields)
      for (auto& [name, v] : kind.selectable_fields(Object())) supported.push_back(name);
    BERTH_RETURN_IF_ERROR(f.checkSupported(supported));
    if (!f.empty()) m.fields = std::move(f);
  }
  return m;
}

// Shared by a watch's handle and the client; `call_mu` is held while the
// handler runs so that stop() returns only once no call is in progress.
struct WatchState {
  std::mutex call_mu;
  std::atomic<bool> stopped{false};
  WatchHandler handler;
};

class FakeWatch : public Watch {
 public:
  explicit FakeWatch(std::shared_ptr<WatchState> ws) : ws_(std::move(ws)) {}
  ~FakeWatch() override { stop(); }
  void stop() override {
    std::lock_guard lock(ws_->call_mu);
    ws_->stopped = true;
  }

 private:
  std::shared_ptr<WatchState> ws_;
};

struct Watcher {
  const api::KindInfo* kind = nullptr;
  std::string storage_resource;
  std::string ns;
  Matcher matcher;
  std::shared_ptr<WatchState> ws;
  bool ended = false;  // a kError was queued: nothing more is sent
};

struct HistoryEntry {
  int64_t revision = 0;
  std::string storage_resource;
  EventType type = EventType::kAdded;
  ObjectPtr object;  // stored form
  ObjectPtr prev;    // kModified: the state before (for selector transitions)
};

struct Delivery {
  std::shared_ptr<WatchState> ws;
  Event event;
};

struct ReactorEntry {
  std::string verb;
  std::string resource;
  FakeClient::Reactor fn;
};

}  // namespace

struct FakeClient::State {
  mutable std::mutex mu;
  // An empty store is at revision 1, as etcd's is: a list of an empty
  // store must not answer "0", which a watch reads as "from now" (an
  // informer listing before the first write then missed that write).
  int64_t revision = 1;
  int64_t compacted = 0;  // events at or below this revision are gone from history
  // storage resource -> "ns/name" (or "name") -> stored object.
  std::map<std::string, std::map<std::string, ObjectPtr>, std::less<>> objects;
  std::deque<HistoryEntry> history;
  std::vector<std::shared_ptr<Watcher>> watchers;
  std::vector<Action> actions;
  std::deque<ReactorEntry> reactors;
  // Watch events in global revision order, delivered by one thread at a time
  // outside `mu` so that handlers may call back into the client.
  std::deque<Delivery> pending;
  bool draining = false;
  std::thread::id drainer;
  // Events queued / delivered so far: a write that finds another thread
  // delivering waits for its own events (delivered_cv).
  uint64_t queued = 0;
  uint64_t delivered = 0;
  std::condition_variable delivered_cv;

  // Records the action and runs the matching reactors (outside `mu`).
  std::optional<Result<ObjectPtr>> begin(Action action) {
    std::vector<Reactor> chain;
    {
      std::lock_guard lock(mu);
      for (const auto& r : reactors)
        if ((r.verb == "*" || r.verb == action.verb) &&
            (r.resource == "*" || r.resource == action.resource))
          chain.push_back(r.fn);
      actions.push_back(action);
    }
    for (const auto& fn : chain)
      if (auto r = fn(action)) return r;
    return std::nullopt;
  }

  // Requires mu.
  ObjectPtr lookup(const api::KindInfo& kind, const std::string& ns,
                   const std::string& name) const {
    auto bucket = objects.find(kind.storageResource());
    if (bucket == objects.end()) return nullptr;
    auto it = bucket->second.find(storeKey(kind, ns, name));
    return it == bucket->second.end() ? nullptr : it->second;
  }

  // Requires mu. Queues the event for one watcher, turning MODIFIED into
  // ADDED / DELETED when the object enters / leaves its selection (as the
  // API server's filtered watch does).
  void queueFor(Watcher& w, const HistoryEntry& e) {
    if (w.ended || w.ws->stopped || w.storage_resource != e.storage_resource) return;
    ObjectPtr cur = toServed(*w.kind, e.object);
    if (!w.ns.empty() && w.kind->namespaced && api::namespaceOf(*cur) != w.ns) return;
    EventType type = e.type;
    bool now_matches = w.matcher.matches(*cur);
    if (type == EventType::kModified && !w.matcher.empty()) {
      bool was_matching = e.prev && w.matcher.matches(*toServed(*w.kind, e.prev));
      if (now_matches && !was_matching)
        type = EventType::kAdded;
      else if (!now_matches && was_matching)
        type = EventType::kDeleted;
      else if (!now_matches)
        return;
    } else if (!now_matches) {
      return;
    }
    Event ev;
    ev.type = type;
    ev.object = std::move(cur);
    ev.revision = e.revision;
    pending.push_back({w.ws, std::move(ev)});
    ++queued;
  }

  void queueError(Watcher& w, Error error) {
    Event ev;
    ev.type = EventType::kError;
    ev.revision = revision;
    ev.error = std::move(error);
    pending.push_back({w.ws, std::move(ev)});
    ++queued;
    w.ended = true;
  }

  // Requires mu: appends to the history and fans out to the watchers.
  void record(HistoryEntry e) {
    std::erase_if(watchers, [](const auto& w) { return w->ended || w->ws->stopped; });
    for (auto& w : watchers) queueFor(*w, e);
    history.push_back(std::move(e));
    while (history.size() > kHistoryLimit) {
      compacted = history.front().revision;
      history.pop_front();
    }
  }

  // Requires mu: stores `next` (served form) over `current` and records the
  // event. With `finish`, the object is removed instead (an update that
  // cleared the last finalizer of an object being deleted).
  ObjectPtr commit(const api::KindInfo& kind, const std::string& key, const ObjectPtr& current,
                   Object next, bool finish = false) {
    auto& bucket = objects[kind.storageResource()];
    int64_t rev = ++revision;
    setRv(next, rev);
    auto stored = std::make_shared<const Object>(toStored(kind, std::move(next)));
    if (finish) {
      bucket.erase(key);
      record({rev, kind.storageResource(), EventType::kDeleted, stored, current});
    } else {
      bucket[key] = stored;
      record({rev, kind.storageResource(), EventType::kModified, stored, current});
    }
    return toServed(kind, stored);
  }

  // Requires mu: the update path shared by update, patch and the
  // subresources. `obj` is the desired object in the served version.
  Result<ObjectPtr> updateLocked(const api::KindInfo& kind, const std::string& ns,
                                 const std::string& name, const ObjectPtr& current_stored,
                                 Object obj, Subresource sub) {
    ObjectPtr current = toServed(kind, current_stored);
    const Object& old = *current;
    switch (sub) {
      case Subresource::kStatus: {
        // Status updates change only .status (upstream status strategies).
        Object next = old;
        if (const auto* st = obj.if_contains("status"))
          next["status"] = *st;
        else
          next.erase("status");
        obj = std::move(next);
        break;
      }
      case Subresource::kFinalize: {
        Object next = old;
        auto& spec = api::ensureObject(next, "spec");
        const Object* want = api::findObject(obj, "spec");
        if (want && want->contains("finalizers"))
          spec["finalizers"] = want->at("finalizers");
        else
          spec.erase("finalizers");
        obj = std::move(next);
        break;
      }
      case Subresource::kScale:
        return makeError(ErrorCode::kMethodNotAllowed,
                         "FakeClient does not serve the scale subresource");
      case Subresource::kNone: {
        std::string body_name = api::name(obj);
        if (!body_name.empty() && body_name != name)
          return makeError(ErrorCode::kBadRequest, "the name of the object (" + body_name +
                                                       ") does not match the name on the URL (" +
                                                       name + ")");
        if (kind.has_status) {
          if (const auto* st = old.if_contains("status"))
            obj["status"] = *st;
          else
            obj.erase("status");
        }
        carryServerMeta(obj, old);
        if (apiserver::kindHasGeneration(kind) && specPart(obj) != specPart(old)) {
          int64_t gen = 0;
          if (const auto* omd = api::metadata(old)) gen = api::getInt(*omd, "generation", 0);
          api::mutableMetadata(obj)["generation"] = gen + 1;
        }
        break;
      }
    }
    // Upstream's ValidateObjectMetaUpdate: a terminating object may lose
    // finalizers but not gain them.
    if (isTerminating(old)) {
      auto oldf = finalizersOf(old);
      for (const auto& f : finalizersOf(obj)) {
        if (std::find(oldf.begin(), oldf.end(), f) == oldf.end()) {
          api::FieldErrors errs;
          errs.forbidden(
              "metadata.finalizers",
              "no new finalizers can be added if the object is being deleted, found new finalizers "
              "[]string{\"" +
                  f + "\"}");
          return errs.toError(kind.group, kind.kind, name);
        }
      }
    }
    // A no-op update writes nothing and keeps the resourceVersion, as upstream.
    api::mutableMetadata(obj)["resourceVersion"] = rvOf(old);
    if (obj == old) return current;
    // Upstream's Store.shouldDeleteDuringUpdate: an update that removes the
    // last finalizer of an object being deleted with no grace period left
    // deletes it; a pod still in its grace period waits for its agent.
    bool finish = isTerminating(obj) && !hasFinalizers(obj) && hasFinalizers(old) &&
                  api::getInt(*api::metadata(obj), "deletionGracePeriodSeconds", -1) == 0;
    return commit(kind, storeKey(kind, ns, name), current_stored, std::move(obj), finish);
  }

  // Delivers queued watch events. The first thread to get here delivers
  // everything queued, including events its handlers cause. Another thread
  // waits until the events queued so far (its own among them) are
  // delivered, so that every write returns after its watch events were
  // handled, whichever thread delivers them (an event recorder's thread
  // delivering a controller's update made informers see it late: tests
  // flaked about 1 in 100). A handler writing back returns at once.
  void deliver() {
    std::unique_lock lock(mu);
    if (draining) {
      if (drainer == std::this_thread::get_id()) return;
      const uint64_t target = queued;
      delivered_cv.wait(lock, [&] { return delivered >= target; });
      return;
    }
    draining = true;
    drainer = std::this_thread::get_id();
    for (;;) {
      if (pending.empty()) {
        draining = false;
        drainer = {};
        delivered_cv.notify_all();
        return;
      }
      Delivery d = std::move(pending.front());
      pending.pop_front();
      lock.unlock();
      {
        std::lock_guard call(d.ws->call_mu);
        if (!d.ws->stopped) {
          d.ws->handler(d.event);
          if (d.event.type == EventType::kError) d.ws->stopped = true;
        }
      }
      lock.lock();
      ++delivered;
      delivered_cv.notify_all();
    }
  }
};

FakeClient::FakeClient(Clock& clock) : clock_(clock), state_(std::make_unique<State>()) {}

FakeClient::~FakeClient() = default;

ObjectPtr FakeClient::add(const api::KindInfo& kind, Object obj) {
  auto& md = api::mutableMetadata(obj);
  if (!kind.namespaced)
    md.erase("namespace");
  else if (api::getString(md, "namespace").empty())
    md["namespace"] = "default";
  if (api::getString(md, "uid").empty()) md["uid"] = apiserver::newUid();
  if (!md.contains("creationTimestamp")) md["creationTimestamp"] = now(clock_);
  if (!obj.contains("apiVersion")) obj["apiVersion"] = kind.groupVersion();
  if (!obj.contains("kind")) obj["kind"] = kind.kind;
  std::string key = storeKey(kind, api::namespaceOf(obj), api::name(obj));
  ObjectPtr out;
  {
    std::lock_guard lock(state_->mu);
    auto& bucket = state_->objects[kind.storageResource()];
    int64_t rev = ++state_->revision;
    setRv(obj, rev);
    auto stored = std::make_shared<const Object>(toStored(kind, std::move(obj)));
    ObjectPtr prev;
    if (auto it = bucket.find(key); it != bucket.end()) prev = it->second;
    bucket[key] = stored;
    state_->record({rev, kind.storageResource(), prev ? EventType::kModified : EventType::kAdded,
                    stored, prev});
    out = toServed(kind, stored);
  }
  state_->deliver();
  return out;
}

std::vector<Action> FakeClient::actions() const {
  std::lock_guard lock(state_->mu);
  return state_->actions;
}

std::vector<Action> FakeClient::writes() const {
  std::lock_guard lock(state_->mu);
  std::vector<Action> out;
  for (const auto& a : state_->actions)
    if (a.verb != "get" && a.verb != "list" && a.verb != "watch") out.push_back(a);
  return out;
}

void FakeClient::clearActions() {
  std::lock_guard lock(state_->mu);
  state_->actions.clear();
}

ObjectPtr FakeClient::find(const api::KindInfo& kind, const std::string& ns,
                           const std::string& name) const {
  std::lock_guard lock(state_->mu);
  return toServed(kind, state_->lookup(kind, ns, name));
}

void FakeClient::breakWatches(const api::KindInfo& kind, Error error) {
  {
    std::lock_guard lock(state_->mu);
    for (auto& w : state_->watchers)
      if (!w->ended && w->storage_resource == kind.storageResource()) state_->queueError(*w, error);
  }
  state_->deliver();
}

void FakeClient::prependReactor(const std::string& verb, const std::string& resource,
                                Reactor reactor) {
  std::lock_guard lock(state_->mu);
  state_->reactors.push_front({verb, resource, std::move(reactor)});
}

Result<ObjectPtr> FakeClient::get(const api::KindInfo& kind, const std::string& ns,
                                  const std::string& name) {
  if (auto r = state_->begin({"get", kind.resource, "", ns, name, nullptr, ""}))
    return std::move(*r);
  std::lock_guard lock(state_->mu);
  ObjectPtr obj = state_->lookup(kind, ns, name);
  if (!obj) return apiserver::notFound(kind.group, kind.resource, name);
  return toServed(kind, obj);
}

Result<ObjectList> FakeClient::list(const api::KindInfo& kind, const std::string& ns,
                                    const ListOptions& opts) {
  if (auto r = state_->begin({"list", kind.resource, "", ns, "", nullptr, ""})) {
    if (!r->ok()) return r->error();
    // A reactor answers with a List object.
    ObjectList out;
    if (!**r) return apiserver::internalError("list reactor returned no object");
    const Object& body = ***r;
    if (const auto* items = api::findArray(body, "items"))
      for (const auto& v : *items)
        if (v.is_object()) out.items.push_back(std::make_shared<const Object>(v.get_object()));
    bool ok = false;
    out.revision =
        apiserver::parseResourceVersion(api::getStringPath(body, "metadata.resourceVersion"), &ok);
    out.continue_token = api::getStringPath(body, "metadata.continue");
    return out;
  }
  BERTH_ASSIGN_OR_RETURN(auto matcher, parseMatcher(kind, opts));
  std::lock_guard lock(state_->mu);
  ObjectList out;
  out.revision = state_->revision;
  std::string start_after;
  if (!opts.continue_token.empty()) {
    // "<revision>|<last key>": pages report the revision of the first page.
    auto bar = opts.continue_token.find('|');
    bool ok = false;
    if (bar != std::string::npos)
      out.revision = apiserver::parseResourceVersion(opts.continue_token.substr(0, bar), &ok);
    if (!ok) return apiserver::badRequest("continue key is not valid: " + opts.continue_token);
    start_after = opts.continue_token.substr(bar + 1);
  }
  auto bucket = state_->objects.find(kind.storageResource());
  if (bucket == state_->objects.end()) return out;
  const auto& objects = bucket->second;
  std::string prefix = kind.namespaced && !ns.empty() ? ns + "/" : "";
  auto it = start_after.empty() ? objects.lower_bound(prefix) : objects.upper_bound(start_after);
  std::string last_key;
  for (; it != objects.end(); ++it) {
    if (!prefix.empty() && it->first.compare(0, prefix.size(), prefix) != 0) break;
    ObjectPtr obj = toServed(kind, it->second);
    if (!matcher.matches(*obj)) continue;
    if (opts.limit > 0 && static_cast<int64_t>(out.items.size()) == opts.limit) {
      out.continue_token = std::to_string(out.revision) + "|" + last_key;
      break;
    }
    out.items.push_back(std::move(obj));
    last_key = it->first;
  }
  return out;
}

Result<std::unique_ptr<Watch>> FakeClient::watch(const api::KindInfo& kind, const std::string& ns,
                                                 const ListOptions& opts, WatchHandler handler) {
  if (auto r = state_->begin({"watch", kind.resource, "", ns, "", nullptr, ""}); r && !r->ok())
    return r->error();
  BERTH_ASSIGN_OR_RETURN(auto matcher, parseMatcher(kind, opts));
  int64_t from = -1;  // -1: from now, without history
  if (!opts.resource_version.empty() && opts.resource_version != "0") {
    bool ok = false;
    from = apiserver::parseResourceVersion(opts.resource_version, &ok);
    if (!ok)
      return apiserver::badRequest("invalid resourceVersion \"" + opts.resource_version + "\"");
  }
  auto ws = std::make_shared<WatchState>();
  ws->handler = std::move(handler);
  auto w = std::make_shared<Watcher>();
  w->kind = &kind;
  w->storage_resource = kind.storageResource();
  w->ns = ns;
  w->matcher = std::move(matcher);
  w->ws = ws;
  {
    std::lock_guard lock(state_->mu);
    state_->watchers.push_back(w);
    if (from >= 0) {
      if (from < state_->compacted) {
        // The watch cache's answer for a start before its window.
        state_->queueError(*w, makeError(ErrorCode::kExpired,
                                         "too old resource version: " + std::to_string(from) +
                                             " (" + std::to_string(state_->compacted + 1) + ")"));
      } else {
        for (const auto& e : state_->history)
          if (e.revision > from) state_->queueFor(*w, e);
      }
    }
  }
  state_->deliver();
  return std::unique_ptr<Watch>(std::make_unique<FakeWatch>(std::move(ws)));
}

Result<ObjectPtr> FakeClient::create(const api::KindInfo& kind, Object obj) {
  auto body = std::make_shared<const Object>(obj);
  if (auto r = state_->begin(
          {"create", kind.resource, "", api::namespaceOf(obj), api::name(obj), body, ""}))
    return std::move(*r);
  auto& md = api::mutableMetadata(obj);
  std::string ns;
  if (kind.namespaced) {
    ns = api::getString(md, "namespace");
    if (ns.empty())
      return apiserver::badRequest("an empty namespace may not be set during creation");
  } else {
    md.erase("namespace");
  }
  if (!api::getString(md, "resourceVersion").empty())
    return apiserver::badRequest("resourceVersion should not be set on objects to be created");
  std::string name = api::getString(md, "name");
  if (name.empty()) {
    std::string gen = api::getString(md, "generateName");
    if (gen.empty()) {
      api::FieldErrors errs;
      errs.required("metadata.name", "name or generateName is required");
      return errs.toError(kind.group, kind.kind, "");
    }
    name = gen + apiserver::generateNameSuffix();
    md["name"] = name;
  }
  md["uid"] = apiserver::newUid();
  md["creationTimestamp"] = now(clock_);
  md.erase("deletionTimestamp");
  md.erase("deletionGracePeriodSeconds");
  md.erase("selfLink");
  if (apiserver::kindHasGeneration(kind))
    md["generation"] = 1;
  else
    md.erase("generation");
  // The status subresource owns .status: the API server drops it on create.
  if (kind.has_status) obj.erase("status");
  if (!obj.contains("apiVersion")) obj["apiVersion"] = kind.groupVersion();
  if (!obj.contains("kind")) obj["kind"] = kind.kind;
  std::string key = storeKey(kind, ns, name);
  ObjectPtr out;
  {
    std::lock_guard lock(state_->mu);
    auto& bucket = state_->objects[kind.storageResource()];
    if (bucket.count(key)) return apiserver::alreadyExists(kind.group, kind.resource, name);
    int64_t rev = ++state_->revision;
    setRv(obj, rev);
    auto stored = std::make_shared<const Object>(toStored(kind, std::move(obj)));
    bucket[key] = stored;
    state_->record({rev, kind.storageResource(), EventType::kAdded, stored, nullptr});
    out = toServed(kind, stored);
  }
  state_->deliver();
  return out;
}

Result<ObjectPtr> FakeClient::update(const api::KindInfo& kind, Object obj, Subresource sub) {
  std::string ns = kind.namespaced ? api::namespaceOf(obj) : "";
  std::string name = api::name(obj);
  auto body = std::make_shared<const Object>(obj);
  if (auto r = state_->begin({"update", kind.resource, sub == Subresource::kStatus ? "status" : "",
                              ns, name, body, ""}))
    return std::move(*r);
  std::string client_rv = rvOf(obj);
  Result<ObjectPtr> res = ObjectPtr();
  {
    std::lock_guard lock(state_->mu);
    ObjectPtr current = state_->lookup(kind, ns, name);
    if (!current) return apiserver::notFound(kind.group, kind.resource, name);
    if (!client_rv.empty() && client_rv != rvOf(*current))
      return apiserver::conflict(kind.group, kind.resource, name, kModifiedDetail);
    res = state_->updateLocked(kind, ns, name, current, std::move(obj), sub);
  }
  state_->deliver();
  return res;
}

Result<ObjectPtr> FakeClient::patch(const api::KindInfo& kind, const std::string& ns,
                                    const std::string& name, PatchType type,
                                    const std::string& patch, Subresource sub) {
  Action action{"patch", kind.resource, sub == Subresource::kStatus ? "status" : "", ns, name,
                nullptr, patch};
  if (auto r = state_->begin(std::move(action))) return std::move(*r);
  Result<ObjectPtr> res = ObjectPtr();
  {
    std::lock_guard lock(state_->mu);
    ObjectPtr current = state_->lookup(kind, ns, name);
    if (!current) return apiserver::notFound(kind.group, kind.resource, name);
    ObjectPtr served = toServed(kind, current);
    BERTH_ASSIGN_OR_RETURN(auto patched,
                           apiserver::applyPatch(type, json::value(*served), patch, kind, sub));
    if (!patched.is_object()) return apiserver::badRequest("patch produced a non-object");
    // A resourceVersion in the patch is a precondition.
    std::string new_rv = rvOf(patched.get_object());
    if (!new_rv.empty() && new_rv != rvOf(*served))
      return apiserver::conflict(kind.group, kind.resource, name, kModifiedDetail);
    res = state_->updateLocked(kind, ns, name, current, std::move(patched.get_object()), sub);
  }
  state_->deliver();
  return res;
}

Result<ObjectPtr> FakeClient::remove(const api::KindInfo& kind, const std::string& ns,
                                     const std::string& name, const DeleteOptions& opts) {
  if (auto r = state_->begin({"delete", kind.resource, "", ns, name, nullptr, ""}))
    return std::move(*r);
  return removeObject(kind, ns, name, opts);
}

Result<ObjectPtr> FakeClient::removeObject(const api::KindInfo& kind, const std::string& ns,
                                           const std::string& name, const DeleteOptions& opts) {
  const bool is_namespace = kind.group.empty() && kind.kind == "Namespace";
  const bool is_pod = kind.group.empty() && kind.kind == "Pod";
  if (is_namespace && (name == "default" || name == "kube-system" || name == "kube-public"))
    return apiserver::forbidden(kind.group, kind.resource, name,
                                "this namespace may not be deleted");
  ObjectPtr out;
  {
    std::lock_guard lock(state_->mu);
    ObjectPtr current_stored = state_->lookup(kind, ns, name);
    if (!current_stored) return apiserver::notFound(kind.group, kind.resource, name);
    ObjectPtr current = toServed(kind, current_stored);
    std::string obj_uid = api::uid(*current);
    if (!opts.precondition_uid.empty() && opts.precondition_uid != obj_uid)
      return apiserver::conflict(kind.group, kind.resource, name,
                                 "Precondition failed: UID in precondition: " +
                                     opts.precondition_uid + ", UID in object meta: " + obj_uid);
    if (!opts.precondition_resource_version.empty() &&
        opts.precondition_resource_version != rvOf(*current))
      return apiserver::conflict(kind.group, kind.resource, name,
                                 "Precondition failed: ResourceVersion in precondition: " +
                                     opts.precondition_resource_version +
                                     ", ResourceVersion in object meta: " + rvOf(*current));
    // Mirrors Registry::remove: propagation finalizers, namespace
    // Terminating, graceful pod deletion, finalizers holding the object.
    Object next = *current;
    auto& md = api::mutableMetadata(next);
    bool pending = false;
    if (opts.propagation == Propagation::kForeground)
      addFinalizer(next, "foregroundDeletion");
    else if (opts.propagation == Propagation::kOrphan)
      addFinalizer(next, "orphan");
    if (is_namespace) {
      const auto* spec = api::findObject(next, "spec");
      const auto* sf = spec ? api::findArray(*spec, "finalizers") : nullptr;
      if (!isTerminating(*current) || (sf && !sf->empty())) {
        pending = true;
        api::ensureObject(next, "status")["phase"] = "Terminating";
      }
    }
    if (is_pod && !pending) {
      // Upstream's pod strategy CheckGracefulDelete: a pod bound to a node
      // waits for its agent unless the grace period is 0 or it never ran.
      std::string node = api::getStringPath(*current, "spec.nodeName");
      std::string phase = api::getStringPath(*current, "status.phase");
      int64_t grace = 30;
      if (const auto* spec = api::findObject(*current, "spec"))
        grace = api::getInt(*spec, "terminationGracePeriodSeconds", 30);
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
    if (opts.dry_run) return std::make_shared<const Object>(std::move(next));
    std::string key = storeKey(kind, ns, name);
    if (pending) {
      if (!md.contains("deletionTimestamp")) {
        md["deletionTimestamp"] = now(clock_);
        md["deletionGracePeriodSeconds"] = 0;
      }
      if (next == *current) return current;
      out = state_->commit(kind, key, current_stored, std::move(next));
    } else {
      // The DELETED event carries the deletion's revision; the caller gets
      // the object as it was.
      int64_t rev = ++state_->revision;
      Object gone = *current_stored;
      setRv(gone, rev);
      state_->objects[kind.storageResource()].erase(key);
      state_->record({rev, kind.storageResource(), EventType::kDeleted,
                      std::make_shared<const Object>(std::move(gone)), current_stored});
      out = current;
    }
  }
  state_->deliver();
  return out;
}

Result<ObjectPtr> FakeClient::createSubresource(const api::KindInfo& kind, const std::string& ns,
                                                const std::string& name,
                                                const std::string& subresource, Object body) {
  auto body_ptr = std::make_shared<const Object>(body);
  if (auto r =
          state_->begin({"create-subresource", kind.resource, subresource, ns, name, body_ptr, ""}))
    return std::move(*r);
  const bool is_pod = kind.group.empty() && kind.kind == "Pod";
  if (is_pod && subresource == "eviction") {
    // No PodDisruptionBudget logic here: reactors simulate 429s.
    DeleteOptions opts;
    if (const auto* del = api::findObject(body, "deleteOptions")) {
      if (auto g = api::intAt(*del, {"gracePeriodSeconds"})) opts.grace_period_seconds = *g;
      opts.precondition_uid = api::strAt(*del, {"preconditions", "uid"});
      opts.precondition_resource_version = api::strAt(*del, {"preconditions", "resourceVersion"});
    }
    BERTH_RETURN_IF_ERROR(removeObject(kind, ns, name, opts));
    return std::make_shared<const Object>(successStatus());
  }
  if (!is_pod || subresource != "binding")
    return apiserver::notFound(kind.group, kind.resource + "/" + subresource, name);
  // pods/binding, after upstream's BindingREST.setPodNodeAndMetadata.
  std::string target = api::strAt(body, {"target", "name"});
  if (target.empty()) {
    api::FieldErrors errs;
    errs.required("target.name", "");
    return errs.toError("", "Binding", name);
  }
  {
    std::lock_guard lock(state_->mu);
    ObjectPtr current_stored = state_->lookup(kind, ns, name);
    if (!current_stored) return apiserver::notFound(kind.group, kind.resource, name);
    const Object& pod = *current_stored;
    std::string want_uid = api::strAt(body, {"metadata", "uid"});
    if (!want_uid.empty() && want_uid != api::uid(pod))
      return apiserver::conflict(kind.group, kind.resource, name,
                                 "Precondition failed: UID in precondition: " + want_uid +
                                     ", UID in object meta: " + api::uid(pod));
    if (isTerminating(pod))
      return apiserver::conflict("", "pods/binding", name,
                                 "pod " + name + " is being deleted, cannot be assigned to a host");
    std::string bound = api::getStringPath(pod, "spec.nodeName");
    if (!bound.empty())
      return apiserver::conflict("", "pods/binding", name,
                                 "pod " + name + " is already assigned to node \"" + bound + "\"");
    Object next = pod;
    api::ensureObject(next, "spec")["nodeName"] = target;
    if (const auto* ann = api::objAt(body, {"metadata", "annotations"}); ann && !ann->empty()) {
      auto& dst = api::ensureObject(api::mutableMetadata(next), "annotations");
      for (const auto& [k, v] : *ann) dst[k] = v;
    }
    // podutil.UpdatePodCondition(PodScheduled=True): the condition is
    // replaced (an Unschedulable reason and message go); lastTransitionTime
    // is now unless it was True already.
    auto& conditions = api::ensureArray(api::ensureObject(next, "status"), "conditions");
    Object cond{{"type", "PodScheduled"},
                {"status", "True"},
                {"lastProbeTime", nullptr},
                {"lastTransitionTime", now(clock_)}};
    bool replaced = false;
    for (auto& c : conditions) {
      if (!c.is_object() || api::getString(c.get_object(), "type") != "PodScheduled") continue;
      const Object& old = c.get_object();
      if (api::getString(old, "status") == "True")
        if (const auto* t = old.if_contains("lastTransitionTime")) cond["lastTransitionTime"] = *t;
      c = std::move(cond);
      replaced = true;
      break;
    }
    if (!replaced) conditions.push_back(std::move(cond));
    state_->commit(kind, storeKey(kind, ns, name), current_stored, std::move(next));
  }
  state_->deliver();
  return std::make_shared<const Object>(successStatus());
}

}  // namespace berth::client
