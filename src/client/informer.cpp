#include "client/informer.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <set>
#include <utility>

#include "api/object.h"
#include "common/log.h"

namespace berth::client {

namespace {

// client-go's reflector pages its initial list by 500.
constexpr int64_t kListPageSize = 500;
// Consecutive failed list+watch cycles back off from this, doubling, up to
// kBackoffMax (client-go's reflector: 800ms .. 30s; the first relist after a
// working watch is immediate here, so a 410 costs one list and no wait).
constexpr std::chrono::milliseconds kBackoffInitial{100};
constexpr std::chrono::milliseconds kBackoffMax{30000};

std::string rvOf(const Object& obj) { return api::getStringPath(obj, "metadata.resourceVersion"); }

int64_t parseRv(const std::string& rv) {
  int64_t v = 0;
  if (rv.empty() || rv.size() > 18) return 0;
  for (char c : rv) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + (c - '0');
  }
  return v;
}

// What the cache is asked to do, in order. Watch events, relists, injected
// changes and handler registrations all go through one queue so that
// handlers see them in the order they happened.
struct Op {
  enum class Type { kUpsert, kDelete, kDeleteKey, kReplace, kBookmark, kAddHandlers };
  Type type = Type::kUpsert;
  ObjectPtr object;
  std::string key;
  std::vector<ObjectPtr> items;
  int64_t revision = 0;
  EventHandlers handlers;
};

}  // namespace

struct Informer::State {
  // The cache and its indexes.
  mutable std::shared_mutex cache_mu;
  std::map<std::string, ObjectPtr> items;
  std::map<std::string, IndexFunc> index_funcs;  // fixed once started
  std::map<std::string, std::map<std::string, std::set<std::string>>> indexes;
  std::atomic<int64_t> revision{0};

  std::mutex sync_mu;
  std::condition_variable sync_cv;
  std::atomic<bool> synced{false};

  // The op queue: one thread at a time drains it and calls the handlers.
  std::mutex op_mu;
  std::condition_variable op_cv;
  std::deque<Op> ops;
  bool draining = false;
  std::thread::id drainer;
  uint64_t enqueued = 0;
  uint64_t processed = 0;
  std::vector<EventHandlers> handlers;  // touched only by the draining thread

  // The list+watch thread.
  std::mutex run_mu;
  std::condition_variable run_cv;
  bool started = false;
  bool stopping = false;
  bool watch_ended = false;
  Error watch_error;
  std::atomic<bool> watch_delivered{false};
  std::thread thread;

  void setSynced() {
    {
      std::lock_guard lock(sync_mu);
      synced = true;
    }
    sync_cv.notify_all();
  }

  void bumpRevision(int64_t rev) {
    int64_t cur = revision.load();
    while (rev > cur && !revision.compare_exchange_weak(cur, rev)) {
    }
  }

  // Requires cache_mu exclusively.
  void unindex(const std::string& key, const Object& obj) {
    for (const auto& [name, fn] : index_funcs) {
      auto& index = indexes[name];
      for (const auto& value : fn(obj)) {
        auto it = index.find(value);
        if (it == index.end()) continue;
        it->second.erase(key);
        if (it->second.empty()) index.erase(it);
      }
    }
  }
  void index(const std::string& key, const Object& obj) {
    for (const auto& [name, fn] : index_funcs) {
      auto& index = indexes[name];
      for (const auto& value : fn(obj)) index[value].insert(key);
    }
  }

  // Queues an op and, unless another thread is draining, drains the queue on
  // this thread. wait: return only once the op has been processed (not when
  // called from inside a handler of this informer, which would deadlock).
  void submit(Op op, bool wait) {
    uint64_t seq;
    {
      std::unique_lock lock(op_mu);
      ops.push_back(std::move(op));
      seq = ++enqueued;
      if (draining) {
        if (wait && drainer != std::this_thread::get_id())
          op_cv.wait(lock, [&] { return processed >= seq; });
        return;
      }
      draining = true;
      drainer = std::this_thread::get_id();
    }
    drain();
  }

  void drain() {
    for (;;) {
      Op op;
      {
        std::lock_guard lock(op_mu);
        if (ops.empty()) {
          draining = false;
          drainer = std::thread::id();
          op_cv.notify_all();
          return;
        }
        op = std::move(ops.front());
        ops.pop_front();
      }
      process(op);
      {
        std::lock_guard lock(op_mu);
        ++processed;
      }
      op_cv.notify_all();
    }
  }

