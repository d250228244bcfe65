#pragma once

#include <string>

#include "apiserver/registry/registry.h"
#include "common/result.h"

namespace berth::controllers {

struct BootstrapConfig {
  std::string advertise_address;  // the API server's address as pods see it
  int port = 6443;
};

// What every cluster has from its first second (upstream's bootstrap
// controller and system namespaces controller): the namespaces default,
// kube-system, kube-public and kube-node-lease; the `kubernetes` Service in
// `default` on the first service address, with Endpoints and an
// EndpointSlice pointing at the API server. Also marks the addresses and
// ports of stored Services as allocated. Idempotent; run at every start.
Status bootstrapCluster(apiserver::Registry& registry, const BootstrapConfig& config);

// The first non-loopback IPv4 address of this host, or 127.0.0.1.
std::string defaultAdvertiseAddress();

}  // namespace berth::controllers
