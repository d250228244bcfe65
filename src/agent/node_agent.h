#pragma once

// A real node: what `berth agent --server URL` runs, and what `berth server`
// embeds for its own machine. It wires the runtime (image store and puller,
// container manager, sandboxes, CNI) under the kubelet's rules (PodSyncer),
// the pod workers over the API, container exit notifications, and the node
// itself: registration with the machine's capacity, the Lease renewed every
// 10 s, and status (conditions with pressure, addresses, nodeInfo).
//
// Stopping the agent leaves containers running: a restarted agent adopts
// them (their shims keep them, the sandboxes are recorded on disk).

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "agent/pod_dns.h"
#include "client/client.h"
#include "common/result.h"

namespace berth::agent {

struct NodeAgentOptions {
  std::string node_name;  // required
  std::string node_ip;    // InternalIP; required (components reach the node by it)
  std::string data_dir;   // images, containers, pod directories, CNI state
  // The node's pod CIDR for the CNI bridge (until node IPAM assigns one).
  std::string pod_cidr = "10.88.0.0/16";
  std::string bridge = "berth0";
  std::string cni_plugin_dir = "/usr/lib/cni";
  std::string runc_binary = "/usr/sbin/runc";
  std::string self_exe;  // the berth binary (`berth shim`)
  std::string cgroup_root = "/kubepods";
  std::string host_resolv_conf = "/etc/resolv.conf";
  ClusterDns dns;
  int max_pods = 110;
  // The agent's HTTPS server (container logs for the API server) listens
  // on node_ip:kubelet_port (0: any free port); the port goes into the
  // Node's daemonEndpoints. ca_pem is the cluster CA: only the API server's
  // client certificate, which it signs, is let in. Empty: no server.
  int kubelet_port = 10250;
  std::string ca_pem;
  std::map<std::string, std::string> labels;
  std::chrono::seconds lease_duration{40};
  std::chrono::seconds lease_renew_interval{10};
  std::chrono::seconds status_update_interval{10};
  std::chrono::seconds resync_period{60};
  int workers = 4;
};

class NodeAgent {
 public:
  static Result<std::unique_ptr<NodeAgent>> start(client::Client& client, NodeAgentOptions options);
  ~NodeAgent();
  NodeAgent(const NodeAgent&) = delete;
  NodeAgent& operator=(const NodeAgent&) = delete;

  // Stops the agent's threads; containers keep running.
  void stop();
  // Whether the Node is registered (its first status written).
  bool registered() const;
  const NodeAgentOptions& options() const;

  struct Impl;

 private:
  explicit NodeAgent(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::agent
