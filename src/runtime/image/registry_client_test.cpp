#include "runtime/image/registry_client.h"

#include <gtest/gtest.h>

#include <functional>

#include "api/protobuf.h"
#include "runtime/image/manifest.h"

namespace berth::runtime {
namespace {

class StringBody : public HttpBody {
 public:
  explicit StringBody(std::string s) : s_(std::move(s)) {}
  Result<size_t> read(char* buf, size_t cap) override {
    size_t n = std::min(cap, s_.size() - pos_);
    std::copy_n(s_.data() + pos_, n, buf);
    pos_ += n;
    return n;
  }

 private:
  std::string s_;
  size_t pos_ = 0;
};

struct Reply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Answers requests from a handler and records them.
class FakeTransport : public HttpTransport {
 public:
  std::function<Reply(const HttpRequest&)> handler;
  std::vector<HttpRequest> requests;
  Result<HttpResponse> send(const HttpRequest& req) override {
    requests.push_back(req);
    Reply r = handler(req);
    HttpResponse resp;
    resp.status = r.status;
    resp.headers = r.headers;
    resp.body = std::make_unique<StringBody>(r.body);
    return resp;
  }
};

std::string authHeader(const HttpRequest& req) {
  for (const auto& h : req.headers)
    if (h.rfind("Authorization: ", 0) == 0) return h.substr(15);
  return "";
}

ImageReference ref(const std::string& s) { return parseReference(s).value(); }

TEST(WwwAuthenticateTest, DockerHubBearer) {
  auto c = parseWwwAuthenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull")");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].scheme, "bearer");
  EXPECT_EQ(c[0].params["realm"], "https://auth.docker.io/token");
  EXPECT_EQ(c[0].params["service"], "registry.docker.io");
  EXPECT_EQ(c[0].params["scope"], "repository:library/busybox:pull");
}

TEST(WwwAuthenticateTest, SeveralChallengesTokensAndEscapes) {
  auto c = parseWwwAuthenticate(
      R"(Basic realm="a \"quoted\" realm", charset=UTF-8 ,  BEARER Realm=https://x/t, error="insufficient_scope")");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].scheme, "basic");
  EXPECT_EQ(c[0].params["realm"], "a \"quoted\" realm");
  EXPECT_EQ(c[0].params["charset"], "UTF-8");
  EXPECT_EQ(c[1].scheme, "bearer");
  EXPECT_EQ(c[1].params["realm"], "https://x/t");
  EXPECT_EQ(c[1].params["error"], "insufficient_scope");
  EXPECT_TRUE(parseWwwAuthenticate("").empty());
  EXPECT_EQ(parseWwwAuthenticate("Basic").at(0).params.size(), 0u);
}

TEST(DockerKeyringTest, DockerConfigJsonAuthFieldAndUsernamePassword) {
  DockerKeyring k;
  std::string auth = api::base64Encode("alice:s3cr:et");
  ASSERT_TRUE(
      k.addDockerConfigJson(R"({"auths":{"registry.example.com:5000":{"auth":")" + auth +
                            R"("},"other.example.com":{"username":"bob","password":"pw"}}})")
          .ok());
  auto a = k.lookup(ref("registry.example.com:5000/team/app:1"));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].username, "alice");
  EXPECT_EQ(a[0].password, "s3cr:et");  // split at the first colon only
  auto b = k.lookup(ref("other.example.com/x"));
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].username, "bob");
  EXPECT_EQ(b[0].password, "pw");
  // host:port is exact both ways.
  EXPECT_TRUE(k.lookup(ref("registry.example.com/team/app")).empty());
  EXPECT_TRUE(k.lookup(ref("registry.example.com:5001/team/app")).empty());
  EXPECT_TRUE(k.lookup(ref("other.example.com:443/x")).empty());
}

TEST(DockerKeyringTest, MalformedConfigsAreInvalid) {
  DockerKeyring k;
  auto no_colon = k.addDockerConfigJson(R"({"auths":{"r.io":{"auth":")" +
                                        api::base64Encode("nocolon") + R"("}}})");
  ASSERT_FALSE(no_colon.ok());
  EXPECT_EQ(no_colon.error().code, ErrorCode::kInvalid);
  EXPECT_NE(no_colon.error().message.find("base64(username:password)"), std::string::npos);
  EXPECT_FALSE(k.addDockerConfigJson(R"({"auths":{"r.io":{"auth":"!!!"}}})").ok());
  EXPECT_FALSE(k.addDockerConfigJson("[1]").ok());
  EXPECT_FALSE(k.addDockerConfigJson(R"({"auths":[]})").ok());
  EXPECT_TRUE(k.empty());
  EXPECT_TRUE(k.addDockerConfigJson("{}").ok());  // no auths: nothing, not an error
}

