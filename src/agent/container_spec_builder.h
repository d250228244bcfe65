#pragma once

// A pod's container as a runtime ContainerSpec, the way the kubelet's
// kuberuntime turns a v1.Container into a CRI ContainerConfig and
// containerd's CRI plugin into an OCI spec:
// - process: command/args over the image's Entrypoint/Cmd (a command
//   replaces the Entrypoint and drops Cmd; args alone replace Cmd), $(VAR)
//   expanded; env over the image's Env; workingDir over the image's;
// - identity: runAsUser/runAsGroup (container over pod), else the image's
//   numeric User; supplementalGroups and fsGroup as additional groups;
// - security: capabilities, privileged, allowPrivilegeEscalation,
//   readOnlyRootFilesystem, seccompProfile (RuntimeDefault / Unconfined;
//   unset is Unconfined, the kubelet's default);
// - resources: CPU shares from requests, CFS quota and memory from limits,
//   the QoS class's OOM score adjustment;
// - mounts: volumeMounts (readOnly, subPath, mountPropagation) over the
//   agent's volume directories, and the pod's hosts, resolv.conf, hostname
//   and termination-log files;
// - namespaces: the pod's network (a netns file, or the node's for
//   hostNetwork), IPC and UTS (the sandbox's, or the node's for hostIPC),
//   PID (the container's own unless hostPID).

#include <map>
#include <string>

#include "agent/container_env.h"
#include "runtime/image/manifest.h"
#include "runtime/oci/runtime_spec.h"

namespace berth::agent {

struct PodPaths {
  std::string netns;   // empty: the node's network (hostNetwork)
  std::string ipc_ns;  // empty: a new one per container
  std::string uts_ns;  // empty: a new one per container (hostname set by runc)
  std::string hosts;   // files bind-mounted read-only... except termination logs
  std::string resolv_conf;
  std::string hostname_file;
  std::string shm;              // the pod's /dev/shm directory; empty: the container's own
  std::string termination_log;  // a per-container file for terminationMessagePath
  std::map<std::string, std::string> volumes;  // volume name -> host directory or file
};

struct BuildInputs {
  const api::Object* pod = nullptr;
  const api::Object* container = nullptr;
  const runtime::ImageConfig* image = nullptr;
  EnvList env;  // makeEnvironment's result
  PodPaths paths;
  std::string cgroup_parent;  // podCgroupParent(pod)
  int64_t memory_capacity = 0;
  int attempt = 0;
};

Result<runtime::ContainerSpec> buildContainerSpec(const BuildInputs& in);

// The process argv (before expansion) from the container and the image.
std::vector<std::string> containerArgv(const api::Object& container,
                                       const runtime::ImageConfig& image);

}  // namespace berth::agent
