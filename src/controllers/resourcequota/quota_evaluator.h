#pragma once

// What a ResourceQuota counts, after upstream's pkg/quota/v1/evaluator/core
// (pods, services, persistentvolumeclaims) and pkg/quota/v1/generic (object
// counts): which objects a quota resource name is computed from, the usage
// one object contributes, and whether an object falls under the quota's
// scopes. Pure functions over the JSON DOM; the controller lists the objects.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "api/kind.h"
#include "api/object.h"
#include "common/result.h"
#include "controllers/resourcequota/quantity.h"

namespace berth::controllers {

// A corev1.ResourceList: resource name -> quantity, sorted.
using ResourceList = std::map<std::string, Quantity>;

// The objects a quota resource name is computed from, as "<resource>" for
// the core group or "<resource>.<group>" (the evaluator whose
// MatchingResources accepts the name), or nullopt when no evaluator tracks
// it. Names:
//   pods: pods, count/pods, cpu, memory, ephemeral-storage, requests.* and
//         limits.* of those, hugepages-*, requests.hugepages-*,
//         requests.<extended resource>
//   services: services, count/services, services.nodeports,
//         services.loadbalancers
//   persistentvolumeclaims: persistentvolumeclaims, count/persistentvolumeclaims,
//         requests.storage,
//         <class>.storageclass.storage.k8s.io/{requests.storage,persistentvolumeclaims}
//   configmaps, secrets, resourcequotas, replicationcontrollers (legacy
//         object counts, also as count/<resource>)
//   count/<resource>[.<group>] for any other resource.
std::optional<std::string> trackedGroupResource(std::string_view resource_name);

// The usage of one object of `group_resource` (evaluator.Usage). For pods:
// count/pods always; pods and compute resources only while the pod is not
// terminal (QuotaV1Pod; a pod past its deletion grace period no longer
// counts at `now`).
ResourceList objectUsage(const std::string& group_resource, const api::Object& obj,
                         std::chrono::system_clock::time_point now);

// Whether the object falls under every scope of the quota (spec.scopes,
// spec.scopeSelector.matchExpressions). Only pods have scopes
// (Terminating, NotTerminating, BestEffort, NotBestEffort, PriorityClass,
// CrossNamespacePodAffinity); objects of other kinds match no scope.
bool matchesQuotaScopes(const std::string& group_resource, const api::Object& obj,
                        const api::Object& quota);

// resourcehelper.PodRequests / PodLimits: containers summed, restartable
// init containers (sidecars) added, other init containers maxed against
// the sidecars started before them, pod overhead added (to limits only
// where a limit is set).
ResourceList podRequests(const api::Object& pod);
ResourceList podLimits(const api::Object& pod);

}  // namespace berth::controllers
