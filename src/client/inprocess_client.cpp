#include "client/inprocess_client.h"

#include <pthread.h>

#include <array>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <deque>
#include <optional>
#include <thread>
#include <unordered_map>

#include "api/object.h"
#include "api/patch.h"
#include "apiserver/registry/codec.h"
#include "apiserver/registry/selection.h"
#include "apiserver/registry/watch_filter.h"
#include "apiserver/status.h"
#include "client/remote_client.h"
#include "common/log.h"

namespace berth::client {

namespace json = boost::json;
using apiserver::Registry;

namespace {

Result<Object> parseObject(std::string_view bytes) {
  // One parser per thread: its scratch buffers are reused across events.
  thread_local json::parser parser(json::storage_ptr(), [] {
    json::parse_options o;
    o.max_depth = api::kMaxJsonDepth;
    return o;
  }());
  parser.reset();
  json::error_code ec;
  parser.write(bytes, ec);
  if (ec) return apiserver::internalError("stored object is corrupt: " + ec.message());
  json::value v = parser.release();
  if (!v.is_object()) return apiserver::internalError("stored object is not a JSON object");
  return std::move(v.get_object());
}

// The path Registry-level errors for an unknown route share with the API.
Error pathNotFound() {
  return makeError(ErrorCode::kNotFound, "the server could not find the requested resource");
}

bool isPod(const api::KindInfo& kind) { return kind.group.empty() && kind.kind == "Pod"; }

// autoscaling/v1 Scale of an object with spec.replicas, as the scale
// subresource serves it (rest_scale.cpp).
Object scaleOf(const Object& obj) {
  Object md;
  if (auto* m = api::metadata(obj))
    for (const char* f : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"})
      if (auto* v = m->if_contains(f)) md[f] = *v;
  const Object* spec = api::findObject(obj, "spec");
  const Object* status = api::findObject(obj, "status");
  Object scale_status{{"replicas", status ? api::getInt(*status, "replicas", 0) : 0}};
  std::string selector =
      spec ? apiserver::selectorString(api::find(*spec, "selector")) : std::string();
  if (!selector.empty()) scale_status["selector"] = selector;
  return Object{{"kind", "Scale"},
                {"apiVersion", "autoscaling/v1"},
                {"metadata", std::move(md)},
                {"spec", Object{{"replicas", spec ? api::getInt(*spec, "replicas", 0) : 0}}},
                {"status", std::move(scale_status)}};
}

EventType eventType(storage::EventType t) {
  switch (t) {
    case storage::EventType::kAdded:
      return EventType::kAdded;
    case storage::EventType::kModified:
      return EventType::kModified;
    case storage::EventType::kDeleted:
      return EventType::kDeleted;
    case storage::EventType::kBookmark:
      return EventType::kBookmark;
  }
  return EventType::kError;
}

}  // namespace

// Decoded objects by the identity of the stored bytes they came from. The
// watch cache hands the same shared bytes to every watch and to gets and
// lists, so the scheduler's and several controllers' informers on pods parse
// each pod version once. Entries hold neither the bytes nor the object
// (weak references), so the cache never keeps memory alive; an address can
// only be reused after its bytes are freed, which a dead weak pointer shows.
class InProcessClient::DecodeCache {
 public:
  // Keys are the identity of shared stored bytes, so one cache serves every
  // client in the process. Never destroyed: clients may outlive statics.
  static DecodeCache& shared() {
    static DecodeCache* cache = new DecodeCache();
    return *cache;
  }

  ObjectPtr find(const storage::Bytes& bytes) {
    Shard& s = shard(bytes.get());
    std::lock_guard lock(s.mu);
    auto it = s.entries.find(bytes.get());
    if (it == s.entries.end()) return nullptr;
    if (it->second.bytes.lock() != bytes) return nullptr;
    return it->second.object.lock();
  }

  void insert(const storage::Bytes& bytes, const ObjectPtr& obj) {
    Shard& s = shard(bytes.get());
    std::lock_guard lock(s.mu);
    auto [it, inserted] = s.entries.insert_or_assign(bytes.get(), Entry{bytes, obj});
    if (!inserted) return;
    s.order.push_back(bytes.get());
    while (s.order.size() > kPerShard) {
      s.entries.erase(s.order.front());
      s.order.pop_front();
    }
  }

 private:
  static constexpr size_t kShards = 16;
  static constexpr size_t kPerShard = 4096;
  struct Entry {
    std::weak_ptr<const std::string> bytes;
    std::weak_ptr<const Object> object;
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<const std::string*, Entry> entries;
    std::deque<const std::string*> order;  // insertion order, for eviction
  };
  Shard& shard(const std::string* p) {
    return shards_[(reinterpret_cast<uintptr_t>(p) >> 4) % kShards];
  }

