#pragma once

#include <memory>
#include <string>

#include "apiserver/http.h"
#include "common/result.h"
#include "server/cluster_server.h"

namespace berth::server {

// Adapts the HTTPS transport, certificates and kubeconfig of
// src/apiserver/{http_server,auth,kubeconfig} to the server's wiring.
struct TransportCredentials {
  std::string ca_pem;
  std::string admin_token;
  // Agents authenticate with this (user system:berth-agent, group
  // system:nodes).
  std::string node_token;
  std::string cert_path;
  std::string key_path;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual int port() const = 0;
  virtual void stop() = 0;
};

Result<TransportCredentials> prepareCredentials(const ServerConfig& config);
Result<std::unique_ptr<Transport>> startTransport(const ServerConfig& config, const TransportCredentials& creds,
                                                  apiserver::Handler& handler);
Result<std::string> writeAdminKubeconfig(const ServerConfig& config, const TransportCredentials& creds, int port);

}  // namespace berth::server
