// Pulls from a real registry: Debian's docker-registry (distribution 2.8) on
// 127.0.0.1, filled with skopeo from an oci-archive built here. One
// anonymous registry and one behind htpasswd basic auth; both are started
// and stopped by the suite.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "api/protobuf.h"
#include "common/subprocess.h"
#include "runtime/image/image_test_util.h"
#include "runtime/image/puller.h"

namespace berth::runtime {
namespace {

using namespace berth::runtime::testing;

constexpr const char* kRegistryBin = "/usr/bin/docker-registry";
constexpr const char* kSkopeoBin = "/usr/bin/skopeo";
constexpr const char* kHtpasswdBin = "/usr/bin/htpasswd";

bool executable(const char* p) { return ::access(p, X_OK) == 0; }

int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool canConnect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// One docker-registry process with its own storage and config in `dir`.
class RegistryProcess {
 public:
  RegistryProcess(const std::string& dir, const std::string& htpasswd_line) : dir_(dir) {
    port_ = freePort();
    std::string config =
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
        "    rootdirectory: " +
        dir +
        "/data\n  delete:\n    enabled: true\n"
        "http:\n  addr: 127.0.0.1:" +
        std::to_string(port_) + "\n";
    if (!htpasswd_line.empty()) {
      writeFile(dir + "/htpasswd", htpasswd_line + "\n");
      config += "auth:\n  htpasswd:\n    realm: basic-realm\n    path: " + dir + "/htpasswd\n";
    }
    writeFile(dir + "/config.yml", config);
    pid_ = ::fork();
    if (pid_ == 0) {
      int log = ::open((dir + "/registry.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(log, 1);
      ::dup2(log, 2);
      std::string cfg = dir + "/config.yml";
      ::execl(kRegistryBin, kRegistryBin, "serve", cfg.c_str(), nullptr);
      ::_exit(127);
    }
    // Readiness: the port accepts connections (polled, with a deadline).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!canConnect(port_) && std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~RegistryProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  bool running() const { return pid_ > 0 && canConnect(port_); }
  std::string log() const {
    std::ifstream f(dir_ + "/registry.log");
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

struct BuiltImage {
  std::string archive_path;
  std::vector<Layer> layers;
  std::string config, manifest;
};

class PullerITest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!executable(kRegistryBin) || !executable(kSkopeoBin) || !executable(kHtpasswdBin)) return;
    tmp_ = new TempDir();
    (void)fsutil::mkdirs(*tmp_ / "open");
    (void)fsutil::mkdirs(*tmp_ / "auth");
    open_ = new RegistryProcess(*tmp_ / "open", "");
    auto line = runSubprocess({kHtpasswdBin, "-Bbn", "puller", "s3cret"});
    if (line.ok() && line->exit_code == 0) {
      std::string l = line->out.substr(0, line->out.find('\n'));
      auth_ = new RegistryProcess(*tmp_ / "auth", l);
    }
    // A three-layer image with a file in each layer.
    image_ = new BuiltImage();
    image_->layers.push_back(makeLayer(
        {dir("bin"), file("bin/tool", "#!/bin/sh\necho tool\n", 0755)}, Compression::kGzip));
    image_->layers.push_back(makeLayer(
        {dir("etc"), file("etc/message", "pulled from a registry\n")}, Compression::kGzip));
    // 3 MiB that gzip cannot shrink: more than the transport buffers, so the
    // body is paused and resumed while writeBlob streams it.
    std::mt19937_64 rng(42);
    std::string noise(3 << 20, '\0');
    for (auto& c : noise) c = static_cast<char>(rng());
    image_->layers.push_back(makeLayer({file("noise.bin", noise)}, Compression::kGzip));
    image_->config = makeConfig(image_->layers, R"({"Cmd":["/bin/tool"],"Env":["A=1"]})");
    image_->manifest = makeOciManifest(image_->config, image_->layers);
    auto entry = descriptor(media::kOciManifest, image_->manifest);
    entry["annotations"] = boost::json::object{{"org.opencontainers.image.ref.name", "1"}};
    std::vector<std::string> blobs{image_->config, image_->manifest};
    for (const auto& l : image_->layers) blobs.push_back(l.blob);
    image_->archive_path = *tmp_ / "image.oci.tar";
    writeFile(image_->archive_path, makeOciArchive(boost::json::array{entry}, blobs));
  }
  static void TearDownTestSuite() {
    delete open_;
    delete auth_;
    delete image_;
    delete tmp_;  // after the registries stopped writing into it
    open_ = auth_ = nullptr;
    image_ = nullptr;
    tmp_ = nullptr;
  }

  void SetUp() override {
    if (!executable(kRegistryBin) || !executable(kSkopeoBin) || !executable(kHtpasswdBin)) {
      GTEST_SKIP() << "needs " << kRegistryBin << ", " << kSkopeoBin << " and " << kHtpasswdBin
                   << " (Debian docker-registry, skopeo, apache2-utils; scripts/setup.sh)";
    }
    ASSERT_TRUE(open_ && open_->running()) << "registry did not start: " << open_->log();
    store_ = ImageStore::open(store_dir_ / "store").value();
  }

  // skopeo pushes the archive to `registry` as test/busybox:<tag>.
  static void push(const RegistryProcess& registry, const std::string& tag,
                   const std::string& creds = "") {
    std::vector<std::string> argv{kSkopeoBin, "--insecure-policy", "copy", "--quiet",
                                  "--dest-tls-verify=false"};
    if (!creds.empty()) {
      argv.push_back("--dest-creds");
      argv.push_back(creds);
    }
    argv.push_back("oci-archive:" + image_->archive_path);
    argv.push_back("docker://" + registry.host() + "/test/busybox:" + tag);
    auto r = runSubprocess(argv);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ(r->exit_code, 0) << r->err;
  }

  static TempDir* tmp_;
  static RegistryProcess* open_;
  static RegistryProcess* auth_;
  static BuiltImage* image_;
  TempDir store_dir_;
  std::unique_ptr<ImageStore> store_;
  RegistryClient client_;
  DockerKeyring no_creds_;
};

TempDir* PullerITest::tmp_ = nullptr;
RegistryProcess* PullerITest::open_ = nullptr;
RegistryProcess* PullerITest::auth_ = nullptr;
BuiltImage* PullerITest::image_ = nullptr;

TEST_F(PullerITest, PullByTagThenPrepare) {
  push(*open_, "1");
  Puller puller(*store_, client_);
  std::map<Digest, PullProgress> last;
  std::string ref = open_->host() + "/test/busybox:1";
  auto rec = puller.pull(ref, no_creds_, [&](const PullProgress& p) { last[p.digest] = p; });
  ASSERT_TRUE(rec.ok()) << rec.error().message;
  EXPECT_EQ(rec->name, ref);
  EXPECT_EQ(rec->config, Digest::of(image_->config));
  ASSERT_EQ(rec->layers.size(), 3u);
  for (const auto& l : image_->layers) {
    const auto& p = last.at(Digest::of(l.blob));
    EXPECT_TRUE(p.finished);
    EXPECT_EQ(p.done, static_cast<int64_t>(l.blob.size()));
  }
  auto rootfs = store_->prepare(ref);
  ASSERT_TRUE(rootfs.ok()) << rootfs.error().message;
  EXPECT_EQ(rootfs->config.cmd, std::vector<std::string>{"/bin/tool"});
  ASSERT_EQ(rootfs->lowerdirs.size(), 3u);
  std::ifstream msg(rootfs->lowerdirs[1] + "/etc/message");  // topmost layer first
  std::string text((std::istreambuf_iterator<char>(msg)), {});
  EXPECT_EQ(text, "pulled from a registry\n");

  // Pulled again: nothing is downloaded.
  int cached = 0;
  ASSERT_TRUE(puller.pull(ref, no_creds_, [&](const PullProgress& p) { cached += p.cached; }).ok());
  EXPECT_EQ(cached, 4);
}

TEST_F(PullerITest, PullByDigest) {
  push(*open_, "bydigest");
  ImageReference repo = parseReference(open_->host() + "/test/busybox").value();
  auto head = client_.headManifest(repo, "bydigest", nullptr);
  ASSERT_TRUE(head.ok()) << head.error().message;
  std::string ref = repo.name() + "@" + head->digest.str();
  Puller puller(*store_, client_);
  auto rec = puller.pull(ref, no_creds_);
  ASSERT_TRUE(rec.ok()) << rec.error().message;
  EXPECT_EQ(rec->name, ref);
  EXPECT_EQ(rec->target, head->digest);
  EXPECT_TRUE(store_->find(ref).ok());
  EXPECT_TRUE(store_->prepare(ref).ok());
}

TEST_F(PullerITest, MissingTagIsNotFound) {
  Puller puller(*store_, client_);
  std::string ref = open_->host() + "/test/busybox:missing";
  auto rec = puller.pull(ref, no_creds_);
  ASSERT_FALSE(rec.ok());
  EXPECT_EQ(rec.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(rec.error().message,
            "failed to resolve reference \"" + ref + "\": " + ref + ": not found");
  EXPECT_TRUE(store_->list().empty());
}

TEST_F(PullerITest, ConnectionRefused) {
  Puller puller(*store_, client_);
  std::string host = "127.0.0.1:" + std::to_string(freePort());
  auto rec = puller.pull(host + "/test/busybox:1", no_creds_);
  ASSERT_FALSE(rec.ok());
  EXPECT_EQ(rec.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(rec.error().message.find("connection refused"), std::string::npos)
      << rec.error().message;
}

TEST_F(PullerITest, BasicAuthNeedsThePullSecret) {
  ASSERT_TRUE(auth_ && auth_->running()) << "auth registry did not start";
  push(*auth_, "1", "puller:s3cret");
  std::string ref = auth_->host() + "/test/busybox:1";
  Puller puller(*store_, client_);
  auto anon = puller.pull(ref, no_creds_);
  ASSERT_FALSE(anon.ok());
  EXPECT_EQ(anon.error().code, ErrorCode::kUnauthorized);
  EXPECT_NE(anon.error().message.find("unauthorized"), std::string::npos) << anon.error().message;

  auto secretFor = [&](const std::string& password) {
    std::string cfg = R"({"auths":{")" + auth_->host() + R"(":{"auth":")" +
                      api::base64Encode("puller:" + password) + R"("}}})";
    return boost::json::object{
        {"type", "kubernetes.io/dockerconfigjson"},
        {"data", boost::json::object{{".dockerconfigjson", api::base64Encode(cfg)}}}};
  };
  DockerKeyring wrong;
  ASSERT_TRUE(wrong.addSecret(secretFor("wrong")).ok());
  auto denied = puller.pull(ref, wrong);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, ErrorCode::kUnauthorized);

  DockerKeyring keyring;
  ASSERT_TRUE(keyring.addSecret(secretFor("s3cret")).ok());
  auto rec = puller.pull(ref, keyring);
  ASSERT_TRUE(rec.ok()) << rec.error().message;
  EXPECT_EQ(rec->config, Digest::of(image_->config));
  EXPECT_TRUE(store_->prepare(ref).ok());
}

}  // namespace
}  // namespace berth::runtime
