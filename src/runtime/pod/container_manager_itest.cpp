// ContainerManager against real runc, overlayfs and the image store: needs
// root. Containers get new, empty network namespaces and a cgroup parent
// unique to the run; everything is removed even when a check fails.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "runtime/logs/cri_log.h"
#include "runtime/oci/cgroups.h"
#include "runtime/pod/container_manager.h"

namespace berth::runtime {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

bool mounted(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.find(" " + path + " ") != std::string::npos) return true;
  return false;
}

class ContainerManagerItest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (runc, overlayfs, cgroups)";
    if (!fs::exists("/usr/sbin/runc") || !fs::exists("/usr/bin/busybox"))
      GTEST_SKIP() << "runc or busybox-static missing";
    char tmpl[] = "/tmp/berth-cm-itest-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // A busybox image packed from the host's static binary.
    std::string src = dir_ + "/src";
    fs::create_directories(src + "/bin");
    fs::copy_file("/usr/bin/busybox", src + "/bin/busybox");
    for (const char* tool : {"sh", "echo", "sleep", "cat"})
      fs::create_symlink("busybox", src + "/bin/" + tool);
    auto store = ImageStore::open(dir_ + "/images");
    ASSERT_TRUE(store.ok()) << store.error().message;
    images_ = std::move(*store);
    ImageConfigOverrides o;
    o.env = {"PATH=/bin"};
    ASSERT_TRUE(images_->pack(src, "itest/busybox:1", o).ok());
    std::mt19937_64 rng(std::random_device{}());
    parent_ = "/berth-cm-itest-" + std::to_string(getpid()) + "-" + std::to_string(rng() % 100000);
    ASSERT_TRUE(openManager().ok());
  }
  void TearDown() override {
    if (manager_) {
      for (const auto& c : manager_->list()) {
        (void)manager_->stop(c.id, milliseconds(100));
        (void)manager_->remove(c.id);
      }
    }
    if (auto cg = CgroupV1::detect(); cg.ok()) (void)cg->removeTree(parent_);
    manager_.reset();
    images_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  Status openManager(const std::string& runc = "/usr/sbin/runc") {
    ContainerManagerConfig c;
    c.root = dir_ + "/state";
    c.runc_binary = runc;
    auto m = ContainerManager::open(c, *images_);
    if (!m.ok()) return m.error();
    manager_ = std::move(*m);
    return okStatus();
  }

  ContainerConfig config(const std::string& name, std::vector<std::string> args) {
    ContainerConfig c;
    c.pod_uid = "pod-1";
    c.name = name;
    c.image = "itest/busybox:1";
    c.spec.args = std::move(args);
    c.spec.env = {"PATH=/bin"};
    c.spec.cgroups_path = parent_ + "/" + name;
    rlimit nofile{};
    ::getrlimit(RLIMIT_NOFILE, &nofile);
    c.spec.nofile_limit = std::min<uint64_t>(c.spec.nofile_limit, nofile.rlim_max);
    c.log_path = dir_ + "/logs/" + name + "/0.log";
    return c;
  }

  ContainerInfo waitExited(const std::string& id) {
    for (int i = 0; i < 500; ++i) {
      auto info = manager_->inspect(id);
      if (info.ok() && info->state == ContainerState::kExited) return *info;
      std::this_thread::sleep_for(milliseconds(20));
    }
    ADD_FAILURE() << "container " << id << " did not exit";
    return {};
  }

  std::string logOf(const std::string& path) {
    std::string log;
    (void)readCriLog(
        path, {},
        [&](std::string_view c) {
          log.append(c);
          return true;
        },
        nullptr);
    return log;
  }

  std::string dir_, parent_;
  std::unique_ptr<ImageStore> images_;
  std::unique_ptr<ContainerManager> manager_;
};

TEST_F(ContainerManagerItest, RunsFromTheImageAndKeepsExitAndLog) {
  auto started = manager_->start(
      config("echo", {"sh", "-c", "echo hi from the image; echo made > /made; exit 2"}));
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_EQ(started->image_id, images_->find("itest/busybox:1")->id());
  ContainerInfo done = waitExited(started->id);
  EXPECT_EQ(done.exit.exit_code, 2);
  EXPECT_EQ(done.exit.reason, "Error");
  std::string log;
  ASSERT_TRUE(readCriLog(
                  done.log_path, {},
                  [&](std::string_view c) {
                    log.append(c);
                    return true;
                  },
                  nullptr)
                  .ok());
  EXPECT_EQ(log, "hi from the image\n");
  // The write went to the container's own layer, not the image's.
  const std::string cdir = dir_ + "/state/containers/" + done.id;
  EXPECT_TRUE(fs::exists(cdir + "/upper/made"));
  EXPECT_TRUE(mounted(cdir + "/rootfs"));
  ASSERT_TRUE(manager_->remove(done.id).ok());
  EXPECT_FALSE(mounted(cdir + "/rootfs"));
  EXPECT_FALSE(fs::exists(cdir));
  EXPECT_TRUE(manager_->list().empty());
}