  std::array<Shard, kShards> shards_;
};

// ---- watches ----------------------------------------------------------------

struct InProcessClient::WatchState {
  // Fixed at start.
  Registry* registry = nullptr;
  InProcessClient* client = nullptr;
  const api::KindInfo* kind = nullptr;
  apiserver::Selection selection;
  WatchHandler handler;
  size_t max_pending = 0;

  std::mutex mu;
  std::condition_variable idle;
  std::deque<storage::Event> pending;
  std::optional<Error> close_error;  // the store ended the watch (delivered after `pending`)
  bool scheduled = false;            // queued on or run by the dispatcher
  bool running = false;              // a dispatcher thread is delivering
  std::thread::id runner;
  bool stopped = false;  // stop() or the client's destructor
  bool ended = false;    // kError delivered
  std::atomic<bool> stopping{false};
  std::unique_ptr<storage::WatchHandle> handle;
};

// A fixed pool of threads delivering the queued events of ready watches.
// A watch is in the ready queue at most once (WatchState::scheduled), so its
// events are delivered in order by one thread at a time; a watch with a long
// backlog goes back to the end of the queue after a batch so that others are
// not starved.
class InProcessClient::Dispatcher {
 public:
  explicit Dispatcher(int threads) {
    for (int i = 0; i < std::max(1, threads); ++i)
      threads_.emplace_back([this] {
        pthread_setname_np(pthread_self(), "watch-dispatch");
        loop();
      });
  }

  ~Dispatcher() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  void post(std::shared_ptr<WatchState> state) {
    {
      std::lock_guard lock(mu_);
      ready_.push_back(std::move(state));
    }
    cv_.notify_one();
  }

 private:
  static constexpr size_t kBatch = 512;