TEST(DockerKeyringTest, LegacyDockercfgAndHubAliases) {
  DockerKeyring k;
  // The legacy file is keyed by the v1 index URL.
  ASSERT_TRUE(k.addDockerCfg(R"({"https://index.docker.io/v1/":{"auth":")" +
                             api::base64Encode("hub:pw") + R"(","email":"a@b.c"}})")
                  .ok());
  auto a = k.lookup(ref("busybox"));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].username, "hub");
  EXPECT_EQ(k.lookup(ref("index.docker.io/user/app")).size(), 1u);
  EXPECT_TRUE(k.lookup(ref("quay.io/user/app")).empty());

  DockerKeyring r1;
  r1.add("registry-1.docker.io", {"u", "p"});
  EXPECT_EQ(r1.lookup(ref("docker.io/library/alpine")).size(), 1u);
  DockerKeyring plain;
  plain.add("docker.io", {"u", "p"});
  EXPECT_EQ(plain.lookup(ref("alpine")).size(), 1u);
}

TEST(DockerKeyringTest, GlobsPathsAndOrder) {
  DockerKeyring k;
  k.add("*.example.com", {"wild", "1"});
  k.add("https://a.example.com/team", {"team", "2"});
  k.add("a.example.com/v2/", {"host", "3"});  // "/v2/" means the host alone
  auto team = k.lookup(ref("a.example.com/team/app"));
  ASSERT_EQ(team.size(), 3u);
  // Longest key first, then the host, then the wildcard.
  EXPECT_EQ(team[0].username, "team");
  EXPECT_EQ(team[1].username, "host");
  EXPECT_EQ(team[2].username, "wild");
  auto other = k.lookup(ref("b.example.com/x"));
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].username, "wild");
  // A glob matches one label only.
  EXPECT_TRUE(k.lookup(ref("c.b.example.com/x")).empty());

  EXPECT_TRUE(registryKeyMatches("*.io", "quay.io/a"));
  EXPECT_FALSE(registryKeyMatches("*.io", "a.b.io/a"));
  EXPECT_TRUE(registryKeyMatches("r.io:5000/ns", "r.io:5000/ns/app"));
  EXPECT_FALSE(registryKeyMatches("r.io:5000/ns", "r.io:5000/other/app"));
  EXPECT_TRUE(registryKeyMatches("[::1]:5000", "[::1]:5000/app"));
}

TEST(DockerKeyringTest, SecretsOfTheDockerTypesOnly) {
  std::string cfg = R"({"auths":{"127.0.0.1:5000":{"username":"u","password":"p"}}})";
  boost::json::object secret{
      {"type", "kubernetes.io/dockerconfigjson"},
      {"data", boost::json::object{{".dockerconfigjson", api::base64Encode(cfg)}}}};
  DockerKeyring k;
  ASSERT_TRUE(k.addSecret(secret).ok());
  ASSERT_EQ(k.lookup(ref("127.0.0.1:5000/a")).size(), 1u);

  DockerKeyring opaque;
  secret["type"] = "Opaque";
  ASSERT_TRUE(opaque.addSecret(secret).ok());
  EXPECT_TRUE(opaque.empty());

  DockerKeyring legacy;
  boost::json::object old{
      {"type", "kubernetes.io/dockercfg"},
      {"data",
       boost::json::object{
           {".dockercfg", api::base64Encode(R"({"r.io":{"username":"x","password":"y"}})")}}}};
  ASSERT_TRUE(legacy.addSecret(old).ok());
  EXPECT_EQ(legacy.lookup(ref("r.io/a")).at(0).username, "x");
}

