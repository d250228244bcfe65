#pragma once

// Helpers of the Deployment controller over the JSON DOM, after upstream's
// pkg/controller/deployment/util/deployment_util.go and the ReplicaSet
// sorting / hashing helpers of pkg/controller/controller_utils.go. Pure
// functions (the current time is passed in), unit-tested on their own.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/client.h"
#include "common/result.h"

namespace berth::controllers::deploymentutil {

using client::ObjectPtr;
using TimePoint = std::chrono::system_clock::time_point;

// Annotations (apps/v1 and deployment_util.go).
inline constexpr char kRevisionAnnotation[] = "deployment.kubernetes.io/revision";
inline constexpr char kRevisionHistoryAnnotation[] = "deployment.kubernetes.io/revision-history";
inline constexpr char kDesiredReplicasAnnotation[] = "deployment.kubernetes.io/desired-replicas";
inline constexpr char kMaxReplicasAnnotation[] = "deployment.kubernetes.io/max-replicas";
// apps.DeprecatedRollbackTo: the extensions/v1beta1 spec.rollbackTo field
// round-tripped as an annotation; the controller still honours it.
inline constexpr char kRollbackToAnnotation[] = "deprecated.deployment.rollback.to";
inline constexpr char kLastAppliedConfigAnnotation[] =
    "kubectl.kubernetes.io/last-applied-configuration";
// apps.DefaultDeploymentUniqueLabelKey.
inline constexpr char kPodTemplateHashLabel[] = "pod-template-hash";
// The revision-history annotation is capped at this many characters.
inline constexpr size_t kMaxRevHistoryLengthInChars = 2000;

// Condition reasons.
inline constexpr char kReplicaSetUpdatedReason[] = "ReplicaSetUpdated";
inline constexpr char kFailedRSCreateReason[] = "ReplicaSetCreateError";
inline constexpr char kNewReplicaSetReason[] = "NewReplicaSetCreated";
inline constexpr char kFoundNewRSReason[] = "FoundNewReplicaSet";
inline constexpr char kNewRSAvailableReason[] = "NewReplicaSetAvailable";
inline constexpr char kTimedOutReason[] = "ProgressDeadlineExceeded";
inline constexpr char kPausedDeployReason[] = "DeploymentPaused";
inline constexpr char kResumedDeployReason[] = "DeploymentResumed";
inline constexpr char kMinimumReplicasAvailable[] = "MinimumReplicasAvailable";
inline constexpr char kMinimumReplicasUnavailable[] = "MinimumReplicasUnavailable";
// Rollback event reasons.
inline constexpr char kRollbackRevisionNotFound[] = "DeploymentRollbackRevisionNotFound";
inline constexpr char kRollbackTemplateUnchanged[] = "DeploymentRollbackTemplateUnchanged";
inline constexpr char kRollbackDone[] = "DeploymentRollback";

// ---- pod-template-hash ----

// FNV-1a, 32 bit (hash/fnv New32a).
uint32_t fnv32a(std::string_view data, uint32_t seed = 2166136261u);
// rand.SafeEncodeString: each byte mapped into "bcdfghjklmnpqrstvwxz2456789"
// (no vowels, so no words); decimal digits become 4-9 and b, c, d, f.
std::string safeEncodeString(std::string_view s);
// A canonical rendering of a JSON value: object keys sorted, no whitespace.
std::string canonicalJson(const boost::json::value& v);
// controller.ComputeHash: FNV-32a of the template, then, when a
// collisionCount is given, its 4 little-endian bytes padded to 8; the sum in
// decimal through safeEncodeString. Upstream feeds FNV a go-spew dump of the
// Go PodTemplateSpec struct, which depends on the Go type layout of each
// Kubernetes release (upstream's hashes change between releases too, and the
// controller finds the new ReplicaSet by template equality, never by hash);
// berth feeds it the canonical JSON of the template instead.
std::string computeHash(const boost::json::object& pod_template,
                        std::optional<int64_t> collision_count);

// ---- spec accessors with apps/v1 defaults ----

int64_t replicas(const api::Object& obj);  // spec.replicas, default 1
int64_t minReadySeconds(const api::Object& obj);
bool isRollingUpdate(const api::Object& d);  // strategy.type, default RollingUpdate
bool isPaused(const api::Object& d);
// progressDeadlineSeconds set and not MaxInt32.
bool hasProgressDeadline(const api::Object& d);
int64_t progressDeadlineSeconds(const api::Object& d);
// revisionHistoryLimit set and not MaxInt32.
bool hasRevisionHistoryLimit(const api::Object& d);
std::optional<int64_t> collisionCount(const api::Object& d);

// intstr.GetScaledValueFromIntOrPercent: an integer as is, "N%" of total
// rounded up or down. Errors: "invalid type: string is not a percentage",
// "invalid value for IntOrString: invalid value \"x%\"".
Result<int64_t> scaledValueFromIntOrPercent(const boost::json::value* v, int64_t total,
                                            bool round_up);
// ResolveFenceposts: maxSurge rounded up, maxUnavailable rounded down; when
// both resolve to 0, maxUnavailable becomes 1. Absent values count as 0.
Result<std::pair<int64_t, int64_t>> resolveFenceposts(const boost::json::value* max_surge,
                                                      const boost::json::value* max_unavailable,
                                                      int64_t desired);
// MaxSurge / MaxUnavailable of a rolling deployment (0 for Recreate);
// absent rollingUpdate fields default to 25% as apps/v1 does.
// MaxUnavailable is 0 for 0 replicas and capped at spec.replicas.
int64_t maxSurge(const api::Object& d);
int64_t maxUnavailable(const api::Object& d);

// ---- annotations and revisions ----

std::string annotation(const api::Object& obj, std::string_view key);
void setAnnotation(api::Object& obj, std::string_view key, const std::string& value);
// Revision: the revision annotation as an integer; absent is 0, garbage an error.
Result<int64_t> revision(const api::Object& obj);
// MaxRevision / LastRevision (the second highest) over replica sets,
// skipping unparsable ones.
int64_t maxRevision(const std::vector<ObjectPtr>& rss);
int64_t lastRevision(const std::vector<ObjectPtr>& rss);
// getRollbackTo: the revision of the rollback-to annotation (0: the
// previous one), nullopt when absent or not an integer.
std::optional<int64_t> rollbackTo(const api::Object& d);
// setRollbackTo(d, nil): removes the annotation.
void clearRollbackTo(api::Object& d);
// SetDeploymentRevision: true when the annotation changed.
bool setDeploymentRevision(api::Object& d, const std::string& revision);
// annotationsToSkip: last-applied-configuration, the revision, history,
// desired/max replicas and rollback-to annotations are never copied between
// a Deployment and its ReplicaSets.
bool skipCopyAnnotation(std::string_view key);
// SetNewReplicaSetAnnotations: copies the deployment's annotations, raises
// the revision to new_revision when lower (moving the old one into the
// revision-history annotation, capped at max_history_chars), and for a new
// replica set (exists == false) sets desired/max replicas. True when
// anything changed.
bool setNewReplicaSetAnnotations(const api::Object& d, api::Object& rs,
                                 const std::string& new_revision, bool exists,
                                 size_t max_history_chars = kMaxRevHistoryLengthInChars);
// SetDeploymentAnnotationsTo: the deployment's annotations become the
// rollback target's (skipped keys kept from the deployment).
void setDeploymentAnnotationsTo(api::Object& d, const api::Object& rollback_to_rs);
// SetReplicasAnnotations / ReplicasAnnotationsNeedUpdate for desired and
// max replicas.
bool setReplicasAnnotations(api::Object& rs, int64_t desired, int64_t max_replicas);
bool replicasAnnotationsNeedUpdate(const api::Object& rs, int64_t desired, int64_t max_replicas);
// The desired-replicas / max-replicas annotation parsed as int32.
std::optional<int64_t> intAnnotation(const api::Object& rs, std::string_view key);

// ---- replica set selection ----

// EqualIgnoreHash: the templates are equal apart from the pod-template-hash
// label (empty and absent values compare equal, as Semantic.DeepEqual).
bool equalIgnoreHash(const boost::json::object& t1, const boost::json::object& t2);
// FindNewReplicaSet: the oldest replica set whose template equals the
// deployment's (ignoring the hash label), or nullptr.
ObjectPtr findNewReplicaSet(const api::Object& d, std::vector<ObjectPtr> rss);
// FindOldReplicaSets: (old replica sets with replicas, all old replica sets).
std::pair<std::vector<ObjectPtr>, std::vector<ObjectPtr>> findOldReplicaSets(
    const api::Object& d, const std::vector<ObjectPtr>& rss);
// FindActiveOrLatest: the only active replica set, or the newest when none
// is active, or nullptr when several are. Sorts old_rss newest first.
ObjectPtr findActiveOrLatest(const ObjectPtr& new_rs, std::vector<ObjectPtr>& old_rss);
// FilterActiveReplicaSets: spec.replicas > 0 (drops nullptr).
std::vector<ObjectPtr> filterActiveReplicaSets(const std::vector<ObjectPtr>& rss);

// Sums over replica sets (nullptr entries count 0).
int64_t replicaCount(const std::vector<ObjectPtr>& rss);           // spec.replicas
int64_t actualReplicaCount(const std::vector<ObjectPtr>& rss);     // status.replicas
int64_t readyReplicaCount(const std::vector<ObjectPtr>& rss);      // status.readyReplicas
int64_t availableReplicaCount(const std::vector<ObjectPtr>& rss);  // status.availableReplicas

// Orders: ReplicaSetsByCreationTimestamp (name breaks ties),
// ReplicaSetsBySizeOlder / Newer (bigger first, then older / newer first),
// ReplicaSetsByRevision (lower first, creation order on ties or garbage).
void sortByCreation(std::vector<ObjectPtr>& rss);
void sortBySizeOlder(std::vector<ObjectPtr>& rss);
void sortBySizeNewer(std::vector<ObjectPtr>& rss);
void sortByRevision(std::vector<ObjectPtr>& rss);

// ---- scaling ----

// IsSaturated: the replica set runs all desired replicas, all available,
// and its desired-replicas annotation agrees.
bool isSaturated(const api::Object& d, const ObjectPtr& rs);
// NewRSNewReplicas: how far the new replica set may grow now (rolling:
// within spec.replicas + maxSurge total; Recreate: all at once).
Result<int64_t> newRSNewReplicas(const api::Object& d, const std::vector<ObjectPtr>& all_rss,
                                 const api::Object& new_rs);
// GetProportion: the share of `to_add` a replica set gets when a rollout is
// scaled, from its size relative to its max-replicas annotation.
int64_t getProportion(const api::Object& rs, const api::Object& d, int64_t to_add, int64_t added);

// ---- conditions ----

const boost::json::object* getCondition(const boost::json::object& status, std::string_view type);
boost::json::object newCondition(std::string_view type, std::string_view status,
                                 std::string_view reason, const std::string& message,
                                 TimePoint now);
// SetDeploymentCondition: no-op when a condition of the type has the same
// status and reason; keeps lastTransitionTime when only the reason changes.
void setCondition(boost::json::object& status, boost::json::object condition);
void removeCondition(boost::json::object& status, std::string_view type);

// DeploymentComplete / DeploymentProgressing / DeploymentTimedOut over a
// freshly calculated status.
bool deploymentComplete(const api::Object& d, const boost::json::object& new_status);
bool deploymentProgressing(const api::Object& d, const boost::json::object& new_status);
bool deploymentTimedOut(const api::Object& d, const boost::json::object& new_status, TimePoint now);

// An omitempty integer of a status (absent = 0).
int64_t statusCount(const boost::json::object& status, std::string_view key);
void setStatusCount(boost::json::object& status, std::string_view key, int64_t v);

}  // namespace berth::controllers::deploymentutil
