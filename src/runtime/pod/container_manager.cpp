#include "runtime/pod/container_manager.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/subprocess.h"
#include "runtime/oci/bundle.h"

namespace berth::runtime {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

Error sysError(const std::string& what) {
  return makeError(ErrorCode::kInternal, what + ": " + std::strerror(errno));
}

std::string newId() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int signalByName(const std::string& name) {
  static const std::pair<const char*, int> kSignals[] = {
      {"SIGTERM", SIGTERM}, {"SIGINT", SIGINT},   {"SIGQUIT", SIGQUIT}, {"SIGKILL", SIGKILL},
      {"SIGHUP", SIGHUP},   {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2}, {"SIGWINCH", SIGWINCH}};
  std::string n = name.rfind("SIG", 0) == 0 ? name : "SIG" + name;
  for (auto& [s, v] : kSignals)
    if (n == s) return v;
  if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit)) return std::stoi(name);
  return SIGTERM;
}

// Unmounts and removes a container directory, whatever state it is in.
void destroyDir(const std::string& dir) {
  std::string rootfs = dir + "/rootfs";
  if (::umount2(rootfs.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    BERTH_LOG(kWarning, "runtime")
        << "unmount failed path=" << rootfs << " err=" << std::strerror(errno);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace

ContainerManager::ContainerManager(ContainerManagerConfig config, ImageStore& images)
    : config_(std::move(config)),
      images_(images),
      runc_(RuncConfig{config_.runc_binary, config_.runc_root}) {}

Result<std::unique_ptr<ContainerManager>> ContainerManager::open(ContainerManagerConfig config,
                                                                 ImageStore& images) {
  if (config.root.empty()) return makeError(ErrorCode::kInvalid, "container root is empty");
  if (config.runc_root.empty()) config.runc_root = config.root + "/runc";
  std::error_code ec;
  fs::create_directories(config.root + "/containers", ec);
  if (ec) return makeError(ErrorCode::kInternal, "create " + config.root + ": " + ec.message());
  fs::create_directories(config.runc_root, ec);
  std::unique_ptr<ContainerManager> m(new ContainerManager(std::move(config), images));
  for (auto it = fs::directory_iterator(m->config_.root + "/containers", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string id = it->path().filename().string();
    auto meta = m->readMeta(id);
    if (meta.ok()) {
      m->meta_[id] = std::move(*meta);
    } else if (meta.error().code == ErrorCode::kNotFound) {
      // A start cut short before its metadata was written: nothing runs.
      BERTH_LOG(kInfo, "runtime") << "removing an unfinished container dir id=" << id;
      destroyDir(m->dir(id));
    }
  }
  return m;
}

std::string ContainerManager::dir(const std::string& id) const {
  return config_.root + "/containers/" + id;
}

Result<ContainerInfo> ContainerManager::start(ContainerConfig config) {
  Stopwatch timer;
  BERTH_ASSIGN_OR_RETURN(auto rootfs, images_.prepare(config.image));
  const double prepare_ms = timer.lap();
  if (rootfs.lowerdirs.empty())
    return makeError(ErrorCode::kInvalid, "image " + config.image + " has no layers");
  ContainerInfo info;
  info.id = newId();
  info.pod_uid = config.pod_uid;
  info.name = config.name;
  info.attempt = config.attempt;
  info.image = config.image;
  info.image_id = rootfs.image.id();
  info.log_path = config.log_path;
  info.created_at = formatRfc3339Nano(std::chrono::system_clock::now());
  const std::string d = dir(info.id);
  bool ok = false;
  struct Cleanup {
    const std::string& d;
    bool& ok;
    ~Cleanup() {
      if (!ok) destroyDir(d);
    }
  } cleanup{d, ok};

  // The rootfs: image layers below, the container's own upper layer above.
  for (const char* sub : {"/rootfs", "/upper", "/work", "/state"}) {
    std::error_code ec;
    fs::create_directories(d + sub, ec);
    if (ec) return makeError(ErrorCode::kInternal, "create " + d + sub + ": " + ec.message());
  }
  std::string lower;
  for (const auto& l : rootfs.lowerdirs) lower += (lower.empty() ? "" : ":") + l;
  std::string data = "lowerdir=" + lower + ",upperdir=" + d + "/upper,workdir=" + d + "/work";
  if (::mount("overlay", (d + "/rootfs").c_str(), "overlay", 0, data.c_str()) != 0)
    return sysError("mount overlay for " + config.name);

  // Metadata first: a crash from here on leaves a container list() finds.
  json::object meta{{"id", info.id},
                    {"podUID", info.pod_uid},
                    {"name", info.name},
                    {"attempt", info.attempt},
                    {"image", info.image},
                    {"imageID", info.image_id},
                    {"logPath", info.log_path},
                    {"createdAt", info.created_at},
                    {"stopSignal", rootfs.config.stop_signal}};
  BERTH_RETURN_IF_ERROR(writeFileAtomic(d + "/meta.json", json::serialize(meta)));
  {
    std::lock_guard lock(mu_);
    meta_[info.id] = info;
  }
  struct Forget {
    ContainerManager& m;
    const std::string& id;
    bool& ok;
    ~Forget() {
      if (ok) return;
      std::lock_guard lock(m.mu_);
      m.meta_.erase(id);
    }
  } forget{*this, info.id, ok};

  const double mount_ms = timer.lap();
  config.spec.id = info.id;
  config.spec.rootfs = d + "/rootfs";
  BERTH_ASSIGN_OR_RETURN(auto runtime_config, buildRuntimeConfig(config.spec));
  Bundle bundle(d + "/bundle");
  BERTH_RETURN_IF_ERROR(bundle.write(runtime_config));

  ShimOptions shim;
  shim.id = info.id;
  shim.bundle = bundle.dir();
  shim.state_dir = stateDir(info.id);
  shim.runc_binary = config_.runc_binary;
  shim.runc_root = config_.runc_root;
  shim.cgroups_path = config.spec.cgroups_path;
  shim.log_path = config.log_path;
  shim.log_max_bytes = config_.log_max_bytes;
  shim.log_max_files = config_.log_max_files;
  if (!config.log_path.empty()) {
    std::error_code ec;
    fs::create_directories(fs::path(config.log_path).parent_path(), ec);
  }
  const double bundle_ms = timer.lap();
  auto started = startShim(shim, config_.self_exe);
  BERTH_LOG(kDebug, "runtime") << "container start id=" << info.id << " name=" << info.name
                               << " prepare_ms=" << prepare_ms << " mount_ms=" << mount_ms
                               << " bundle_ms=" << bundle_ms << " shim_ms=" << timer.lap();
  if (!started.ok()) {
    // The shim recorded StartError in exit.json; keep the container for
    // its status (the agent removes it), but say why.
    ok = true;
    return started.error();
  }
  ok = true;
  return inspect(info.id);
}

Result<ContainerInfo> ContainerManager::readMeta(const std::string& id) const {
  std::string text = slurp(dir(id) + "/meta.json");
  if (text.empty()) return makeError(ErrorCode::kNotFound, "container " + id + " not found");
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object())
    return makeError(ErrorCode::kInternal, "container " + id + " has corrupt metadata");
  const auto& m = v.as_object();
  auto str = [&](const char* k) {
    auto* f = m.if_contains(k);
    return f && f->is_string() ? std::string(f->as_string()) : std::string();
  };
  ContainerInfo info;
  info.id = str("id");
  info.pod_uid = str("podUID");
  info.name = str("name");
  if (auto* a = m.if_contains("attempt"); a && a->is_int64())
    info.attempt = static_cast<int>(a->as_int64());
  info.image = str("image");
  info.image_id = str("imageID");
  info.log_path = str("logPath");
  info.created_at = str("createdAt");
  info.stop_signal = str("stopSignal");
  return info;
}

Result<ContainerInfo> ContainerManager::inspect(const std::string& id) const {
  {
    std::lock_guard lock(mu_);
    if (auto it = meta_.find(id); it != meta_.end()) return withState(it->second);
  }
  BERTH_ASSIGN_OR_RETURN(auto info, readMeta(id));
  return withState(std::move(info));
}

ContainerInfo ContainerManager::withState(ContainerInfo info) const {
  const std::string state = stateDir(info.id);
  auto exited = [&] {
    auto exit = readExitStatus(state);
    if (!exit.ok()) return false;
    info.state = ContainerState::kExited;
    info.exit = *exit;
    return true;
  };
  if (exited()) return info;
  if (liveShim(state) > 0) {
    // Created, running or exiting: the shim writes exit.json once the
    // container's init has gone.
    info.state = ContainerState::kRunning;
    info.pid = static_cast<pid_t>(std::atoi(slurp(state + "/init.pid").c_str()));
    return info;
  }
  if (exited()) return info;  // the shim finished between the two looks
  // Neither an exit status nor a shim: the shim died (the container may
  // still run) or the container never started.
  auto st = runc_.state(info.id);
  if (st.ok() && (st->status == "running" || st->status == "created" || st->status == "paused")) {
    info.state = ContainerState::kRunning;
    info.pid = st->pid;
    return info;
  }
  // Upstream reports such containers as exited with an unknown status.
  info.state = ContainerState::kUnknown;
  return info;
}

std::vector<ContainerInfo> ContainerManager::list(const std::string& pod_uid) const {
  std::vector<ContainerInfo> metas;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, meta] : meta_)
      if (pod_uid.empty() || meta.pod_uid == pod_uid) metas.push_back(meta);
  }
  std::vector<ContainerInfo> out;
  out.reserve(metas.size());
  for (auto& m : metas) out.push_back(withState(std::move(m)));
  return out;
}

