#pragma once

// Containers of pods on this node, in the role of a CRI runtime's container
// service: a container is an image's layers under an overlay mount (the
// container's own upper layer), an OCI bundle built from the agent's
// ContainerSpec, and a shim that runs it with runc, keeps its output as a
// CRI log and leaves its exit status. Everything is kept on disk
// (<root>/containers/<id>/meta.json), so a restarted agent finds running
// and exited containers again (list) without touching them.
//
// Network, IPC and UTS namespaces, volumes and cgroup parents are the
// agent's business: they arrive in the ContainerSpec.

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/image/image_store.h"
#include "runtime/oci/runc.h"
#include "runtime/oci/runtime_spec.h"
#include "runtime/oci/shim.h"

namespace berth::runtime {

struct ContainerManagerConfig {
  std::string root;  // <data>/containers lives below
  std::string runc_binary = "/usr/sbin/runc";
  std::string runc_root;  // runc --root (default <root>/runc)
  std::string self_exe;   // the berth binary for `berth shim`; empty: fork only (tests)
  uint64_t log_max_bytes = 10 << 20;
  int log_max_files = 5;
};

struct ContainerConfig {
  std::string pod_uid;
  std::string name;
  int attempt = 0;       // restart count: a new container per restart
  std::string image;     // a reference the image store has
  ContainerSpec spec;    // id and rootfs are set by start()
  std::string log_path;  // CRI log (the agent keeps them per pod)
};

enum class ContainerState { kRunning, kExited, kUnknown };

struct ContainerInfo {
  std::string id;
  std::string pod_uid;
  std::string name;
  int attempt = 0;
  std::string image;     // as asked
  std::string image_id;  // sha256:... of the config
  std::string log_path;
  std::string created_at;
  std::string stop_signal;  // the image's StopSignal; empty: SIGTERM
  ContainerState state = ContainerState::kUnknown;
  pid_t pid = 0;    // init, while running
  ExitStatus exit;  // when exited
};

class ContainerManager {
 public:
  static Result<std::unique_ptr<ContainerManager>> open(ContainerManagerConfig config,
                                                        ImageStore& images);

  // Prepares the image, mounts the rootfs, writes the bundle and starts the
  // container under a shim. A failure leaves nothing behind.
  Result<ContainerInfo> start(ContainerConfig config);
  Result<ContainerInfo> inspect(const std::string& id) const;
  std::vector<ContainerInfo> list() const;
  Status kill(const std::string& id, int signal) const;
  // SIGTERM (or the image's stop signal), then SIGKILL after `grace`;
  // returns once the container has exited.
  Status stop(const std::string& id, std::chrono::milliseconds grace) const;
  // Removes an exited container: rootfs unmounted, its directory gone.
  Status remove(const std::string& id);

  const ContainerManagerConfig& config() const { return config_; }
  // The runc driver the containers run under (exec into them with it).
  const Runc& runc() const { return runc_; }
  // Where the container's shim leaves exit.json (ExitWatcher watches it).
  std::string stateDir(const std::string& id) const { return dir(id) + "/state"; }

 private:
  ContainerManager(ContainerManagerConfig config, ImageStore& images);
  std::string dir(const std::string& id) const;
  Result<ContainerInfo> readMeta(const std::string& id) const;

  ContainerManagerConfig config_;
  ImageStore& images_;
  Runc runc_;
};

}  // namespace berth::runtime