  void callAdd(const ObjectPtr& obj) {
    for (const auto& h : handlers)
      if (h.on_add) h.on_add(obj);
  }
  void callUpdate(const ObjectPtr& old_obj, const ObjectPtr& new_obj) {
    for (const auto& h : handlers)
      if (h.on_update) h.on_update(old_obj, new_obj);
  }
  void callDelete(const ObjectPtr& obj) {
    for (const auto& h : handlers)
      if (h.on_delete) h.on_delete(obj);
  }

  void process(Op& op) {
    switch (op.type) {
      case Op::Type::kUpsert: {
        std::string key = keyOf(*op.object);
        ObjectPtr old;
        {
          std::unique_lock lock(cache_mu);
          auto it = items.find(key);
          if (it != items.end()) {
            old = it->second;
            // The same resourceVersion is the same object (a replayed event).
            std::string rv = rvOf(*op.object);
            if (!rv.empty() && rv == rvOf(*old)) {
              bumpRevision(op.revision);
              return;
            }
            unindex(key, *old);
            it->second = op.object;
          } else {
            items.emplace(key, op.object);
          }
          index(key, *op.object);
          bumpRevision(op.revision);
        }
        if (old)
          callUpdate(old, op.object);
        else
          callAdd(op.object);
        return;
      }
      case Op::Type::kDelete:
      case Op::Type::kDeleteKey: {
        std::string key = op.type == Op::Type::kDelete ? keyOf(*op.object) : op.key;
        ObjectPtr old;
        {
          std::unique_lock lock(cache_mu);
          bumpRevision(op.revision);
          auto it = items.find(key);
          if (it == items.end()) return;
          old = it->second;
          unindex(key, *old);
          items.erase(it);
        }
        // A watch event carries the object's final state; an injected delete
        // only names the key.
        callDelete(op.object ? op.object : old);
        return;
      }
      case Op::Type::kReplace: {
        // Reconcile a fresh list with the cache (client-go's Replace): new
        // keys are adds, changed resourceVersions updates, keys gone deletes
        // (whose last state is the one the cache held).
        std::vector<std::pair<ObjectPtr, ObjectPtr>> changed;  // (old or null, new)
        std::vector<ObjectPtr> deleted;
        {
          std::unique_lock lock(cache_mu);
          std::map<std::string, ObjectPtr> next;
          for (auto& obj : op.items) {
            std::string key = keyOf(*obj);
            auto it = items.find(key);
            if (it == items.end()) {
              changed.emplace_back(nullptr, obj);
            } else {
              std::string rv = rvOf(*obj);
              if (rv.empty() || rv != rvOf(*it->second))
                changed.emplace_back(it->second, obj);
              else
                obj = it->second;  // unchanged: keep the cached pointer
            }
            next.emplace(std::move(key), obj);
          }
          for (auto& [key, obj] : items)
            if (!next.count(key)) deleted.push_back(obj);
          items = std::move(next);
          indexes.clear();
          for (const auto& [key, obj] : items) index(key, *obj);
          revision = op.revision;
        }
        for (const auto& [old, obj] : changed) {
          if (old)
            callUpdate(old, obj);
          else
            callAdd(obj);
        }
        for (const auto& obj : deleted) callDelete(obj);
        setSynced();
        return;
      }
      case Op::Type::kBookmark:
        bumpRevision(op.revision);
        return;
      case Op::Type::kAddHandlers: {
        handlers.push_back(std::move(op.handlers));
        std::vector<ObjectPtr> snapshot;
        {
          std::shared_lock lock(cache_mu);
          snapshot.reserve(items.size());
          for (const auto& [key, obj] : items) snapshot.push_back(obj);
        }
        if (const auto& on_add = handlers.back().on_add)
          for (const auto& obj : snapshot) on_add(obj);
        return;
      }
    }
  }
};

Informer::Informer(Client& client, const api::KindInfo& kind, std::string ns, ListOptions selectors)
    : client_(client),
      kind_(kind),
      ns_(std::move(ns)),
      selectors_(std::move(selectors)),
      state_(std::make_unique<State>()) {
  selectors_.limit = 0;
  selectors_.continue_token.clear();
  selectors_.resource_version.clear();
}

