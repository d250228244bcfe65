#pragma once

// Containers of pods on this node, in the role of a CRI runtime's container
// service: a container is an image's layers under an overlay mount (the
// container's own upper layer), an OCI bundle built from the agent's
// ContainerSpec, and a shim that runs it with runc, keeps its output as a
// CRI log and leaves its exit status. Everything is kept on disk
// (<root>/containers/<id>/meta.json), so a restarted agent finds running
// and exited containers again (list) without touching them.
//
// Asking costs no runc: the metadata is held in memory (read once when the
// manager opens), a container has exited once its shim left exit.json,
// and runs while its shim is alive. Only a container whose shim died
// without an exit status is looked up with `runc state`.
//
// Network, IPC and UTS namespaces, volumes and cgroup parents are the
// agent's business: they arrive in the ContainerSpec.

#include <atomic>
#include <chrono>
#include <map>
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
  // Every container, or those of one pod.
  std::vector<ContainerInfo> list(const std::string& pod_uid = {}) const;
  Status kill(const std::string& id, int signal) const;
  // SIGTERM (or the image's stop signal), then SIGKILL after `grace`;
  // returns once the container has exited (Unavailable after cancelWaits()).
  Status stop(const std::string& id, std::chrono::milliseconds grace) const;
  // Waits up to `limit` for the container to stop running; false when it
  // still runs (or waits were cancelled).
  bool waitExited(const std::string& id, std::chrono::milliseconds limit) const;
  // Ends every wait in stop() and waitExited() now and from now on (the
  // agent shuts down; the containers keep running).
  void cancelWaits() { cancelled_ = true; }
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
  // The metadata with the state the container is in now.
  ContainerInfo withState(ContainerInfo info) const;

  ContainerManagerConfig config_;
  ImageStore& images_;
  Runc runc_;
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mu_;
  std::map<std::string, ContainerInfo> meta_;  // id -> its meta.json
};

}  // namespace berth::runtime
