#pragma once

#include <atomic>
#include <boost/json.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/kind.h"
#include "apiserver/http.h"
#include "apiserver/registry/allocator.h"
#include "common/clock.h"
#include "common/result.h"
#include "storage/store.h"

namespace berth::apiserver {

// What the watch cache keeps decoded beside each object's bytes, so that
// selectors are matched without parsing (see storage::KeyValue::decoded).
struct ObjectAttrs {
  std::string name;
  std::string namespace_;
  std::map<std::string, std::string, std::less<>> labels;
  std::map<std::string, std::string, std::less<>> fields;  // selectable fields incl. metadata.name/namespace
};

enum class PatchType { kJson, kMerge, kStrategic, kApply };
enum class FieldValidation { kIgnore, kWarn, kStrict };
// kFinalize: namespaces/finalize, the only way spec.finalizers of a Namespace change.
enum class Subresource { kNone, kStatus, kScale, kFinalize };
enum class Propagation { kDefault, kBackground, kForeground, kOrphan };

struct WriteOptions {
  bool dry_run = false;
  FieldValidation field_validation = FieldValidation::kStrict;
  Subresource subresource = Subresource::kNone;
  UserInfo user;
};

struct DeleteOptions {
  bool dry_run = false;
  std::optional<int64_t> grace_period_seconds;
  Propagation propagation = Propagation::kDefault;
  std::string precondition_uid;
  std::string precondition_resource_version;
};

struct ListParams {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;
  std::string continue_token;
  std::string resource_version;  // "" = consistent latest, "0" = any
};

struct ListPage {
  std::vector<storage::KeyValue> items;  // decorated (JSON bytes in the stored version + ObjectAttrs)
  int64_t revision = 0;
  std::string continue_token;
  int64_t remaining = -1;  // -1: unknown / not applicable
};

struct DeleteResult {
  api::Object object;  // the deleted object, or the object now terminating
  bool deleted = false;  // true: gone; false: deletionTimestamp set, waiting on finalizers/grace
};

// Generic storage of API objects: the REST verbs' semantics (metadata,
// defaulting, validation, admission, preconditions, finalizers, graceful
// deletion) independent of HTTP. The API server's REST handlers and the
// in-process controllers both use it, so controllers need no HTTP and no
// re-encoding.
class Registry {
 public:
  struct Options {
    std::string service_cidr = "10.96.0.0/12";
    int node_port_min = 30000;
    int node_port_max = 32767;
  };

  Registry(const api::KindRegistry& kinds, std::shared_ptr<storage::Store> store, Clock& clock, Options options);

  // The decorator the watch cache applies to every value: injects
  // metadata.resourceVersion and attaches ObjectAttrs.
  static storage::KeyValue decorate(const api::KindRegistry& kinds, storage::KeyValue kv);

  const api::KindRegistry& kinds() const { return kinds_; }
  storage::Store& store() { return *store_; }
  Clock& clock() { return clock_; }
  Allocators& allocators() { return allocators_; }

  // Storage keys: /registry/<storage resource>/<namespace>/<name> or
  // /registry/<storage resource>/<name> for cluster-scoped kinds.
  static std::string key(const api::KindInfo& kind, const std::string& ns, const std::string& name);
  static std::string prefix(const api::KindInfo& kind, const std::string& ns);

  // The stored form's KindInfo for a served kind (itself when no conversion).
  const api::KindInfo& storageKind(const api::KindInfo& kind) const;

  // Converts a stored object to the served version / back.
  api::Object fromStorage(const api::KindInfo& kind, api::Object stored) const;
  api::Object toStorage(const api::KindInfo& kind, api::Object served) const;

  Result<api::Object> get(const api::KindInfo& kind, const std::string& ns, const std::string& name);
  Result<storage::KeyValue> getRaw(const api::KindInfo& kind, const std::string& ns, const std::string& name);
  Result<ListPage> list(const api::KindInfo& kind, const std::string& ns, const ListParams& params);

