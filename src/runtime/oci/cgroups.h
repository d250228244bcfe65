#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace berth::runtime {

// One line of /proc/<pid>/mountinfo (proc(5)), octal escapes decoded.
struct MountInfo {
  std::string root;         // field 4: the root of the mount within its filesystem
  std::string mount_point;  // field 5
  std::string fs_type;      // after the " - " separator
  std::string source;
  std::string super_options;  // e.g. "rw,cpu,cpuacct" for a cgroup v1 hierarchy
};

std::vector<MountInfo> parseMountinfo(std::string_view text);
Result<std::vector<MountInfo>> readMountinfo(const std::string& path = "/proc/self/mountinfo");

// cgroup v1 hierarchies as runc uses them: linux.cgroupsPath "/berth/pod1/c"
// becomes <controller mount>/berth/pod1/c under every mounted controller.
class CgroupV1 {
 public:
  // controller name ("memory", "cpu", "name=systemd", and "unified" for a
  // hybrid setup's cgroup2 mount) -> mount point.
  explicit CgroupV1(std::map<std::string, std::string> mounts) : mounts_(std::move(mounts)) {}
  // From mountinfo: each "cgroup" filesystem's super options name its
  // controllers (a co-mounted "cpu,cpuacct" serves both).
  static CgroupV1 fromMountinfo(const std::vector<MountInfo>& mounts);
  static Result<CgroupV1> detect();

  const std::map<std::string, std::string>& mounts() const { return mounts_; }
  // NotFound when the controller is not mounted.
  Result<std::string> path(std::string_view controller, std::string_view cgroups_path) const;

  // Counters and limits of one cgroup. Limits that read "max" (pids) are -1.
  Result<int64_t> memoryUsage(std::string_view cgroups_path) const;
  Result<int64_t> memoryLimit(std::string_view cgroups_path) const;
  Result<int64_t> memoryFailcnt(std::string_view cgroups_path) const;
  // The oom_kill counter of memory.oom_control (kernel >= 4.13).
  Result<int64_t> oomKillCount(std::string_view cgroups_path) const;
  Result<int64_t> cpuQuota(std::string_view cgroups_path) const;
  Result<int64_t> cpuShares(std::string_view cgroups_path) const;
  Result<int64_t> pidsMax(std::string_view cgroups_path) const;

  // Removes cgroups_path and everything below it under every controller,
  // deepest directories first (cgroupfs only allows rmdir of a leaf, and
  // only once it has no tasks). Missing directories are fine; a busy one is
  // an error naming it.
  Status removeTree(std::string_view cgroups_path) const;

 private:
  Result<int64_t> readValue(std::string_view controller, std::string_view cgroups_path,
                            std::string_view file) const;

  std::map<std::string, std::string> mounts_;
};

// Reads a cgroup file holding one integer or "max" (-1).
Result<int64_t> readCgroupInt(const std::string& file);
// Removes a directory tree made only of (cgroupfs) directories bottom-up with
// rmdir; files inside are never unlinked.
Status rmdirTree(const std::string& dir);

}  // namespace berth::runtime
