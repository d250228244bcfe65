#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace berth::storage {

// A revisioned key/value store in the model of etcd v3, which is what
// Kubernetes' storage.Interface sits on. Every successful write gets the
// next global revision; that revision is the object's resourceVersion.
//
// Keys are plain strings ("/registry/pods/default/web-1"). Values are
// opaque bytes (berth stores JSON). Values are shared, immutable buffers so
// that a cache can hand the same bytes to many readers without copying.
using Bytes = std::shared_ptr<const std::string>;

inline Bytes makeBytes(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

struct KeyValue {
  std::string key;
  Bytes value;
  int64_t create_revision = 0;  // revision at which the key was (last) created
  int64_t mod_revision = 0;     // revision of the last write to the key
  // Opaque decoded form attached by the watch cache's decorator (e.g. the
  // object's labels and selectable fields, so lists and watches can filter
  // without parsing). Always null from backends.
  std::shared_ptr<const void> decoded;
};

enum class EventType { kAdded, kModified, kDeleted, kBookmark };

struct Event {
  EventType type = EventType::kAdded;
  // For kAdded/kModified: the new state. For kDeleted: key, the last value
  // before deletion, create_revision, and mod_revision = the revision of the
  // delete itself. For kBookmark: only mod_revision (the progress revision).
  KeyValue kv;
  // The previous value for kModified (null otherwise).
  Bytes prev_value;
};

struct ListOptions {
  // Keys that start with this prefix. An exact key also works as a prefix.
  std::string prefix;
  // At most this many items; 0 = no limit.
  int64_t limit = 0;
  // Resume strictly after this key (from a previous page's last key).
  std::string start_after;
  // Read at this revision; 0 = the latest. A revision older than the
  // compacted revision fails with kExpired; one newer than the current
  // revision fails with kTimeout ("too large resource version").
  int64_t revision = 0;
};

struct ListResult {
  std::vector<KeyValue> items;
  // The revision the list was read at.
  int64_t revision = 0;
  // True when more items match after the last one returned.
  bool more = false;
  // How many matching items were left out (only meaningful when more).
  int64_t remaining = 0;
};

struct WatchOptions {
  // Watch every key with this prefix (or only exactly this key when !recursive).
  std::string prefix;
  bool recursive = true;
  // Deliver every event with revision > this. 0 = from now on (events after
  // the current revision). A revision below the compacted one fails with kExpired.
  int64_t after_revision = 0;
  // Send kBookmark events carrying the current revision when the watch is idle
  // (the watch cache decides how often).
  bool bookmarks = false;
  // First deliver a kAdded event for every existing key under the prefix
  // (as of the current revision; after_revision is then ignored), then every
  // later event, with nothing lost or repeated in between. This is what a
  // Kubernetes watch with resourceVersion "" or "0" needs.
  bool initial_state = false;
};

// Receives a watch's events. Backends deliver each write's events to all
// sinks before that write's call returns to its caller, so a watch cache in
// front of a backend always reflects every acknowledged write (read your
// writes). Called in revision order, never concurrently
// for one watch, and must not block: it should queue and return. `on_close`
// is called at most once when the store ends the watch (stop, too slow a
// consumer, shutdown); it is not called after WatchHandle is destroyed.
struct WatchSink {
  std::function<void(const Event&)> on_event;
  std::function<void(const Error&)> on_close;
};

// Owning handle: destroying it ends the watch. After the destructor returns,
// the sink is not called again.
class WatchHandle {
 public:
  virtual ~WatchHandle() = default;
};

class Store {
 public:
  virtual ~Store() = default;

  // Fails with kAlreadyExists when the key exists.
  virtual Result<KeyValue> create(const std::string& key, std::string value) = 0;

  // Fails with kNotFound. revision 0 = latest; otherwise the value as of that
  // revision (kExpired if compacted).
  virtual Result<KeyValue> get(const std::string& key, int64_t revision = 0) = 0;

  virtual Result<ListResult> list(const ListOptions& options) = 0;

  // Writes the key only if its current mod_revision equals expected_revision
  // (kConflict otherwise; kNotFound if the key does not exist).
  // expected_revision 0 means unconditional (the key must still exist).
  virtual Result<KeyValue> update(const std::string& key, std::string value,
                                  int64_t expected_revision) = 0;

  // Deletes the key if its mod_revision equals expected_revision (0 = any).
  // Returns the deleted state (value before deletion) with mod_revision set
  // to the revision of the delete.
  virtual Result<KeyValue> remove(const std::string& key, int64_t expected_revision = 0) = 0;

  virtual Result<std::unique_ptr<WatchHandle>> watch(const WatchOptions& options, WatchSink sink) = 0;

  // Forgets history at or below `revision` (current values are kept).
  virtual Status compact(int64_t revision) = 0;

  virtual int64_t currentRevision() = 0;
  virtual int64_t compactedRevision() = 0;

  // Read-modify-write with optimistic concurrency, as Kubernetes'
  // GuaranteedUpdate: reads the key, calls `update_fn` with the current
  // state, writes the result conditioned on the read revision, and retries
  // on conflict. `update_fn` returning an error aborts with that error.
  // When the key is missing, update_fn gets nullptr (it may create).
  using UpdateFn = std::function<Result<std::string>(const KeyValue* current)>;
  Result<KeyValue> guaranteedUpdate(const std::string& key, const UpdateFn& update_fn);
};

}  // namespace berth::storage
