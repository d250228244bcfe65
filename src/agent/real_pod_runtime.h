#pragma once

// The PodRuntime of a real node: sandboxes (network/IPC/UTS namespaces,
// CNI), the pod's volumes laid out in its directory, images from the node's
// store, the kubelet's rules for environment and container specs, and the
// ContainerManager running each attempt under a shim with a CRI log.

#include <functional>
#include <memory>
#include <string>

#include "agent/pod_syncer.h"
#include "agent/sandbox.h"
#include "agent/volumes/projection.h"
#include "runtime/image/image_store.h"
#include "runtime/pod/container_manager.h"

namespace berth::agent {

// A ConfigMap or Secret by namespace and name; nullptr when it does not exist.
using NamespacedLookup = std::function<Result<std::shared_ptr<const api::Object>>(
    const std::string& ns, const std::string& name)>;

struct RealPodRuntimeOptions {
  SandboxOptions sandbox;
  std::string cgroup_root = "/kubepods";
  int64_t memory_capacity = 0;
  // The lowest oom_score_adj containers can get: without CAP_SYS_RESOURCE
  // nobody may go below their parent's (runc would fail to start them), so
  // the QoS scores are raised to this (minOomScoreAdj()).
  int min_oom_score_adj = -1000;
  volumes::NodeAllocatable allocatable;
  NamespacedLookup config_maps;
  NamespacedLookup secrets;
};

// -1000 when this process may lower oom_score_adj (CAP_SYS_RESOURCE), else
// its own oom_score_adj.
int minOomScoreAdj();

class RealPodRuntime : public PodRuntime {
 public:
  RealPodRuntime(RealPodRuntimeOptions options, runtime::ImageStore& images,
                 runtime::ContainerManager& containers, Clock& clock)
      : options_(std::move(options)), images_(images), containers_(containers), clock_(clock) {}

  Result<std::string> ensureSandbox(const api::Object& pod) override;
  Status destroySandbox(const api::Object& pod) override;
  Status releaseNetwork(const api::Object& pod) override;
  Result<RuntimeContainer> startContainer(const api::Object& pod, const api::Object& container,
                                          int attempt, const std::string& pod_ip) override;
  std::vector<RuntimeContainer> containers(const std::string& pod_uid) override;
  Status stopContainer(const std::string& id, std::chrono::milliseconds grace) override;
  std::vector<std::string> podUids() override;
  Status runHook(const api::Object& container, const std::string& id, const std::string& pod_ip,
                 const api::Object& handler, std::chrono::milliseconds timeout) override;

  // Writes the pod's volumes (emptyDir, hostPath, configMap, secret,
  // downwardAPI, projected). Called from ensureSandbox on every sync, so
  // configMap and secret contents follow updates.
  Status ensureVolumes(const api::Object& pod, const Sandbox& sandbox);
  // Where each of the pod's volumes lives on the node (name -> host path).
  static std::map<std::string, std::string> volumePaths(const api::Object& pod,
                                                        const Sandbox& sandbox);

 private:
  RealPodRuntimeOptions options_;
  runtime::ImageStore& images_;
  runtime::ContainerManager& containers_;
  Clock& clock_;
};

}  // namespace berth::agent
