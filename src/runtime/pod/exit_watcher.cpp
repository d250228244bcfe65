#include "runtime/pod/exit_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/error.h"

namespace berth::runtime {

namespace {
constexpr char kExitFile[] = "exit.json";
}

ExitWatcher::ExitWatcher(std::function<void(const std::string& id)> on_exit)
    : on_exit_(std::move(on_exit)) {}

ExitWatcher::~ExitWatcher() { stop(); }

Status ExitWatcher::start() {
  if (inotify_fd_ >= 0) return okStatus();
  inotify_fd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (inotify_fd_ < 0)
    return makeError(ErrorCode::kInternal, std::string("inotify_init1: ") + std::strerror(errno));
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) {
    ::close(inotify_fd_);
    inotify_fd_ = -1;
    return makeError(ErrorCode::kInternal, std::string("eventfd: ") + std::strerror(errno));
  }
  thread_ = std::thread([this] { loop(); });
  return okStatus();
}

void ExitWatcher::stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof one);
    thread_.join();
  }
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
  inotify_fd_ = stop_fd_ = -1;
  std::lock_guard lock(mu_);
  by_wd_.clear();
  by_id_.clear();
}

Status ExitWatcher::watch(const std::string& id, const std::string& state_dir) {
  {
    std::lock_guard lock(mu_);
    if (inotify_fd_ < 0) return makeError(ErrorCode::kInternal, "exit watcher is not running");
    if (by_id_.count(id)) return okStatus();
    // The shim renames exit.json into place (writeFileAtomic): IN_MOVED_TO.
    int wd = ::inotify_add_watch(inotify_fd_, state_dir.c_str(),
                                 IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR);
    if (wd < 0)
      return makeError(ErrorCode::kInternal,
                       "watch " + state_dir + ": " + std::string(std::strerror(errno)));
    by_wd_[wd] = id;
    by_id_[id] = wd;
  }
  // An exit before the watch existed is not lost.
  if (::access((state_dir + "/" + kExitFile).c_str(), F_OK) == 0) on_exit_(id);
  return okStatus();
}

void ExitWatcher::unwatch(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  ::inotify_rm_watch(inotify_fd_, it->second);
  by_wd_.erase(it->second);
  by_id_.erase(it);
}

size_t ExitWatcher::watching() const {
  std::lock_guard lock(mu_);
  return by_id_.size();
}

void ExitWatcher::loop() {
  std::vector<char> buf(64 * 1024);
  for (;;) {
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    int n = ::poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    ssize_t len = ::read(inotify_fd_, buf.data(), buf.size());
    if (len <= 0) continue;
    std::vector<std::string> exited;
    {
      std::lock_guard lock(mu_);
      for (ssize_t off = 0; off < len;) {
        auto* ev = reinterpret_cast<const inotify_event*>(buf.data() + off);
        off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
        auto it = by_wd_.find(ev->wd);
        if (it == by_wd_.end()) continue;
        if (ev->mask & IN_IGNORED) {
          // The directory went away (the container was removed).
          by_id_.erase(it->second);
          by_wd_.erase(it);
          continue;
        }
        if (ev->len > 0 && std::strcmp(ev->name, kExitFile) == 0) exited.push_back(it->second);
      }
    }
    for (const auto& id : exited) on_exit_(id);
  }
}

}  // namespace berth::runtime
