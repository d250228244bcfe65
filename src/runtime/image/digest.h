#pragma once

// Content digests as the OCI image spec defines them ("sha256:<64 lowercase
// hex>"), and a streaming SHA-256 over OpenSSL. Only sha256 is accepted: it
// is what registries, docker save and the OCI layout use in practice.

#include <compare>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace berth::runtime {

class Digest {
 public:
  Digest() = default;
  // Parses "sha256:<64 hex>"; anything else is an Invalid error.
  static Result<Digest> parse(std::string_view s);
  // From 64 lowercase hex characters (already validated by the caller).
  static Digest fromHex(std::string hex);
  // The digest of `data` in one call.
  static Digest of(std::string_view data);

  const std::string& hex() const { return hex_; }
  std::string str() const { return hex_.empty() ? std::string() : "sha256:" + hex_; }
  bool empty() const { return hex_.empty(); }
  auto operator<=>(const Digest&) const = default;

 private:
  std::string hex_;
};

// True for exactly 64 lowercase hex characters.
bool isSha256Hex(std::string_view s);

// Incremental SHA-256; finish() may be called once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  Digest finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::runtime
