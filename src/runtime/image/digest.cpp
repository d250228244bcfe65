#include "runtime/image/digest.h"

#include <openssl/evp.h>

namespace berth::runtime {

bool isSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<Digest> Digest::parse(std::string_view s) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos) {
    return makeError(ErrorCode::kInvalid, "invalid digest \"" + std::string(s) +
                                              "\": expected algorithm:hex (sha256:<64 hex>)");
  }
  std::string_view algo = s.substr(0, colon);
  std::string_view hex = s.substr(colon + 1);
  if (algo != "sha256") {
    return makeError(ErrorCode::kInvalid, "unsupported digest algorithm \"" + std::string(algo) +
                                              "\" in " + std::string(s));
  }
  if (!isSha256Hex(hex)) {
    return makeError(ErrorCode::kInvalid, "invalid sha256 digest \"" + std::string(s) +
                                              "\": want 64 lowercase hex characters");
  }
  return fromHex(std::string(hex));
}

Digest Digest::fromHex(std::string hex) {
  Digest d;
  d.hex_ = std::move(hex);
  return d;
}

Digest Digest::of(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr);
}

Sha256::~Sha256() { EVP_MD_CTX_free(impl_->ctx); }

void Sha256::update(const void* data, size_t size) {
  if (size > 0) EVP_DigestUpdate(impl_->ctx, data, size);
}

Digest Sha256::finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, md, &len);
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[md[i] >> 4]);
    hex.push_back(kHex[md[i] & 0xf]);
  }
  return Digest::fromHex(std::move(hex));
}

}  // namespace berth::runtime
