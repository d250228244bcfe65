#include "storage/watch_cache.h"

#include <algorithm>
#include <exception>
#include <shared_mutex>

#include "common/log.h"
#include "storage/watch_channel.h"

namespace berth::storage {

namespace {

constexpr int kStartAttempts = 5;
constexpr size_t kPageMemos = 32;

bool wantsKey(const WatchOptions& options, std::string_view key) {
  return options.recursive ? hasPrefix(key, options.prefix) : key == options.prefix;
}

}  // namespace

WatchCache::WatchCache(std::shared_ptr<Store> backend, WatchCacheOptions options)
    : backend_(std::move(backend)), options_(std::move(options)) {}

Result<std::unique_ptr<WatchCache>> WatchCache::create(std::shared_ptr<Store> backend,
                                                       WatchCacheOptions options) {
  if (!backend) return makeError(ErrorCode::kInternal, "watch cache needs a backend");
  if (options.capacity == 0) options.capacity = 1;
  std::unique_ptr<WatchCache> cache(new WatchCache(std::move(backend), std::move(options)));
  BERTH_RETURN_IF_ERROR(cache->start());
  return cache;
}

Status WatchCache::start() {
  // Kubernetes' reflector: list at revision R, then watch from R. The backend
  // replays whatever happened in between from its history, so nothing is lost.
  Error last_error;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    auto listed = backend_->list(ListOptions{});
    if (!listed.ok()) return std::move(listed).error();
    std::map<std::string, std::shared_ptr<const KeyValue>, std::less<>> items;
    for (auto& kv : listed->items) {
      std::string key = kv.key;
      items.emplace_hint(items.end(), std::move(key),
                         std::make_shared<const KeyValue>(decorated(std::move(kv))));
    }
    {
      std::unique_lock lock(mu_);
      items_ = std::move(items);
      ring_.clear();
      revision_ = listed->revision;
      ring_floor_ = listed->revision;
    }
    WatchOptions watch_options;
    watch_options.after_revision = listed->revision;
    WatchSink sink;
    sink.on_event = [this](const Event& event) { onBackendEvent(event); };
    sink.on_close = [this](const Error& error) { onBackendClose(error); };
    auto handle = backend_->watch(watch_options, std::move(sink));
    if (handle.ok()) {
      backend_watch_ = std::move(handle).value();
      break;
    }
    // Compacted between the list and the watch: list again.
    last_error = std::move(handle).error();
    if (last_error.code != ErrorCode::kExpired) return last_error;
  }
  if (!backend_watch_) return last_error;
  if (options_.bookmark_interval.count() > 0) {
    bookmark_thread_ = std::thread([this] { bookmarkLoop(); });
  }
  return okStatus();
}

WatchCache::~WatchCache() {
  if (bookmark_thread_.joinable()) {
    {
      std::lock_guard lock(bookmark_mu_);
      stopping_ = true;
    }
    bookmark_cv_.notify_all();
    bookmark_thread_.join();
  }
  // After this no backend event reaches the cache.
  backend_watch_.reset();
  std::vector<std::shared_ptr<WatchChannel>> channels;
  {
    std::lock_guard lock(watchers_->mu);
    channels.swap(watchers_->channels);
  }
  for (auto& channel : channels) {
    channel->close(makeError(ErrorCode::kUnavailable, "watch cache is shutting down"));
  }
}

KeyValue WatchCache::decorated(KeyValue kv) const {
  if (!options_.decorate) return kv;
  KeyValue original = kv;
  try {
    return options_.decorate(std::move(kv));
  } catch (const std::exception& e) {
    BERTH_LOG(kError, "storage") << "watch cache decorator threw key=" << original.key
                                 << " error=" << e.what();
  } catch (...) {
    BERTH_LOG(kError, "storage") << "watch cache decorator threw key=" << original.key;
  }
  return original;
}

