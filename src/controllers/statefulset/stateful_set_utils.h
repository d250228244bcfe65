#pragma once

// Pod identity and storage of StatefulSets, after upstream's
// pkg/controller/statefulset/stateful_set_utils.go: pods are named
// "<set>-<ordinal>", carry the statefulset.kubernetes.io/pod-name and
// apps.kubernetes.io/pod-index labels, hostname "<set>-<ordinal>" and
// subdomain = spec.serviceName, and mount one PersistentVolumeClaim per
// volumeClaimTemplate named "<claim>-<set>-<ordinal>".

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "client/client.h"

namespace berth::controllers {

inline constexpr char kStatefulSetPodNameLabel[] = "statefulset.kubernetes.io/pod-name";
inline constexpr char kPodIndexLabel[] = "apps.kubernetes.io/pod-index";

// getParentNameAndOrdinal: "<parent>-<ordinal>"; ordinal -1 when the name
// does not end in "-<digits>" (or the number exceeds int32).
struct ParentAndOrdinal {
  std::string parent;
  int ordinal = -1;
};
ParentAndOrdinal parentAndOrdinal(const std::string& pod_name);
int ordinalOf(const api::Object& pod);

std::string statefulPodName(const api::Object& set, int ordinal);
std::string claimName(const std::string& claim_template, const api::Object& set, int ordinal);

// getStartOrdinal / getEndOrdinal (spec.ordinals.start, spec.replicas).
int startOrdinal(const api::Object& set);
int endOrdinal(const api::Object& set);
int64_t setReplicas(const api::Object& set);
bool podInOrdinalRange(const api::Object& pod, const api::Object& set);

bool isMemberOf(const api::Object& set, const api::Object& pod);
// identityMatches / storageMatches.
bool identityMatches(const api::Object& set, const api::Object& pod);
bool storageMatches(const api::Object& set, const api::Object& pod);
// updateIdentity (name, namespace, labels) and initIdentity (+ hostname,
// subdomain, set only at creation).
void updateIdentity(const api::Object& set, api::Object& pod);
// updateStorage: the claim volumes replace same-named volumes of the pod.
void updateStorage(const api::Object& set, api::Object& pod);
// getPersistentVolumeClaims: the claims of the pod's ordinal, in template
// order (template name, claim object).
std::vector<std::pair<std::string, api::Object>> persistentVolumeClaims(const api::Object& set,
                                                                        int ordinal);

// newStatefulSetPod: from the template, with the controller reference,
// identity and storage.
api::Object newStatefulSetPod(const api::Object& set, const api::KindInfo& set_kind, int ordinal);
// The controller-revision-hash label (the revision's name).
std::string podRevision(const api::Object& pod);
void setPodRevision(api::Object& pod, const std::string& revision);

// Pod states as the StatefulSet controller sees them.
bool isCreated(const api::Object& pod);  // the API server gave it a phase
bool isPending(const api::Object& pod);
bool isPodFailed(const api::Object& pod);
bool isPodSucceeded(const api::Object& pod);
bool isTerminating(const api::Object& pod);
bool isRunningAndReady(const api::Object& pod);
bool isRunningAndAvailable(const api::Object& pod, int64_t min_ready_seconds,
                           std::chrono::system_clock::time_point now);
// Not available, or terminating.
bool isUnavailable(const api::Object& pod, int64_t min_ready_seconds,
                   std::chrono::system_clock::time_point now);

}  // namespace berth::controllers
