#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/field_errors.h"
#include "common/result.h"

namespace berth::api {

using Object = boost::json::object;
using Value = boost::json::value;

// A Table column, as in meta.k8s.io/v1 TableColumnDefinition.
struct PrinterColumn {
  std::string name;
  std::string type;  // string | integer | number | boolean | date
  std::string format;  // e.g. "name"
  std::string description;
  int priority = 0;  // > 0: shown only with -o wide
};

// What a kind's hooks may look at besides the object.
struct KindContext {
  std::chrono::system_clock::time_point now;
};

// One served version of a kind. Usually a kind has one; HPA serves
// autoscaling/v2 (stored) and autoscaling/v1, events serve core/v1 and
// events.k8s.io/v1 (separate KindInfos sharing one stored form).
struct KindInfo {
  std::string group;    // "" for the core group
  std::string version;  // served version, e.g. "v1"
  std::string kind;     // "Deployment"
  std::string resource;  // plural, "deployments"
  std::string singular;  // "deployment"
  bool namespaced = true;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;  // "all" for the kinds `kubectl get all` shows
  bool has_status = false;  // status subresource: status ignored on create/update of the main resource
  bool has_scale = false;   // scale subresource (spec.replicas, status.replicas, selector)
  // Verbs served; empty = all of get list watch create update patch delete deletecollection.
  std::vector<std::string> verbs;
  // A create-only review (SelfSubjectAccessReview, ...): the API server
  // answers it from the request and stores nothing.
  bool ephemeral = false;
  // Schema type name of the top-level object in this version (see schema.h).
  std::string schema_type;

  // The storage key prefix segment; defaults to `resource`. Kinds served in
  // two versions or groups share one (HPA v1/v2; core and events.k8s.io Events).
  std::string storage_resource;
  // Converts between this version and the stored form. Empty = identical.
  // toStorage gets the object as the client sent it (in this version).
  std::function<Object(const Object&)> to_storage;
  std::function<Object(const Object&)> from_storage;

  // Sets defaults as upstream's SetDefaults_* do. Called on create and
  // update, after decoding, before validation. Must be idempotent.
  std::function<void(Object&)> defaults;
  // Validates a new object (old == nullptr) or an update (old = current
  // stored object, already in this version). Adds causes to `errs`.
  std::function<void(const Object& obj, const Object* old, FieldErrors& errs)> validate;
  // Upstream strategy PrepareForCreate/PrepareForUpdate: clear or carry
  // fields the client may not set (e.g. status on the main resource is
  // handled generically via has_status; this is for kind-specific rules).
  std::function<void(Object& obj, const Object* old)> prepare;

  // Table output (kubectl get): columns after NAME (NAME is always first and
  // is added by the server), and a function giving the cells for those
  // columns. AGE is a normal column here.
  std::vector<PrinterColumn> columns;
  std::function<boost::json::array(const Object& obj, const KindContext& ctx)> cells;

  // Extra field selector fields beyond metadata.name and metadata.namespace,
  // e.g. pods: spec.nodeName, status.phase. Returns field -> value.
  std::function<std::map<std::string, std::string>(const Object& obj)> selectable_fields;

  std::string groupVersion() const { return group.empty() ? version : group + "/" + version; }
  const std::string& storageResource() const { return storage_resource.empty() ? resource : storage_resource; }
};

// The kinds served by this server. Built once, explicitly (no static
// registration), then read-only.
class KindRegistry {
 public:
  void add(KindInfo info);
  // By group, version and plural resource name.
  const KindInfo* byResource(std::string_view group, std::string_view version,
                             std::string_view resource) const;
  // By group, version and kind.
  const KindInfo* byKind(std::string_view group, std::string_view version, std::string_view kind) const;
  const std::vector<std::shared_ptr<const KindInfo>>& all() const { return kinds_; }

  // Every built-in kind berth serves.
  static const KindRegistry& builtin();

 private:
  std::vector<std::shared_ptr<const KindInfo>> kinds_;
};

// Registration functions, one per API group family, each in its own file
// under src/api/kinds/. KindRegistry::builtin() calls all of them.
void registerCoreKinds(KindRegistry& r);       // core/v1
void registerAppsKinds(KindRegistry& r);       // apps/v1
void registerBatchKinds(KindRegistry& r);      // batch/v1
void registerAutoscalingKinds(KindRegistry& r);  // autoscaling/v2 + v1
void registerPolicyKinds(KindRegistry& r);     // policy/v1
void registerRbacKinds(KindRegistry& r);       // rbac.authorization.k8s.io/v1
void registerNetworkingKinds(KindRegistry& r);  // networking.k8s.io/v1
void registerStorageKinds(KindRegistry& r);    // storage.k8s.io/v1
void registerAuthKinds(KindRegistry& r);       // authentication.k8s.io/v1, authorization.k8s.io/v1 reviews
void registerOtherKinds(KindRegistry& r);      // scheduling, node, coordination, discovery, certificates, events.k8s.io

}  // namespace berth::api