Informer::~Informer() { stop(); }

void Informer::addHandlers(EventHandlers handlers) {
  Op op;
  op.type = Op::Type::kAddHandlers;
  op.handlers = std::move(handlers);
  state_->submit(std::move(op), /*wait=*/false);
}

void Informer::addIndex(const std::string& name, IndexFunc fn) {
  std::unique_lock lock(state_->cache_mu);
  auto& index = state_->indexes[name];
  index.clear();
  for (const auto& [key, obj] : state_->items)
    for (const auto& value : fn(*obj)) index[value].insert(key);
  state_->index_funcs[name] = std::move(fn);
}

void Informer::start() {
  std::lock_guard lock(state_->run_mu);
  if (state_->started) return;
  state_->started = true;
  State* s = state_.get();
  s->thread = std::thread([this, s] {
    pthread_setname_np(pthread_self(), "informer");
    int failures = 0;
    for (;;) {
      if (failures >= 2) {
        auto delay = kBackoffInitial * (int64_t{1} << std::min(failures - 2, 10));
        delay = std::min<std::chrono::milliseconds>(delay, kBackoffMax);
        std::unique_lock lock(s->run_mu);
        if (s->run_cv.wait_for(lock, delay, [s] { return s->stopping; })) return;
      }
      {
        std::lock_guard lock(s->run_mu);
        if (s->stopping) return;
        s->watch_ended = false;
      }
      // List, page by page; the first page's revision is the list's.
      ListOptions opts = selectors_;
      opts.limit = kListPageSize;
      std::vector<ObjectPtr> items;
      int64_t list_revision = 0;
      bool first = true;
      Error list_error;
      bool list_ok = true;
      for (;;) {
        auto page = client_.list(kind_, ns_, opts);
        if (!page.ok()) {
          list_error = page.error();
          list_ok = false;
          break;
        }
        if (first) list_revision = page->revision;
        first = false;
        items.insert(items.end(), std::make_move_iterator(page->items.begin()),
                     std::make_move_iterator(page->items.end()));
        if (page->continue_token.empty()) break;
        opts.continue_token = page->continue_token;
      }
      if (!list_ok) {
        BERTH_LOG(kWarning, "informer")
            << "list failed resource=" << kind_.resource
            << " code=" << errorCodeName(list_error.code) << " error=" << list_error.message;
        ++failures;
        continue;
      }
      Op replace;
      replace.type = Op::Type::kReplace;
      replace.items = std::move(items);
      replace.revision = list_revision;
      s->submit(std::move(replace), /*wait=*/false);

      // Watch from the list's revision until the watch ends or stop().
      ListOptions wopts = selectors_;
      wopts.resource_version = std::to_string(list_revision);
      s->watch_delivered = false;
      auto watch = client_.watch(kind_, ns_, wopts, [s](const Event& ev) {
        Op op;
        switch (ev.type) {
          case EventType::kAdded:
          case EventType::kModified:
            op.type = Op::Type::kUpsert;
            break;
          case EventType::kDeleted:
            op.type = Op::Type::kDelete;
            break;
          case EventType::kBookmark:
            op.type = Op::Type::kBookmark;
            break;
          case EventType::kError: {
            {
              std::lock_guard lock(s->run_mu);
              s->watch_ended = true;
              s->watch_error = ev.error;
            }
            s->run_cv.notify_all();
            return;
          }
        }
        if (op.type != Op::Type::kBookmark && !ev.object) return;
        s->watch_delivered = true;
        op.object = ev.object;
        op.revision = ev.revision;
        s->submit(std::move(op), /*wait=*/false);
      });
      if (!watch.ok()) {
        BERTH_LOG(kWarning, "informer")
            << "watch failed resource=" << kind_.resource
            << " code=" << errorCodeName(watch.error().code) << " error=" << watch.error().message;
        ++failures;
        continue;
      }
      Error ended_with;
      bool stopping;
      {
        std::unique_lock lock(s->run_mu);
        s->run_cv.wait(lock, [s] { return s->stopping || s->watch_ended; });
        stopping = s->stopping;
        ended_with = s->watch_error;
      }
      (*watch)->stop();
      if (stopping) return;
      // A watch that delivered something was healthy: relist at once.
      if (s->watch_delivered) failures = 0;
      ++failures;
      BERTH_LOG(kInfo, "informer")
          << "watch ended, relisting resource=" << kind_.resource
          << " code=" << errorCodeName(ended_with.code) << " error=" << ended_with.message;
    }
  });
}

