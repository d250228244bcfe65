#pragma once

// The parts of a pod's status the kubelet derives from its container
// statuses, shared by the real agent and hollow nodes: the phase
// (pkg/kubelet/kubelet_pods.go getPhase) and the kubelet-owned conditions
// (pkg/kubelet/status/generate.go: PodReadyToStartContainers, Initialized,
// Ready with readiness gates, ContainersReady).

#include <chrono>
#include <string>
#include <vector>

#include "api/kind.h"

namespace berth::agent {

using TimePoint = std::chrono::system_clock::time_point;

// "Pending", "Running", "Succeeded" or "Failed" for `pod` whose containers
// report `statuses` and init containers `init_statuses` (API
// ContainerStatus arrays; nullptr reads as empty). pod_is_terminal: the
// kubelet has decided no container will run again (deleted, or done).
std::string podPhase(const api::Object& pod, const boost::json::array* init_statuses,
                     const boost::json::array* statuses, bool pod_is_terminal);

// The kubelet's conditions for `status` (its phase, containerStatuses,
// initContainerStatuses and, for readiness gates, conditions), in
// upstream's order, each with lastTransitionTime kept from `old_conditions`
// when its status is unchanged (else `now`), followed by the old
// conditions the kubelet does not own (PodScheduled, DisruptionTarget,
// readiness gate conditions, ...).
boost::json::array podConditions(const api::Object& pod, const boost::json::object& status,
                                 const boost::json::array* old_conditions, bool sandbox_ready,
                                 TimePoint now);

// The pod's containers or initContainers (`list`) as objects.
std::vector<const boost::json::object*> podContainers(const api::Object& pod, const char* list);
// A restartable init container (restartPolicy Always): a sidecar.
bool isSidecar(const boost::json::object& init_container);
// The kubelet's format.Pod: "name_namespace(uid)", as messages quote a pod.
std::string podDescription(const api::Object& pod);

// Go's %s of a []string: "[a b c]".
std::string goList(const std::vector<std::string>& names);

}  // namespace berth::agent