Status ContainerManager::kill(const std::string& id, int signal) const {
  BERTH_ASSIGN_OR_RETURN(auto info, inspect(id));
  if (info.state != ContainerState::kRunning) return okStatus();
  // The init straight away while its shim still holds it (the shim is its
  // parent until it reaps it, so the pid cannot belong to anyone else);
  // runc otherwise.
  pid_t shim = liveShim(stateDir(id));
  std::vector<std::string> stat = info.pid > 0 ? procStat(info.pid) : std::vector<std::string>{};
  if (shim > 0 && stat.size() > 3 && stat[3] == std::to_string(shim)) {
    if (::kill(info.pid, signal) == 0 || errno == ESRCH) return okStatus();
  }
  Status s = runc_.kill(id, signal, /*all=*/false);
  if (s.ok() || s.error().code == ErrorCode::kNotFound) return okStatus();
  // It exited meanwhile (runc refuses to signal a stopped container).
  auto again = inspect(id);
  if (!again.ok() || again->state != ContainerState::kRunning) return okStatus();
  return s;
}

bool ContainerManager::waitExited(const std::string& id, std::chrono::milliseconds limit) const {
  auto running = [&] {
    auto info = inspect(id);
    return info.ok() && info->state == ContainerState::kRunning;
  };
  // The shim's exit.json lands by rename: an inotify watch on the state
  // directory wakes the wait; the poll's timeout covers a shim that dies
  // without writing it.
  int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd >= 0) ::inotify_add_watch(fd, stateDir(id).c_str(), IN_MOVED_TO | IN_CLOSE_WRITE);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  bool exited = false;
  while (!cancelled_) {
    if (!running()) {
      exited = true;
      break;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    int timeout = static_cast<int>(std::min<int64_t>(left.count(), 100));
    if (fd < 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(timeout));
    } else if (::poll(&p, 1, timeout) > 0) {
      char buf[4096];
      while (::read(fd, buf, sizeof buf) > 0) {
      }
    }
  }
  if (fd >= 0) ::close(fd);
  return exited;
}

