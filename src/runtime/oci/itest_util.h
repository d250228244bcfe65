#pragma once

// Helpers shared by the runtime's integration tests against real runc
// (root, cgroup v1): the binaries they need, a busybox root filesystem,
// waiting for a process without polling, and polling a condition against a
// deadline (a deadline, not a timing assertion).

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "runtime/oci/test_util.h"

namespace berth::runtime::testing {

inline constexpr const char* kRunc = "/usr/sbin/runc";
inline constexpr const char* kBusybox = "/usr/bin/busybox";
inline constexpr auto kDeadline = std::chrono::seconds(60);

// Why runc containers cannot run here (a reason to skip), or nullopt.
inline std::optional<std::string> runcUnavailable() {
  if (::geteuid() != 0) return "needs root (runc creates namespaces and cgroups)";
  if (::access(kRunc, X_OK) != 0) return std::string("needs runc at ") + kRunc;
  if (::access(kBusybox, X_OK) != 0) return std::string("needs static busybox at ") + kBusybox;
  if (::access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) != 0)
    return "needs cgroup v1 with the memory controller at /sys/fs/cgroup/memory";
  return std::nullopt;
}

// Waits (without polling) until process pid has exited or the deadline
// passes; true when it exited. pid need not be our child: pidfds work for
// any process.
inline bool waitForExit(pid_t pid, std::chrono::milliseconds deadline = kDeadline) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return errno == ESRCH;
  pollfd p{fd, POLLIN, 0};
  int ready = ::poll(&p, 1, static_cast<int>(deadline.count()));
  ::close(fd);
  return ready == 1;
}

// Polls cond until it holds or the deadline passes.
template <class Cond>
bool eventually(Cond cond, std::chrono::milliseconds deadline = kDeadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

inline std::string randomSuffix() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08x", rd());
  return buf;
}

// A root filesystem of the host's static busybox with the given applets,
// /etc/passwd and /etc/group (root and user 1000), and a sticky /tmp.
template <class Tools>
void buildBusyboxRootfs(const std::string& root, const Tools& tools) {
  namespace fs = std::filesystem;
  for (const char* dir : {"bin", "etc", "proc", "sys", "dev", "tmp", "home/user"})
    fs::create_directories(root + "/" + dir);
  fs::copy_file(kBusybox, root + "/bin/busybox");
  fs::permissions(root + "/bin/busybox", fs::perms(0755));
  for (const char* tool : tools) fs::create_symlink("busybox", root + "/bin/" + tool);
  writeText(root + "/etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n");
  writeText(root + "/etc/group", "root:x:0:\nuser:x:1000:\n");
  fs::permissions(root + "/tmp", fs::perms(01777));
}

}  // namespace berth::runtime::testing
