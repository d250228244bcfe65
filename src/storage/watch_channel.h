#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "storage/store.h"

namespace berth::storage {

using EventPtr = std::shared_ptr<const Event>;

// One watch's delivery queue, shared by the SQLite backend and the watch
// cache. Producers offer events while holding their own store lock (so the
// queue order is the revision order), then call drain() without any store
// lock; whichever thread finds the queue idle delivers everything queued.
// This gives the WatchSink guarantees: in order, never concurrently, and no
// call after cancel() returns. It plays the role of Kubernetes'
// cacheWatcher input channel, without a goroutine per watch.
class WatchChannel {
 public:
  // `after_revision`: only events with a greater revision are accepted.
  // A `held` channel queues but does not deliver until release(), which is
  // how a backend splices a history replay in front of live events.
  WatchChannel(WatchOptions options, WatchSink sink, int64_t after_revision, bool held);

  const WatchOptions& options() const { return options_; }
  bool matchesKey(std::string_view key) const;

  // Queues `event` if this watch wants it (key filter, revision filter,
  // bookmarks only when asked). Returns true when queued. Cheap; callers may
  // hold their store lock.
  bool offer(const EventPtr& event);
  // Queues `events` ahead of everything already queued and allows delivery.
  void release(std::vector<EventPtr> events);
  // Delivers queued events on the calling thread unless another thread is
  // already doing so or the channel is held. Never call with a store lock held.
  void drain();

  // The store ends the watch: on_close(error) once, then nothing more.
  void close(const Error& error);
  // The handle was destroyed: no sink call after this returns (waits for a
  // call in progress on another thread; safe to call from inside the sink).
  void cancel();
  bool closed() const;

  // True if a non-bookmark event was queued since the last call (for idle
  // bookmarks); clears the flag.
  bool takeActivity();
  size_t queued() const;

 private:
  const WatchOptions options_;
  WatchSink sink_;

  mutable std::mutex queue_mu_;
  std::deque<EventPtr> queue_;
  int64_t after_revision_;
  int64_t last_revision_ = 0;
  bool held_;
  bool draining_ = false;
  bool activity_ = false;

  // Held around every sink call. Recursive so that a sink may destroy its own
  // handle (cancel()) without deadlocking.
  mutable std::recursive_mutex call_mu_;
  bool closed_ = false;  // guarded by call_mu_
};

// A WatchHandle that cancels the channel and then runs `unregister` (which
// removes the channel from its store's registry, if that store still exists).
std::unique_ptr<WatchHandle> makeWatchHandle(std::shared_ptr<WatchChannel> channel,
                                             std::function<void()> unregister);

// Whether `key` is within the watch/list prefix.
inline bool hasPrefix(std::string_view key, std::string_view prefix) {
  return key.substr(0, prefix.size()) == prefix;
}

// The smallest string greater than every string with `prefix`, or "" when
// there is none (prefix empty or all 0xff bytes): etcd's clientv3.GetPrefixRangeEnd.
std::string prefixEnd(std::string_view prefix);

}  // namespace berth::storage