KeyValue WatchCache::served(KeyValue kv) {
  std::shared_ptr<const KeyValue> entry;
  {
    std::shared_lock lock(mu_);
    auto it = items_.find(kv.key);
    if (it != items_.end()) entry = it->second;
  }
  if (entry && entry->mod_revision == kv.mod_revision) return *entry;
  return decorated(std::move(kv));
}

// ---- the event stream ------------------------------------------------------

void WatchCache::onBackendEvent(const Event& event) {
  // Decorating (JSON work in the API server) happens outside the lock.
  auto cached = std::make_shared<Event>();
  cached->type = event.type;
  cached->kv = decorated(event.kv);
  const int64_t revision = event.kv.mod_revision;

  std::vector<std::shared_ptr<WatchChannel>> touched;
  {
    std::unique_lock lock(mu_);
    if (revision <= revision_) return;  // already reflected by the initial list
    auto it = items_.find(event.kv.key);
    if (event.type == EventType::kDeleted) {
      if (it != items_.end()) items_.erase(it);
    } else {
      // The previous value as this cache served it (decorated), when known.
      if (event.type == EventType::kModified) {
        cached->prev_value = it != items_.end() ? it->second->value : event.prev_value;
      }
      auto entry = std::make_shared<const KeyValue>(cached->kv);
      if (it != items_.end()) {
        it->second = std::move(entry);
      } else {
        items_.emplace(event.kv.key, std::move(entry));
      }
    }
    revision_ = revision;
    ring_.push_back(cached);
    while (ring_.size() > options_.capacity) {
      ring_floor_ = ring_.front()->kv.mod_revision;
      ring_.pop_front();
    }
    // Offered under mu_ so each watch's queue is in revision order and a
    // watch registering concurrently sees the event exactly once.
    std::lock_guard watchers_lock(watchers_->mu);
    for (const auto& channel : watchers_->channels) {
      if (channel->offer(cached)) touched.push_back(channel);
    }
  }
  for (const auto& channel : touched) channel->drain();
}

void WatchCache::onBackendClose(const Error& error) {
  BERTH_LOG(kWarning, "storage") << "watch cache lost its backend watch error=" << error.message;
  std::vector<std::shared_ptr<WatchChannel>> channels;
  {
    std::unique_lock lock(mu_);
    broken_ = makeError(ErrorCode::kUnavailable, "watch cache stopped: " + error.message);
    std::lock_guard watchers_lock(watchers_->mu);
    channels.swap(watchers_->channels);
  }
  for (auto& channel : channels) channel->close(*broken_);
}

// ---- reads -----------------------------------------------------------------

Result<KeyValue> WatchCache::get(const std::string& key, int64_t revision) {
  if (revision < 0) return makeError(ErrorCode::kBadRequest, "negative revision");
  bool from_memory = false;
  std::shared_ptr<const KeyValue> entry;
  {
    std::shared_lock lock(mu_);
    if (!broken_ && (revision == 0 || revision == revision_)) {
      from_memory = true;
      auto it = items_.find(key);
      if (it != items_.end()) entry = it->second;
    }
  }
  if (from_memory) {
    if (!entry) return makeError(ErrorCode::kNotFound, "key not found: " + key);
    return *entry;
  }
  auto result = backend_->get(key, revision);
  if (!result.ok()) return result;
  return decorated(std::move(result).value());
}

