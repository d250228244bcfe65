#pragma once

// An in-memory Client for unit tests, after client-go's fake clientset:
// objects live in a map, every call is recorded as an Action, reactors can
// override results (inject conflicts, failures), and watch events are
// delivered synchronously on the thread that made the change, so tests need
// no sleeps. Semantics kept simple but honest: resourceVersion preconditions
// (409), AlreadyExists / NotFound (apiserver::notFound messages), uid,
// creationTimestamp and generateName on create, generation bumped on spec
// change, finalizers hold deletion (deletionTimestamp set), pods/binding sets
// spec.nodeName (409 when already bound), pods/eviction deletes the pod.
// No defaulting or validation: tests give complete objects.

#include <map>
#include <mutex>
#include <optional>

#include "client/client.h"
#include "common/clock.h"

namespace berth::client {

struct Action {
  std::string verb;         // get list watch create update patch delete create-subresource
  std::string resource;     // "pods"
  std::string subresource;  // "status", "binding", ...
  std::string ns;
  std::string name;
  ObjectPtr object;  // the body of create / update / create-subresource
  std::string patch;  // the body of patch
};

class FakeClient : public Client {
 public:
  explicit FakeClient(Clock& clock);
  ~FakeClient() override;

  // Seeds an object (no action recorded, watchers notified).
  ObjectPtr add(const api::KindInfo& kind, Object obj);

  std::vector<Action> actions() const;
  // Only the actions that change something (create update patch delete create-subresource).
  std::vector<Action> writes() const;
  void clearActions();

  // The stored object, without recording an action or running reactors
  // (for assertions); nullptr when absent.
  ObjectPtr find(const api::KindInfo& kind, const std::string& ns, const std::string& name) const;

  // Ends every open watch of `kind` (any version of its stored resource) with
  // a kError event carrying `error`, as a dropped connection or a 410 Gone
  // from the server would. Informers then relist.
  void breakWatches(const api::KindInfo& kind, Error error);

  // Called for every action before the default behaviour; returning a value
  // ends the call with it. verb / resource "*" match everything.
  using Reactor = std::function<std::optional<Result<ObjectPtr>>(const Action&)>;
  void prependReactor(const std::string& verb, const std::string& resource, Reactor reactor);

  Result<ObjectPtr> get(const api::KindInfo& kind, const std::string& ns, const std::string& name) override;
  Result<ObjectList> list(const api::KindInfo& kind, const std::string& ns, const ListOptions& opts) override;
  Result<std::unique_ptr<Watch>> watch(const api::KindInfo& kind, const std::string& ns, const ListOptions& opts,
                                       WatchHandler handler) override;
  Result<ObjectPtr> create(const api::KindInfo& kind, Object obj) override;
  Result<ObjectPtr> update(const api::KindInfo& kind, Object obj, Subresource sub = Subresource::kNone) override;
  Result<ObjectPtr> patch(const api::KindInfo& kind, const std::string& ns, const std::string& name, PatchType type,
                          const std::string& patch, Subresource sub = Subresource::kNone) override;
  Result<ObjectPtr> remove(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                           const DeleteOptions& opts = {}) override;
  Result<ObjectPtr> createSubresource(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                                      const std::string& subresource, Object body) override;

 private:
  struct State;
  // DELETE without recording an action (shared with pods/eviction).
  Result<ObjectPtr> removeObject(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                                 const DeleteOptions& opts);
  Clock& clock_;
  std::unique_ptr<State> state_;
};

}  // namespace berth::client
