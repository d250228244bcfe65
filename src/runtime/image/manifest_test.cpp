#include "runtime/image/manifest.h"

#include <gtest/gtest.h>

namespace berth::runtime {
namespace {

const std::string kDigestA = "sha256:" + std::string(64, 'a');
const std::string kDigestB = "sha256:" + std::string(64, 'b');

TEST(ManifestTest, ParsesDockerSchema2Manifest) {
  std::string doc =
      R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
    "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7,"digest":")" +
      kDigestA + R"("},
    "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":42,"digest":")" +
      kDigestB + R"("}]})";
  auto m = parseManifest(doc);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->media_type, media::kDockerManifest);
  EXPECT_EQ(m->config.digest.str(), kDigestA);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].size, 42);
  EXPECT_EQ(sniffMediaType(doc, ""), media::kDockerManifest);
}

TEST(ManifestTest, RejectsBadManifests) {
  EXPECT_FALSE(parseManifest("not json").ok());
  EXPECT_FALSE(
      parseManifest(R"({"schemaVersion":1,"config":{"digest":")" + kDigestA + R"("}})").ok());
  EXPECT_FALSE(parseManifest(R"({"schemaVersion":2,"config":{"digest":"sha256:short"}})").ok());
  auto foreign = parseManifest(R"({"schemaVersion":2,"config":{"digest":")" + kDigestA +
                               R"("},"layers":[{"mediaType":"application/x-unknown","digest":")" +
                               kDigestB + R"("}]})");
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.error().message.find("unsupported layer media type"), std::string::npos);
}

TEST(ManifestTest, SelectsLinuxAmd64FromAnIndex) {
  std::string doc = R"({"schemaVersion":2,"manifests":[
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                    kDigestA +
                    R"(","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                    kDigestB + R"(","size":1,"platform":{"os":"linux","architecture":"amd64"}}]})";
  EXPECT_EQ(sniffMediaType(doc, ""), media::kOciIndex);
  auto idx = parseIndex(doc);
  ASSERT_TRUE(idx.ok()) << idx.error().message;
  auto d = selectPlatform(*idx);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->digest.str(), kDigestB);
  idx->manifests.pop_back();
  auto none = selectPlatform(*idx);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::kNotFound);
}

TEST(ManifestTest, ImageConfigFallsBackToContainerConfig) {
  auto c = parseImageConfig(R"({"os":"linux","container_config":{"Cmd":["sh"],"Env":["A=1"]},
    "rootfs":{"type":"layers","diff_ids":[")" +
                            kDigestA + R"("]}})");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->cmd, (std::vector<std::string>{"sh"}));
  EXPECT_EQ(c->env, (std::vector<std::string>{"A=1"}));
  EXPECT_EQ(c->diff_ids.size(), 1u);
  EXPECT_FALSE(parseImageConfig(R"({"rootfs":{"type":"other"}})").ok());
}

TEST(ManifestTest, ChainIdsFollowTheOciSpec) {
  Digest a = *Digest::parse(kDigestA), b = *Digest::parse(kDigestB);
  auto chains = chainIds({a, b, a});
  ASSERT_EQ(chains.size(), 3u);
  EXPECT_EQ(chains[0], a);
  EXPECT_EQ(chains[1], Digest::of(kDigestA + " " + kDigestB));
  EXPECT_EQ(chains[2], Digest::of(chains[1].str() + " " + kDigestA));
  // sha256("") as a known vector for the hasher.
  EXPECT_EQ(Digest::of("").hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(ManifestTest, BuildsAConfigThatParsesBack) {
  ImageConfigOverrides o;
  o.entrypoint = {"/bin/app"};
  o.cmd = {"serve"};
  o.env = {"A=1"};
  o.working_dir = "/srv";
  o.user = "65534";
  o.labels = {{"k", "v"}};
  Digest a = *Digest::parse(kDigestA);
  auto c = parseImageConfig(buildImageConfig(o, {a}, "2025-01-01T00:00:00Z"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->entrypoint, o.entrypoint);
  EXPECT_EQ(c->cmd, o.cmd);
  EXPECT_EQ(c->env, o.env);
  EXPECT_EQ(c->working_dir, "/srv");
  EXPECT_EQ(c->user, "65534");
  EXPECT_EQ(c->labels, o.labels);
  EXPECT_EQ(c->created, "2025-01-01T00:00:00Z");
  EXPECT_EQ(c->architecture, "amd64");
  EXPECT_EQ(c->diff_ids, (std::vector<Digest>{a}));
}

}  // namespace
}  // namespace berth::runtime
