#pragma once

// Shared informers, after client-go: one list+watch per kind feeds a cache of
// immutable objects and calls registered handlers; controllers enqueue keys
// from the handlers and read current state from the cache in their sync
// (level-triggered). On a watch error (410 Gone, a dropped connection) the
// informer lists again and reconciles the cache, calling handlers for what
// changed. Handlers are called one at a time, in event order, outside the
// cache lock, on the thread that delivers the event: the client's watch
// thread for watch events, the informer's own thread after a (re)list, the
// caller for inject*. With FakeClient, whose watch events are delivered on
// the writer's thread, a write has reached the cache and the handlers when
// it returns (unless another thread was delivering events at that moment).
// Handlers must be quick (enqueue a key) and must not block on other
// informers; they may call the client and add handlers.
//
// The watch ends only with a kError event (a Client must send one when a
// stream breaks or times out); the informer then lists again.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"

namespace berth::client {

struct EventHandlers {
  std::function<void(const ObjectPtr& obj)> on_add;
  std::function<void(const ObjectPtr& old_obj, const ObjectPtr& new_obj)> on_update;
  // The last known state. After a relist a deletion may have been missed in
  // between; the object is then the last state the cache held.
  std::function<void(const ObjectPtr& obj)> on_delete;
};

// An index function maps an object to the index values it is filed under,
// e.g. pods by spec.nodeName, or objects by namespace.
using IndexFunc = std::function<std::vector<std::string>(const Object& obj)>;

class Informer {
 public:
  // Watches `kind` in `ns` ("" = all namespaces), optionally narrowed by
  // selectors (opts.label_selector / field_selector; other fields ignored).
  Informer(Client& client, const api::KindInfo& kind, std::string ns = "", ListOptions selectors = {});
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  const api::KindInfo& kind() const { return kind_; }

  // Handlers added after start() first get on_add for every cached object.
  void addHandlers(EventHandlers handlers);
  // Indexes must be added before start().
  void addIndex(const std::string& name, IndexFunc fn);

  void start();
  void stop();
  bool hasSynced() const;
  // Blocks until the first list is in the cache (true) or the timeout passes.
  bool waitForSync(std::chrono::milliseconds timeout);

  // The cache (client-go's Lister/Indexer).
  ObjectPtr get(const std::string& key) const;
  ObjectPtr get(const std::string& ns, const std::string& name) const;
  std::vector<ObjectPtr> list() const;
  std::vector<ObjectPtr> listNamespace(const std::string& ns) const;
  std::vector<ObjectPtr> byIndex(const std::string& index, const std::string& value) const;
  size_t size() const;
  // The revision the cache reflects.
  int64_t revision() const;

  // For unit tests, in place of a running watch: change the cache and call
  // the handlers synchronously, as an event would. Usable without start().
  void injectUpsert(ObjectPtr obj);
  void injectDelete(const std::string& key);
  void markSynced();

 private:
  struct State;
  Client& client_;
  const api::KindInfo& kind_;
  std::string ns_;
  ListOptions selectors_;
  std::unique_ptr<State> state_;
};

// One Informer per kind, shared by every controller of a process.
class InformerFactory {
 public:
  explicit InformerFactory(Client& client) : client_(client) {}
  ~InformerFactory();

  // The shared all-namespaces informer for a kind (created on first use).
  Informer& forKind(const api::KindInfo& kind);
  Informer& forKind(std::string_view group, std::string_view kind_name);
  // Starts every informer created so far (and those created later, at once).
  void start();
  bool waitForSync(std::chrono::milliseconds timeout);
  void stop();

  Client& client() { return client_; }

 private:
  Client& client_;
  std::mutex mu_;
  bool started_ = false;
  std::map<const api::KindInfo*, std::unique_ptr<Informer>> informers_;
};

}  // namespace berth::client
