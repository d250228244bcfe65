#include "runtime/pod/container_manager.h"

#include <fcntl.h>
#include <signal.h>
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
  return std::unique_ptr<ContainerManager>(new ContainerManager(std::move(config), images));
}

std::string ContainerManager::dir(const std::string& id) const {
  return config_.root + "/containers/" + id;
}

Result<ContainerInfo> ContainerManager::start(ContainerConfig config) {
  BERTH_ASSIGN_OR_RETURN(auto rootfs, images_.prepare(config.image));
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
  auto started = startShim(shim, config_.self_exe);
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
  BERTH_ASSIGN_OR_RETURN(auto info, readMeta(id));
  auto exit = readExitStatus(stateDir(id));
  if (exit.ok()) {
    info.state = ContainerState::kExited;
    info.exit = *exit;
    return info;
  }
  auto state = runc_.state(id);
  if (state.ok() &&
      (state->status == "running" || state->status == "created" || state->status == "paused")) {
    info.state = ContainerState::kRunning;
    info.pid = state->pid;
    return info;
  }
  // Stopped but no exit status yet: the shim is still reaping and writing
  // it. The container counts as running (exiting) until exit.json appears.
  pid_t shim = static_cast<pid_t>(std::atoi(slurp(dir(id) + "/state/shim.pid").c_str()));
  if (shim > 0 && ::kill(shim, 0) == 0) {
    info.state = ContainerState::kRunning;
    return info;
  }
  // Neither an exit status nor a shim: the shim died with it (or the
  // container never started); upstream reports such containers as exited
  // with an unknown status.
  info.state = ContainerState::kUnknown;
  return info;
}

std::vector<ContainerInfo> ContainerManager::list() const {
  std::vector<ContainerInfo> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(config_.root + "/containers", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    auto info = inspect(it->path().filename().string());
    if (info.ok()) out.push_back(std::move(*info));
  }
  return out;
}

Status ContainerManager::kill(const std::string& id, int signal) const {
  BERTH_ASSIGN_OR_RETURN(auto info, inspect(id));
  if (info.state != ContainerState::kRunning) return okStatus();
  Status s = runc_.kill(id, signal, /*all=*/false);
  if (s.ok() || s.error().code == ErrorCode::kNotFound) return okStatus();
  // It exited meanwhile (runc refuses to signal a stopped container).
  auto state = runc_.state(id);
  if (!state.ok() || state->status == "stopped") return okStatus();
  return s;
}

Status ContainerManager::stop(const std::string& id, std::chrono::milliseconds grace) const {
  BERTH_ASSIGN_OR_RETURN(auto meta, readMeta(id));
  BERTH_RETURN_IF_ERROR(
      kill(id, signalByName(meta.stop_signal.empty() ? "SIGTERM" : meta.stop_signal)));
  auto wait_exited = [&](std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      auto info = inspect(id);
      if (!info.ok() || info->state != ContainerState::kRunning) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };
  if (wait_exited(grace)) return okStatus();
  BERTH_RETURN_IF_ERROR(kill(id, SIGKILL));
  if (wait_exited(std::chrono::seconds(10))) return okStatus();
  return makeError(ErrorCode::kTimeout, "container " + id + " did not stop");
}

Status ContainerManager::remove(const std::string& id) {
  BERTH_ASSIGN_OR_RETURN(auto info, inspect(id));
  if (info.state == ContainerState::kRunning)
    return makeError(ErrorCode::kConflict, "container " + id + " is running");
  (void)runc_.remove(id, /*force=*/true);
  destroyDir(dir(id));
  return okStatus();
}

}  // namespace berth::runtime