  void loop() {
    while (true) {
      std::shared_ptr<WatchState> state;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !ready_.empty(); });
        if (stopping_) return;
        state = std::move(ready_.front());
        ready_.pop_front();
      }
      run(state);
    }
  }

  void run(const std::shared_ptr<WatchState>& s) {
    std::vector<storage::Event> batch;
    std::optional<Error> error;
    {
      std::lock_guard lock(s->mu);
      if (s->stopped || s->ended) {
        s->scheduled = false;
        s->idle.notify_all();
        return;
      }
      size_t n = std::min(kBatch, s->pending.size());
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(s->pending.front()));
        s->pending.pop_front();
      }
      if (s->pending.empty() && s->close_error) error = s->close_error;
      s->running = true;
      s->runner = std::this_thread::get_id();
    }
    for (const auto& ev : batch) {
      if (s->stopping.load(std::memory_order_relaxed)) break;
      deliver(*s, ev);
    }
    if (error && !s->stopping.load()) {
      Event e;
      e.type = EventType::kError;
      e.error = *error;
      call(*s, e);
    }
    std::lock_guard lock(s->mu);
    s->running = false;
    s->runner = {};
    if (error) s->ended = true;
    if (!s->stopped && !s->ended && (!s->pending.empty() || s->close_error)) {
      post(s);  // still scheduled
    } else {
      s->scheduled = false;
    }
    s->idle.notify_all();
  }

  static void call(WatchState& s, const Event& e) {
    try {
      s.handler(e);
    } catch (const std::exception& ex) {
      BERTH_LOG(kError, "client") << "watch handler threw resource=" << s.kind->resource
                                  << " error=" << ex.what();
    }
  }

  static void deliver(WatchState& s, const storage::Event& ev) {
    Event e;
    if (ev.type == storage::EventType::kBookmark) {
      // As the API's BOOKMARK: an object of the kind carrying only the revision.
      e.type = EventType::kBookmark;
      e.revision = ev.kv.mod_revision;
      e.object = std::make_shared<const Object>(
          Object{{"kind", s.kind->kind},
                 {"apiVersion", s.kind->groupVersion()},
                 {"metadata", Object{{"resourceVersion", std::to_string(ev.kv.mod_revision)}}}});
      call(s, e);
      return;
    }
    storage::KeyValue kv;
    auto type = apiserver::selectWatchEvent(s.registry->kinds(), s.selection, ev, &kv);
    if (!type) return;
    auto obj = s.client->decode(*s.kind, kv);
    if (!obj.ok()) {
      BERTH_LOG(kError, "client") << "watch dropped an undecodable value key=" << kv.key;
      return;
    }
    e.type = eventType(*type);
    e.object = std::move(obj).value();
    e.revision = kv.mod_revision;
    call(s, e);
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<WatchState>> ready_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

namespace {

// Ends delivery: no sink call after the store handle is gone, no handler call
// after this returns (unless called from the handler itself).
void stopWatch(const std::shared_ptr<InProcessClient::WatchState>& s) {
  std::unique_ptr<storage::WatchHandle> handle;
  {
    std::lock_guard lock(s->mu);
    s->stopped = true;
    s->stopping = true;
    handle = std::move(s->handle);
    s->pending.clear();
  }
  handle.reset();
  std::unique_lock lock(s->mu);
  if (s->runner == std::this_thread::get_id()) return;
  s->idle.wait(lock, [&] { return !s->running; });
}

class InProcessWatch : public Watch {
 public:
  explicit InProcessWatch(std::shared_ptr<InProcessClient::WatchState> state)
      : state_(std::move(state)) {}
  ~InProcessWatch() override { stop(); }
  void stop() override { stopWatch(state_); }

 private:
  std::shared_ptr<InProcessClient::WatchState> state_;
};

// Queues under the state's lock and hands the watch to the dispatcher when
// it is not already there.
void enqueue(const std::shared_ptr<InProcessClient::WatchState>& s,
             InProcessClient::Dispatcher& dispatcher, const storage::Event* event,
             const Error* close) {
  std::lock_guard lock(s->mu);
  if (s->stopped || s->ended || s->close_error) return;
  if (close) {
    s->close_error = *close;
  } else if (s->pending.size() >= s->max_pending) {
    s->close_error =
        makeError(ErrorCode::kUnavailable,
                  "watch of " + s->kind->resource + " ended: the handler fell too far behind");
    s->pending.clear();
  } else {
    s->pending.push_back(*event);
  }
  if (!s->scheduled) {
    s->scheduled = true;
    dispatcher.post(s);
  }
}

}  // namespace

// ---- the client --------------------------------------------------------------

InProcessClient::InProcessClient(apiserver::Registry& registry)
    : InProcessClient(registry, Options{}) {}

InProcessClient::InProcessClient(apiserver::Registry& registry, Options options)
    : registry_(registry),
      options_(std::move(options)),
      decoded_(&DecodeCache::shared()),
      dispatcher_(std::make_unique<Dispatcher>(options_.watch_threads)) {}

InProcessClient::~InProcessClient() {
  std::vector<std::shared_ptr<WatchState>> live;
  {
    std::lock_guard lock(watches_mu_);
    for (auto& w : watches_)
      if (auto s = w.lock()) live.push_back(std::move(s));
    watches_.clear();
  }
  for (auto& s : live) stopWatch(s);
  dispatcher_.reset();
}

apiserver::WriteOptions InProcessClient::writeOptions(Subresource sub) const {
  apiserver::WriteOptions o;
  // In-process callers build objects in code; unknown fields are dropped
  // silently rather than reported.
  o.field_validation = apiserver::FieldValidation::kIgnore;
  o.subresource = sub;
  o.user = options_.user;
  return o;
}

Result<ObjectPtr> InProcessClient::decode(const api::KindInfo& kind, const storage::KeyValue& kv) {
  if (!kv.value) return apiserver::internalError("stored object is empty");
  const bool convert = &registry_.storageKind(kind) != &kind;
  if (!convert) {
    if (auto hit = decoded_->find(kv.value)) return hit;
  }
  BERTH_ASSIGN_OR_RETURN(auto obj, parseObject(*kv.value));
  if (convert)
    return ObjectPtr(std::make_shared<const Object>(registry_.fromStorage(kind, std::move(obj))));
  auto ptr = std::make_shared<const Object>(std::move(obj));
  decoded_->insert(kv.value, ptr);
  return ObjectPtr(std::move(ptr));
}

Result<ObjectPtr> InProcessClient::get(const api::KindInfo& kind, const std::string& ns,
                                       const std::string& name) {
  BERTH_ASSIGN_OR_RETURN(auto kv, registry_.getRaw(kind, ns, name));
  return decode(kind, kv);
}

Result<ObjectList> InProcessClient::list(const api::KindInfo& kind, const std::string& ns,
                                         const ListOptions& opts) {
  apiserver::ListParams params;
  params.label_selector = opts.label_selector;
  params.field_selector = opts.field_selector;
  params.limit = opts.limit;
  params.continue_token = opts.continue_token;
  params.resource_version = opts.resource_version;
  BERTH_ASSIGN_OR_RETURN(auto page, registry_.list(kind, ns, params));
  ObjectList out;
  out.revision = page.revision;
  out.continue_token = std::move(page.continue_token);
  out.items.reserve(page.items.size());
  for (const auto& kv : page.items) {
    BERTH_ASSIGN_OR_RETURN(auto obj, decode(kind, kv));
    out.items.push_back(std::move(obj));
  }
  return out;
}

Result<std::unique_ptr<Watch>> InProcessClient::watch(const api::KindInfo& kind,
                                                      const std::string& ns,
                                                      const ListOptions& opts,
                                                      WatchHandler handler) {
  BERTH_ASSIGN_OR_RETURN(
      auto selection, apiserver::Selection::parse(kind, opts.label_selector, opts.field_selector));
  storage::WatchOptions wo;
  wo.prefix = Registry::prefix(kind, ns);
  wo.bookmarks = true;
  if (!opts.resource_version.empty() && opts.resource_version != "0") {
    bool ok;
    wo.after_revision = apiserver::parseResourceVersion(opts.resource_version, &ok);
    if (!ok)
      return apiserver::badRequest("invalid resource version \"" + opts.resource_version + "\"");
  }
  auto state = std::make_shared<WatchState>();
  state->registry = &registry_;
  state->client = this;
  state->kind = &kind;
  state->selection = std::move(selection);
  state->handler = std::move(handler);
  state->max_pending = std::max<size_t>(1, options_.max_pending_events);

  Dispatcher* dispatcher = dispatcher_.get();
  std::weak_ptr<WatchState> weak = state;
  storage::WatchSink sink;
  sink.on_event = [weak, dispatcher](const storage::Event& ev) {
    if (auto s = weak.lock()) enqueue(s, *dispatcher, &ev, nullptr);
  };
  sink.on_close = [weak, dispatcher](const Error& error) {
    if (auto s = weak.lock()) enqueue(s, *dispatcher, nullptr, &error);
  };
  auto handle = registry_.store().watch(wo, std::move(sink));
  if (!handle.ok()) {
    Error e = std::move(handle).error();
    if (e.code != ErrorCode::kExpired) return e;
    // Like upstream's cacher: an accepted watch whose start is gone answers
    // with an error event.
    if (e.message.empty()) e.message = "too old resource version";
    enqueue(state, *dispatcher, nullptr, &e);
  } else {
    std::lock_guard lock(state->mu);
    state->handle = std::move(handle).value();
  }
  {
    std::lock_guard lock(watches_mu_);
    std::erase_if(watches_, [](const std::weak_ptr<WatchState>& w) { return w.expired(); });
    watches_.push_back(state);
  }
  return std::unique_ptr<Watch>(std::make_unique<InProcessWatch>(std::move(state)));
}

Result<ObjectPtr> InProcessClient::create(const api::KindInfo& kind, Object obj) {
  std::string ns = kind.namespaced ? api::namespaceOf(obj) : "";
  if (kind.namespaced && ns.empty()) return pathNotFound();
  BERTH_ASSIGN_OR_RETURN(auto created, registry_.create(kind, ns, std::move(obj), writeOptions()));
  return ObjectPtr(std::make_shared<const Object>(std::move(created)));
}

Result<ObjectPtr> InProcessClient::update(const api::KindInfo& kind, Object obj, Subresource sub) {
  std::string ns = kind.namespaced ? api::namespaceOf(obj) : "";
  std::string name = api::name(obj);
  if ((kind.namespaced && ns.empty()) || name.empty()) return pathNotFound();
  if (sub == Subresource::kScale) {
    if (!kind.has_scale) return pathNotFound();
    // PUT of a Scale: its resourceVersion, when set, is a precondition.
    std::string want_rv = api::getStringPath(obj, "metadata.resourceVersion");
    const Object* spec = api::findObject(obj, "spec");
    int64_t replicas = spec ? api::getInt(*spec, "replicas", 0) : 0;
    return writeScale(kind, ns, name, [&](const Object& scale) -> Result<Object> {
      if (!want_rv.empty() && want_rv != api::getStringPath(scale, "metadata.resourceVersion"))
        return apiserver::conflict(
            kind.group, kind.resource, name,
            "the object has been modified; please apply your changes to the latest "
            "version and try again");
      Object next = scale;
      api::ensureObject(next, "spec")["replicas"] = replicas;
      return next;
    });
  }
  BERTH_ASSIGN_OR_RETURN(auto updated,
                         registry_.update(kind, ns, name, std::move(obj), writeOptions(sub)));
  return ObjectPtr(std::make_shared<const Object>(std::move(updated)));
}

Result<ObjectPtr> InProcessClient::patch(const api::KindInfo& kind, const std::string& ns,
                                         const std::string& name, PatchType type,
                                         const std::string& patch, Subresource sub) {
  if (sub == Subresource::kScale) {
    if (!kind.has_scale) return pathNotFound();
    return writeScale(kind, ns, name, [&](const Object& scale) -> Result<Object> {
      BERTH_ASSIGN_OR_RETURN(auto patched, apiserver::applyPatch(type, json::value(scale), patch,
                                                                 kind, Subresource::kScale));
      if (!patched.is_object()) return apiserver::badRequest("patch produced a non-object");
      return std::move(patched.get_object());
    });
  }
  BERTH_ASSIGN_OR_RETURN(auto patched,
                         registry_.patch(kind, ns, name, type, patch, writeOptions(sub)));
  return ObjectPtr(std::make_shared<const Object>(std::move(patched)));
}

Result<ObjectPtr> InProcessClient::writeScale(
    const api::KindInfo& kind, const std::string& ns, const std::string& name,
    const std::function<Result<Object>(const Object& scale)>& change) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    BERTH_ASSIGN_OR_RETURN(auto current, registry_.get(kind, ns, name));
    BERTH_ASSIGN_OR_RETURN(auto wanted, change(scaleOf(current)));
    const Object* spec = api::findObject(wanted, "spec");
    const json::value* rep = spec ? spec->if_contains("replicas") : nullptr;
    if (rep && !rep->is_int64() && !rep->is_uint64())
      return apiserver::badRequest("Scale.autoscaling/v1 spec.replicas must be an integer");
    int64_t replicas = !rep ? 0
                       : rep->is_int64()
                           ? rep->get_int64()
                           : static_cast<int64_t>(std::min<uint64_t>(rep->get_uint64(), INT64_MAX));
    if (replicas < 0) {
      api::FieldErrors errs;
      errs.invalid("spec.replicas", std::to_string(replicas), "must be greater than or equal to 0");
      return errs.toError("autoscaling", "Scale", name);
    }
    Object next = current;
    api::ensureObject(next, "spec")["replicas"] = replicas;
    // The read revision guards the write: a concurrent change means retry.
    auto res = registry_.update(kind, ns, name, std::move(next), writeOptions());
    if (res.ok()) return ObjectPtr(std::make_shared<const Object>(scaleOf(*res)));
    if (res.error().code != ErrorCode::kConflict) return res.error();
  }
  return apiserver::conflict(kind.group, kind.resource, name, "too many conflicts");
}

