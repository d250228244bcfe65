#include "runtime/image/puller.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "runtime/image/image_store.h"
#include "runtime/image/image_test_util.h"

namespace berth::runtime {
namespace {

using namespace berth::runtime::testing;

class StringBody : public HttpBody {
 public:
  explicit StringBody(std::string s) : s_(std::move(s)) {}
  Result<size_t> read(char* buf, size_t cap) override {
    // Small reads, so that progress is reported more than once.
    size_t n = std::min({cap, s_.size() - pos_, size_t{1000}});
    std::copy_n(s_.data() + pos_, n, buf);
    pos_ += n;
    return n;
  }

 private:
  std::string s_;
  size_t pos_ = 0;
};

// An anonymous registry in memory: /v2/<repo>/manifests/<ref> and /blobs/<digest>.
class FakeRegistry : public HttpTransport {
 public:
  struct Doc {
    std::string media_type, bytes;
  };
  std::map<std::string, Doc> manifests;  // tag or digest -> document
  std::map<std::string, std::string> blobs;
  std::vector<std::string> urls;
  std::mutex mu;

  void putManifest(const std::string& tag, std::string_view media_type, const std::string& bytes) {
    manifests[tag] = {std::string(media_type), bytes};
    manifests[Digest::of(bytes).str()] = {std::string(media_type), bytes};
  }
  void putBlob(const std::string& bytes) { blobs[Digest::of(bytes).str()] = bytes; }

  Result<HttpResponse> send(const HttpRequest& req) override {
    std::lock_guard lk(mu);
    urls.push_back(req.url);
    HttpResponse resp;
    resp.status = 404;
    std::string body = R"({"errors":[{"code":"NOT_FOUND"}]})";
    std::string prefix = "http://127.0.0.1:5000/v2/test/app/";
    if (req.url.rfind(prefix + "manifests/", 0) == 0) {
      auto it = manifests.find(req.url.substr(prefix.size() + 10));
      if (it != manifests.end()) {
        resp.status = 200;
        resp.headers.emplace_back("content-type", it->second.media_type);
        body = it->second.bytes;
      }
    } else if (req.url.rfind(prefix + "blobs/", 0) == 0) {
      auto it = blobs.find(req.url.substr(prefix.size() + 6));
      if (it != blobs.end()) {
        resp.status = 200;
        body = it->second;
      }
    }
    resp.body = std::make_unique<StringBody>(body);
    return resp;
  }

  size_t blobRequests() {
    std::lock_guard lk(mu);
    return std::count_if(urls.begin(), urls.end(), [](const std::string& u) {
      return u.find("/blobs/") != std::string::npos;
    });
  }
};

struct TestImage {
  std::vector<Layer> layers;
  std::string config, manifest;
};

TestImage makeImage(const std::string& arch = "amd64") {
  TestImage img;
  img.layers.push_back(
      makeLayer({dir("bin"), file("bin/hello", std::string(5000, 'h'), 0755)}, Compression::kGzip));
  img.layers.push_back(makeLayer({file("etc/motd", "hi " + arch)}, Compression::kNone));
  img.config = makeConfig(img.layers, R"({"Cmd":["/bin/hello"]})", arch);
  img.manifest = makeOciManifest(img.config, img.layers);
  return img;
}

std::string makeIndex(const std::vector<std::pair<std::string, std::string>>& arch_manifests) {
  boost::json::array entries;
  for (const auto& [arch, m] : arch_manifests) {
    auto d = descriptor(media::kOciManifest, m);
    d["platform"] = boost::json::object{{"os", "linux"}, {"architecture", arch}};
    entries.push_back(d);
  }
  return boost::json::serialize(boost::json::object{
      {"schemaVersion", 2}, {"mediaType", media::kOciIndex}, {"manifests", entries}});
}

class PullerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = ImageStore::open(dir_ / "store").value();
    client_ = std::make_unique<RegistryClient>(RegistryOptions{}, registry_);
  }
  void serve(const TestImage& img) {
    registry_->putBlob(img.config);
    for (const auto& l : img.layers) registry_->putBlob(l.blob);
  }
  TempDir dir_;
  std::shared_ptr<FakeRegistry> registry_ = std::make_shared<FakeRegistry>();
  std::unique_ptr<ImageStore> store_;
  std::unique_ptr<RegistryClient> client_;
  DockerKeyring no_creds_;
};

