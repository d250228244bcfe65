#include "runtime/oci/runtime_spec.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace berth::runtime {
namespace json = boost::json;

namespace {

json::array stringArray(const std::vector<std::string>& items) {
  json::array out;
  for (const auto& item : items) out.emplace_back(item);
  return out;
}

bool contains(const std::vector<std::string>& items, std::string_view item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// "net_admin" / "CAP_NET_ADMIN" -> "CAP_NET_ADMIN"; "all" -> "ALL".
std::string normalizeCapability(std::string name) {
  for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (name == "ALL" || name.rfind("CAP_", 0) == 0) return name;
  return "CAP_" + name;
}

json::object mount(std::string destination, std::string type, std::string source,
                   std::vector<std::string> options) {
  return json::object{{"destination", std::move(destination)},
                      {"type", std::move(type)},
                      {"source", std::move(source)},
                      {"options", stringArray(options)}};
}

std::string cleanPath(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

json::object allowRule(std::vector<std::string> names) {
  return json::object{{"names", stringArray(names)}, {"action", "SCMP_ACT_ALLOW"}};
}

json::object allowWithArg(std::string name, uint64_t value, std::string op, uint64_t value_two = 0,
                          unsigned index = 0) {
  json::object arg{{"index", index}, {"value", value}, {"op", std::move(op)}};
  if (value_two != 0 || arg["op"] == "SCMP_CMP_MASKED_EQ") arg["valueTwo"] = value_two;
  return json::object{{"names", json::array{json::value(name)}},
                      {"action", "SCMP_ACT_ALLOW"},
                      {"args", json::array{std::move(arg)}}};
}

// containerd contrib/seccomp DefaultProfile: the syscalls every container may
// make, whatever its capabilities.
const std::vector<std::string>& baseAllowedSyscalls() {
  static const std::vector<std::string> k = {
      "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget",
      "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64",
      "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
      "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat",
      "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
      "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
      "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
      "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2",
      "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr",
      "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs",
      "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex", "futex_requeue", "futex_time64",
      "futex_wait", "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd", "getdents",
      "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32",
      "getgroups", "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid",
      "getppid", "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32",
      "getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt",
      "get_thread_area", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr", "getxattrat",
      "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel",
      "ioctl", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get",
      "ioprio_set", "io_setup", "io_submit", "ipc", "kill", "landlock_add_rule",
      "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lchown32", "lgetxattr",
      "link", "linkat", "listen", "listmount", "listxattr", "listxattrat", "llistxattr", "_llseek",
      "lremovexattr", "lseek", "lsetxattr", "lsm_get_self_attr", "lsm_list_modules",
      "lsm_set_self_attr", "lstat", "lstat64", "madvise", "membarrier", "memfd_create",
      "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2",
      "mlockall", "map_shadow_stack", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify",
      "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64",
      "mq_unlink", "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
      "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open",
      "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2",
      "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl",
      "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6",
      "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
      "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
      "remap_file_pages", "removexattr", "removexattrat", "rename", "renameat", "renameat2",
      "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
      "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
      "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
      "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
      "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
      "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl",
      "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64",
      "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid",
      "setgid32", "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority", "setregid",
      "setregid32", "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid",
      "setreuid32", "setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area",
      "set_tid_address", "setuid", "setuid32", "setxattr", "setxattrat", "shmat", "shmctl", "shmdt",
      "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn",
      "socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statmount",
      "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee",
      "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
      "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime",
      "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate",
      "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "uretprobe", "utime",
      "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid",
      "write", "writev",
      // amd64 only (contrib/seccomp's GOARCH switch).
      "arch_prctl", "modify_ldt",
      // Kernels >= 4.8 check ptrace against seccomp after the filter, so
      // containerd allows it unconditionally there.
      "process_vm_readv", "process_vm_writev", "ptrace"};
  return k;
}

// Syscalls unlocked by a capability in the bounding set (contrib/seccomp).
const std::vector<std::pair<std::string, std::vector<std::string>>>& capabilitySyscalls() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> k = {
      {"CAP_DAC_READ_SEARCH", {"open_by_handle_at"}},
      {"CAP_SYS_ADMIN",
       {"bpf",           "clone",         "clone3",      "fanotify_init",   "fsconfig",
        "fsmount",       "fsopen",        "fspick",      "lookup_dcookie",  "mount",
        "mount_setattr", "move_mount",    "open_tree",   "perf_event_open", "quotactl",
        "quotactl_fd",   "setdomainname", "sethostname", "setns",           "syslog",
        "umount",        "umount2",       "unshare"}},
      {"CAP_SYS_BOOT", {"reboot"}},
      {"CAP_SYS_CHROOT", {"chroot"}},
      {"CAP_SYS_MODULE", {"delete_module", "init_module", "finit_module"}},
      {"CAP_SYS_PACCT", {"acct"}},
      {"CAP_SYS_PTRACE",
       {"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev",
        "ptrace"}},
      {"CAP_SYS_RAWIO", {"iopl", "ioperm"}},
      {"CAP_SYS_TIME", {"settimeofday", "stime", "clock_settime", "clock_settime64"}},
      {"CAP_SYS_TTY_CONFIG", {"vhangup"}},
      {"CAP_SYS_NICE", {"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}},
      {"CAP_SYSLOG", {"syslog"}},
      {"CAP_BPF", {"bpf"}},
      {"CAP_PERFMON", {"perf_event_open"}},
  };
  return k;
}

constexpr uint64_t kAfAlg = 38;
constexpr uint64_t kAfVsock = 40;
// CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
// CLONE_NEWNET | CLONE_NEWCGROUP.
constexpr uint64_t kCloneNamespaceFlags =
    0x00020000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x02000000;
constexpr uint64_t kEnosys = 38;

Error invalid(std::string message) { return makeError(ErrorCode::kInvalid, std::move(message)); }

json::object namespaceEntry(const char* type, const NamespaceSpec& ns) {
  json::object entry{{"type", type}};
  if (ns.mode == NamespaceSpec::Mode::kJoin) entry["path"] = ns.path;
  return entry;
}

}  // namespace

const std::vector<std::string>& defaultCapabilities() {
  static const std::vector<std::string> k = {
      "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
      "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
      "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
      "CAP_KILL",    "CAP_AUDIT_WRITE"};
  return k;
}

const std::vector<std::string>& allCapabilities() {
  static const std::vector<std::string> k = {"CAP_CHOWN",
                                             "CAP_DAC_OVERRIDE",
                                             "CAP_DAC_READ_SEARCH",
                                             "CAP_FOWNER",
                                             "CAP_FSETID",
                                             "CAP_KILL",
                                             "CAP_SETGID",
                                             "CAP_SETUID",
                                             "CAP_SETPCAP",
                                             "CAP_LINUX_IMMUTABLE",
                                             "CAP_NET_BIND_SERVICE",
                                             "CAP_NET_BROADCAST",
                                             "CAP_NET_ADMIN",
                                             "CAP_NET_RAW",
                                             "CAP_IPC_LOCK",
                                             "CAP_IPC_OWNER",
                                             "CAP_SYS_MODULE",
                                             "CAP_SYS_RAWIO",
                                             "CAP_SYS_CHROOT",
                                             "CAP_SYS_PTRACE",
                                             "CAP_SYS_PACCT",
                                             "CAP_SYS_ADMIN",
                                             "CAP_SYS_BOOT",
                                             "CAP_SYS_NICE",
                                             "CAP_SYS_RESOURCE",
                                             "CAP_SYS_TIME",
                                             "CAP_SYS_TTY_CONFIG",
                                             "CAP_MKNOD",
                                             "CAP_LEASE",
                                             "CAP_AUDIT_WRITE",
                                             "CAP_AUDIT_CONTROL",
                                             "CAP_SETFCAP",
                                             "CAP_MAC_OVERRIDE",
                                             "CAP_MAC_ADMIN",
                                             "CAP_SYSLOG",
                                             "CAP_WAKE_ALARM",
                                             "CAP_BLOCK_SUSPEND",
                                             "CAP_AUDIT_READ",
                                             "CAP_PERFMON",
                                             "CAP_BPF",
                                             "CAP_CHECKPOINT_RESTORE"};
  return k;
}

Result<std::vector<std::string>> containerCapabilities(const std::vector<std::string>& add,
                                                       const std::vector<std::string>& drop) {
  std::vector<std::string> add_names, drop_names;
  for (const auto& name : add) add_names.push_back(normalizeCapability(name));
  for (const auto& name : drop) drop_names.push_back(normalizeCapability(name));
  for (const auto* names : {&add_names, &drop_names}) {
    for (const auto& name : *names) {
      if (name != "ALL" && !contains(allCapabilities(), name)) {
        return makeError(ErrorCode::kInvalid, "unknown capability \"" + name + "\"");
      }
    }
  }
  // containerd's CRI plugin: ALL first, so that individual adds and drops
  // still apply ("add ALL, drop CHOWN" is everything but CAP_CHOWN).
  std::vector<std::string> caps = defaultCapabilities();
  if (contains(add_names, "ALL")) caps = allCapabilities();
  if (contains(drop_names, "ALL")) caps.clear();
  for (const auto& name : add_names) {
    if (name != "ALL" && !contains(caps, name)) caps.push_back(name);
  }
  std::erase_if(caps, [&](const std::string& cap) { return contains(drop_names, cap); });
  return caps;
}

boost::json::object runtimeDefaultSeccomp(const std::vector<std::string>& bounding_caps) {
  json::array syscalls;
  syscalls.emplace_back(allowRule(baseAllowedSyscalls()));
  // socket(2) for every address family but AF_ALG and AF_VSOCK, as three
  // single-condition rules (one rule with two != conditions would be an OR in
  // runc's translation).
  syscalls.emplace_back(allowWithArg("socket", kAfAlg, "SCMP_CMP_LT"));
  syscalls.emplace_back(allowWithArg("socket", kAfAlg + 1, "SCMP_CMP_EQ"));
  syscalls.emplace_back(allowWithArg("socket", kAfVsock, "SCMP_CMP_GT"));
  // personality(2) only for the harmless personas (PER_LINUX, PER_LINUX32,
  // UNAME26 variants, and the 0xffffffff query).
  for (uint64_t persona : {0x0ULL, 0x0008ULL, 0x20000ULL, 0x20008ULL, 0xffffffffULL}) {
    syscalls.emplace_back(allowWithArg("personality", persona, "SCMP_CMP_EQ"));
  }
  bool admin = false;
  for (const auto& [cap, names] : capabilitySyscalls()) {
    if (!contains(bounding_caps, cap)) continue;
    if (cap == "CAP_SYS_ADMIN") admin = true;
    syscalls.emplace_back(allowRule(names));
  }
  if (!admin) {
    // Without CAP_SYS_ADMIN, clone(2) is allowed only without namespace flags
    // (x86 passes flags in arg 0), and clone3(2) fails with ENOSYS so libc
    // falls back to clone, whose flags the filter can see.
    syscalls.emplace_back(allowWithArg("clone", kCloneNamespaceFlags, "SCMP_CMP_MASKED_EQ", 0));
    syscalls.emplace_back(json::object{
        {"names", json::array{"clone3"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", kEnosys}});
  }
  return json::object{
      {"defaultAction", "SCMP_ACT_ERRNO"},
      {"architectures", json::array{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
      {"syscalls", std::move(syscalls)}};
}

const std::vector<std::string>& defaultMaskedPaths() {
  static const std::vector<std::string> k = {"/proc/acpi",          "/proc/asound",
                                             "/proc/kcore",         "/proc/keys",
                                             "/proc/latency_stats", "/proc/timer_list",
                                             "/proc/timer_stats",   "/proc/sched_debug",
                                             "/sys/firmware",       "/sys/devices/virtual/powercap",
                                             "/proc/scsi"};
  return k;
}

const std::vector<std::string>& defaultReadonlyPaths() {
  static const std::vector<std::string> k = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                             "/proc/sysrq-trigger"};
  return k;
}

Result<boost::json::object> buildRuntimeConfig(const ContainerSpec& spec) {
  if (spec.id.empty()) return invalid("container id is required");
  if (spec.rootfs.empty()) return invalid("rootfs path is required");
  if (spec.args.empty()) return invalid("process args are required");
  if (spec.mount_ns.mode != NamespaceSpec::Mode::kNew) {
    return invalid("a container needs its own mount namespace");
  }
  const std::pair<const char*, const NamespaceSpec*> namespaces[] = {{"pid", &spec.pid_ns},
                                                                     {"ipc", &spec.ipc_ns},
                                                                     {"uts", &spec.uts_ns},
                                                                     {"mount", &spec.mount_ns},
                                                                     {"network", &spec.network_ns}};
  for (const auto& [type, ns] : namespaces) {
    if (ns->mode == NamespaceSpec::Mode::kJoin && ns->path.empty()) {
      return invalid(std::string(type) + " namespace to join has no path");
    }
  }

  std::vector<std::string> caps;
  if (spec.privileged) {
    caps = allCapabilities();
  } else {
    BERTH_ASSIGN_OR_RETURN(caps, containerCapabilities(spec.cap_add, spec.cap_drop));
  }

  // process
  json::object user{{"uid", spec.uid}, {"gid", spec.gid}};
  if (!spec.additional_gids.empty()) {
    json::array gids;
    for (auto gid : spec.additional_gids) gids.emplace_back(gid);
    user["additionalGids"] = std::move(gids);
  }
  json::array env = stringArray(spec.env);
  json::object process{
      {"terminal", false},
      {"user", std::move(user)},
      {"args", stringArray(spec.args)},
      {"env", std::move(env)},
      {"cwd", spec.cwd.empty() ? "/" : spec.cwd},
      // Bounding, effective and permitted only: containerd stopped setting
      // inheritable (CVE-2022-24769), and ambient stays empty.
      {"capabilities", json::object{{"bounding", stringArray(caps)},
                                    {"effective", stringArray(caps)},
                                    {"permitted", stringArray(caps)}}},
      {"noNewPrivileges", spec.no_new_privileges},
      {"oomScoreAdj", spec.oom_score_adj},
  };

  if (spec.nofile_limit > 0) {
    process["rlimits"] = json::array{json::object{
        {"type", "RLIMIT_NOFILE"}, {"hard", spec.nofile_limit}, {"soft", spec.nofile_limit}}};
  }

  // mounts: the defaults (containerd's defaultMounts without /run, plus the
  // CRI plugin's cgroup mount), minus those a caller mount replaces.
  std::set<std::string> caller_destinations;
  for (const auto& bind : spec.binds) caller_destinations.insert(cleanPath(bind.destination));
  for (const auto& fs : spec.tmpfs) caller_destinations.insert(cleanPath(fs.destination));
  const bool caller_dev = caller_destinations.count("/dev") > 0;
  const char* sys_mode = spec.privileged ? "rw" : "ro";
  std::vector<json::object> defaults;
  defaults.push_back(mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}));
  defaults.push_back(
      mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}));
  defaults.push_back(
      mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}));
  if (spec.shm_path.empty()) {
    defaults.push_back(mount("/dev/shm", "tmpfs", "shm",
                             {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}));
  } else {
    // The pod's shared /dev/shm (the sandbox's tmpfs), as the CRI plugin
    // mounts the sandbox shm path into every container of a pod.
    defaults.push_back(
        mount("/dev/shm", "bind", spec.shm_path, {"rbind", "nosuid", "noexec", "nodev", "rw"}));
  }
  defaults.push_back(mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}));
  defaults.push_back(mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", sys_mode}));
  defaults.push_back(mount("/sys/fs/cgroup", "cgroup", "cgroup",
                           {"nosuid", "noexec", "nodev", "relatime", sys_mode}));
  json::array mounts;
  for (auto& m : defaults) {
    std::string destination(m["destination"].as_string());
    if (caller_destinations.count(destination)) continue;
    if (caller_dev && destination.rfind("/dev/", 0) == 0) continue;
    mounts.emplace_back(std::move(m));
  }
  std::string rootfs_propagation;
  for (const auto& bind : spec.binds) {
    std::string propagation = bind.propagation.empty() ? "rprivate" : bind.propagation;
    if (propagation == "private") propagation = "rprivate";
    if (propagation != "rprivate" && propagation != "rslave" && propagation != "rshared") {
      return invalid("mount " + bind.destination + ": unknown propagation \"" + bind.propagation +
                     "\"");
    }
    // containerd: a shared or slave mount needs the rootfs to propagate too,
    // or the mount would not receive (or send) events.
    if (propagation == "rshared") {
      rootfs_propagation = "rshared";
    } else if (propagation == "rslave" && rootfs_propagation.empty()) {
      rootfs_propagation = "rslave";
    }
    mounts.emplace_back(mount(bind.destination, "bind", bind.source,
                              {"rbind", propagation, bind.read_only ? "ro" : "rw"}));
  }
  for (const auto& fs : spec.tmpfs) {
    std::vector<std::string> options = {"nosuid", "nodev", "mode=" + fs.mode};
    if (fs.size_bytes > 0) options.push_back("size=" + std::to_string(fs.size_bytes));
    mounts.emplace_back(mount(fs.destination, "tmpfs", "tmpfs", options));
  }

  // linux
  json::array ns_array;
  for (const auto& [type, ns] : namespaces) {
    if (ns->mode != NamespaceSpec::Mode::kHost) ns_array.emplace_back(namespaceEntry(type, *ns));
  }
  json::object resources;
  // Default-deny devices; runc adds its allowlist of standard devices
  // (null, zero, full, random, urandom, tty, ptmx, pts).
  resources["devices"] = json::array{json::object{{"allow", spec.privileged}, {"access", "rwm"}}};
  json::object cpu;
  if (spec.cpu_shares > 0) cpu["shares"] = spec.cpu_shares;
  if (spec.cpu_quota > 0) cpu["quota"] = spec.cpu_quota;
  if (spec.cpu_period > 0) cpu["period"] = spec.cpu_period;
  if (!cpu.empty()) resources["cpu"] = std::move(cpu);
  if (spec.memory_limit > 0) {
    resources["memory"] = json::object{{"limit", spec.memory_limit}, {"swap", spec.memory_limit}};
  }
  if (spec.pids_limit > 0) resources["pids"] = json::object{{"limit", spec.pids_limit}};

  json::object linux{{"namespaces", std::move(ns_array)}, {"resources", std::move(resources)}};
  if (!spec.cgroups_path.empty()) linux["cgroupsPath"] = spec.cgroups_path;
  if (!rootfs_propagation.empty()) linux["rootfsPropagation"] = rootfs_propagation;
  if (spec.privileged) {
    linux["maskedPaths"] = json::array();
    linux["readonlyPaths"] = json::array();
  } else {
    linux["maskedPaths"] = stringArray(defaultMaskedPaths());
    linux["readonlyPaths"] = stringArray(defaultReadonlyPaths());
    if (spec.seccomp == SeccompMode::kRuntimeDefault)
      linux["seccomp"] = runtimeDefaultSeccomp(caps);
  }

  json::object config{
      {"ociVersion", "1.0.2"},
      {"root", json::object{{"path", spec.rootfs}, {"readonly", spec.readonly_rootfs}}},
      {"process", std::move(process)},
      {"mounts", std::move(mounts)},
      {"linux", std::move(linux)},
  };
  // runc refuses a hostname without a private UTS namespace.
  if (!spec.hostname.empty() && spec.uts_ns.mode == NamespaceSpec::Mode::kNew) {
    config["hostname"] = spec.hostname;
  }
  return config;
}

}  // namespace berth::runtime
