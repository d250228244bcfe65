#include "runtime/image/image_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "runtime/image/image_test_util.h"

namespace berth::runtime {
namespace {

using namespace testing;  // NOLINT: test helpers
namespace fs = std::filesystem;
namespace json = boost::json;

std::string slurp(const std::string& path) {
  auto r = fsutil::readFile(path);
  return r.ok() ? *r : "<missing " + path + ">";
}

size_t countEntries(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); ++it) ++n;
  return n;
}

std::unique_ptr<ImageStore> openStore(const std::string& root) {
  auto s = ImageStore::open(root);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  return s.ok() ? std::move(s).value() : nullptr;
}

// A base layer with files, a symlink, a hard link, owners, modes and an xattr.
Layer baseLayer(Compression c = Compression::kNone) {
  TarEntry sh = file("bin/sh", "#!shell", 0755);
  sh.uid = 1000;
  sh.gid = 2000;
  sh.mtime = 1600000000;
  sh.xattrs["user.berth"] = "yes";
  return makeLayer(
      {dir("bin"), sh, symlink("bin/ls", "sh"), hardlink("bin/sh2", "bin/sh"), dir("etc", 0750),
       file("etc/passwd", "root:x:0:0"), dir("opt"), dir("opt/data"), file("opt/data/old", "old")},
      c);
}

// An upper layer that deletes etc/passwd and makes opt/data opaque.
Layer upperLayer(Compression c = Compression::kNone) {
  return makeLayer({dir("etc", 0750), file("etc/.wh.passwd", ""), dir("opt"), dir("opt/data"),
                    file("opt/data/.wh..wh..opq", ""), file("opt/data/new", "new", 0600)},
                   c);
}

const char* kConfigExtra =
    R"({"Env":["PATH=/bin","A=1"],"Entrypoint":["/bin/sh"],"Cmd":["-c","echo hi"],
  "WorkingDir":"/opt","User":"1000:2000","ExposedPorts":{"8080/tcp":{},"53/udp":{}},
  "Labels":{"app":"demo"},"StopSignal":"SIGQUIT"})";

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = openStore(root_.path()); }
  std::string importBytes(const std::string& archive_bytes, const std::string& name = "in.tar") {
    std::string path = work_ / name;
    writeFile(path, archive_bytes);
    return path;
  }

  TempDir root_, work_;
  std::unique_ptr<ImageStore> store_;
};

