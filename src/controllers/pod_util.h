#pragma once

// Pod and owner helpers shared by the workload controllers (ReplicaSet,
// ReplicationController, Deployment, DaemonSet, StatefulSet, Job), after
// upstream's pkg/api/v1/pod (IsPodReady, IsPodAvailable) and
// pkg/controller/controller_utils.go (IsPodActive, FilterActivePods,
// ActivePodsWithRanks, PodKey) and metav1.GetControllerOf.
//
// Everything reads the JSON DOM of api::Object and treats a missing or
// mistyped field as absent, as the Go code treats nil pointers and zero
// values.

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/client.h"
#include "client/informer.h"

namespace berth::controllers {

using TimePoint = std::chrono::system_clock::time_point;

// metav1.Time at a path of object keys (RFC 3339), or nullopt when absent or
// unparsable (the Go zero time).
std::optional<TimePoint> timeAt(const api::Object& obj,
                                std::initializer_list<std::string_view> path);
// metadata.creationTimestamp, or the zero time point when absent.
TimePoint creationTime(const api::Object& obj);
bool hasDeletionTimestamp(const api::Object& obj);

// controller.PodKey / cache.MetaNamespaceKeyFunc: "namespace/name".
std::string podKey(const api::Object& pod);

// metav1.GetControllerOf: the ownerReference with controller=true, or nullptr.
const boost::json::object* controllerRef(const api::Object& obj);
std::string controllerUid(const api::Object& obj);

// The owner in `owners`' cache that a controller ownerReference names
// (kind, namespace, name), or nullptr when the kind differs or the UID no
// longer matches (upstream's resolveControllerRef in every controller).
client::ObjectPtr resolveControllerRef(const client::Informer& owners, std::string_view kind,
                                       const std::string& ns, const boost::json::object& ref);
// The owners in obj's namespace whose spec.selector (a LabelSelector)
// matches obj's labels; a nil or empty selector matches nothing here, not
// everything (upstream's getPodJobs, getPodStatefulSets, ...).
std::vector<client::ObjectPtr> ownersSelecting(const client::Informer& owners, const api::Object& obj);

// controller.PodControllerUIDIndex: pods filed under their controller's UID,
// pods without a controller under orphanPodIndexKey(namespace), so that a
// controller's sync reads its own pods and the adoptable orphans instead of
// every pod of the namespace (upstream's getRSPods).
inline constexpr char kPodControllerUidIndex[] = "podControllerUID";
std::string orphanPodIndexKey(std::string_view ns);
// Adds the index to the shared pod informer (before it starts; adding it
// again from another controller is harmless).
void addPodControllerUidIndex(client::Informer& pods);
// The pods controlled by `uid` and the orphans of `ns`.
std::vector<client::ObjectPtr> ownedAndOrphanPods(const client::Informer& pods, const std::string& ns,
                                                  const std::string& uid);

// The status.conditions entry of `type`, or nullptr.
const boost::json::object* podCondition(const api::Object& pod, std::string_view type);
// podutil.IsPodReady: the Ready condition is "True".
bool isPodReady(const api::Object& pod);
// podutil.IsPodAvailable: ready, and ready for at least minReadySeconds
// (minReadySeconds == 0: ready is enough). Upstream compares
// lastTransitionTime + minReadySeconds strictly before now.
bool isPodAvailable(const api::Object& pod, int64_t min_ready_seconds, TimePoint now);
// controller.IsPodActive: phase is neither Succeeded nor Failed and the pod
// is not being deleted.
bool isPodActive(const api::Object& pod);
// Succeeded or Failed.
bool isPodTerminal(const api::Object& pod);
// controller.FilterActivePods.
std::vector<client::ObjectPtr> filterActivePods(const std::vector<client::ObjectPtr>& pods);

// The controller.kubernetes.io/pod-deletion-cost annotation as upstream's
// GetDeletionCostFromPodAnnotations reads it: 0 when absent or invalid
// ("+1", "008", out of int32 range).
inline constexpr char kPodDeletionCostAnnotation[] = "controller.kubernetes.io/pod-deletion-cost";
int32_t podDeletionCost(const api::Object& pod);
// The highest restartCount over status.containerStatuses.
int64_t maxContainerRestarts(const api::Object& pod);

// controller.ActivePodsWithRanks.Less with the PodDeletionCost and
// LogarithmicScaleDown gates on (their defaults): true when `a` should be
// deleted before `b`. In order:
//  1. unassigned before assigned;
//  2. Pending before Unknown before Running;
//  3. not ready before ready;
//  4. lower pod-deletion-cost first;
//  5. higher rank first (more related pods on the same node: doubled up);
//  6. both ready: ready for less time first (log2 buckets of now - readyTime,
//     ties in a bucket broken by uid);
//  7. more container restarts first;
//  8. newer first (log2 buckets of the age, ties broken by uid).
// A zero `now` compares times exactly instead of in buckets.
bool activePodsWithRanksLess(const api::Object& a, int rank_a, const api::Object& b, int rank_b,
                             TimePoint now);

// Sorts `pods` (and `ranks` alongside, same length) into the order above.
// Uses a merge sort, which stays memory-safe even where upstream's Less is
// not a strict weak order (uid tie-breaks inside a bucket).
void sortActivePodsWithRanks(std::vector<client::ObjectPtr>& pods, std::vector<int>& ranks,
                             TimePoint now);

}  // namespace berth::controllers
