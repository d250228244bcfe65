#pragma once

// The in-tree plugins (pkg/scheduler/framework/plugins/*). Each factory
// builds one plugin from the profile; inTreeRegistry() (registry.cpp) maps
// the names in config.h to these.

#include <memory>

#include "scheduler/config.h"
#include "scheduler/framework.h"

namespace berth::scheduler {

std::shared_ptr<Plugin> newNodeResourcesFit(const ProfileConfig& config, Handle& handle);
std::shared_ptr<Plugin> newBalancedAllocation(const ProfileConfig& config, Handle& handle);
std::shared_ptr<Plugin> newNodeName(const ProfileConfig& config, Handle& handle);
std::shared_ptr<Plugin> newNodeUnschedulable(const ProfileConfig& config, Handle& handle);
std::shared_ptr<Plugin> newNodePorts(const ProfileConfig& config, Handle& handle);
std::shared_ptr<Plugin> newNodeAffinity(const ProfileConfig& config, Handle& handle);
std::shared_ptr<Plugin> newTaintToleration(const ProfileConfig& config, Handle& handle);
std::shared_ptr<Plugin> newImageLocality(const ProfileConfig& config, Handle& handle);
std::shared_ptr<Plugin> newPodTopologySpread(const ProfileConfig& config, Handle& handle);
std::shared_ptr<Plugin> newInterPodAffinity(const ProfileConfig& config, Handle& handle);
std::shared_ptr<Plugin> newDefaultPreemption(const ProfileConfig& config, Handle& handle);
std::shared_ptr<Plugin> newDefaultBinder(const ProfileConfig& config, Handle& handle);

// Filter failure reasons (the strings users see in FailedScheduling events).
inline constexpr const char* kReasonTooManyPods = "Too many pods";
inline constexpr const char* kReasonNodeName = "node(s) didn't match the requested node name";
inline constexpr const char* kReasonUnschedulable = "node(s) were unschedulable";
inline constexpr const char* kReasonNodePorts =
    "node(s) didn't have free ports for the requested pod ports";
inline constexpr const char* kReasonNodeAffinity =
    "node(s) didn't match Pod's node affinity/selector";
inline constexpr const char* kReasonSpreadConstraints =
    "node(s) didn't match pod topology spread constraints";
inline constexpr const char* kReasonSpreadLabel =
    "node(s) didn't match pod topology spread constraints (missing required label)";
inline constexpr const char* kReasonAffinityRules = "node(s) didn't match pod affinity rules";
inline constexpr const char* kReasonAntiAffinityRules =
    "node(s) didn't match pod anti-affinity rules";
inline constexpr const char* kReasonExistingAntiAffinity =
    "node(s) didn't satisfy existing pods anti-affinity rules";

// noderesources.InsufficientResource.
struct InsufficientResource {
  std::string resource;
  std::string reason;  // "Insufficient cpu", "Too many pods", ...
  int64_t requested = 0;
  int64_t used = 0;
  int64_t capacity = 0;
};

// noderesources.fitsRequest: every resource the pod would overcommit on the
// node, pods first, then cpu, memory, ephemeral-storage and scalars by name.
std::vector<InsufficientResource> fitsRequest(
    const Resource& pod_request, const NodeInfo& node,
    const std::vector<std::string>& ignored_resources = {},
    const std::vector<std::string>& ignored_groups = {});

}  // namespace berth::scheduler
