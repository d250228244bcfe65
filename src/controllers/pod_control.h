#pragma once

// Creating, deleting, adopting and releasing the dependents of a workload
// controller, after upstream's pkg/controller/controller_utils.go
// (RealPodControl, GetPodFromTemplate) and controller_ref_manager.go
// (BaseControllerRefManager.ClaimObject, PodControllerRefManager,
// ReplicaSetControllerRefManager, RecheckDeletionTimestamp).
//
// Pods made from a template carry the template's labels, annotations and
// finalizers, generateName "<owner>-", and one ownerReference to the owner
// with controller=true and blockOwnerDeletion=true, so the garbage collector
// deletes them with their owner and no other controller adopts them.
// Adoption and release patch only metadata.ownerReferences (strategic merge
// keyed by uid) with the dependent's uid as a precondition, as upstream.

#include <functional>
#include <string>
#include <vector>

#include "api/selector.h"
#include "client/client.h"
#include "client/event_recorder.h"

namespace berth::controllers {

// Event reasons of controller_utils.go; also the ReplicaFailure condition
// reasons of ReplicaSets.
inline constexpr char kFailedCreatePodReason[] = "FailedCreate";
inline constexpr char kSuccessfulCreatePodReason[] = "SuccessfulCreate";
inline constexpr char kFailedDeletePodReason[] = "FailedDelete";
inline constexpr char kSuccessfulDeletePodReason[] = "SuccessfulDelete";

// v1.NamespaceTerminatingCause: the create was refused because the
// namespace is being deleted; controllers skip events and retries for it.
inline constexpr char kNamespaceTerminatingCause[] = "NamespaceTerminating";
bool hasNamespaceTerminatingCause(const Error& err);

// metav1.NewControllerRef: {apiVersion, kind, name, uid, controller: true,
// blockOwnerDeletion: true} pointing at `owner` of `owner_kind`.
boost::json::object newControllerRef(const api::Object& owner, const api::KindInfo& owner_kind);

// GetPodFromTemplate: a Pod (apiVersion/kind set) with the template's labels,
// annotations and finalizers, generateName "<owner name>-" (the bare owner
// name when that is not a valid name prefix), the controller reference when
// given, and a copy of the template's spec. `tmpl` is a PodTemplateSpec
// ({metadata, spec}).
api::Object podFromTemplate(const boost::json::object& tmpl, const api::Object& owner,
                            const boost::json::object* controller_ref);

// utilerrors.NewAggregate's message: one error as is, several as "[a, b]".
Error aggregateErrors(const std::vector<Error>& errors);

// RealPodControl. Records events on the owner through `recorder`:
// SuccessfulCreate "Created pod: <name>", FailedCreate "Error creating: <err>",
// SuccessfulDelete "Deleted pod: <name>", FailedDelete "Error deleting: <err>".
class PodControl {
 public:
  PodControl(client::Client& client, client::EventRecorder& recorder)
      : client_(client), recorder_(recorder) {}

  // CreatePods / CreatePodsWithGenerateName: creates one pod from `tmpl` in
  // `ns`, owned by `owner` through `controller_ref` (which must have
  // apiVersion, kind, controller=true and blockOwnerDeletion=true).
  // `generate_name` overrides the "<owner>-" prefix when not empty. Returns
  // the created pod. A pod without labels is refused ("unable to create
  // pods, no labels") since no selector could ever own it.
  Result<client::ObjectPtr> createPod(const std::string& ns, const boost::json::object& tmpl,
                                      const api::Object& owner,
                                      const boost::json::object& controller_ref,
                                      const std::string& generate_name = "");
  // Creates a pod the caller built (from podFromTemplate, then adjusted: a
  // DaemonSet's node affinity, a StatefulSet's name), with the same checks
  // and events.
  Result<client::ObjectPtr> createPodObject(const std::string& ns, api::Object pod,
                                            const api::Object& owner);

  // DeletePod. NotFound is returned as is (callers treat it as done) and
  // records no event; other errors record FailedDelete and come back as
  // "unable to delete pods: <err>" with the original code.
  Status deletePod(const std::string& ns, const std::string& name, const api::Object& owner);

  // PatchPod: a strategic merge patch of the pod.
  Status patchPod(const std::string& ns, const std::string& name, const std::string& patch);

 private:
  client::Client& client_;
  client::EventRecorder& recorder_;
};

// Called at most once per ControllerRefManager, before the first adoption.
using CanAdoptFunc = std::function<Status()>;

// RecheckDeletionTimestamp: adoption is refused when a fresh (uncached) read
// of the controller fails or shows it being deleted, so that a controller
// being deleted does not adopt orphans that its deletion would then orphan
// again (upstream #42639).
CanAdoptFunc recheckDeletionTimestamp(std::function<Result<client::ObjectPtr>()> get_fresh);

// BaseControllerRefManager with its Pod and ReplicaSet specialisations,
// generic over the dependent kind.
class ControllerRefManager {
 public:
  // `controller` is the owner (copied), `selector` its selector over the
  // dependents' labels. `finalizers` are added on adoption and removed on
  // release (the Job controller's tracking finalizer); usually empty.
  ControllerRefManager(client::Client& client, const api::Object& controller,
                       const api::KindInfo& controller_kind, api::LabelSelector selector,
                       CanAdoptFunc can_adopt, std::vector<std::string> finalizers = {});

  // ClaimObject over `objs` of `kind`:
  //  - owned by this controller and matching: kept;
  //  - owned by this controller, no longer matching: released (unless the
  //    controller is being deleted);
  //  - orphan, matching, not being deleted, same namespace: adopted (unless
  //    the controller is being deleted);
  //  - owned by another controller: ignored.
  // `filter` narrows "matching" beyond the selector (e.g. active pods only).
  // Returns the objects now owned; the first failure(s) as an aggregate
  // error after trying every object. Dependents that vanished (NotFound) are
  // skipped silently.
  Result<std::vector<client::ObjectPtr>> claim(
      const api::KindInfo& kind, const std::vector<client::ObjectPtr>& objs,
      const std::function<bool(const api::Object&)>& filter = {});
  Result<std::vector<client::ObjectPtr>> claimPods(
      const std::vector<client::ObjectPtr>& pods,
      const std::function<bool(const api::Object&)>& filter = {});

  // AdoptPod / AdoptReplicaSet: adds the controller reference (and the
  // finalizers) by strategic merge patch with the dependent's uid.
  Status adopt(const api::KindInfo& kind, const api::Object& obj);
  // ReleasePod / ReleaseReplicaSet: deletes the reference by uid. NotFound
  // and Invalid (no such reference / the dependent was re-created) count as
  // released.
  Status release(const api::KindInfo& kind, const api::Object& obj);

  // The patches, exposed for tests and for controllers that patch through
  // their own path.
  std::string adoptPatch(const api::Object& obj) const;
  std::string releasePatch(const api::Object& obj) const;

 private:
  Status canAdopt();

  client::Client& client_;
  api::Object controller_;
  const api::KindInfo& controller_kind_;
  api::LabelSelector selector_;
  CanAdoptFunc can_adopt_;
  std::vector<std::string> finalizers_;
  bool can_adopt_called_ = false;
  Status can_adopt_status_;
};

}  // namespace berth::controllers