TEST_F(ContainerManagerItest, StopEscalatesToSigkillAndSurvivesAManagerRestart) {
  // sleep as pid 1 of its PID namespace ignores SIGTERM: stop must kill it.
  auto started = manager_->start(config("sleeper", {"sleep", "100"}));
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_EQ(started->state, ContainerState::kRunning);
  EXPECT_GT(started->pid, 0);
  EXPECT_EQ(manager_->remove(started->id).error().code, ErrorCode::kConflict);
  // A new manager over the same root (an agent restart) finds it running.
  ASSERT_TRUE(openManager().ok());
  auto listed = manager_->list();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id, started->id);
  EXPECT_EQ(listed[0].name, "sleeper");
  EXPECT_EQ(listed[0].state, ContainerState::kRunning);
  EXPECT_EQ(listed[0].pid, started->pid);
  ASSERT_TRUE(manager_->stop(started->id, milliseconds(300)).ok());
  auto info = manager_->inspect(started->id);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, ContainerState::kExited);
  EXPECT_EQ(info->exit.signal, SIGKILL);
  EXPECT_EQ(info->exit.exit_code, 128 + SIGKILL);
  EXPECT_TRUE(manager_->remove(started->id).ok());
}

TEST_F(ContainerManagerItest, AskingRunsNoRuncAndStopReturnsOnTheExit) {
  // A runc that notes its subcommands.
  const std::string runc = dir_ + "/runc", calls = dir_ + "/runc-calls";
  std::ofstream(runc) << "#!/bin/sh\necho \"$*\" >> " << calls << "\nexec /usr/sbin/runc \"$@\"\n";
  fs::permissions(runc, fs::perms::owner_all);
  ASSERT_TRUE(openManager(runc).ok());
  auto other = config("other", {"sleep", "100"});
  other.pod_uid = "pod-2";
  auto trapper = config("trapper", {"sh", "-c",
                                    "trap 'echo bye; exit 0' TERM; echo ready; "
                                    "while true; do sleep 0.1; done"});
  auto a = manager_->start(other);
  ASSERT_TRUE(a.ok()) << a.error().message;
  auto b = manager_->start(trapper);
  ASSERT_TRUE(b.ok()) << b.error().message;
  for (int i = 0; i < 250 && logOf(b->log_path).empty(); ++i)
    std::this_thread::sleep_for(milliseconds(20));
  ASSERT_EQ(logOf(b->log_path), "ready\n");  // the trap is set

  auto of_pod = manager_->list("pod-2");
  ASSERT_EQ(of_pod.size(), 1u);
  EXPECT_EQ(of_pod[0].name, "other");
  EXPECT_EQ(of_pod[0].state, ContainerState::kRunning);
  EXPECT_EQ(of_pod[0].pid, a->pid);
  EXPECT_EQ(manager_->list().size(), 2u);
  EXPECT_EQ(manager_->list("pod-1").size(), 1u);
  // SIGTERM reaches the container's own handler; stop returns when it has
  // exited (0 from the trap, not 137 from a SIGKILL after the grace).
  ASSERT_TRUE(manager_->stop(b->id, std::chrono::seconds(60)).ok());
  auto info = manager_->inspect(b->id);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, ContainerState::kExited);
  EXPECT_EQ(info->exit.exit_code, 0);
  EXPECT_EQ(logOf(b->log_path), "ready\nbye\n");
  std::ifstream in(calls);
  std::string line;
  int runc_calls = 0;
  while (std::getline(in, line)) {
    ++runc_calls;
    EXPECT_EQ(line.find(" state "), std::string::npos) << line;
  }
  EXPECT_GT(runc_calls, 0);  // the wrapper was used (create, start, delete)
}

TEST_F(ContainerManagerItest, CancelledWaitsLeaveTheContainerRunning) {
  // `sleep` as the container's init ignores SIGTERM: stop would wait 60 s.
  auto started = manager_->start(config("sleeper", {"sleep", "100"}));
  ASSERT_TRUE(started.ok()) << started.error().message;
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(200));
    manager_->cancelWaits();
  });
  Status stopped = manager_->stop(started->id, std::chrono::seconds(60));
  canceller.join();
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(manager_->inspect(started->id)->state, ContainerState::kRunning);
  ASSERT_TRUE(openManager().ok());  // a new manager (TearDown) stops it
}

TEST_F(ContainerManagerItest, MissingImageLeavesNothing) {
  auto c = config("ghost", {"sh"});
  c.image = "itest/missing:1";
  auto started = manager_->start(c);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(fs::is_empty(dir_ + "/state/containers"));
}

}  // namespace
}  // namespace berth::runtime
