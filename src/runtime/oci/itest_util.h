#pragma once

// Helpers shared by the runtime's integration tests against real runc
// (root, cgroup v1): the binaries they need, a busybox root filesystem,
// waiting for a process without polling, and polling a condition against a
// deadline (a deadline, not a timing assertion).

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "runtime/oci/cgroups.h"
#include "runtime/oci/runc.h"
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

// What runc integration tests share: a temp dir, a busybox rootfs in
// <tmp>/rootfs, a runc state root in <tmp>/runc-root and a cgroup parent of
// their own, removed (and checked gone under every controller) at the end.
class RuncFixture : public ::testing::Test {
 protected:
  // From SetUp; the caller returns when IsSkipped() or HasFatalFailure().
  void setUpRunc(const std::string& cgroup_prefix, std::initializer_list<const char*> tools) {
    if (auto why = runcUnavailable()) GTEST_SKIP() << *why;
    auto cgroups = CgroupV1::detect();
    ASSERT_TRUE(cgroups.ok());
    cgroups_ = std::make_unique<CgroupV1>(*cgroups);
    cgroup_parent_ = cgroup_prefix + std::to_string(::getpid()) + "-" + randomSuffix();
    runc_ = std::make_unique<Runc>(RuncConfig{kRunc, tmp_.path() + "/runc-root"});
    buildBusyboxRootfs(tmp_.path() + "/rootfs", tools);
  }

  // From TearDown, once the containers and their shims are gone.
  void removeCgroups() {
    if (!cgroups_) return;
    bool removed = eventually([&] { return cgroups_->removeTree(cgroup_parent_).ok(); });
    EXPECT_TRUE(removed) << "cgroup " << cgroup_parent_ << " left behind";
    for (const auto& [controller, mount_point] : cgroups_->mounts())
      EXPECT_FALSE(std::filesystem::exists(mount_point + cgroup_parent_))
          << mount_point << cgroup_parent_;
  }

  TempDir tmp_;
  std::unique_ptr<CgroupV1> cgroups_;
  std::unique_ptr<Runc> runc_;
  std::string cgroup_parent_;
};

}  // namespace berth::runtime::testing
