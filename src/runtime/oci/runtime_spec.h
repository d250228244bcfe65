#pragma once

#include <sys/types.h>

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace berth::runtime {

// How a container gets one Linux namespace. Pod sandboxes mirror the CRI
// NamespaceMode: POD (join the sandbox's namespace by path), CONTAINER (a new
// one) and NODE (the host's: the namespace is left out of the spec so runc
// keeps the caller's).
struct NamespaceSpec {
  enum class Mode { kNew, kJoin, kHost };
  Mode mode = Mode::kNew;
  std::string path;  // kJoin: /proc/<pid>/ns/<type> or a bind-mounted ns file

  static NamespaceSpec fresh() { return {}; }
  static NamespaceSpec join(std::string ns_path) { return {Mode::kJoin, std::move(ns_path)}; }
  static NamespaceSpec host() { return {Mode::kHost, {}}; }
};

// A host path bind-mounted into the container (volumes, /etc/hosts, the
// termination-log file). propagation mirrors the CRI MountPropagation:
// "" or "private" (rprivate), "rslave" (HostToContainer), "rshared"
// (Bidirectional).
struct BindMount {
  std::string source;
  std::string destination;
  bool read_only = false;
  std::string propagation;
};

struct TmpfsMount {
  std::string destination;
  int64_t size_bytes = 0;  // 0: the kernel default (half of RAM)
  std::string mode = "1777";
};

enum class SeccompMode { kRuntimeDefault, kUnconfined };

// The neutral description of one container the agent derives from the pod
// spec and the image config; buildRuntimeConfig turns it into an OCI
// runtime-spec config.json for runc 1.1. Fields follow the CRI
// ContainerConfig/LinuxContainerConfig they stand for.
struct ContainerSpec {
  std::string id;
  std::string rootfs;  // absolute path, or relative to the bundle
  bool readonly_rootfs = false;

  std::vector<std::string> args;
  std::vector<std::string> env;  // KEY=VALUE
  std::string cwd = "/";
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
  // securityContext.allowPrivilegeEscalation=false. (Kubernetes leaves it
  // true by default; containerd's own default spec sets it.)
  bool no_new_privileges = false;
  std::vector<std::string> cap_add;   // "NET_ADMIN", "CAP_NET_ADMIN" or "ALL"
  std::vector<std::string> cap_drop;  // likewise
  bool privileged = false;
  int oom_score_adj = 0;
  // RLIMIT_NOFILE soft and hard limit (containerd's CRI default). Raising it
  // above the agent's own hard limit needs CAP_SYS_RESOURCE, so an agent
  // without it must clamp; 0 leaves the rlimit out (inherited from runc).
  uint64_t nofile_limit = 1048576;
  std::string hostname;  // only applied with a new UTS namespace

  // Pod-shared /dev/shm: a host directory (a tmpfs the sandbox owns) bind
  // mounted at /dev/shm. Empty: the container gets its own 64 MiB tmpfs.
  std::string shm_path;
  std::vector<BindMount> binds;
  std::vector<TmpfsMount> tmpfs;

  NamespaceSpec pid_ns;
  NamespaceSpec ipc_ns;
  NamespaceSpec uts_ns;
  NamespaceSpec mount_ns;  // kNew always; a container cannot share a mount ns here
  NamespaceSpec network_ns;

  std::string cgroups_path;  // e.g. "/berth/pod<uid>/<name>"
  // Resources; 0 means unset.
  uint64_t cpu_shares = 0;
  int64_t cpu_quota = 0;
  uint64_t cpu_period = 0;
  int64_t memory_limit = 0;  // bytes; swap is set equal (no swap use)
  int64_t pids_limit = 0;

  SeccompMode seccomp = SeccompMode::kRuntimeDefault;
};

// The container default capability set as containerd's CRI plugin gives it
// (pkg/oci defaultUnixCaps), with the CAP_ prefix.
const std::vector<std::string>& defaultCapabilities();
// Every capability this kernel generation knows (CAP_CHOWN .. CAP_CHECKPOINT_RESTORE).
const std::vector<std::string>& allCapabilities();

// Applies add/drop to the default set the way containerd's CRI plugin does:
// "ALL" in add starts from every capability, "ALL" in drop from none, then the
// named adds and drops apply. Names are accepted with or without CAP_ and in
// any case; unknown names are an Invalid error.
Result<std::vector<std::string>> containerCapabilities(const std::vector<std::string>& add,
                                                       const std::vector<std::string>& drop);

// The RuntimeDefault seccomp profile for x86_64, modelled on containerd's
// contrib/seccomp DefaultProfile; bounding_caps unlock the syscalls those
// capabilities guard (CAP_SYS_ADMIN: mount, unshare, clone with namespace flags...).
boost::json::object runtimeDefaultSeccomp(const std::vector<std::string>& bounding_caps);

// runc's and containerd's default masked and read-only /proc and /sys paths.
const std::vector<std::string>& defaultMaskedPaths();
const std::vector<std::string>& defaultReadonlyPaths();

// Builds config.json. Invalid when id, rootfs or args are missing, a join
// namespace has no path, or a capability name is unknown.
Result<boost::json::object> buildRuntimeConfig(const ContainerSpec& spec);

}  // namespace berth::runtime
