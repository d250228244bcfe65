#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "server/control_plane.h"

namespace berth::apiserver {
class Registry;
}
namespace berth::client {
class Client;
}

namespace berth::server {

struct ServerConfig {
  std::string data_dir;
  std::string listen = "127.0.0.1:6443";
  // Address the `kubernetes` Service's endpoints point at; default: the
  // first non-loopback IPv4 address of the host.
  std::string advertise_address;
  std::string service_cidr = "10.96.0.0/12";
  int io_threads = 2;
  int handler_threads = 16;
  // Scheduler and controllers; false serves the API alone (API benches).
  bool control_plane = true;
  ControlPlaneOptions control_plane_options;
};

// Applies `berth server` flags to `config`: --data-dir, --listen,
// --advertise-address, --service-cidr, --no-control-plane,
// --node-monitor-period, --node-monitor-grace-period (Go durations: 5s, 1m),
// --node-eviction-rate, --secondary-node-eviction-rate,
// --large-cluster-size-threshold, --unhealthy-zone-threshold,
// --scheduler-strategy least|most. BadRequest names the offending flag.
Status parseServerFlags(const std::vector<std::string>& args, ServerConfig* config);

// `berth server`: wires the datastore, watch cache, registry, API server,
// HTTPS transport and the in-process controllers, and tears them down in
// reverse. It owns no logic of its own (STYLE.md: components only wire).
class ClusterServer {
 public:
  static Result<std::unique_ptr<ClusterServer>> start(const ServerConfig& config);
  ~ClusterServer();
  // Graceful: stop accepting, end watches, stop controllers, close the store.
  void stop();

  int port() const;
  const std::string& kubeconfigPath() const;
  const std::string& adminToken() const;
  // The agents' token (DATA/node-token).
  const std::string& nodeToken() const;
  const std::string& caPem() const;
  // In-process access for benches and embedded agents.
  apiserver::Registry& registry();
  // The control plane's in-process client; null when control_plane is off.
  client::Client* client();

  struct Impl;

 private:
  explicit ClusterServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::server