TEST(RegistryClientTest, UrlBuilding) {
  RegistryClient c({.insecure_registries = {"plain.example.com:5000"}},
                   std::make_shared<FakeTransport>());
  EXPECT_EQ(c.baseUrl("docker.io"), "https://registry-1.docker.io");
  EXPECT_EQ(c.baseUrl("quay.io"), "https://quay.io");
  EXPECT_EQ(c.baseUrl("127.0.0.1:5000"), "http://127.0.0.1:5000");
  EXPECT_EQ(c.baseUrl("127.1.2.3"), "http://127.1.2.3");
  EXPECT_EQ(c.baseUrl("localhost:5000"), "http://localhost:5000");
  EXPECT_EQ(c.baseUrl("127.0.0.1.example.com"), "https://127.0.0.1.example.com");
  EXPECT_EQ(c.baseUrl("plain.example.com:5000"), "http://plain.example.com:5000");
  EXPECT_EQ(c.baseUrl("plain.example.com"), "https://plain.example.com");
  EXPECT_EQ(c.manifestUrl(ref("busybox"), "latest"),
            "https://registry-1.docker.io/v2/library/busybox/manifests/latest");
  Digest d = Digest::of("x");
  EXPECT_EQ(c.blobUrl(ref("127.0.0.1:5000/a/b"), d),
            "http://127.0.0.1:5000/v2/a/b/blobs/" + d.str());
}

constexpr const char* kManifest =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2},"layers":[]})";

// A registry behind a token server, as Docker Hub is.
struct TokenRegistry {
  std::shared_ptr<FakeTransport> transport = std::make_shared<FakeTransport>();
  int token_n = 0;
  std::string last_token_auth, last_token_url;
  TokenRegistry() {
    transport->handler = [this](const HttpRequest& req) -> Reply {
      if (req.url.rfind("https://auth.example.com/token", 0) == 0) {
        last_token_auth = authHeader(req);
        last_token_url = req.url;
        return {200, {}, R"({"token":"tok)" + std::to_string(++token_n) + R"(","expires_in":300})"};
      }
      if (authHeader(req).rfind("Bearer tok", 0) != 0) {
        return {
            401,
            {{"www-authenticate",
              R"(Bearer realm="https://auth.example.com/token",service="reg.example.com",scope="repository:team/app:pull")"}},
            R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})"};
      }
      if (req.url.find("/manifests/missing") != std::string::npos)
        return {
            404, {}, R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})"};
      return {200, {{"content-type", "application/vnd.oci.image.manifest.v1+json"}}, kManifest};
    };
  }
};

TEST(RegistryClientTest, BearerTokenFetchedOnceAndCachedPerScopeAndCredential) {
  TokenRegistry reg;
  FakeClock clock;
  RegistryClient c({.clock = &clock}, reg.transport);
  RegistryAuth alice{"alice", "pw"};
  auto m = c.getManifest(ref("reg.example.com/team/app"), "v1", &alice);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->bytes, kManifest);
  EXPECT_EQ(m->digest, Digest::of(kManifest));
  EXPECT_EQ(m->media_type, media::kOciManifest);
  EXPECT_EQ(reg.last_token_auth, "Basic " + api::base64Encode("alice:pw"));
  EXPECT_EQ(reg.last_token_url,
            "https://auth.example.com/token?service=reg.example.com&scope=repository%3Ateam%2Fapp%"
            "3Apull");
  EXPECT_EQ(reg.transport->requests.size(), 3u);  // 401, token, retry
  EXPECT_EQ(authHeader(reg.transport->requests[2]), "Bearer tok1");

  // The cached token goes out with the next request; no second 401.
  ASSERT_TRUE(c.getManifest(ref("reg.example.com/team/app"), "v2", &alice).ok());
  EXPECT_EQ(reg.transport->requests.size(), 4u);
  EXPECT_EQ(c.tokenFetches(), 1);

  // Anonymous pulls never borrow alice's token.
  ASSERT_TRUE(c.getManifest(ref("reg.example.com/team/app"), "v1", nullptr).ok());
  EXPECT_EQ(c.tokenFetches(), 2);
  EXPECT_EQ(reg.last_token_auth, "");

  // Expired tokens are fetched again.
  clock.advance(std::chrono::seconds(301));
  ASSERT_TRUE(c.getManifest(ref("reg.example.com/team/app"), "v1", &alice).ok());
  EXPECT_EQ(c.tokenFetches(), 3);
}