Result<ListResult> WatchCache::list(const ListOptions& options) {
  if (options.revision < 0 || options.limit < 0) {
    return makeError(ErrorCode::kBadRequest, "negative revision or limit");
  }
  bool from_memory = false;
  ListResult out;
  std::vector<std::shared_ptr<const KeyValue>> entries;
  {
    std::shared_lock lock(mu_);
    if (!broken_ && (options.revision == 0 || options.revision == revision_)) {
      from_memory = true;
      out.revision = revision_;
      const bool resume = !options.start_after.empty() && options.start_after >= options.prefix;
      auto it = resume ? items_.upper_bound(options.start_after)
                       : items_.lower_bound(options.prefix);
      const size_t limit = static_cast<size_t>(options.limit);
      if (limit > 0) entries.reserve(std::min<size_t>(limit, items_.size()));
      for (; it != items_.end() && hasPrefix(it->first, options.prefix); ++it) {
        if (limit > 0 && entries.size() == limit) {
          out.more = true;
          break;
        }
        entries.push_back(it->second);
      }
      if (out.more) {
        const std::string after = resume ? options.start_after : std::string();
        const int64_t returned = static_cast<int64_t>(entries.size());
        if (auto count_after = memoLookup(options.prefix, after, revision_)) {
          out.remaining = *count_after - returned;
        } else {
          for (; it != items_.end() && hasPrefix(it->first, options.prefix); ++it) {
            ++out.remaining;
          }
          memoStore(PageMemo{options.prefix, after, revision_, returned + out.remaining});
        }
        memoStore(PageMemo{options.prefix, entries.back()->key, revision_, out.remaining});
      }
    }
  }
  if (from_memory) {
    out.items.reserve(entries.size());
    for (const auto& entry : entries) out.items.push_back(*entry);
    return out;
  }
  auto result = backend_->list(options);
  if (!result.ok()) return result;
  for (auto& kv : result->items) kv = decorated(std::move(kv));
  return result;
}

int64_t WatchCache::currentRevision() {
  std::shared_lock lock(mu_);
  if (broken_) return backend_->currentRevision();
  return revision_;
}

int64_t WatchCache::compactedRevision() { return backend_->compactedRevision(); }

int64_t WatchCache::oldestCachedRevision() {
  std::shared_lock lock(mu_);
  return ring_floor_;
}

std::optional<int64_t> WatchCache::memoLookup(const std::string& prefix, const std::string& after,
                                              int64_t revision) {
  std::lock_guard lock(memo_mu_);
  for (const auto& memo : memo_) {
    if (memo.revision == revision && memo.prefix == prefix && memo.after == after) {
      return memo.count_after;
    }
  }
  return std::nullopt;
}

void WatchCache::memoStore(PageMemo memo) {
  std::lock_guard lock(memo_mu_);
  // Entries from older revisions can never match again.
  while (!memo_.empty() && (memo_.size() >= kPageMemos || memo_.front().revision != memo.revision)) {
    memo_.pop_front();
  }
  memo_.push_back(std::move(memo));
}

// ---- writes go to the backend ----------------------------------------------

Result<KeyValue> WatchCache::create(const std::string& key, std::string value) {
  auto result = backend_->create(key, std::move(value));
  if (!result.ok()) return result;
  return served(std::move(result).value());
}

Result<KeyValue> WatchCache::update(const std::string& key, std::string value,
                                    int64_t expected_revision) {
  auto result = backend_->update(key, std::move(value), expected_revision);
  if (!result.ok()) return result;
  return served(std::move(result).value());
}

Result<KeyValue> WatchCache::remove(const std::string& key, int64_t expected_revision) {
  auto result = backend_->remove(key, expected_revision);
  if (!result.ok()) return result;
  return decorated(std::move(result).value());
}

Status WatchCache::compact(int64_t revision) { return backend_->compact(revision); }

// ---- watch -----------------------------------------------------------------

std::unique_ptr<WatchHandle> WatchCache::handleFor(std::shared_ptr<WatchChannel> channel) {
  std::weak_ptr<Watchers> weak = watchers_;
  const WatchChannel* raw = channel.get();
  return makeWatchHandle(std::move(channel), [weak, raw] {
    auto watchers = weak.lock();
    if (!watchers) return;
    std::lock_guard lock(watchers->mu);
    auto& list = watchers->channels;
    list.erase(std::remove_if(list.begin(), list.end(),
                              [raw](const auto& c) { return c.get() == raw; }),
               list.end());
  });
}

