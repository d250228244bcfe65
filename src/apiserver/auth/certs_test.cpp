#include "apiserver/auth/certs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace berth::apiserver::auth {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-certs-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

unsigned modeOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Certs, ServingCertChainsToCaAndCarriesSans) {
  auto ca = generateCa();
  ASSERT_TRUE(ca.ok()) << ca.error().message;
  auto sans = defaultServingSans({"192.168.7.9", "0.0.0.0"});
  EXPECT_TRUE(contains(sans.dns, "kubernetes.default.svc.cluster.local"));
  EXPECT_TRUE(contains(sans.ips, "10.96.0.1"));
  EXPECT_TRUE(contains(sans.ips, "::1"));
  EXPECT_TRUE(contains(sans.ips, "192.168.7.9"));
  EXPECT_FALSE(contains(sans.ips, "0.0.0.0"));
  auto cert = generateServingCert(*ca, "kube-apiserver", sans);
  ASSERT_TRUE(cert.ok()) << cert.error().message;
  EXPECT_TRUE(verifyCertificate(cert->cert_pem, ca->cert_pem).ok());
  auto read = readSans(cert->cert_pem);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->dns, sans.dns);
  EXPECT_EQ(read->ips, sans.ips);

  auto other = generateCa("other");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(verifyCertificate(cert->cert_pem, other->cert_pem).ok());
  EXPECT_FALSE(readSans("not a certificate").ok());
}

TEST(Certs, RandomTokens) {
  auto a = randomHexToken(32);
  auto b = randomHexToken(32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 64u);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(a->find_first_not_of("0123456789abcdef"), std::string::npos);
  auto c = randomBase64UrlToken(32);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->size(), 43u);
  EXPECT_EQ(c->find_first_of("+/="), std::string::npos);
}

TEST(Certs, EnsureClusterCredentialsCreatesThenReuses) {
  TempDir dir;
  auto sans = defaultServingSans({"127.0.0.1"});
  auto started = std::chrono::steady_clock::now();
  auto first = ensureClusterCredentials(dir.path() + "/data", sans);
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_LT(took, std::chrono::milliseconds(200));
  EXPECT_TRUE(first->generated_ca);
  EXPECT_TRUE(first->generated_server_cert);
  EXPECT_EQ(first->admin_token.size(), 64u);
  EXPECT_EQ(modeOf(first->ca_key_path), 0600u);
  EXPECT_EQ(modeOf(first->server_key_path), 0600u);
  EXPECT_EQ(modeOf(first->admin_token_path), 0600u);
  EXPECT_EQ(first->node_token.size(), 64u);
  EXPECT_NE(first->node_token, first->admin_token);
  EXPECT_EQ(modeOf(first->node_token_path), 0600u);
  EXPECT_EQ(slurp(first->server_cert_path), first->server.cert_pem);
  EXPECT_TRUE(verifyCertificate(first->server.cert_pem, first->ca.cert_pem).ok());

  auto second = ensureClusterCredentials(dir.path() + "/data", sans);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->generated_ca);
  EXPECT_FALSE(second->generated_server_cert);
  EXPECT_EQ(second->ca.cert_pem, first->ca.cert_pem);
  EXPECT_EQ(second->server.cert_pem, first->server.cert_pem);
  EXPECT_EQ(second->admin_token, first->admin_token);
  EXPECT_EQ(second->node_token, first->node_token);

  // A new advertised address: same CA and token, new serving certificate.
  auto changed = defaultServingSans({"127.0.0.1", "10.1.2.3"});
  auto third = ensureClusterCredentials(dir.path() + "/data", changed);
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(third->generated_ca);
  EXPECT_TRUE(third->generated_server_cert);
  EXPECT_EQ(third->ca.cert_pem, first->ca.cert_pem);
  EXPECT_EQ(third->admin_token, first->admin_token);
  auto read = readSans(third->server.cert_pem);
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(contains(read->ips, "10.1.2.3"));
}

}  // namespace
}  // namespace berth::apiserver::auth
