#include "apiserver/auth/authenticator.h"

#include <gtest/gtest.h>

namespace berth::apiserver::auth {
namespace {

Credentials bearer(std::string_view header) {
  Credentials c;
  c.authorization = header;
  return c;
}

TEST(TokenAuthenticator, AcceptsKnownTokensRejectsOthers) {
  TokenAuthenticator tokens;
  tokens.addToken("abc", UserInfo{"alice", {"devs"}});
  tokens.addToken("xyz", UserInfo{"bob", {}});
  auto ok = tokens.authenticate(bearer("Bearer abc"));
  EXPECT_EQ(ok.outcome, AuthOutcome::kAuthenticated);
  EXPECT_EQ(ok.user.name, "alice");
  EXPECT_EQ(ok.user.groups, (std::vector<std::string>{"devs", "system:authenticated"}));
  EXPECT_EQ(tokens.authenticate(bearer("bearer  xyz ")).user.name, "bob");
  EXPECT_EQ(tokens.authenticate(bearer("Bearer abd")).outcome, AuthOutcome::kRejected);
  EXPECT_EQ(tokens.authenticate(bearer("Bearer ab")).outcome, AuthOutcome::kRejected);
  EXPECT_EQ(tokens.authenticate(bearer("")).outcome, AuthOutcome::kNoCredentials);
  EXPECT_EQ(tokens.authenticate(bearer("Basic YWxpY2U6eA==")).outcome, AuthOutcome::kNoCredentials);
  EXPECT_EQ(tokens.authenticate(bearer("Bearer ")).outcome, AuthOutcome::kNoCredentials);
  EXPECT_EQ(tokens.authenticate(bearer("Bearerabc")).outcome, AuthOutcome::kNoCredentials);
}

TEST(TokenAuthenticator, LoadsUpstreamCsv) {
  TokenAuthenticator tokens;
  ASSERT_TRUE(tokens.loadCsv("# comment\n\nt1,admin,uid1,\"system:masters,ops\"\nt2,kubelet,uid2\n").ok());
  EXPECT_EQ(tokens.size(), 2u);
  auto r = tokens.authenticate(bearer("Bearer t1"));
  EXPECT_EQ(r.user.name, "admin");
  EXPECT_EQ(r.user.groups, (std::vector<std::string>{"system:masters", "ops", "system:authenticated"}));
  EXPECT_EQ(tokens.authenticate(bearer("Bearer t2")).user.name, "kubelet");
  EXPECT_FALSE(tokens.loadCsv("onlytoken\n").ok());
}

TEST(ClientCertAuthenticator, MapsCommonNameAndOrganizations) {
  ClientCertAuthenticator certs;
  PeerCertificate peer{true, true, "admin", {"system:masters"}};
  Credentials c;
  c.peer = &peer;
  auto r = certs.authenticate(c);
  EXPECT_EQ(r.outcome, AuthOutcome::kAuthenticated);
  EXPECT_EQ(r.user.name, "admin");
  EXPECT_EQ(r.user.groups, (std::vector<std::string>{"system:masters", "system:authenticated"}));
  peer.verified = false;
  EXPECT_EQ(certs.authenticate(c).outcome, AuthOutcome::kRejected);
  peer.presented = false;
  EXPECT_EQ(certs.authenticate(c).outcome, AuthOutcome::kNoCredentials);
  EXPECT_EQ(certs.authenticate(Credentials{}).outcome, AuthOutcome::kNoCredentials);
}

TEST(UnionAuthenticator, FirstSuccessWinsRejectionBeatsNothing) {
  auto tokens = std::make_shared<TokenAuthenticator>();
  tokens->addToken("abc", UserInfo{"alice", {}});
  auto certs = std::make_shared<ClientCertAuthenticator>();
  UnionAuthenticator both({certs, tokens});
  PeerCertificate bad{true, false, "mallory", {}};
  Credentials c;
  c.authorization = "Bearer abc";
  c.peer = &bad;
  // An invalid certificate does not hide a valid token (upstream union).
  EXPECT_EQ(both.authenticate(c).user.name, "alice");
  c.authorization = "";
  EXPECT_EQ(both.authenticate(c).outcome, AuthOutcome::kRejected);
  EXPECT_EQ(both.authenticate(Credentials{}).outcome, AuthOutcome::kNoCredentials);
}

}  // namespace
}  // namespace berth::apiserver::auth
