#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <set>
#include <string>

#include "common/result.h"

namespace berth::apiserver {

// Hands out Service cluster IPs from the service CIDR, like upstream's
// ipallocator over a bitmap. The network and broadcast addresses are never
// handed out; the first host address belongs to the `kubernetes` Service.
class IpAllocator {
 public:
  Status init(const std::string& cidr);
  // A free random address.
  Result<std::string> allocateNext();
  // Claims a specific address (kInvalid if outside the range, kAlreadyExists if taken).
  Status allocate(const std::string& ip);
  void release(const std::string& ip);
  bool inRange(const std::string& ip) const;
  std::string firstAddress() const;  // base + 1
  std::string cidr() const { return cidr_; }

 private:
  std::mutex mu_;
  std::string cidr_;
  uint32_t base_ = 0;
  uint32_t size_ = 0;  // number of addresses in the range
  std::set<uint32_t> used_;
  std::mt19937 rng_{std::random_device{}()};
};

// Hands out NodePorts from a range (default 30000-32767).
class PortAllocator {
 public:
  void init(int min, int max);
  Result<int> allocateNext();
  Status allocate(int port);
  void release(int port);
  bool inRange(int port) const { return port >= min_ && port <= max_; }
  std::string rangeString() const { return std::to_string(min_) + "-" + std::to_string(max_); }

 private:
  std::mutex mu_;
  int min_ = 30000;
  int max_ = 32767;
  std::set<int> used_;
  std::mt19937 rng_{std::random_device{}()};
};

struct Allocators {
  IpAllocator service_ips;
  PortAllocator node_ports;
};

bool parseIpv4(const std::string& s, uint32_t* out);
std::string formatIpv4(uint32_t ip);

}  // namespace berth::apiserver