  Result<api::Object> create(const api::KindInfo& kind, const std::string& ns, api::Object obj,
                             const WriteOptions& opts);
  // PUT: replaces the object (or its status, per opts.subresource).
  Result<api::Object> update(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                             api::Object obj, const WriteOptions& opts);
  // PATCH of the object or a subresource. `patch` is the raw body.
  Result<api::Object> patch(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                            PatchType type, const std::string& patch, const WriteOptions& opts);
  Result<DeleteResult> remove(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                              const DeleteOptions& opts);

  // Applies `mutate` to the current object with optimistic-concurrency
  // retries and stores it, running the same update path as PUT. For
  // controllers: returns NotFound if the object is gone.
  Result<api::Object> mutate(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                             const std::function<Status(api::Object&)>& fn, Subresource sub = Subresource::kNone);

  // pods/binding (binding.cpp), as upstream's BindingREST.Create and
  // assignPod: sets spec.nodeName to binding.target.name (target.kind Node
  // or empty), copies the binding's annotations to the pod and sets the
  // PodScheduled=True condition. The binding's metadata.uid and
  // metadata.resourceVersion are preconditions on the pod. 409 Conflict when
  // the pod is already assigned, being deleted or has scheduling gates; 404
  // when it is gone. Returns the pod as bound.
  Result<api::Object> bind(const std::string& ns, const std::string& pod_name, const api::Object& binding,
                           const WriteOptions& opts);

  // pods/eviction (eviction.cpp), as upstream's EvictionREST.Create: deletes
  // the pod if its PodDisruptionBudget allows (decrementing
  // status.disruptionsAllowed and recording status.disruptedPods[pod]), and
  // at once for Pending, terminal or terminating pods. `eviction` is a
  // policy/v1 (or v1beta1) Eviction whose deleteOptions are used for the
  // delete; opts.dry_run is the request's dryRun. Returns the answer: a
  // Success Status (code 201), or the Failure Status (code 500) upstream
  // returns as a result when the pod has more than one budget. Errors: 404
  // for a missing pod, 429 TooManyRequests (cause DisruptionBudget) when
  // the budget refuses, 409 on a failed precondition.
  Result<api::Object> evict(const std::string& ns, const std::string& pod_name,
                            const api::Object& eviction, const WriteOptions& opts);
  // Decodes a POST pods/{name}/eviction body: JSON or YAML through the
  // policy/v1 Eviction schema (field validation as requested), or
  // Kubernetes protobuf as client-go sends it (kubectl drain).
  static Result<api::Object> decodeEviction(std::string_view content_type, const std::string& body,
                                            FieldValidation validation);

  // Warnings produced by the last decode on this thread (fieldValidation=Warn).
  static std::vector<std::string>& threadWarnings();

  // Makes sure the namespace exists and is not terminating (admission).
  Status checkNamespace(const api::KindInfo& kind, const std::string& ns, const std::string& name, bool creating);

 private:
  Result<api::Object> updateLocked(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                                   const storage::KeyValue& current, api::Object obj, const WriteOptions& opts,
                                   bool has_client_rv);
  Result<api::Object> finishDeleteIfReady(const api::KindInfo& kind, const std::string& key,
                                          api::Object stored, int64_t revision);
  Result<api::Object> admitCreate(const api::KindInfo& kind, api::Object& obj, const WriteOptions& opts);
  void releaseOnDelete(const api::KindInfo& kind, const api::Object& obj);
  static api::Object parseStored(const storage::KeyValue& kv);

  const api::KindRegistry& kinds_;
  std::shared_ptr<storage::Store> store_;
  Clock& clock_;
  Options options_;
  Allocators allocators_;
};

// Helpers shared by the REST layer.
std::string newUid();
std::string generateNameSuffix();
bool kindHasGeneration(const api::KindInfo& kind);
int64_t parseResourceVersion(const std::string& rv, bool* ok);

}  // namespace berth::apiserver
