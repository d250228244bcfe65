#pragma once

// What a real node reports about its machine, as the kubelet's cadvisor-fed
// node status setters do (pkg/kubelet/nodestatus/setters.go: MachineInfo,
// NodeInfo; pkg/kubelet/cm/node_container_manager: allocatable), and the
// eviction manager's signals for the pressure conditions
// (pkg/kubelet/eviction: memory.available, nodefs.available,
// nodefs.inodesFree, pid.available).
//
// Reading /proc and statvfs is split from the arithmetic so the latter is
// tested on fixed inputs.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace berth::agent::node {

// Machine facts that do not change while the agent runs.
struct MachineInfo {
  int cpus = 0;                // CPUs this process may run on (sched_getaffinity)
  uint64_t memory_bytes = 0;   // MemTotal
  std::string machine_id;      // /etc/machine-id
  std::string system_uuid;     // /sys/class/dmi/id/product_uuid, else machine_id
  std::string boot_id;         // /proc/sys/kernel/random/boot_id
  std::string kernel_version;  // uname -r
  std::string os_image;        // PRETTY_NAME of /etc/os-release
  std::string architecture = "amd64";
};

// Usage signals, sampled every status update.
struct MachineUsage {
  uint64_t memory_available_bytes = 0;  // MemAvailable
  uint64_t fs_capacity_bytes = 0;       // statvfs of the agent's data dir
  uint64_t fs_available_bytes = 0;
  uint64_t fs_inodes = 0;
  uint64_t fs_inodes_free = 0;
  uint64_t pid_max = 0;    // /proc/sys/kernel/pid_max
  uint64_t processes = 0;  // the total of /proc/loadavg's running/total field
};

// The kubelet's default hard eviction thresholds on Linux
// (memory.available<100Mi, nodefs.available<10%, nodefs.inodesFree<5%),
// which allocatable subtracts (memory, ephemeral-storage); berth's agent
// reserves nothing else (kube-reserved and system-reserved default to none).
struct EvictionThresholds {
  uint64_t memory_available_bytes = 100ull << 20;
  double nodefs_available_fraction = 0.10;
  double nodefs_inodes_free_fraction = 0.05;
  // pid.available has no default threshold upstream; 0 means none.
  double pid_available_fraction = 0;
};

struct Pressure {
  bool memory = false;
  bool disk = false;
  bool pid = false;
};

Result<MachineInfo> readMachineInfo();
Result<MachineUsage> readMachineUsage(const std::string& data_dir);

// "MemTotal:       24683732 kB" style text: the named field in bytes, or 0.
uint64_t meminfoBytes(std::string_view meminfo, std::string_view field);
// /etc/os-release's PRETTY_NAME (unquoted), or "Linux".
std::string osImage(std::string_view os_release);
// /proc/loadavg's "running/total" total.
uint64_t loadavgProcesses(std::string_view loadavg);

Pressure evaluatePressure(const MachineUsage& usage, const EvictionThresholds& thresholds);

// Node capacity and allocatable as Kubernetes quantities.
struct NodeResources {
  std::string cpu;
  std::string memory;
  std::string ephemeral_storage;
  std::string pods;
};
NodeResources capacityOf(const MachineInfo& info, const MachineUsage& usage, int max_pods);
NodeResources allocatableOf(const MachineInfo& info, const MachineUsage& usage, int max_pods,
                            const EvictionThresholds& thresholds);

}  // namespace berth::agent::node
