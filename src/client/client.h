#pragma once

// The client interface every component above the API server uses: the
// scheduler, the controllers and the node agent. Three implementations:
//   InProcessClient (inprocess_client.h)  over the server's Registry: no
//                                          HTTP, objects decoded once and shared
//   RemoteClient    (remote_client.h)     over HTTPS, for `berth agent --server`
//   FakeClient      (fake_client.h)       in memory, records actions, delivers
//                                          watch events synchronously (unit tests)
// Objects are immutable and shared (ObjectPtr); to change one, copy it.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/kind.h"
#include "apiserver/registry/registry.h"
#include "common/error.h"
#include "common/result.h"

namespace berth::client {

using api::Object;
using ObjectPtr = std::shared_ptr<const Object>;

// Reused from the Registry, which the in-process client calls directly.
using apiserver::DeleteOptions;
using apiserver::PatchType;
using apiserver::Propagation;
using apiserver::Subresource;

// The served kind of a group and kind in its preferred version, e.g.
// kind("", "Pod"), kind("apps", "Deployment"). Aborts on an unknown kind
// (a programming error, not input).
const api::KindInfo& kind(std::string_view group, std::string_view kind_name);

// Cache keys as client-go's MetaNamespaceKeyFunc: "ns/name", or "name" for
// cluster-scoped objects.
std::string keyOf(const Object& obj);
std::string makeKey(const std::string& ns, const std::string& name);
void splitKey(const std::string& key, std::string* ns, std::string* name);

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;
  std::string continue_token;
  // "" = consistent latest; for watch: the revision to start after
  // ("" or "0" = from now, without the initial state).
  std::string resource_version;
};

struct ObjectList {
  std::vector<ObjectPtr> items;
  int64_t revision = 0;
  std::string continue_token;
};

enum class EventType { kAdded, kModified, kDeleted, kBookmark, kError };

struct Event {
  EventType type = EventType::kAdded;
  ObjectPtr object;       // kAdded / kModified: the new state; kDeleted: the last state
  int64_t revision = 0;   // the object's (or the bookmark's) resourceVersion
  Error error;            // kError only: e.g. 410 Gone; the watch has ended
};

// A running watch. Destroying or stopping it ends delivery; stop() returns
// once no handler call is in progress (it must not be called from inside the
// handler).
class Watch {
 public:
  virtual ~Watch() = default;
  virtual void stop() = 0;
};

// Called for each event in order, one at a time, on a thread the client owns.
// After kError no more events come.
using WatchHandler = std::function<void(const Event&)>;

class Client {
 public:
  virtual ~Client() = default;

  virtual Result<ObjectPtr> get(const api::KindInfo& kind, const std::string& ns, const std::string& name) = 0;
  // ns "" lists across all namespaces.
  virtual Result<ObjectList> list(const api::KindInfo& kind, const std::string& ns, const ListOptions& opts) = 0;
  virtual Result<std::unique_ptr<Watch>> watch(const api::KindInfo& kind, const std::string& ns,
                                               const ListOptions& opts, WatchHandler handler) = 0;

  // POST. The namespace is the object's metadata.namespace for namespaced kinds.
  virtual Result<ObjectPtr> create(const api::KindInfo& kind, Object obj) = 0;
  // PUT of the object or its status; metadata.resourceVersion, when set, is a
  // precondition (409 Conflict when stale).
  virtual Result<ObjectPtr> update(const api::KindInfo& kind, Object obj, Subresource sub = Subresource::kNone) = 0;
  virtual Result<ObjectPtr> patch(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                                  PatchType type, const std::string& patch, Subresource sub = Subresource::kNone) = 0;
  // DELETE. Returns the object as deleted, or as it now is when deletion
  // waits on finalizers or a grace period.
  virtual Result<ObjectPtr> remove(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                                   const DeleteOptions& opts = {}) = 0;
  // POST to a subresource that takes a body and is not the object itself:
  // pods/binding (core/v1 Binding), pods/eviction (policy/v1 Eviction).
  // Returns the server's answer (a Status for both).
  virtual Result<ObjectPtr> createSubresource(const api::KindInfo& kind, const std::string& ns,
                                              const std::string& name, const std::string& subresource,
                                              Object body) = 0;
};

}  // namespace berth::client
