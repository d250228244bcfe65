#include "apiserver/auth/certs.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include <boost/asio/ip/address.hpp>

namespace berth::apiserver::auth {
namespace {

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PKeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME, X509_NAME_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;

Error sslError(const std::string& what) {
  std::string msg = what;
  unsigned long e = ERR_get_error();
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    msg += ": ";
    msg += buf;
  }
  ERR_clear_error();
  return makeError(ErrorCode::kInternal, msg);
}

Result<PKeyPtr> generateKey() {
  // ECDSA P-256: the key type kubeadm and k3s default to; generation takes
  // about a millisecond, unlike RSA.
  PKeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return sslError("generate ec key");
  return key;
}

Result<std::string> keyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return sslError("write key");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<std::string> certToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return sslError("write cert");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<X509Ptr> parseCert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return sslError("parse certificate");
  return cert;
}

Result<PKeyPtr> parseKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PKeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return sslError("parse private key");
  return key;
}

Status addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return sslError("extension " + value);
  int rc = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (rc != 1) return sslError("add extension");
  return okStatus();
}

Status setSerialAndValidity(X509* cert, std::chrono::hours validity) {
  // A random 127-bit serial, as RFC 5280 recommends for unpredictability.
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) return sslError("rand");
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  if (!bn) return sslError("serial");
  ASN1_INTEGER* asn = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
  BN_free(bn);
  if (!asn) return sslError("serial");
  X509_set_version(cert, 2);  // v3
  // Backdate a little so that small clock differences between machines do
  // not make a fresh certificate "not yet valid" (kubeadm does the same).
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), static_cast<long>(validity.count()) * 3600);
  return okStatus();
}

Status setSubject(X509* cert, const std::string& cn, const std::vector<std::string>& orgs) {
  X509_NAME* name = X509_get_subject_name(cert);
  for (const auto& o : orgs)
    if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(o.c_str()), -1, -1, 0) != 1)
      return sslError("subject O");
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0) != 1)
    return sslError("subject CN");
  return okStatus();
}

