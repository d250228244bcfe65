#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/result.h"

namespace berth::apiserver::auth {

// A certificate and its private key, both PEM.
struct CertKeyPair {
  std::string cert_pem;
  std::string key_pem;
};

// Subject alternative names of a serving certificate, as kube-apiserver's
// serving certificate carries them (kubeadm's "apiserver" cert).
struct SubjectAltNames {
  std::vector<std::string> dns;
  std::vector<std::string> ips;  // IPv4 or IPv6 literals
};

// Names every berth serving certificate carries: localhost, the in-cluster
// names of the `kubernetes` Service, the host name, loopback addresses and
// the first service IP. `extra_ips` (listen and advertised addresses) are
// added when they are specific addresses (not 0.0.0.0 / ::).
SubjectAltNames defaultServingSans(const std::vector<std::string>& extra_ips,
                                   const std::string& first_service_ip = "10.96.0.1");

// A self-signed ECDSA P-256 CA, valid for `validity` (10 years by default).
Result<CertKeyPair> generateCa(const std::string& common_name = "berth-ca",
                               std::chrono::hours validity = std::chrono::hours(24 * 3650));

// A serving certificate (serverAuth) signed by `ca` with the given SANs.
Result<CertKeyPair> generateServingCert(const CertKeyPair& ca, const std::string& common_name,
                                        const SubjectAltNames& sans,
                                        std::chrono::hours validity = std::chrono::hours(24 * 365));

// A client certificate (clientAuth) signed by `ca`. Kubernetes' x509
// authenticator maps CN to the user name and O to the groups, e.g. CN=admin,
// O=system:masters.
Result<CertKeyPair> generateClientCert(const CertKeyPair& ca, const std::string& common_name,
                                       const std::vector<std::string>& organizations,
                                       std::chrono::hours validity = std::chrono::hours(24 * 365));

// `bytes` random bytes from RAND_bytes, as lowercase hex / base64url without
// padding.
Result<std::string> randomHexToken(size_t bytes = 32);
Result<std::string> randomBase64UrlToken(size_t bytes = 32);

// SANs found in a PEM certificate (for reuse decisions and tests).
Result<SubjectAltNames> readSans(const std::string& cert_pem);
// Checks that `cert_pem` chains to `ca_pem` and is valid now.
Status verifyCertificate(const std::string& cert_pem, const std::string& ca_pem);

struct ClusterCredentials {
  CertKeyPair ca;
  CertKeyPair server;
  std::string admin_token;
  // The agents' bearer token (berth agent --token): their own identity, so
  // their requests are their own flow in API fairness, not the admin's.
  std::string node_token;
  // Files under DIR/pki, DIR/admin-token and DIR/node-token.
  std::string ca_cert_path;
  std::string ca_key_path;
  std::string server_cert_path;
  std::string server_key_path;
  std::string admin_token_path;
  std::string node_token_path;
  bool generated_ca = false;
  bool generated_server_cert = false;
};

// On first start creates DIR/pki/{ca.crt,ca.key,server.crt,server.key} and
// DIR/admin-token (private files 0600), and reuses them afterwards. The
// serving certificate is issued again when its SANs differ from `sans`, when
// it no longer chains to the CA or expires within 30 days (the way k3s
// refreshes its dynamic listener certificate).
Result<ClusterCredentials> ensureClusterCredentials(const std::string& data_dir,
                                                    const SubjectAltNames& sans);

// Writes a file atomically with the given mode (common/file_util.h).
using berth::writeFileAtomic;

}  // namespace berth::apiserver::auth
