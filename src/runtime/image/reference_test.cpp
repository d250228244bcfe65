#include "runtime/image/reference.h"

#include <gtest/gtest.h>

namespace berth::runtime {
namespace {

std::string normalized(std::string_view s) {
  auto r = parseReference(s);
  EXPECT_TRUE(r.ok()) << s << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? r->str() : "";
}

const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST(ReferenceTest, NormalizesDockerHubNames) {
  EXPECT_EQ(normalized("busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(normalized("busybox:1.36"), "docker.io/library/busybox:1.36");
  EXPECT_EQ(normalized("user/app"), "docker.io/user/app:latest");
  EXPECT_EQ(normalized("docker.io/busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(normalized("index.docker.io/library/busybox:x"), "docker.io/library/busybox:x");
}

TEST(ReferenceTest, KeepsOtherRegistries) {
  EXPECT_EQ(normalized("registry:5000/a/b:tag"), "registry:5000/a/b:tag");
  EXPECT_EQ(normalized("127.0.0.1:5000/x"), "127.0.0.1:5000/x:latest");
  EXPECT_EQ(normalized("localhost/app"), "localhost/app:latest");
  EXPECT_EQ(normalized("quay.io/coreos/etcd:v3.5"), "quay.io/coreos/etcd:v3.5");
  EXPECT_EQ(normalized("[::1]:5000/app:v1"), "[::1]:5000/app:v1");
  // "registry:5000/app": the colon before the slash is a port, not a tag.
  auto r = parseReference("registry:5000/app");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->domain, "registry:5000");
  EXPECT_EQ(r->path, "app");
  EXPECT_EQ(r->tag, "latest");
}

TEST(ReferenceTest, Digests) {
  auto r = parseReference("busybox@sha256:" + kHex);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tag, "");  // No implicit :latest next to a digest.
  EXPECT_EQ(r->digest, "sha256:" + kHex);
  EXPECT_EQ(r->str(), "docker.io/library/busybox@sha256:" + kHex);
  EXPECT_EQ(normalized("a/b:v1@sha256:" + kHex), "docker.io/a/b:v1@sha256:" + kHex);
  EXPECT_FALSE(parseReference("busybox@sha256:abc").ok());
  EXPECT_FALSE(parseReference("busybox@md5:" + kHex).ok());
}

TEST(ReferenceTest, Familiar) {
  EXPECT_EQ(parseReference("busybox")->familiar(), "busybox:latest");
  EXPECT_EQ(parseReference("user/app:1")->familiar(), "user/app:1");
  EXPECT_EQ(parseReference("registry:5000/a/b:tag")->familiar(), "registry:5000/a/b:tag");
}

TEST(ReferenceTest, RejectsInvalidNames) {
  for (std::string bad : {"", "Busybox", "user/App", "a//b", "a/", "/a", "-a", "a-", "a..b",
                          "a___b", "busybox:", "busybox:-x", "busybox:tag with space",
                          "bad_domain.com:x5/a", ":tag", "a@", "a:b:c"}) {
    auto r = parseReference(bad);
    EXPECT_FALSE(r.ok()) << "accepted \"" << bad << "\" as " << (r.ok() ? r->str() : "");
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, ErrorCode::kInvalid);
    }
  }
  auto upper = parseReference("user/App");
  ASSERT_FALSE(upper.ok());
  EXPECT_NE(upper.error().message.find("must be lowercase"), std::string::npos);
  auto hex = parseReference(kHex);
  ASSERT_FALSE(hex.ok());
  EXPECT_NE(hex.error().message.find("64-byte hexadecimal"), std::string::npos);
  EXPECT_FALSE(parseReference(std::string(300, 'a')).ok());
  EXPECT_FALSE(parseReference("busybox:" + std::string(129, 't')).ok());
  EXPECT_TRUE(parseReference("x/a__b-c.d/e--f").ok());
  // A first component with a dot is a domain, and "_" is not valid in one.
  EXPECT_FALSE(parseReference("a__b-c.d/e--f").ok());
}

}  // namespace
}  // namespace berth::runtime
