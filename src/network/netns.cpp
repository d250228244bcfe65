#include "network/netns.h"

#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "common/error.h"

namespace berth::network {

namespace {

Error sysError(const std::string& what) {
  return makeError(ErrorCode::kInternal, what + ": " + std::strerror(errno));
}

}  // namespace

Result<std::string> createNetns(const std::string& dir, const std::string& name) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return makeError(ErrorCode::kInternal, "create " + dir + ": " + ec.message());
  std::string path = dir + "/" + name;
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0) {
    if (errno == EEXIST) return makeError(ErrorCode::kAlreadyExists, "netns " + path + " exists");
    return sysError("create " + path);
  }
  ::close(fd);
  Status result = okStatus();
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      result = sysError("unshare(CLONE_NEWNET)");
      return;
    }
    int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq lo{};
    std::strncpy(lo.ifr_name, "lo", IFNAMSIZ - 1);
    if (sock < 0 || ::ioctl(sock, SIOCGIFFLAGS, &lo) != 0 ||
        (lo.ifr_flags |= IFF_UP, ::ioctl(sock, SIOCSIFFLAGS, &lo)) != 0) {
      result = sysError("bring lo up");
    }
    if (sock >= 0) ::close(sock);
    if (!result.ok()) return;
    std::string self = "/proc/self/task/" + std::to_string(::syscall(SYS_gettid)) + "/ns/net";
    if (::mount(self.c_str(), path.c_str(), "none", MS_BIND, nullptr) != 0)
      result = sysError("bind " + self + " to " + path);
  });
  t.join();
  if (!result.ok()) ::unlink(path.c_str());
  if (!result.ok()) return result.error();
  return path;
}

Status deleteNetns(const std::string& path) {
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    return sysError("unmount " + path);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return sysError("remove " + path);
  return okStatus();
}

Status runInNetns(const std::string& path, const std::function<Status()>& fn) {
  Status result = okStatus();
  std::thread t([&] {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      result = sysError("open " + path);
      return;
    }
    int rc = ::setns(fd, CLONE_NEWNET);
    ::close(fd);
    if (rc != 0) {
      result = sysError("setns " + path);
      return;
    }
    result = fn();
  });
  t.join();
  return result;
}

}  // namespace berth::network
