#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "apiserver/http.h"
#include "common/result.h"

namespace berth::apiserver::auth {

// Identity from a TLS client certificate that the transport verified
// against the client CA during the handshake.
struct PeerCertificate {
  bool presented = false;  // the client sent a certificate
  bool verified = false;   // it chains to the client CA and allows clientAuth
  std::string common_name;
  std::vector<std::string> organizations;
};

// What a request carries for authentication, gathered by the transport.
struct Credentials {
  std::string_view authorization;  // the Authorization header, "" if absent
  const PeerCertificate* peer = nullptr;
};

// Mirrors k8s.io/apiserver's authenticator.Request contract: an
// authenticator either does not find its kind of credential (kNoCredentials,
// the next one is asked), accepts it (kAuthenticated), or finds it and
// rejects it (kRejected: 401, never treated as anonymous).
enum class AuthOutcome { kNoCredentials, kAuthenticated, kRejected };

struct AuthResult {
  AuthOutcome outcome = AuthOutcome::kNoCredentials;
  UserInfo user;
  std::string reason;  // why rejected, for logs only
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  virtual AuthResult authenticate(const Credentials& credentials) const = 0;
};

// Static bearer tokens (kube-apiserver --token-auth-file). Tokens are
// compared by SHA-256 digest with CRYPTO_memcmp over every entry, so timing
// reveals neither which token matched nor how much of it.
class TokenAuthenticator : public Authenticator {
 public:
  void addToken(const std::string& token, UserInfo user);
  // Parses the upstream token file format: token,user,uid,"group1,group2"
  // one per line; '#' comments and blank lines are skipped.
  Status loadCsv(std::string_view contents);
  AuthResult authenticate(const Credentials& credentials) const override;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::array<unsigned char, 32> digest;
    UserInfo user;
  };
  std::vector<Entry> entries_;
};

// x509 client certificates (kube-apiserver --client-ca-file): CN is the
// user name and each O is a group. The chain itself is verified by the TLS
// layer; a presented but unverifiable certificate is rejected.
class ClientCertAuthenticator : public Authenticator {
 public:
  AuthResult authenticate(const Credentials& credentials) const override;
};

// Asks each authenticator in order; the first kAuthenticated wins. If none
// accepts and any rejected, the request is rejected (upstream's union
// authenticator aggregates errors the same way).
class UnionAuthenticator : public Authenticator {
 public:
  explicit UnionAuthenticator(std::vector<std::shared_ptr<const Authenticator>> parts) : parts_(std::move(parts)) {}
  AuthResult authenticate(const Credentials& credentials) const override;

 private:
  std::vector<std::shared_ptr<const Authenticator>> parts_;
};

// The group every authenticated user gets (upstream's AuthenticatedGroupAdder).
inline constexpr std::string_view kAuthenticatedGroup = "system:authenticated";
// Upstream's anonymous identity. berth leaves UserInfo::name empty for
// anonymous requests (http.h), but fills groups with this.
inline constexpr std::string_view kUnauthenticatedGroup = "system:unauthenticated";

}  // namespace berth::apiserver::auth
