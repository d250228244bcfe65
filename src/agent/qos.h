#pragma once

// Resources to kernel knobs, as the kubelet maps them on cgroup v1 with the
// cgroupfs driver: QoS classes (pkg/apis/core/v1/helper/qos), OOM score
// adjustment (pkg/kubelet/qos/policy.go), CPU shares and CFS quota
// (pkg/kubelet/cm/helpers_linux.go), and the pod cgroup hierarchy
// (kubepods / kubepods/burstable / kubepods/besteffort, then pod<uid>).

#include <cstdint>
#include <string>

#include "api/kind.h"

namespace berth::agent {

inline constexpr int64_t kCfsPeriodUs = 100000;
inline constexpr int64_t kMinShares = 2;
inline constexpr int64_t kMaxShares = 262144;
inline constexpr int64_t kMinQuotaPeriodUs = 1000;

// Guaranteed -997, BestEffort 1000, Burstable 1000 - 1000*request/capacity
// clamped to [2, 999]; node-critical pods (priority >= 2e9) -997.
int oomScoreAdjust(const api::Object& pod, const api::Object& container,
                   int64_t memory_capacity_bytes);

// MilliCPUToShares and MilliCPUToQuota.
int64_t milliCpuToShares(int64_t milli_cpu);
int64_t milliCpuToQuota(int64_t milli_cpu, int64_t period_us = kCfsPeriodUs);

// "/kubepods/burstable/pod<uid>" and the like, relative to each cgroup
// controller's mount, under `root` ("/kubepods" by default).
std::string podCgroupParent(const api::Object& pod, const std::string& root = "/kubepods");

// A container's cpu / memory request and limit in milli-cores / bytes (0 when unset).
struct ContainerResources {
  int64_t cpu_request_milli = 0;
  int64_t cpu_limit_milli = 0;
  int64_t memory_request = 0;
  int64_t memory_limit = 0;
};
ContainerResources containerResources(const api::Object& container);

}  // namespace berth::agent
