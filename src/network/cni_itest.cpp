// CNI bridge + host-local for real, inside a lab network namespace this
// test creates (no route out; the host's namespace is never touched): two
// pod namespaces get addresses from the subnet and reach each other over
// TCP through the lab's bridge; DEL and namespace removal leave nothing.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "network/cni.h"
#include "network/netns.h"

namespace berth::network {
namespace {

namespace fs = std::filesystem;

class CniItest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
    if (!fs::exists("/usr/lib/cni/bridge")) GTEST_SKIP() << "containernetworking-plugins missing";
    char tmpl[] = "/tmp/berth-cni-itest-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto lab = createNetns(dir_ + "/netns", "lab");
    ASSERT_TRUE(lab.ok()) << lab.error().message;
    lab_ = *lab;
    config_.subnet = "10.199.7.0/24";
    config_.data_dir = dir_ + "/ipam";
    config_.bridge = "cni-itest0";
  }
  void TearDown() override {
    for (const auto& p : pods_) (void)deleteNetns(p);
    if (!lab_.empty()) {
      EXPECT_TRUE(deleteNetns(lab_).ok());
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string addPodNetns(const std::string& name) {
    auto p = createNetns(dir_ + "/netns", name);
    EXPECT_TRUE(p.ok()) << p.error().message;
    pods_.push_back(*p);
    return *p;
  }

  std::string dir_, lab_;
  std::vector<std::string> pods_;
  CniConfig config_;
};

TEST_F(CniItest, PodsGetAddressesAndTalkAcrossTheBridge) {
  const unsigned host_bridge_before = if_nametoindex("cni-itest0");
  std::string a_ns = addPodNetns("pod-a"), b_ns = addPodNetns("pod-b");
  CniAttachment a, b;
  ASSERT_TRUE(runInNetns(lab_, [&]() -> Status {
                auto ra = cniAdd(config_, "pod-a", a_ns);
                if (!ra.ok()) return ra.error();
                a = *ra;
                auto rb = cniAdd(config_, "pod-b", b_ns);
                if (!rb.ok()) return rb.error();
                b = *rb;
                return okStatus();
              }).ok());
  EXPECT_EQ(a.ip.rfind("10.199.7.", 0), 0u) << a.ip;
  EXPECT_EQ(b.ip.rfind("10.199.7.", 0), 0u) << b.ip;
  EXPECT_NE(a.ip, b.ip);
  EXPECT_EQ(a.gateway, "10.199.7.1");
  // The bridge exists in the lab, not on the host.
  EXPECT_EQ(if_nametoindex("cni-itest0"), host_bridge_before);
  unsigned lab_bridge = 0;
  ASSERT_TRUE(runInNetns(lab_, [&]() -> Status {
                lab_bridge = if_nametoindex("cni-itest0");
                return okStatus();
              }).ok());
  EXPECT_NE(lab_bridge, 0u);

  // B listens on its pod IP; A connects to it and sends a line.
  int listener = -1;
  ASSERT_TRUE(runInNetns(b_ns, [&]() -> Status {
                listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                sockaddr_in sa{};
                sa.sin_family = AF_INET;
                sa.sin_port = htons(8080);
                inet_pton(AF_INET, b.ip.c_str(), &sa.sin_addr);
                if (::bind(listener, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
                    ::listen(listener, 1) != 0)
                  return makeError(ErrorCode::kInternal, "listen failed");
                return okStatus();
              }).ok());
  std::string received;
  std::thread server([&] {
    int c = ::accept(listener, nullptr, nullptr);
    if (c < 0) return;
    char buf[64];
    ssize_t n = ::recv(c, buf, sizeof buf, 0);
    if (n > 0) received.assign(buf, static_cast<size_t>(n));
    ::close(c);
  });
  Status sent = runInNetns(a_ns, [&]() -> Status {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(8080);
    inet_pton(AF_INET, b.ip.c_str(), &sa.sin_addr);
    timeval tv{5, 0};
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      ::close(s);
      return makeError(ErrorCode::kInternal, std::string("connect: ") + strerror(errno));
    }
    ::send(s, "hello", 5, 0);
    ::close(s);
    return okStatus();
  });
  if (!sent.ok()) ::shutdown(listener, SHUT_RDWR);
  server.join();
  ::close(listener);
  ASSERT_TRUE(sent.ok()) << sent.error().message;
  EXPECT_EQ(received, "hello");

  // DEL releases the addresses (twice is fine), and a new pod reuses the pool.
  ASSERT_TRUE(runInNetns(lab_, [&]() -> Status {
                BERTH_RETURN_IF_ERROR(cniDel(config_, "pod-a", a_ns));
                BERTH_RETURN_IF_ERROR(cniDel(config_, "pod-a", a_ns));
                return cniDel(config_, "pod-b", b_ns);
              }).ok());
  size_t allocations = 0;
  for (auto& e : fs::recursive_directory_iterator(config_.data_dir))
    if (e.is_regular_file() && e.path().filename().string().rfind("10.199.7.", 0) == 0)
      ++allocations;
  EXPECT_EQ(allocations, 0u);
}

}  // namespace
}  // namespace berth::network