Result<ObjectPtr> InProcessClient::remove(const api::KindInfo& kind, const std::string& ns,
                                          const std::string& name, const DeleteOptions& opts) {
  BERTH_ASSIGN_OR_RETURN(auto res, registry_.remove(kind, ns, name, opts));
  return ObjectPtr(std::make_shared<const Object>(std::move(res.object)));
}

Result<ObjectPtr> InProcessClient::createSubresource(const api::KindInfo& kind,
                                                     const std::string& ns, const std::string& name,
                                                     const std::string& subresource, Object body) {
  if (!isPod(kind) || (subresource != "binding" && subresource != "eviction"))
    return pathNotFound();
  const bool binding = subresource == "binding";
  auto& md = api::mutableMetadata(body);
  if (api::getString(md, "name").empty()) md["name"] = name;
  if (api::getString(md, "namespace").empty()) md["namespace"] = ns;
  if (api::getString(body, "apiVersion").empty()) body["apiVersion"] = binding ? "v1" : "policy/v1";
  if (api::getString(body, "kind").empty()) body["kind"] = binding ? "Binding" : "Eviction";
  if (binding) {
    BERTH_RETURN_IF_ERROR(registry_.bind(ns, name, body, writeOptions()));
    return ObjectPtr(std::make_shared<const Object>(Object{{"kind", "Status"},
                                                           {"apiVersion", "v1"},
                                                           {"metadata", Object()},
                                                           {"status", "Success"},
                                                           {"code", 201}}));
  }
  BERTH_ASSIGN_OR_RETURN(auto answer, registry_.evict(ns, name, body, writeOptions()));
  // The API sends the answer with its code as the HTTP status; a Failure
  // (a pod with several budgets) is an error to a client.
  if (api::getInt(answer, "code", 201) >= 300) return errorFromStatus(answer);
  return ObjectPtr(std::make_shared<const Object>(std::move(answer)));
}

}  // namespace berth::client
