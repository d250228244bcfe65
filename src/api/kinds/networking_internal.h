#pragma once

// Shared between the networking.k8s.io kind files (networking.cpp,
// networking_ingress.cpp); not part of the api component's public surface.

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "api/kind.h"

namespace berth::api {

// An IP network as net.ParseCIDR yields it: address bytes (4 used for IPv4)
// and prefix length.
struct Cidr {
  bool v6 = false;
  std::array<uint8_t, 16> addr{};
  int prefix = 0;
};

// Parses "10.0.0.0/8" or "2001:db8::/64"; nullopt when invalid.
std::optional<Cidr> parseCidr(const std::string& s);
// net.IPNet.Contains(inner's address): same family and the first net.prefix bits agree.
bool cidrContains(const Cidr& net, const Cidr& inner);

// networking.k8s.io/v1 Ingress (networking_ingress.cpp).
void registerIngressKind(KindRegistry& r);

}  // namespace berth::api
