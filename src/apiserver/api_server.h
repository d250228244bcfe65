#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "api/kind.h"
#include "apiserver/http.h"
#include "apiserver/registry/registry.h"
#include "apiserver/timers.h"

namespace berth::apiserver {

class AgentProxy;

// The resource a request path names, e.g.
// /apis/apps/v1/namespaces/default/deployments/web/scale.
struct ResourcePath {
  std::string group;
  std::string version;
  std::string namespace_;
  std::string resource;
  std::string name;
  std::string subresource;
  const api::KindInfo* kind = nullptr;
};

// The Kubernetes REST API over a Registry: discovery, OpenAPI, the generic
// verbs for every kind, subresources, Tables and watch streams. It is the
// Handler the HTTPS transport calls.
class ApiServer : public Handler {
 public:
  struct Options {
    std::string git_version = "v1.32.2-berth";
    // How long a watch without timeoutSeconds stays open (upstream picks a
    // random 30-60 min per watch, after MinRequestTimeout).
    int default_watch_seconds = 1800;
    size_t max_watch_pending_bytes = 64 << 20;
    // How pods/log reaches node agents (pod_log.h); null: it answers 503.
    std::shared_ptr<AgentProxy> agent_proxy;
  };

  ApiServer(Registry& registry, Timers& timers, Options options);
  ~ApiServer() override;

  void handle(Request request, std::shared_ptr<Responder> responder) override;

  // Set once startup bootstrapping is done (readyz).
  void setReady(bool ready) { ready_ = ready; }

  Registry& registry() { return registry_; }

 private:
  Response route(const Request& req, const std::shared_ptr<Responder>& responder, bool* streamed);
  Response handleResource(const Request& req, ResourcePath& path, const std::shared_ptr<Responder>& responder,
                          bool* streamed);
  Response handleList(const Request& req, const ResourcePath& path);
  void handleWatch(const Request& req, const ResourcePath& path, const std::shared_ptr<Responder>& responder);
  Response handleGet(const Request& req, const ResourcePath& path);
  Response handleCreate(const Request& req, const ResourcePath& path);
  Response handleUpdate(const Request& req, const ResourcePath& path);
  Response handlePatch(const Request& req, const ResourcePath& path);
  Response handleDelete(const Request& req, const ResourcePath& path);
  Response handleDeleteCollection(const Request& req, const ResourcePath& path);
  Response handleScale(const Request& req, const ResourcePath& path);
  // POST of a create-only review kind (reviews.cpp).
  Response handleReview(const Request& req, const ResourcePath& path);
  Response objectResponse(const Request& req, const ResourcePath& path, int status, const api::Object& obj);
  // POST pods/{name}/binding, and the legacy POST namespaces/{ns}/bindings
  // (name "" = the Binding's metadata.name) (binding.cpp).
  Response handleBinding(const Request& req, const std::string& ns, const std::string& name);
  // The legacy /api/v1/namespaces/{ns}/bindings collection; *handled = false
  // for every other path.
  Response handleLegacyBinding(const Request& req, bool* handled);
  // GET pods/{name}/log, proxied to the pod's node agent (pod_log.cpp);
  // answers through `responder` itself.
  void handlePodLog(const Request& req, const ResourcePath& path, const std::shared_ptr<Responder>& responder);

  Registry& registry_;
  Timers& timers_;
  Options options_;
  std::atomic<bool> ready_{false};
};

// The answer to a review (SelfSubjectAccessReview, SelfSubjectRulesReview,
// SelfSubjectReview) asked by `user` (reviews.cpp).
Result<api::Object> answerReview(const api::KindInfo& kind, api::Object review, const UserInfo& user);

// fieldValidation query parameter (Warn when absent).
Result<FieldValidation> fieldValidation(const Request& req);

// Parses /api/... and /apis/... resource paths; nullopt-like error when the
// path is not a resource path or names an unknown resource.
Result<ResourcePath> parseResourcePath(const api::KindRegistry& kinds, const std::string& path);

// Discovery and OpenAPI documents (discovery.cpp).
Response discoveryResponse(const api::KindRegistry& kinds, const Request& req, bool* handled);
Response openapiResponse(const api::KindRegistry& kinds, const Request& req, bool* handled);

// Tables (table.cpp): whether the Accept header asks for a meta.k8s.io Table.
bool wantsTable(const Request& req);
// A Table for one object or a list. include_object: "None" | "Metadata" | "Object".
boost::json::object tableFor(const api::KindInfo& kind, const std::vector<api::Object>& objects,
                             const std::string& include_object, bool with_columns,
                             std::chrono::system_clock::time_point now);

}  // namespace berth::apiserver
