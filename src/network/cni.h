#pragma once

// Pod networking through CNI plugins (the containernetworking spec, version
// 1.0.0) as the kubelet's CNI path and containerd's CRI plugin invoke them:
// a `bridge` network (the node's bridge as the pods' gateway, hairpin on for
// Services reaching themselves) with `host-local` IPAM over the node's pod
// CIDR (lo is brought up by createNetns, as the `loopback` plugin would,
// to save a plugin run per pod). Plugins run as child processes of the
// calling thread, so the host side (bridge, veth) lands in that thread's
// network namespace: on a real node the node's, in tests a lab namespace.

#include <string>

#include "common/result.h"

namespace berth::network {

struct CniConfig {
  std::string plugin_dir = "/usr/lib/cni";
  std::string network_name = "berth";
  std::string bridge = "cni0";
  std::string subnet;    // the node's pod CIDR, e.g. 10.244.1.0/24
  std::string data_dir;  // host-local's allocations (under the agent's data dir)
  int mtu = 0;           // 0: the plugin's default
};

struct CniAttachment {
  std::string ip;          // 10.244.1.5
  std::string prefix;      // 10.244.1.5/24
  std::string gateway;     // 10.244.1.1
  std::string mac;         // of the pod's eth0
  std::string raw_result;  // the bridge plugin's result JSON
};

// The bridge plugin's network configuration (with cniVersion and name).
std::string bridgeNetworkConfig(const CniConfig& config);

// ADD: lo up, eth0 attached to the bridge with an address from the subnet.
Result<CniAttachment> cniAdd(const CniConfig& config, const std::string& container_id,
                             const std::string& netns_path);
// DEL: releases the address and removes the veth; succeeds when already gone.
Status cniDel(const CniConfig& config, const std::string& container_id,
              const std::string& netns_path);

// Parses a CNI 1.0 result: the first IP of the interface in the namespace.
Result<CniAttachment> parseCniResult(const std::string& json_text);

}  // namespace berth::network
