#include "apiserver/registry/allocator.h"

#include <arpa/inet.h>

namespace berth::apiserver {

bool parseIpv4(const std::string& s, uint32_t* out) {
  in_addr a;
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) return false;
  *out = ntohl(a.s_addr);
  return true;
}

std::string formatIpv4(uint32_t ip) {
  in_addr a;
  a.s_addr = htonl(ip);
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

Status IpAllocator::init(const std::string& cidr) {
  auto slash = cidr.find('/');
  uint32_t ip;
  if (slash == std::string::npos || !parseIpv4(cidr.substr(0, slash), &ip))
    return makeError(ErrorCode::kInvalid, "invalid service CIDR " + cidr);
  int bits = std::atoi(cidr.c_str() + slash + 1);
  if (bits < 8 || bits > 30) return makeError(ErrorCode::kInvalid, "service CIDR prefix must be /8 to /30: " + cidr);
  std::lock_guard lock(mu_);
  cidr_ = cidr;
  uint32_t mask = bits == 0 ? 0 : ~uint32_t(0) << (32 - bits);
  base_ = ip & mask;
  size_ = uint32_t(1) << (32 - bits);
  used_.clear();
  return okStatus();
}

std::string IpAllocator::firstAddress() const { return formatIpv4(base_ + 1); }

bool IpAllocator::inRange(const std::string& s) const {
  uint32_t ip;
  if (!parseIpv4(s, &ip)) return false;
  return ip > base_ && ip < base_ + size_ - 1;
}

Result<std::string> IpAllocator::allocateNext() {
  std::lock_guard lock(mu_);
  uint32_t usable = size_ - 2;
  if (used_.size() >= usable)
    return makeError(ErrorCode::kInternal, "range is full: no more cluster IPs in " + cidr_);
  // Random probe then linear scan, as upstream's random-scan allocator; the
  // first address is left for the kubernetes Service.
  std::uniform_int_distribution<uint32_t> dist(1, usable);
  uint32_t start = dist(rng_);
  for (uint32_t i = 0; i < usable; ++i) {
    uint32_t off = (start - 1 + i) % usable + 1;
    if (off == 1) continue;
    uint32_t ip = base_ + off;
    if (used_.insert(ip).second) return formatIpv4(ip);
  }
  return makeError(ErrorCode::kInternal, "range is full: no more cluster IPs in " + cidr_);
}

Status IpAllocator::allocate(const std::string& s) {
  uint32_t ip;
  if (!parseIpv4(s, &ip)) return makeError(ErrorCode::kInvalid, "must be a valid IP address");
  std::lock_guard lock(mu_);
  if (!(ip > base_ && ip < base_ + size_ - 1))
    return makeError(ErrorCode::kInvalid,
                     "failed to allocate IP " + s + ": the provided IP (" + s +
                         ") is not in the valid range. The range of valid IPs is " + cidr_);
  if (!used_.insert(ip).second)
    return makeError(ErrorCode::kAlreadyExists, "failed to allocate IP " + s + ": provided IP is already allocated");
  return okStatus();
}

void IpAllocator::release(const std::string& s) {
  uint32_t ip;
  if (!parseIpv4(s, &ip)) return;
  std::lock_guard lock(mu_);
  used_.erase(ip);
}

void PortAllocator::init(int min, int max) {
  std::lock_guard lock(mu_);
  min_ = min;
  max_ = max;
  used_.clear();
}

Result<int> PortAllocator::allocateNext() {
  std::lock_guard lock(mu_);
  int n = max_ - min_ + 1;
  if (static_cast<int>(used_.size()) >= n)
    return makeError(ErrorCode::kInternal, "range is full: no more node ports in " + rangeString());
  std::uniform_int_distribution<int> dist(0, n - 1);
  int start = dist(rng_);
  for (int i = 0; i < n; ++i) {
    int port = min_ + (start + i) % n;
    if (used_.insert(port).second) return port;
  }
  return makeError(ErrorCode::kInternal, "range is full");
}

Status PortAllocator::allocate(int port) {
  std::lock_guard lock(mu_);
  if (port < min_ || port > max_)
    return makeError(ErrorCode::kInvalid, "provided port is not in the valid range. The range of valid ports is " +
                                              rangeString());
  if (!used_.insert(port).second) return makeError(ErrorCode::kAlreadyExists, "provided port is already allocated");
  return okStatus();
}

void PortAllocator::release(int port) {
  std::lock_guard lock(mu_);
  used_.erase(port);
}

}  // namespace berth::apiserver