Status ContainerManager::stop(const std::string& id, std::chrono::milliseconds grace) const {
  BERTH_ASSIGN_OR_RETURN(auto meta, inspect(id));
  if (meta.state != ContainerState::kRunning) return okStatus();
  BERTH_RETURN_IF_ERROR(
      kill(id, signalByName(meta.stop_signal.empty() ? "SIGTERM" : meta.stop_signal)));
  if (grace.count() > 0 && waitExited(id, grace)) return okStatus();
  if (cancelled_) return makeError(ErrorCode::kUnavailable, "the agent is shutting down");
  BERTH_RETURN_IF_ERROR(kill(id, SIGKILL));
  if (waitExited(id, std::chrono::seconds(10))) return okStatus();
  if (cancelled_) return makeError(ErrorCode::kUnavailable, "the agent is shutting down");
  return makeError(ErrorCode::kTimeout, "container " + id + " did not stop");
}

Status ContainerManager::remove(const std::string& id) {
  BERTH_ASSIGN_OR_RETURN(auto info, inspect(id));
  if (info.state == ContainerState::kRunning)
    return makeError(ErrorCode::kConflict, "container " + id + " is running");
  (void)runc_.remove(id, /*force=*/true);
  destroyDir(dir(id));
  std::lock_guard lock(mu_);
  meta_.erase(id);
  return okStatus();
}

}  // namespace berth::runtime