void Informer::stop() {
  {
    std::lock_guard lock(state_->run_mu);
    state_->stopping = true;
  }
  state_->run_cv.notify_all();
  if (state_->thread.joinable()) state_->thread.join();
}

bool Informer::hasSynced() const { return state_->synced; }

bool Informer::waitForSync(std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->sync_mu);
  return state_->sync_cv.wait_for(lock, timeout, [this] { return state_->synced.load(); });
}

ObjectPtr Informer::get(const std::string& key) const {
  std::shared_lock lock(state_->cache_mu);
  auto it = state_->items.find(key);
  return it == state_->items.end() ? nullptr : it->second;
}

ObjectPtr Informer::get(const std::string& ns, const std::string& name) const {
  return get(makeKey(ns, name));
}

std::vector<ObjectPtr> Informer::list() const {
  std::shared_lock lock(state_->cache_mu);
  std::vector<ObjectPtr> out;
  out.reserve(state_->items.size());
  for (const auto& [key, obj] : state_->items) out.push_back(obj);
  return out;
}

std::vector<ObjectPtr> Informer::listNamespace(const std::string& ns) const {
  if (ns.empty()) return list();
  // Keys are "ns/name" in a sorted map: one namespace is one range
  // ('0' follows '/').
  std::shared_lock lock(state_->cache_mu);
  std::vector<ObjectPtr> out;
  auto it = state_->items.lower_bound(ns + "/");
  auto end = state_->items.lower_bound(ns + "0");
  for (; it != end; ++it) out.push_back(it->second);
  return out;
}

std::vector<ObjectPtr> Informer::byIndex(const std::string& index, const std::string& value) const {
  std::shared_lock lock(state_->cache_mu);
  std::vector<ObjectPtr> out;
  auto idx = state_->indexes.find(index);
  if (idx == state_->indexes.end()) return out;
  auto keys = idx->second.find(value);
  if (keys == idx->second.end()) return out;
  out.reserve(keys->second.size());
  for (const auto& key : keys->second)
    if (auto it = state_->items.find(key); it != state_->items.end()) out.push_back(it->second);
  return out;
}

size_t Informer::size() const {
  std::shared_lock lock(state_->cache_mu);
  return state_->items.size();
}

int64_t Informer::revision() const { return state_->revision; }

void Informer::injectUpsert(ObjectPtr obj) {
  Op op;
  op.type = Op::Type::kUpsert;
  op.revision = parseRv(rvOf(*obj));
  op.object = std::move(obj);
  state_->submit(std::move(op), /*wait=*/true);
}

void Informer::injectDelete(const std::string& key) {
  Op op;
  op.type = Op::Type::kDeleteKey;
  op.key = key;
  state_->submit(std::move(op), /*wait=*/true);
}

void Informer::markSynced() { state_->setSynced(); }

InformerFactory::~InformerFactory() { stop(); }

Informer& InformerFactory::forKind(const api::KindInfo& kind) {
  std::lock_guard lock(mu_);
  auto& slot = informers_[&kind];
  if (!slot) {
    slot = std::make_unique<Informer>(client_, kind);
    if (started_) slot->start();
  }
  return *slot;
}

Informer& InformerFactory::forKind(std::string_view group, std::string_view kind_name) {
  return forKind(client::kind(group, kind_name));
}

void InformerFactory::start() {
  std::lock_guard lock(mu_);
  started_ = true;
  for (auto& [kind, informer] : informers_) informer->start();
}

bool InformerFactory::waitForSync(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<Informer*> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [kind, informer] : informers_) all.push_back(informer.get());
  }
  for (Informer* informer : all) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!informer->waitForSync(std::max(left, std::chrono::milliseconds(0)))) return false;
  }
  return true;
}

void InformerFactory::stop() {
  std::vector<Informer*> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [kind, informer] : informers_) all.push_back(informer.get());
  }
  for (Informer* informer : all) informer->stop();
}

}  // namespace berth::client
