#include "agent/node/machine.h"

#include <sched.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace berth::agent::node {

namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

// Bytes as a quantity in Ki, the unit the kubelet reports memory in.
std::string kibibytes(uint64_t bytes) { return std::to_string(bytes / 1024) + "Ki"; }

uint64_t fraction(uint64_t total, double f) { return static_cast<uint64_t>(total * f); }

}  // namespace

uint64_t meminfoBytes(std::string_view meminfo, std::string_view field) {
  size_t pos = 0;
  while (pos < meminfo.size()) {
    size_t end = meminfo.find('\n', pos);
    if (end == std::string_view::npos) end = meminfo.size();
    std::string_view line = meminfo.substr(pos, end - pos);
    pos = end + 1;
    if (line.size() <= field.size() || line.substr(0, field.size()) != field ||
        line[field.size()] != ':')
      continue;
    std::string_view rest = line.substr(field.size() + 1);
    uint64_t value = 0;
    size_t i = 0;
    while (i < rest.size() && rest[i] == ' ') ++i;
    bool digits = false;
    for (; i < rest.size() && rest[i] >= '0' && rest[i] <= '9'; ++i) {
      value = value * 10 + static_cast<uint64_t>(rest[i] - '0');
      digits = true;
    }
    if (!digits) return 0;
    return rest.find("kB") != std::string_view::npos ? value * 1024 : value;
  }
  return 0;
}

std::string osImage(std::string_view os_release) {
  constexpr std::string_view kKey = "PRETTY_NAME=";
  size_t pos = 0;
  while (pos < os_release.size()) {
    size_t end = os_release.find('\n', pos);
    if (end == std::string_view::npos) end = os_release.size();
    std::string_view line = os_release.substr(pos, end - pos);
    pos = end + 1;
    if (line.substr(0, kKey.size()) != kKey) continue;
    std::string_view v = line.substr(kKey.size());
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
      v = v.substr(1, v.size() - 2);
    if (!v.empty()) return std::string(v);
  }
  return "Linux";
}

uint64_t loadavgProcesses(std::string_view loadavg) {
  size_t slash = loadavg.find('/');
  if (slash == std::string_view::npos) return 0;
  uint64_t n = 0;
  for (size_t i = slash + 1; i < loadavg.size() && loadavg[i] >= '0' && loadavg[i] <= '9'; ++i)
    n = n * 10 + static_cast<uint64_t>(loadavg[i] - '0');
  return n;
}

Result<MachineInfo> readMachineInfo() {
  MachineInfo info;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) info.cpus = CPU_COUNT(&set);
  if (info.cpus <= 0) return makeError(ErrorCode::kInternal, "cannot count this machine's CPUs");
  info.memory_bytes = meminfoBytes(readFile("/proc/meminfo"), "MemTotal");
  if (info.memory_bytes == 0)
    return makeError(ErrorCode::kInternal, "cannot read MemTotal from /proc/meminfo");
  info.machine_id = trim(readFile("/etc/machine-id"));
  info.system_uuid = trim(readFile("/sys/class/dmi/id/product_uuid"));
  if (info.system_uuid.empty()) info.system_uuid = info.machine_id;
  info.boot_id = trim(readFile("/proc/sys/kernel/random/boot_id"));
  struct utsname u;
  if (uname(&u) == 0) info.kernel_version = u.release;
  info.os_image = osImage(readFile("/etc/os-release"));
  return info;
}

Result<MachineUsage> readMachineUsage(const std::string& data_dir) {
  MachineUsage usage;
  usage.memory_available_bytes = meminfoBytes(readFile("/proc/meminfo"), "MemAvailable");
  struct statvfs fs;
  if (statvfs(data_dir.c_str(), &fs) != 0)
    return makeError(ErrorCode::kInternal,
                     "statvfs " + data_dir + ": " + std::string(std::strerror(errno)));
  usage.fs_capacity_bytes = static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize;
  usage.fs_available_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  usage.fs_inodes = fs.f_files;
  usage.fs_inodes_free = fs.f_favail;
  usage.pid_max = std::strtoull(trim(readFile("/proc/sys/kernel/pid_max")).c_str(), nullptr, 10);
  usage.processes = loadavgProcesses(readFile("/proc/loadavg"));
  return usage;
}

Pressure evaluatePressure(const MachineUsage& usage, const EvictionThresholds& t) {
  Pressure p;
  p.memory = usage.memory_available_bytes < t.memory_available_bytes;
  p.disk =
      usage.fs_available_bytes < fraction(usage.fs_capacity_bytes, t.nodefs_available_fraction) ||
      (usage.fs_inodes > 0 &&
       usage.fs_inodes_free < fraction(usage.fs_inodes, t.nodefs_inodes_free_fraction));
  if (t.pid_available_fraction > 0 && usage.pid_max > 0) {
    uint64_t available = usage.pid_max > usage.processes ? usage.pid_max - usage.processes : 0;
    p.pid = available < fraction(usage.pid_max, t.pid_available_fraction);
  }
  return p;
}

NodeResources capacityOf(const MachineInfo& info, const MachineUsage& usage, int max_pods) {
  return NodeResources{std::to_string(info.cpus), kibibytes(info.memory_bytes),
                       kibibytes(usage.fs_capacity_bytes), std::to_string(max_pods)};
}

NodeResources allocatableOf(const MachineInfo& info, const MachineUsage& usage, int max_pods,
                            const EvictionThresholds& t) {
  uint64_t memory = info.memory_bytes > t.memory_available_bytes
                        ? info.memory_bytes - t.memory_available_bytes
                        : 0;
  uint64_t storage =
      usage.fs_capacity_bytes - fraction(usage.fs_capacity_bytes, t.nodefs_available_fraction);
  // Upstream reports allocatable ephemeral-storage in plain bytes.
  return NodeResources{std::to_string(info.cpus), kibibytes(memory), std::to_string(storage),
                       std::to_string(max_pods)};
}

}  // namespace berth::agent::node
