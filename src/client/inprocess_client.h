#pragma once

// The Client inside `berth server`: the scheduler and the controllers call
// the API server's Registry directly, with the REST verbs' full semantics
// (defaulting, validation, admission, preconditions, finalizers) but no HTTP
// and no re-encoding. Objects are parsed once from the watch cache's stored
// bytes (which already carry their resourceVersion) and shared; the same
// bytes seen by several watches, gets or lists decode to the same ObjectPtr
// while anyone still holds it.
//
// Watches run on the watch cache. The store calls the watch's sink on the
// writer's thread, so the sink only queues; a small pool of dispatcher
// threads owned by the client filters (label / field selectors over the
// ObjectAttrs the cache attached, as the REST watch does), decodes and calls
// the handlers, each watch's events in order on one thread at a time.

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "apiserver/http.h"
#include "apiserver/registry/registry.h"
#include "client/client.h"

namespace berth::client {

class InProcessClient : public Client {
 public:
  struct Options {
    // Who in-process writes are made as (admission sees this user).
    apiserver::UserInfo user{"system:berth-controller", {"system:masters", "system:authenticated"}};
    // Threads that deliver watch events, shared by all watches.
    int watch_threads = 4;
    // A watch whose handler falls this many events behind ends with a
    // kError (kUnavailable), as upstream's cacher drops watchers that do
    // not keep up; informers then list and watch again.
    size_t max_pending_events = size_t{1} << 20;
  };

  explicit InProcessClient(apiserver::Registry& registry);
  InProcessClient(apiserver::Registry& registry, Options options);
  // Stops every watch still running. The Registry must outlive the client.
  ~InProcessClient() override;
  InProcessClient(const InProcessClient&) = delete;
  InProcessClient& operator=(const InProcessClient&) = delete;

  Result<ObjectPtr> get(const api::KindInfo& kind, const std::string& ns,
                        const std::string& name) override;
  Result<ObjectList> list(const api::KindInfo& kind, const std::string& ns,
                          const ListOptions& opts) override;
  // Errors in the request (selectors, a malformed resourceVersion) come back
  // from watch() itself. A start revision that was compacted comes as a
  // kError event (410 Expired), as upstream answers once a watch request is
  // accepted, so callers have one path for "list again".
  Result<std::unique_ptr<Watch>> watch(const api::KindInfo& kind, const std::string& ns,
                                       const ListOptions& opts, WatchHandler handler) override;
  Result<ObjectPtr> create(const api::KindInfo& kind, Object obj) override;
  Result<ObjectPtr> update(const api::KindInfo& kind, Object obj,
                           Subresource sub = Subresource::kNone) override;
  Result<ObjectPtr> patch(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                          PatchType type, const std::string& patch,
                          Subresource sub = Subresource::kNone) override;
  Result<ObjectPtr> remove(const api::KindInfo& kind, const std::string& ns,
                           const std::string& name, const DeleteOptions& opts = {}) override;
  // "binding" (Registry::bind) and "eviction" (Registry::evict) on pods; an
  // empty metadata.name / namespace in the body is filled from the call.
  // Answers the Success Status the API answers.
  Result<ObjectPtr> createSubresource(const api::KindInfo& kind, const std::string& ns,
                                      const std::string& name, const std::string& subresource,
                                      Object body) override;

  class Dispatcher;
  struct WatchState;
  class DecodeCache;

 private:
  apiserver::WriteOptions writeOptions(Subresource sub = Subresource::kNone) const;
  // The object a stored (decorated) value serves as `kind`.
  Result<ObjectPtr> decode(const api::KindInfo& kind, const storage::KeyValue& kv);
  Result<ObjectPtr> writeScale(const api::KindInfo& kind, const std::string& ns,
                               const std::string& name,
                               const std::function<Result<Object>(const Object& scale)>& change);

  apiserver::Registry& registry_;
  const Options options_;
  // Process-wide: every in-process client (the control plane's, a bench's,
  // a test's) decodes a stored version once between them.
  DecodeCache* decoded_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::mutex watches_mu_;
  std::vector<std::weak_ptr<WatchState>> watches_;
};

}  // namespace berth::client