// Issues a leaf certificate. `ext_usage` is "serverAuth" or "clientAuth".
Result<CertKeyPair> issueLeaf(const CertKeyPair& ca, const std::string& cn, const std::vector<std::string>& orgs,
                              const SubjectAltNames* sans, const char* ext_usage, std::chrono::hours validity) {
  BERTH_ASSIGN_OR_RETURN(X509Ptr ca_cert, parseCert(ca.cert_pem));
  BERTH_ASSIGN_OR_RETURN(PKeyPtr ca_key, parseKey(ca.key_pem));
  BERTH_ASSIGN_OR_RETURN(PKeyPtr key, generateKey());
  X509Ptr cert(X509_new());
  if (!cert) return sslError("x509 new");
  BERTH_RETURN_IF_ERROR(setSerialAndValidity(cert.get(), validity));
  BERTH_RETURN_IF_ERROR(setSubject(cert.get(), cn, orgs));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get()));
  X509_set_pubkey(cert.get(), key.get());
  BERTH_RETURN_IF_ERROR(addExtension(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  BERTH_RETURN_IF_ERROR(
      addExtension(cert.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment"));
  BERTH_RETURN_IF_ERROR(addExtension(cert.get(), ca_cert.get(), NID_ext_key_usage, ext_usage));
  BERTH_RETURN_IF_ERROR(addExtension(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always"));
  if (sans && (!sans->dns.empty() || !sans->ips.empty())) {
    std::string value;
    for (const auto& d : sans->dns) value += (value.empty() ? "" : ",") + std::string("DNS:") + d;
    for (const auto& ip : sans->ips) value += (value.empty() ? "" : ",") + std::string("IP:") + ip;
    BERTH_RETURN_IF_ERROR(addExtension(cert.get(), ca_cert.get(), NID_subject_alt_name, value));
  }
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0) return sslError("sign");
  CertKeyPair out;
  BERTH_ASSIGN_OR_RETURN(out.cert_pem, certToPem(cert.get()));
  BERTH_ASSIGN_OR_RETURN(out.key_pem, keyToPem(key.get()));
  return out;
}

// Canonical text of an IP literal so that "::1" and "0:0::1" compare equal.
std::string canonicalIp(const std::string& ip) {
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(ip, ec);
  return ec ? ip : addr.to_string();
}

Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return makeError(ErrorCode::kNotFound, "cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool fileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Status makeDir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST)
    return makeError(ErrorCode::kInternal, "mkdir " + path + ": " + std::strerror(errno));
  return okStatus();
}

std::string encodeBase64Url(const unsigned char* data, size_t n) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < n; i += 3) {
    unsigned v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == n) {
    unsigned v = data[i] << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (i + 2 == n) {
    unsigned v = (data[i] << 16) | (data[i + 1] << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

}  // namespace

SubjectAltNames defaultServingSans(const std::vector<std::string>& extra_ips, const std::string& first_service_ip) {
  SubjectAltNames sans;
  sans.dns = {"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
              "kubernetes.default.svc.cluster.local"};
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) == 0 && host[0] != '\0' &&
      std::find(sans.dns.begin(), sans.dns.end(), host) == sans.dns.end())
    sans.dns.push_back(host);
  std::vector<std::string> ips = {"127.0.0.1", "::1"};
  if (!first_service_ip.empty()) ips.push_back(first_service_ip);
  for (const auto& ip : extra_ips) {
    boost::system::error_code ec;
    auto addr = boost::asio::ip::make_address(ip, ec);
    if (ec || addr.is_unspecified()) continue;
    ips.push_back(ip);
  }
  for (const auto& ip : ips) {
    std::string c = canonicalIp(ip);
    if (std::find(sans.ips.begin(), sans.ips.end(), c) == sans.ips.end()) sans.ips.push_back(c);
  }
  return sans;
}

Result<CertKeyPair> generateCa(const std::string& common_name, std::chrono::hours validity) {
  BERTH_ASSIGN_OR_RETURN(PKeyPtr key, generateKey());
  X509Ptr cert(X509_new());
  if (!cert) return sslError("x509 new");
  BERTH_RETURN_IF_ERROR(setSerialAndValidity(cert.get(), validity));
  BERTH_RETURN_IF_ERROR(setSubject(cert.get(), common_name, {}));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  X509_set_pubkey(cert.get(), key.get());
  BERTH_RETURN_IF_ERROR(addExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  BERTH_RETURN_IF_ERROR(
      addExtension(cert.get(), cert.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment,keyCertSign"));
  BERTH_RETURN_IF_ERROR(addExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return sslError("sign ca");
  CertKeyPair out;
  BERTH_ASSIGN_OR_RETURN(out.cert_pem, certToPem(cert.get()));
  BERTH_ASSIGN_OR_RETURN(out.key_pem, keyToPem(key.get()));
  return out;
}

Result<CertKeyPair> generateServingCert(const CertKeyPair& ca, const std::string& common_name,
                                        const SubjectAltNames& sans, std::chrono::hours validity) {
  return issueLeaf(ca, common_name, {}, &sans, "serverAuth", validity);
}

Result<CertKeyPair> generateClientCert(const CertKeyPair& ca, const std::string& common_name,
                                       const std::vector<std::string>& organizations, std::chrono::hours validity) {
  return issueLeaf(ca, common_name, organizations, nullptr, "clientAuth", validity);
}

Result<std::string> randomHexToken(size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) return sslError("rand");
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : buf) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

Result<std::string> randomBase64UrlToken(size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) return sslError("rand");
  return encodeBase64Url(buf.data(), buf.size());
}

Result<SubjectAltNames> readSans(const std::string& cert_pem) {
  BERTH_ASSIGN_OR_RETURN(X509Ptr cert, parseCert(cert_pem));
  SubjectAltNames out;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type == GEN_DNS) {
      const ASN1_IA5STRING* s = gn->d.dNSName;
      out.dns.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                           static_cast<size_t>(ASN1_STRING_length(s)));
    } else if (gn->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = gn->d.iPAddress;
      const unsigned char* d = ASN1_STRING_get0_data(s);
      int len = ASN1_STRING_length(s);
      if (len == 4) {
        boost::asio::ip::address_v4::bytes_type b;
        std::copy(d, d + 4, b.begin());
        out.ips.push_back(boost::asio::ip::address_v4(b).to_string());
      } else if (len == 16) {
        boost::asio::ip::address_v6::bytes_type b;
        std::copy(d, d + 16, b.begin());
        out.ips.push_back(boost::asio::ip::address_v6(b).to_string());
      }
    }
  }
  return out;
}

Status verifyCertificate(const std::string& cert_pem, const std::string& ca_pem) {
  BERTH_ASSIGN_OR_RETURN(X509Ptr cert, parseCert(cert_pem));
  BERTH_ASSIGN_OR_RETURN(X509Ptr ca, parseCert(ca_pem));
  StorePtr store(X509_STORE_new());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca.get()) != 1) return sslError("x509 store");
  if (X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1) return sslError("x509 store ctx");
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return makeError(ErrorCode::kUnauthorized,
                     std::string("certificate verification failed: ") + X509_verify_cert_error_string(err));
  }
  return okStatus();
}

