#pragma once

// A pod's sandbox: what its containers share, in the role of the CRI
// RunPodSandbox (containerd's pause container plus CNI setup), without a
// pause process: the pod's network, IPC and UTS namespaces are kept alive
// as bind-mounted namespace files, and its directory holds the managed
// /etc/hosts, /etc/resolv.conf and /etc/hostname and a 64 MiB tmpfs for
// /dev/shm. The pod network comes from CNI (bridge + host-local); a
// hostNetwork pod uses the node's namespaces and address.
//
// The sandbox is recorded in <pod dir>/sandbox.json so that a restarted
// agent adopts it instead of building another.

#include <string>

#include "agent/pod_dns.h"
#include "api/kind.h"
#include "common/result.h"
#include "network/cni.h"

namespace berth::agent {

struct SandboxOptions {
  std::string pods_dir;   // <data>/pods: one directory per pod uid
  std::string netns_dir;  // where namespace files live
  network::CniConfig cni;
  // Run CNI plugins inside this network namespace (a lab namespace in
  // tests); empty: in the caller's.
  std::string cni_netns;
  std::string node_ip;  // a hostNetwork pod's IP
  ResolvConf host_resolv;
  std::string host_hosts;
  ClusterDns dns;
  int64_t shm_bytes = 64ll << 20;
};

struct Sandbox {
  std::string uid;
  std::string dir;
  bool host_network = false;
  std::string netns;  // empty for hostNetwork
  std::string ipc_ns;
  std::string uts_ns;
  std::string ip;
  std::string hosts;
  std::string resolv_conf;
  std::string hostname_file;
  std::string shm;
  std::string dns_warning;  // ClusterFirst without cluster DNS
};

// Creates the sandbox of `pod`, or returns the one already recorded.
Result<Sandbox> ensureSandbox(const SandboxOptions& options, const api::Object& pod);
// Tears a sandbox down: CNI DEL, namespaces and shm unmounted, the pod
// directory removed. Safe to repeat.
Status destroySandbox(const SandboxOptions& options, const Sandbox& sandbox);
// Gives a finished pod's network back (CNI DEL, the namespace removed, as
// the kubelet stops the sandbox of a pod that reached Succeeded or Failed)
// and keeps the rest: its containers' logs stay readable until the pod is
// deleted. The record keeps the IP (the pod's status still shows it).
// Safe to repeat; nothing to do for a hostNetwork pod.
Status releaseNetwork(const SandboxOptions& options, Sandbox* sandbox);
// The sandbox recorded for a pod uid, if any (adoption after a restart).
Result<Sandbox> loadSandbox(const SandboxOptions& options, const std::string& uid);

}  // namespace berth::agent