TEST_F(PullerTest, PullsAnIndexResolvedToLinuxAmd64AndReportsProgress) {
  TestImage amd = makeImage("amd64"), arm = makeImage("arm64");
  serve(amd);
  registry_->putManifest(Digest::of(arm.manifest).str(), media::kOciManifest, arm.manifest);
  registry_->putManifest(Digest::of(amd.manifest).str(), media::kOciManifest, amd.manifest);
  std::string index = makeIndex({{"arm64", arm.manifest}, {"amd64", amd.manifest}});
  registry_->putManifest("1", media::kOciIndex, index);

  Puller puller(*store_, *client_, {.parallel_downloads = 2, .progress_step_bytes = 100});
  std::map<Digest, PullProgress> last;
  int calls = 0;
  auto rec = puller.pull("127.0.0.1:5000/test/app:1", no_creds_, [&](const PullProgress& p) {
    ++calls;
    last[p.digest] = p;
  });
  ASSERT_TRUE(rec.ok()) << rec.error().message;
  EXPECT_EQ(rec->name, "127.0.0.1:5000/test/app:1");
  EXPECT_EQ(rec->target, Digest::of(index));
  EXPECT_EQ(rec->manifest, Digest::of(amd.manifest));
  EXPECT_EQ(rec->config, Digest::of(amd.config));
  ASSERT_EQ(rec->layers.size(), 2u);
  EXPECT_EQ(rec->layers[0], Digest::of(amd.layers[0].blob));
  // The arm64 manifest was never fetched.
  for (const auto& u : registry_->urls)
    EXPECT_EQ(u.find(Digest::of(arm.manifest).hex()), std::string::npos);

  const auto& layer0 = last.at(Digest::of(amd.layers[0].blob));
  EXPECT_EQ(layer0.kind, PullProgress::Kind::kLayer);
  EXPECT_TRUE(layer0.finished);
  EXPECT_FALSE(layer0.cached);
  EXPECT_EQ(layer0.done, static_cast<int64_t>(amd.layers[0].blob.size()));
  EXPECT_EQ(layer0.total, layer0.done);
  EXPECT_EQ(last.at(Digest::of(amd.config)).kind, PullProgress::Kind::kConfig);
  EXPECT_GT(calls, 6);  // start, steps and end per blob, plus the manifests

  auto rootfs = store_->prepare("127.0.0.1:5000/test/app:1");
  ASSERT_TRUE(rootfs.ok()) << rootfs.error().message;
  EXPECT_EQ(rootfs->config.cmd, std::vector<std::string>{"/bin/hello"});
  EXPECT_EQ(rootfs->lowerdirs.size(), 2u);
}

TEST_F(PullerTest, BlobsAlreadyStoredAreNotDownloadedAgain) {
  TestImage img = makeImage();
  serve(img);
  registry_->putManifest("1", media::kOciManifest, img.manifest);
  registry_->putManifest("2", media::kOciManifest, img.manifest);
  Puller puller(*store_, *client_);
  ASSERT_TRUE(puller.pull("127.0.0.1:5000/test/app:1", no_creds_).ok());
  EXPECT_EQ(registry_->blobRequests(), 3u);
  int cached = 0;
  auto rec = puller.pull("127.0.0.1:5000/test/app:2", no_creds_, [&](const PullProgress& p) {
    if (p.cached) ++cached;
  });
  ASSERT_TRUE(rec.ok()) << rec.error().message;
  EXPECT_EQ(registry_->blobRequests(), 3u);
  EXPECT_EQ(cached, 3);
}

TEST_F(PullerTest, ByDigestRecordsTheDigestReference) {
  TestImage img = makeImage();
  serve(img);
  registry_->putManifest("1", media::kOciManifest, img.manifest);
  Puller puller(*store_, *client_);
  std::string by_digest = "127.0.0.1:5000/test/app@" + Digest::of(img.manifest).str();
  auto rec = puller.pull(by_digest, no_creds_);
  ASSERT_TRUE(rec.ok()) << rec.error().message;
  EXPECT_EQ(rec->name, by_digest);
  EXPECT_TRUE(store_->find(by_digest).ok());
  EXPECT_FALSE(store_->find("127.0.0.1:5000/test/app:1").ok());
}

TEST_F(PullerTest, CorruptBlobIsRefusedAndNothingIsRecorded) {
  TestImage img = makeImage();
  serve(img);
  Digest layer = Digest::of(img.layers[1].blob);
  std::string corrupt = img.layers[1].blob;
  corrupt[corrupt.size() / 2] ^= 1;
  registry_->blobs[layer.str()] = corrupt;
  registry_->putManifest("1", media::kOciManifest, img.manifest);
  Puller puller(*store_, *client_);
  auto rec = puller.pull("127.0.0.1:5000/test/app:1", no_creds_);
  ASSERT_FALSE(rec.ok());
  EXPECT_EQ(rec.error().code, ErrorCode::kInvalid);
  EXPECT_NE(
      rec.error().message.find("failed to pull and unpack image \"127.0.0.1:5000/test/app:1\""),
      std::string::npos);
  EXPECT_NE(rec.error().message.find("digest mismatch"), std::string::npos);
  EXPECT_FALSE(store_->hasBlob(layer));
  EXPECT_TRUE(store_->list().empty());
}

TEST_F(PullerTest, OversizedBlobStopsAtItsDescriptorSize) {
  TestImage img = makeImage();
  serve(img);
  registry_->blobs[Digest::of(img.config).str()] = img.config + std::string(5000, ' ');
  registry_->putManifest("1", media::kOciManifest, img.manifest);
  Puller puller(*store_, *client_);
  auto rec = puller.pull("127.0.0.1:5000/test/app:1", no_creds_);
  ASSERT_FALSE(rec.ok());
  EXPECT_NE(rec.error().message.find("is larger than the"), std::string::npos);
}

TEST_F(PullerTest, NotFoundAndNoPlatformErrors) {
  Puller puller(*store_, *client_);
  auto missing = puller.pull("127.0.0.1:5000/test/app:nope", no_creds_);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message,
            "failed to resolve reference \"127.0.0.1:5000/test/app:nope\": "
            "127.0.0.1:5000/test/app:nope: not found");

  TestImage arm = makeImage("arm64");
  registry_->putManifest("arm", media::kOciIndex, makeIndex({{"arm64", arm.manifest}}));
  auto noplat = puller.pull("127.0.0.1:5000/test/app:arm", no_creds_);
  ASSERT_FALSE(noplat.ok());
  EXPECT_EQ(noplat.error().code, ErrorCode::kNotFound);
  EXPECT_NE(noplat.error().message.find("no match for platform linux/amd64"), std::string::npos);

  auto bad = puller.pull("Not A Reference", no_creds_);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalid);
}

}  // namespace
}  // namespace berth::runtime