namespace {

bool sameSans(const SubjectAltNames& a, const SubjectAltNames& b) {
  std::set<std::string> da(a.dns.begin(), a.dns.end()), db(b.dns.begin(), b.dns.end());
  std::set<std::string> ia, ib;
  for (const auto& ip : a.ips) ia.insert(canonicalIp(ip));
  for (const auto& ip : b.ips) ib.insert(canonicalIp(ip));
  return da == db && ia == ib;
}

// True when the certificate expires within `within_seconds` from now.
bool expiresSoon(const std::string& cert_pem, long within_seconds) {
  auto cert = parseCert(cert_pem);
  if (!cert.ok()) return true;
  time_t limit = time(nullptr) + within_seconds;
  return X509_cmp_time(X509_get0_notAfter(cert->get()), &limit) <= 0;
}

// The token kept in `path` (0600), made on first use.
Result<std::string> ensureToken(const std::string& path) {
  std::string token;
  if (fileExists(path)) {
    BERTH_ASSIGN_OR_RETURN(token, readFile(path));
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' '))
      token.pop_back();
  }
  if (token.empty()) {
    BERTH_ASSIGN_OR_RETURN(token, randomHexToken(32));
    BERTH_RETURN_IF_ERROR(writeFileAtomic(path, token + "\n", 0600));
  }
  return token;
}

}  // namespace

Result<ClusterCredentials> ensureClusterCredentials(const std::string& data_dir, const SubjectAltNames& sans) {
  ClusterCredentials c;
  std::string pki = data_dir + "/pki";
  BERTH_RETURN_IF_ERROR(makeDir(data_dir, 0700));
  BERTH_RETURN_IF_ERROR(makeDir(pki, 0700));
  c.ca_cert_path = pki + "/ca.crt";
  c.ca_key_path = pki + "/ca.key";
  c.server_cert_path = pki + "/server.crt";
  c.server_key_path = pki + "/server.key";
  c.admin_token_path = data_dir + "/admin-token";
  c.node_token_path = data_dir + "/node-token";

  if (fileExists(c.ca_cert_path) && fileExists(c.ca_key_path)) {
    BERTH_ASSIGN_OR_RETURN(c.ca.cert_pem, readFile(c.ca_cert_path));
    BERTH_ASSIGN_OR_RETURN(c.ca.key_pem, readFile(c.ca_key_path));
    // Refuse to run with a damaged CA rather than silently replacing it:
    // every kubeconfig and agent trusts the old one.
    BERTH_RETURN_IF_ERROR(parseCert(c.ca.cert_pem));
    BERTH_RETURN_IF_ERROR(parseKey(c.ca.key_pem));
  } else {
    BERTH_ASSIGN_OR_RETURN(c.ca, generateCa());
    BERTH_RETURN_IF_ERROR(writeFileAtomic(c.ca_key_path, c.ca.key_pem, 0600));
    BERTH_RETURN_IF_ERROR(writeFileAtomic(c.ca_cert_path, c.ca.cert_pem, 0644));
    c.generated_ca = true;
  }

  bool reuse = false;
  if (!c.generated_ca && fileExists(c.server_cert_path) && fileExists(c.server_key_path)) {
    auto cert = readFile(c.server_cert_path);
    auto key = readFile(c.server_key_path);
    if (cert.ok() && key.ok() && parseKey(*key).ok()) {
      auto existing = readSans(*cert);
      reuse = existing.ok() && sameSans(*existing, sans) && verifyCertificate(*cert, c.ca.cert_pem).ok() &&
              !expiresSoon(*cert, 30L * 24 * 3600);
      if (reuse) {
        c.server.cert_pem = std::move(cert).value();
        c.server.key_pem = std::move(key).value();
      }
    }
  }
  if (!reuse) {
    BERTH_ASSIGN_OR_RETURN(c.server, generateServingCert(c.ca, "kube-apiserver", sans));
    BERTH_RETURN_IF_ERROR(writeFileAtomic(c.server_key_path, c.server.key_pem, 0600));
    BERTH_RETURN_IF_ERROR(writeFileAtomic(c.server_cert_path, c.server.cert_pem, 0644));
    c.generated_server_cert = true;
  }

  BERTH_ASSIGN_OR_RETURN(c.admin_token, ensureToken(c.admin_token_path));
  BERTH_ASSIGN_OR_RETURN(c.node_token, ensureToken(c.node_token_path));
  return c;
}

}  // namespace berth::apiserver::auth