TEST_F(ImageStoreTest, DockerArchiveImportAndPrepare) {
  Layer base = baseLayer(), upper = upperLayer();
  std::string config = makeConfig({base, upper}, kConfigExtra);
  auto imported = store_->importArchive(
      importBytes(makeDockerArchive({{{"app:v1"}, {base, upper}, config}}, Compression::kGzip)));
  ASSERT_TRUE(imported.ok()) << imported.error().message;
  ASSERT_EQ(imported->size(), 1u);
  EXPECT_EQ((*imported)[0].name, "docker.io/library/app:v1");
  EXPECT_EQ((*imported)[0].config, Digest::of(config));
  EXPECT_EQ((*imported)[0].layer_media_types[0], media::kDockerLayer);
  ASSERT_EQ(store_->list().size(), 1u);
  EXPECT_EQ(store_->list()[0].created, "2024-01-02T03:04:05Z");

  auto rootfs = store_->prepare("app:v1");
  ASSERT_TRUE(rootfs.ok()) << rootfs.error().message;
  ASSERT_EQ(rootfs->lowerdirs.size(), 2u);
  auto chains = chainIds({base.diff_id, upper.diff_id});
  // Topmost first, named by chain ID.
  EXPECT_EQ(rootfs->lowerdirs[0], root_ / "layers/" + chains[1].hex() + "/fs");
  EXPECT_EQ(rootfs->lowerdirs[1], root_ / "layers/" + chains[0].hex() + "/fs");
  EXPECT_EQ(chains[1], Digest::of(base.diff_id.str() + " " + upper.diff_id.str()));

  const std::string lower = rootfs->lowerdirs[1], top = rootfs->lowerdirs[0];
  EXPECT_EQ(slurp(lower + "/bin/sh"), "#!shell");
  struct stat st {};
  ASSERT_EQ(::lstat((lower + "/bin/sh").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 2000u);
  EXPECT_EQ(st.st_mtime, 1600000000);
  ino_t sh_ino = st.st_ino;
  ASSERT_EQ(::lstat((lower + "/bin/sh2").c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, sh_ino);  // A hard link, not a copy.
  char link[64] = {};
  ASSERT_GT(::readlink((lower + "/bin/ls").c_str(), link, sizeof link - 1), 0);
  EXPECT_STREQ(link, "sh");
  char xattr[16] = {};
  EXPECT_EQ(::lgetxattr((lower + "/bin/sh").c_str(), "user.berth", xattr, sizeof xattr), 3);
  EXPECT_STREQ(xattr, "yes");
  ASSERT_EQ(::lstat((lower + "/etc").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(slurp(lower + "/etc/passwd"), "root:x:0:0");

  // Whiteout -> 0/0 character device; opaque marker -> xattr on the dir.
  ASSERT_EQ(::lstat((top + "/etc/passwd").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  EXPECT_FALSE(fsutil::exists(top + "/etc/.wh.passwd"));
  char opaque[4] = {};
  EXPECT_EQ(
      ::lgetxattr((top + "/opt/data").c_str(), "trusted.overlay.opaque", opaque, sizeof opaque), 1);
  EXPECT_EQ(opaque[0], 'y');
  EXPECT_FALSE(fsutil::exists(top + "/opt/data/.wh..wh..opq"));
  EXPECT_EQ(slurp(top + "/opt/data/new"), "new");
  EXPECT_TRUE(fsutil::exists(root_ / "layers/" + chains[1].hex() + "/committed"));

  const ImageConfig& c = rootfs->config;
  EXPECT_EQ(c.env, (std::vector<std::string>{"PATH=/bin", "A=1"}));
  EXPECT_EQ(c.entrypoint, (std::vector<std::string>{"/bin/sh"}));
  EXPECT_EQ(c.cmd, (std::vector<std::string>{"-c", "echo hi"}));
  EXPECT_EQ(c.working_dir, "/opt");
  EXPECT_EQ(c.user, "1000:2000");
  EXPECT_EQ(c.exposed_ports, (std::vector<std::string>{"53/udp", "8080/tcp"}));
  EXPECT_EQ(c.labels.at("app"), "demo");
  EXPECT_EQ(c.stop_signal, "SIGQUIT");

  // A second prepare reuses the unpacked layers.
  EXPECT_EQ(store_->layersUnpacked(), 2u);
  ASSERT_TRUE(store_->prepare("docker.io/library/app:v1").ok());
  EXPECT_EQ(store_->layersUnpacked(), 2u);
  EXPECT_EQ(countEntries(root_ / "tmp"), 0u);
}

TEST_F(ImageStoreTest, OciArchiveWithGzipZstdAndIndex) {
  Layer gz = makeLayer({dir("srv"), file("srv/a", "gzip layer")}, Compression::kGzip);
  Layer zs = makeLayer({dir("srv"), file("srv/b", "zstd layer")}, Compression::kZstd);
  Layer plain = makeLayer({file("c", "plain")});
  std::string config1 = makeConfig({gz, plain}, R"({"Cmd":["one"]})");
  std::string manifest1 = makeOciManifest(config1, {gz, plain});
  std::string config2 = makeConfig({zs}, R"({"Cmd":["two"]})");
  std::string manifest2 = makeOciManifest(config2, {zs});
  // A multi-platform index whose arm64 manifest is not in the archive: only linux/amd64 is needed.
  json::object amd64 = descriptor(media::kOciManifest, manifest2);
  amd64["platform"] = json::object{{"os", "linux"}, {"architecture", "amd64"}};
  json::object arm64 = descriptor(media::kOciManifest, "not here");
  arm64["platform"] = json::object{{"os", "linux"}, {"architecture", "arm64"}};
  std::string index = json::serialize(json::object{{"schemaVersion", 2},
                                                   {"mediaType", media::kOciIndex},
                                                   {"manifests", json::array{arm64, amd64}}});

  json::object d1 = descriptor(media::kOciManifest, manifest1);
  d1["annotations"] =
      json::object{{"org.opencontainers.image.ref.name", "registry:5000/team/one:1.0"}};
  json::object d2 = descriptor(media::kOciIndex, index);
  d2["annotations"] = json::object{{"org.opencontainers.image.ref.name", "2.0"}};
  std::string archive =
      makeOciArchive(json::array{d1, d2},
                     {gz.blob, zs.blob, plain.blob, config1, manifest1, config2, manifest2, index},
                     Compression::kGzip);
  auto imported = store_->importArchive(importBytes(archive), "example.com/two");
  ASSERT_TRUE(imported.ok()) << imported.error().message;
  ASSERT_EQ(imported->size(), 2u);
  EXPECT_EQ((*imported)[0].name, "registry:5000/team/one:1.0");
  EXPECT_EQ((*imported)[1].name, "example.com/two:2.0");
  EXPECT_EQ((*imported)[1].target, Digest::of(index));
  EXPECT_EQ((*imported)[1].manifest, Digest::of(manifest2));
  EXPECT_EQ((*imported)[1].repo_digests[0], "example.com/two@" + Digest::of(index).str());

  auto one = store_->prepare("registry:5000/team/one:1.0");
  ASSERT_TRUE(one.ok()) << one.error().message;
  ASSERT_EQ(one->lowerdirs.size(), 2u);
  EXPECT_EQ(slurp(one->lowerdirs[1] + "/srv/a"), "gzip layer");
  EXPECT_EQ(slurp(one->lowerdirs[0] + "/c"), "plain");
  EXPECT_EQ(one->config.cmd, (std::vector<std::string>{"one"}));
  auto two = store_->prepare("example.com/two:2.0");
  ASSERT_TRUE(two.ok()) << two.error().message;
  EXPECT_EQ(slurp(two->lowerdirs[0] + "/srv/b"), "zstd layer");
}

TEST_F(ImageStoreTest, ReopenFindsImage) {
  Layer base = baseLayer(Compression::kGzip);
  std::string config = makeConfig({base});
  ASSERT_TRUE(
      store_->importArchive(importBytes(makeDockerArchive({{{"user/app:1"}, {base}, config}})))
          .ok());
  store_.reset();
  store_ = openStore(root_.path());
  auto rec = store_->find("user/app:1");
  ASSERT_TRUE(rec.ok()) << rec.error().message;
  EXPECT_EQ(rec->name, "docker.io/user/app:1");
  EXPECT_EQ(rec->layer_media_types[0], media::kDockerLayerGzip);
  std::string id = Digest::of(config).hex();
  EXPECT_EQ(store_->find(id.substr(0, 12))->name, rec->name);
  EXPECT_EQ(store_->find("sha256:" + id)->name, rec->name);
  EXPECT_EQ(store_->find("docker.io/user/app@" + rec->target.str())->name, rec->name);
  auto missing = store_->find("user/app:2");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(store_->find("busybox").ok());
}

TEST_F(ImageStoreTest, RemoveKeepsLayersAnotherImageUses) {
  Layer base = baseLayer(), a_top = makeLayer({file("a", "A")}),
        b_top = makeLayer({file("b", "B")});
  std::string config_a = makeConfig({base, a_top}), config_b = makeConfig({base, b_top});
  ASSERT_TRUE(store_
                  ->importArchive(importBytes(makeDockerArchive(
                      {{{"a:1"}, {base, a_top}, config_a}, {{"b:1"}, {base, b_top}, config_b}})))
                  .ok());
  auto a = store_->prepare("a:1");
  auto b = store_->prepare("b:1");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(store_->layersUnpacked(), 3u);
  DiskUsage du = store_->diskUsage();
  EXPECT_EQ(du.images, 2u);
  EXPECT_EQ(du.layers, 3u);
  EXPECT_EQ(du.blobs, 7u);  // 3 layers, 2 configs, 2 manifests
  EXPECT_GT(du.layer_bytes, 0u);

  ASSERT_TRUE(store_->remove("a:1").ok());
  EXPECT_FALSE(store_->find("a:1").ok());
  EXPECT_FALSE(store_->hasBlob(Digest::of(a_top.blob)));
  EXPECT_FALSE(store_->hasBlob(Digest::of(config_a)));
  EXPECT_FALSE(fsutil::exists(a->lowerdirs[0]));
  EXPECT_TRUE(store_->hasBlob(Digest::of(base.blob)));
  EXPECT_TRUE(fsutil::exists(b->lowerdirs[1]));
  EXPECT_EQ(b->lowerdirs[1], a->lowerdirs[1]);
  ASSERT_TRUE(store_->prepare("b:1").ok());
  EXPECT_EQ(store_->layersUnpacked(), 3u);

  // By ID, as `docker rmi <id>` does.
  ASSERT_TRUE(store_->remove(Digest::of(config_b).hex().substr(0, 10)).ok());
  EXPECT_EQ(store_->list().size(), 0u);
  EXPECT_EQ(countEntries(root_ / "blobs/sha256"), 0u);
  EXPECT_EQ(countEntries(root_ / "layers"), 0u);
  EXPECT_EQ(store_->remove("b:1").error().code, ErrorCode::kNotFound);
}

TEST_F(ImageStoreTest, RemoveByIdWithTwoNamesIsAConflict) {
  Layer base = baseLayer();
  std::string config = makeConfig({base});
  ASSERT_TRUE(
      store_->importArchive(importBytes(makeDockerArchive({{{"x:1", "y:1"}, {base}, config}})))
          .ok());
  EXPECT_EQ(store_->list().size(), 2u);
  auto st = store_->remove(Digest::of(config).hex());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kConflict);
  ASSERT_TRUE(store_->remove("x:1").ok());
  EXPECT_TRUE(store_->hasBlob(Digest::of(base.blob)));  // y:1 still uses it.
  EXPECT_TRUE(store_->find("y:1").ok());
}

TEST_F(ImageStoreTest, BlobWithWrongDigestIsRefused) {
  Digest expected = Digest::of("the real content");
  auto r = store_->writeBlob(expected, std::string_view("something else"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalid);
  EXPECT_NE(r.error().message.find("digest mismatch"), std::string::npos);
  EXPECT_FALSE(store_->hasBlob(expected));
  EXPECT_EQ(countEntries(root_ / "blobs/sha256"), 0u);
  EXPECT_EQ(countEntries(root_ / "tmp"), 0u);

  // Streaming, in several reads.
  std::string content(3 << 20, 'x');
  size_t pos = 0;
  auto ok = store_->writeBlob(Digest::of(content), [&](char* buf, size_t cap) -> Result<size_t> {
    size_t n = std::min<size_t>({cap, 100000, content.size() - pos});
    std::copy_n(content.data() + pos, n, buf);
    pos += n;
    return n;
  });
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(slurp(store_->blobPath(*ok)), content);

  // An oci-archive whose blob does not match its name imports nothing.
  Layer l = makeLayer({file("f", "1")});
  std::string config = makeConfig({l}), manifest = makeOciManifest(config, {l});
  std::string archive = makeArchive(
      {{"oci-layout", "{}"},
       {"index.json", json::serialize(json::object{
                          {"manifests", json::array{descriptor(media::kOciManifest, manifest)}}})},
       {"blobs/sha256/" + Digest::of(config).hex(), config},
       {"blobs/sha256/" + Digest::of(manifest).hex(), manifest},
       {"blobs/sha256/" + Digest::of(l.blob).hex(), l.blob + "tampered"}});
  auto imported = store_->importArchive(importBytes(archive));
  ASSERT_FALSE(imported.ok());
  EXPECT_NE(imported.error().message.find("digest mismatch"), std::string::npos);
  EXPECT_EQ(store_->list().size(), 0u);
  EXPECT_EQ(countEntries(root_ / "blobs/sha256"), 1u);  // Only the 3 MiB blob written above.
}

TEST_F(ImageStoreTest, CommitImageNeedsItsBlobs) {
  Layer l = makeLayer({file("f", "1")}, Compression::kGzip);
  std::string config = makeConfig({l}), manifest = makeOciManifest(config, {l});
  auto missing = store_->commitImage("pulled:1", manifest);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(store_->writeBlob(Digest::of(config), config).ok());
  EXPECT_FALSE(store_->commitImage("pulled:1", manifest).ok());  // The layer is still missing.
  ASSERT_TRUE(store_->writeBlob(Digest::of(l.blob), l.blob).ok());
  auto rec = store_->commitImage("pulled:1", manifest, media::kOciManifest);
  ASSERT_TRUE(rec.ok()) << rec.error().message;
  EXPECT_EQ(rec->manifest, Digest::of(manifest));
  EXPECT_EQ(rec->size, static_cast<int64_t>(manifest.size() + config.size() + l.blob.size()));
  EXPECT_FALSE(store_->commitImage("Bad Name", manifest).ok());
  // An arm64 config is not for this node.
  std::string arm_config = makeConfig({l}, "{}", "arm64");
  ASSERT_TRUE(store_->writeBlob(Digest::of(arm_config), arm_config).ok());
  auto arm = store_->commitImage("arm:1", makeOciManifest(arm_config, {l}));
  ASSERT_FALSE(arm.ok());
  EXPECT_NE(arm.error().message.find("does not match the node"), std::string::npos);
}

TEST_F(ImageStoreTest, DiffIdMismatchLeavesNoLayer) {
  Layer l = makeLayer({file("f", "1")});
  Layer other = makeLayer({file("g", "2")});
  std::string config = makeConfig({other});  // Claims other's DiffID.
  ASSERT_TRUE(store_->writeBlob(Digest::of(config), config).ok());
  ASSERT_TRUE(store_->writeBlob(Digest::of(l.blob), l.blob).ok());
  ASSERT_TRUE(store_->commitImage("liar:1", makeOciManifest(config, {l})).ok());
  auto r = store_->prepare("liar:1");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("diff_ids"), std::string::npos);
  EXPECT_EQ(countEntries(root_ / "layers"), 0u);
  EXPECT_EQ(countEntries(root_ / "tmp"), 0u);
}

TEST_F(ImageStoreTest, UnsafeLayersAreRefused) {
  TempDir outside;
  struct Case {
    std::string name;
    std::vector<TarEntry> entries;
  };
  std::vector<Case> cases = {
      {"dotdot", {file("../escape", "x")}},
      {"dotdot-inner", {dir("a"), file("a/../../escape", "x")}},
      {"absolute", {file(outside / "escape", "x")}},
      {"through-symlink", {symlink("link", outside.path()), file("link/escape", "x")}},
      {"through-relative-symlink", {dir("d"), symlink("d/up", "../.."), file("d/up/escape", "x")}},
      {"hardlink-out", {hardlink("h", "../escape")}},
      {"hardlink-through-symlink", {symlink("link", outside.path()), hardlink("h", "link/escape")}},
  };
  writeFile(outside / "escape", "original");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Layer l = makeLayer(c.entries);
    std::string config = makeConfig({l});
    std::string name = "evil:" + c.name;
    ASSERT_TRUE(store_
                    ->importArchive(
                        importBytes(makeDockerArchive({{{name}, {l}, config}}), c.name + ".tar"))
                    .ok());
    auto r = store_->prepare(name);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalid) << r.error().message;
    EXPECT_NE(r.error().message.find("refused"), std::string::npos) << r.error().message;
    EXPECT_EQ(slurp(outside / "escape"), "original");
    EXPECT_EQ(countEntries(outside.path()), 1u);
    EXPECT_EQ(countEntries(root_ / "layers"), 0u);
    EXPECT_EQ(countEntries(root_ / "tmp"), 0u);
    EXPECT_FALSE(fsutil::exists(root_ / "escape"));
  }
}

TEST_F(ImageStoreTest, HalfUnpackedLayerIsRedone) {
  Layer l = makeLayer({file("f", "complete")});
  std::string config = makeConfig({l});
  ASSERT_TRUE(
      store_->importArchive(importBytes(makeDockerArchive({{{"half:1"}, {l}, config}}))).ok());
  // What a crash mid-unpack would leave: the layer dir without its marker.
  std::string dir = root_ / "layers/" + l.diff_id.hex();
  ASSERT_TRUE(fsutil::mkdirs(dir + "/fs").ok());
  writeFile(dir + "/fs/junk", "partial");
  auto r = store_->prepare("half:1");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->lowerdirs[0], dir + "/fs");
  EXPECT_EQ(slurp(dir + "/fs/f"), "complete");
  EXPECT_FALSE(fsutil::exists(dir + "/fs/junk"));
  EXPECT_EQ(store_->layersUnpacked(), 1u);
}

TEST_F(ImageStoreTest, PackDirectoryThenPrepare) {
  TempDir src;
  ASSERT_TRUE(fsutil::mkdirs(src / "app/bin").ok());
  writeFile(src / "app/bin/run", "#!/bin/sh\necho packed\n");
  ASSERT_EQ(::chmod((src / "app/bin/run").c_str(), 0750), 0);
  ASSERT_EQ(::symlink("bin/run", (src / "app/start").c_str()), 0);
  ASSERT_EQ(::link((src / "app/bin/run").c_str(), (src / "app/bin/run2").c_str()), 0);
  writeFile(src / "README", "hello");
  ImageConfigOverrides o;
  o.entrypoint = {"/app/start"};
  o.cmd = {"--flag"};
  o.env = {"PATH=/usr/bin:/bin", "MODE=test"};
  o.working_dir = "/app";
  auto rec = store_->pack(src.path(), "local/packed:dev", o);
  ASSERT_TRUE(rec.ok()) << rec.error().message;
  EXPECT_EQ(rec->name, "docker.io/local/packed:dev");
  EXPECT_EQ(rec->layer_media_types, (std::vector<std::string>{std::string(media::kOciLayerGzip)}));
  auto r = store_->prepare("local/packed:dev");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->lowerdirs.size(), 1u);
  const std::string& fsdir = r->lowerdirs[0];
  EXPECT_EQ(slurp(fsdir + "/app/bin/run"), "#!/bin/sh\necho packed\n");
  EXPECT_EQ(slurp(fsdir + "/README"), "hello");
  struct stat st {
  }, st2{};
  ASSERT_EQ(::lstat((fsdir + "/app/bin/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  ASSERT_EQ(::lstat((fsdir + "/app/bin/run2").c_str(), &st2), 0);
  EXPECT_EQ(st.st_ino, st2.st_ino);
  char link[32] = {};
  ASSERT_GT(::readlink((fsdir + "/app/start").c_str(), link, sizeof link - 1), 0);
  EXPECT_STREQ(link, "bin/run");
  EXPECT_EQ(r->config.entrypoint, o.entrypoint);
  EXPECT_EQ(r->config.cmd, o.cmd);
  EXPECT_EQ(r->config.env, o.env);
  EXPECT_EQ(r->config.working_dir, "/app");
  EXPECT_EQ(r->config.os, "linux");
  EXPECT_EQ(r->config.architecture, "amd64");
  EXPECT_FALSE(store_->pack(src / "missing", "x:1", o).ok());
  EXPECT_FALSE(store_->pack(src.path(), "UPPER", o).ok());
}

TEST_F(ImageStoreTest, ConcurrentPreparesUnpackASharedLayerOnce) {
  // A bigger shared layer, so that both threads are likely to want it at once.
  std::vector<TarEntry> entries;
  for (int i = 0; i < 200; ++i)
    entries.push_back(file("f" + std::to_string(i), std::string(4096, 'a' + i % 26)));
  Layer base = makeLayer(entries, Compression::kGzip);
  Layer a_top = makeLayer({file("a", "A")}), b_top = makeLayer({file("b", "B")});
  ASSERT_TRUE(store_
                  ->importArchive(importBytes(
                      makeDockerArchive({{{"a:1"}, {base, a_top}, makeConfig({base, a_top})},
                                         {{"b:1"}, {base, b_top}, makeConfig({base, b_top})}})))
                  .ok());
  Result<Rootfs> ra = makeError(ErrorCode::kInternal, "not run"), rb = ra;
  std::thread ta([&] { ra = store_->prepare("a:1"); });
  std::thread tb([&] { rb = store_->prepare("b:1"); });
  ta.join();
  tb.join();
  ASSERT_TRUE(ra.ok()) << ra.error().message;
  ASSERT_TRUE(rb.ok()) << rb.error().message;
  EXPECT_EQ(ra->lowerdirs[1], rb->lowerdirs[1]);
  EXPECT_EQ(store_->layersUnpacked(), 3u);  // The shared base once, each top once.
  EXPECT_EQ(slurp(ra->lowerdirs[1] + "/f199"), std::string(4096, 'a' + 199 % 26));
  EXPECT_EQ(countEntries(root_ / "tmp"), 0u);
}

TEST_F(ImageStoreTest, RetagFreesTheOldImage) {
  Layer v1 = makeLayer({file("v", "1")}), v2 = makeLayer({file("v", "2")});
  std::string c1 = makeConfig({v1}), c2 = makeConfig({v2});
  ASSERT_TRUE(
      store_->importArchive(importBytes(makeDockerArchive({{{"app:latest"}, {v1}, c1}}), "1.tar"))
          .ok());
  ASSERT_TRUE(store_->prepare("app").ok());
  ASSERT_TRUE(
      store_->importArchive(importBytes(makeDockerArchive({{{"app:latest"}, {v2}, c2}}), "2.tar"))
          .ok());
  ASSERT_EQ(store_->list().size(), 1u);
  EXPECT_EQ(store_->find("app")->config, Digest::of(c2));
  EXPECT_FALSE(store_->hasBlob(Digest::of(v1.blob)));
  EXPECT_FALSE(store_->hasBlob(Digest::of(c1)));
  EXPECT_FALSE(fsutil::exists(root_ / "layers/" + v1.diff_id.hex()));
  auto r = store_->prepare("app");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(slurp(r->lowerdirs[0] + "/v"), "2");
}

TEST_F(ImageStoreTest, DockerArchiveWithSymlinkedLayer) {
  // Older `docker save` writes a layer shared by two images once and a symlink for the second.
  Layer base = baseLayer(), top = makeLayer({file("t", "top")});
  std::string c1 = makeConfig({base}), c2 = makeConfig({base, top});
  std::string base_path = "aaaa/layer.tar", link_path = "bbbb/layer.tar",
              top_path = "cccc/layer.tar";
  json::array manifest{json::object{{"Config", "c1.json"},
                                    {"RepoTags", json::array{"one:1"}},
                                    {"Layers", json::array{base_path}}},
                       json::object{{"Config", "c2.json"},
                                    {"RepoTags", json::array{"two:1"}},
                                    {"Layers", json::array{link_path, top_path}}}};
  std::string archive =
      makeTar({file("c1.json", c1), file("c2.json", c2), dir("aaaa"), file(base_path, base.blob),
               dir("bbbb"), symlink(link_path, "../" + base_path), file(top_path, top.blob),
               file("manifest.json", json::serialize(manifest))});
  auto imported = store_->importArchive(importBytes(archive));
  ASSERT_TRUE(imported.ok()) << imported.error().message;
  ASSERT_EQ(imported->size(), 2u);
  EXPECT_EQ((*imported)[1].layers[0], Digest::of(base.blob));
  auto r = store_->prepare("two:1");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(slurp(r->lowerdirs[1] + "/bin/sh"), "#!shell");
}

TEST_F(ImageStoreTest, TwoStoresOnOneRootSeeEachOther) {
  // The agent and `berth image` open the same root in different processes.
  auto other = openStore(root_.path());
  ASSERT_TRUE(other);
  Layer l = makeLayer({file("f", "1")});
  ASSERT_TRUE(
      other->importArchive(importBytes(makeDockerArchive({{{"shared:1"}, {l}, makeConfig({l})}})))
          .ok());
  ASSERT_TRUE(store_->find("shared:1").ok());
  auto r = store_->prepare("shared:1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(slurp(r->lowerdirs[0] + "/f"), "1");
  ASSERT_TRUE(other->remove("shared:1").ok());
  EXPECT_EQ(store_->find("shared:1").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->list().size(), 0u);
}

TEST_F(ImageStoreTest, AbsoluteSymlinkTargetsAreKeptAsData) {
  // A symlink may point anywhere; only writing through it is refused.
  Layer l =
      makeLayer({dir("etc"), symlink("etc/mtab", "/proc/self/mounts"), symlink("etc/up", "../..")});
  ASSERT_TRUE(
      store_->importArchive(importBytes(makeDockerArchive({{{"links:1"}, {l}, makeConfig({l})}})))
          .ok());
  auto r = store_->prepare("links:1");
  ASSERT_TRUE(r.ok()) << r.error().message;
  char link[64] = {};
  ASSERT_GT(::readlink((r->lowerdirs[0] + "/etc/mtab").c_str(), link, sizeof link - 1), 0);
  EXPECT_STREQ(link, "/proc/self/mounts");
}

TEST_F(ImageStoreTest, NotAnImageArchive) {
  auto r = store_->importArchive(importBytes(makeArchive({{"hello.txt", "hi"}})));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalid);
  EXPECT_EQ(countEntries(root_ / "blobs/sha256"), 0u);
  EXPECT_FALSE(store_->importArchive(work_ / "does-not-exist.tar").ok());
}

}  // namespace
}  // namespace berth::runtime