TEST(RegistryClientTest, ManifestNotFoundAndDigestMismatch) {
  TokenRegistry reg;
  RegistryClient c({}, reg.transport);
  auto missing = c.getManifest(ref("reg.example.com/team/app"), "missing", nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message, "reg.example.com/team/app:missing: not found");

  Digest other = Digest::of("something else");
  auto bad = c.getManifest(ref("reg.example.com/team/app"), other.str(), nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalid);
  EXPECT_NE(bad.error().message.find("manifest digest mismatch"), std::string::npos);
  auto good = c.getManifest(ref("reg.example.com/team/app"), Digest::of(kManifest).str(), nullptr);
  EXPECT_TRUE(good.ok());
}

TEST(RegistryClientTest, BasicAuthAnsweredWithCredentialsAndRefusedWithout) {
  auto t = std::make_shared<FakeTransport>();
  std::string want = "Basic " + api::base64Encode("u:p");
  t->handler = [&](const HttpRequest& req) -> Reply {
    if (authHeader(req) != want) {
      return {401,
              {{"www-authenticate", R"(Basic realm="basic-realm")"}},
              R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})"};
    }
    return {200, {{"docker-content-digest", Digest::of(kManifest).str()}}, kManifest};
  };
  RegistryClient c({}, t);
  auto anon = c.getManifest(ref("127.0.0.1:5000/a"), "1", nullptr);
  ASSERT_FALSE(anon.ok());
  EXPECT_EQ(anon.error().code, ErrorCode::kUnauthorized);
  EXPECT_EQ(anon.error().message, "unauthorized: authentication required");

  RegistryAuth wrong{"u", "nope"};
  auto bad = c.getManifest(ref("127.0.0.1:5000/a"), "1", &wrong);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kUnauthorized);

  RegistryAuth right{"u", "p"};
  auto ok = c.getManifest(ref("127.0.0.1:5000/a"), "1", &right);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  // Sniffed from the document when the server sends no manifest type.
  EXPECT_EQ(ok->media_type, media::kOciManifest);
  size_t before = t->requests.size();
  ASSERT_TRUE(c.getManifest(ref("127.0.0.1:5000/a"), "2", &right).ok());
  EXPECT_EQ(t->requests.size(), before + 1);  // Basic sent up front once known
  EXPECT_EQ(t->requests.back().url, "http://127.0.0.1:5000/v2/a/manifests/2");
}

TEST(RegistryClientTest, HeadManifestAndBlobErrors) {
  auto t = std::make_shared<FakeTransport>();
  Digest d = Digest::of(kManifest);
  t->handler = [&](const HttpRequest& req) -> Reply {
    if (req.url.find("/blobs/") != std::string::npos) {
      EXPECT_TRUE(req.follow_redirects);
      if (req.url.find(d.str()) != std::string::npos) return {200, {}, "blob"};
      return {404, {}, R"({"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]})"};
    }
    if (req.url.find("/manifests/down") != std::string::npos) return {503, {}, "busy"};
    EXPECT_EQ(req.method, "HEAD");
    return {200,
            {{"docker-content-digest", d.str()},
             {"content-type", std::string(media::kOciIndex)},
             {"content-length", "123"}},
            ""};
  };
  RegistryClient c({}, t);
  auto h = c.headManifest(ref("127.0.0.1:5000/a"), "1", nullptr);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(h->digest, d);
  EXPECT_EQ(h->size, 123);
  EXPECT_EQ(h->media_type, media::kOciIndex);
  auto blob = c.openBlob(ref("127.0.0.1:5000/a"), d, nullptr);
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(blob->readAll(100).value(), "blob");
  auto missing = c.openBlob(ref("127.0.0.1:5000/a"), Digest::of("zz"), nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  auto down = c.headManifest(ref("127.0.0.1:5000/a"), "down", nullptr);
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(down.error().message, "unexpected status 503");
}

TEST(RegistryClientTest, ErrorText) {
  EXPECT_EQ(registryErrorText(
                404, R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})"),
            "manifest_unknown: manifest unknown");
  EXPECT_EQ(registryErrorText(401, R"({"errors":[{"code":"DENIED"},{"message":"m"}]})"),
            "denied; m");
  EXPECT_EQ(registryErrorText(500, "<html>"), "unexpected status 500");
}

}  // namespace
}  // namespace berth::runtime