Result<std::unique_ptr<WatchHandle>> WatchCache::watch(const WatchOptions& options,
                                                       WatchSink sink) {
  if (options.after_revision < 0) return makeError(ErrorCode::kBadRequest, "negative revision");
  // The contract is the backend's: history at or below the compacted
  // revision is gone, even if the ring still holds it.
  if (!options.initial_state && options.after_revision != 0) {
    int64_t compacted = backend_->compactedRevision();
    if (options.after_revision < compacted) {
      return makeError(ErrorCode::kExpired,
                       "required revision " + std::to_string(options.after_revision) +
                           " has been compacted (compacted revision " +
                           std::to_string(compacted) + ")");
    }
  }
  std::shared_ptr<WatchChannel> channel;
  std::vector<std::shared_ptr<const Event>> first;
  {
    // A shared lock excludes onBackendEvent, so the snapshot (or the ring
    // replay) and the registration happen at one revision.
    std::shared_lock lock(mu_);
    if (broken_) return *broken_;
    if (options.initial_state) {
      auto begin = options.recursive ? items_.lower_bound(options.prefix)
                                     : items_.find(options.prefix);
      for (auto it = begin; it != items_.end() && wantsKey(options, it->first); ++it) {
        auto event = std::make_shared<Event>();
        event->type = EventType::kAdded;
        event->kv = *it->second;
        first.push_back(std::move(event));
        if (!options.recursive) break;
      }
      channel = std::make_shared<WatchChannel>(options, std::move(sink), revision_, true);
    } else {
      int64_t after = options.after_revision == 0 ? revision_ : options.after_revision;
      if (after < ring_floor_) {
        lock.unlock();
        return watchBackend(options, std::move(sink));
      }
      auto from = std::upper_bound(
          ring_.begin(), ring_.end(), after,
          [](int64_t rev, const auto& event) { return rev < event->kv.mod_revision; });
      for (auto it = from; it != ring_.end(); ++it) {
        if (wantsKey(options, (*it)->kv.key)) first.push_back(*it);
      }
      channel = std::make_shared<WatchChannel>(options, std::move(sink), after, true);
    }
    std::lock_guard watchers_lock(watchers_->mu);
    watchers_->channels.push_back(channel);
  }
  // Delivered without the lock: the channel was held, so live events offered
  // since registration queue behind this replay.
  channel->release(std::move(first));
  return handleFor(std::move(channel));
}

// A resume point older than the ring: the backend may still have it in its
// history (e.g. clients reconnecting after a restart). Its events are
// decorated on the way through; kExpired if the backend compacted it too.
Result<std::unique_ptr<WatchHandle>> WatchCache::watchBackend(const WatchOptions& options,
                                                              WatchSink sink) {
  auto on_event = std::move(sink.on_event);
  WatchSink wrapped;
  wrapped.on_close = std::move(sink.on_close);
  wrapped.on_event = [this, on_event](const Event& event) {
    if (!on_event) return;
    Event out = event;
    out.kv = decorated(event.kv);
    on_event(out);
  };
  return backend_->watch(options, std::move(wrapped));
}

// ---- bookmarks -------------------------------------------------------------

void WatchCache::sendBookmarks() { bookmarks(/*only_idle=*/false); }

void WatchCache::bookmarks(bool only_idle) {
  std::vector<std::shared_ptr<WatchChannel>> touched;
  {
    std::shared_lock lock(mu_);
    if (broken_) return;
    auto event = std::make_shared<Event>();
    event->type = EventType::kBookmark;
    event->kv.mod_revision = revision_;
    std::lock_guard watchers_lock(watchers_->mu);
    for (const auto& channel : watchers_->channels) {
      if (!channel->options().bookmarks) continue;
      if (channel->takeActivity() && only_idle) continue;
      if (channel->offer(event)) touched.push_back(channel);
    }
  }
  for (const auto& channel : touched) channel->drain();
}

void WatchCache::bookmarkLoop() {
  std::unique_lock lock(bookmark_mu_);
  while (!stopping_) {
    bookmark_cv_.wait_for(lock, options_.bookmark_interval, [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    bookmarks(/*only_idle=*/true);
    lock.lock();
  }
}

}  // namespace berth::storage
