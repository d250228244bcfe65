#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "storage/rw_lock.h"
#include "storage/store.h"

namespace berth::storage {

class WatchChannel;

struct WatchCacheOptions {
  // Events kept for watches that resume from a revision (Kubernetes'
  // watch cache capacity). Older resume points fall back to the backend.
  size_t capacity = 100000;
  // Idle watches with bookmarks=true get a kBookmark about this often.
  // Zero disables the timer (tests call sendBookmarks()).
  std::chrono::milliseconds bookmark_interval{5000};
  // Applied once to every value entering the cache (the API server injects
  // resourceVersion and attaches `decoded`). Everything served is this form.
  std::function<KeyValue(KeyValue)> decorate;
};

// A Store decorator that serves reads and watches from memory, in the model
// of Kubernetes' Cacher (staging/src/k8s.io/apiserver/pkg/storage/cacher):
// at construction it lists everything from the backend and watches from that
// revision. get(latest), list(latest or exactly the cache's revision) and
// watch come from memory; writes and reads at other revisions go to the
// backend. Because backends deliver a write's event before acknowledging it,
// the cache reflects every acknowledged write (read your writes).
class WatchCache : public Store {
 public:
  static Result<std::unique_ptr<WatchCache>> create(std::shared_ptr<Store> backend,
                                                    WatchCacheOptions options = {});
  // Stops the backend watch and ends every watch with kUnavailable.
  ~WatchCache() override;

  Result<KeyValue> create(const std::string& key, std::string value) override;
  Result<KeyValue> get(const std::string& key, int64_t revision = 0) override;
  Result<ListResult> list(const ListOptions& options) override;
  Result<KeyValue> update(const std::string& key, std::string value,
                          int64_t expected_revision) override;
  Result<KeyValue> remove(const std::string& key, int64_t expected_revision = 0) override;
  Result<std::unique_ptr<WatchHandle>> watch(const WatchOptions& options, WatchSink sink) override;
  Status compact(int64_t revision) override;
  int64_t currentRevision() override;
  int64_t compactedRevision() override;

  // Sends a kBookmark with the current revision to every watch that asked
  // for bookmarks, now (deterministic tests; the timer does the same for
  // idle watches).
  void sendBookmarks();
  // Watches may resume from any revision at or above this from memory.
  int64_t oldestCachedRevision();
  Store& backend() { return *backend_; }

 private:
  struct Watchers {
    std::mutex mu;
    std::vector<std::shared_ptr<WatchChannel>> channels;
  };

  WatchCache(std::shared_ptr<Store> backend, WatchCacheOptions options);
  Status start();
  KeyValue decorated(KeyValue kv) const;
  // The cached, decorated form of a just-written kv (or kv decorated now).
  KeyValue served(KeyValue kv);
  void onBackendEvent(const Event& event);
  void onBackendClose(const Error& error);
  void bookmarks(bool only_idle);
  void bookmarkLoop();
  Result<std::unique_ptr<WatchHandle>> watchBackend(const WatchOptions& options, WatchSink sink);
  std::unique_ptr<WatchHandle> handleFor(std::shared_ptr<WatchChannel> channel);

  const std::shared_ptr<Store> backend_;
  const WatchCacheOptions options_;

  RwLock mu_;  // guards everything below up to the handle
  // Shared entries: a list collects pointers under the lock and copies
  // (keys and shared Bytes, never values) after releasing it.
  std::map<std::string, std::shared_ptr<const KeyValue>, std::less<>> items_;
  std::deque<std::shared_ptr<const Event>> ring_;
  int64_t revision_ = 0;
  // The ring holds every event with a revision above this.
  int64_t ring_floor_ = 0;
  std::optional<Error> broken_;  // the backend watch ended; serve from the backend

  // Counting `remaining` is linear; a client paging through a big list at
  // one revision would pay it on every page. Remember, per (prefix, resume
  // key, revision), how many items follow (like etcd's count with a limit).
  struct PageMemo {
    std::string prefix;
    std::string after;  // "" = from the start of the prefix
    int64_t revision = 0;
    int64_t count_after = 0;
  };
  std::optional<int64_t> memoLookup(const std::string& prefix, const std::string& after,
                                    int64_t revision);
  void memoStore(PageMemo memo);
  std::mutex memo_mu_;
  std::deque<PageMemo> memo_;

  std::shared_ptr<Watchers> watchers_ = std::make_shared<Watchers>();
  std::unique_ptr<WatchHandle> backend_watch_;

  std::mutex bookmark_mu_;
  std::condition_variable bookmark_cv_;
  bool stopping_ = false;
  std::thread bookmark_thread_;
};

}  // namespace berth::storage
