#include "runtime/pod/exit_watcher.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <vector>

#include "common/file_util.h"

namespace berth::runtime {
namespace {

namespace fs = std::filesystem;

class ExitWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("exit-watcher-" + std::to_string(::getpid()));
    fs::create_directories(root_ / "a");
    fs::create_directories(root_ / "b");
  }
  void TearDown() override { fs::remove_all(root_); }

  // Waits (bounded) until `n` exits were reported.
  bool waitFor(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return exited_.size() >= n; });
  }
  std::function<void(const std::string&)> recorder() {
    return [this](const std::string& id) {
      std::lock_guard lock(mu_);
      exited_.push_back(id);
      cv_.notify_all();
    };
  }

  fs::path root_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> exited_;
};

TEST_F(ExitWatcherTest, ReportsTheExitFileOfAWatchedContainerOnly) {
  ExitWatcher w(recorder());
  ASSERT_TRUE(w.start().ok());
  ASSERT_TRUE(w.watch("a", (root_ / "a").string()).ok());
  ASSERT_TRUE(w.watch("b", (root_ / "b").string()).ok());
  EXPECT_EQ(w.watching(), 2u);
  // Other files in the directory are not exits.
  ASSERT_TRUE(writeFileAtomic((root_ / "b" / "shim.pid").string(), "1").ok());
  ASSERT_TRUE(writeFileAtomic((root_ / "b" / "exit.json").string(), "{}").ok());
  ASSERT_TRUE(waitFor(1));
  w.unwatch("b");
  EXPECT_EQ(w.watching(), 1u);
  w.stop();
  std::lock_guard lock(mu_);
  EXPECT_EQ(exited_, std::vector<std::string>{"b"});
}

TEST_F(ExitWatcherTest, AnExitBeforeTheWatchIsReportedAtOnce) {
  ASSERT_TRUE(writeFileAtomic((root_ / "a" / "exit.json").string(), "{}").ok());
  ExitWatcher w(recorder());
  EXPECT_FALSE(w.watch("a", (root_ / "a").string()).ok());  // not started
  ASSERT_TRUE(w.start().ok());
  ASSERT_TRUE(w.watch("a", (root_ / "a").string()).ok());
  ASSERT_TRUE(waitFor(1));
  EXPECT_EQ(exited_.front(), "a");
}

TEST_F(ExitWatcherTest, ARemovedDirectoryDropsItsWatch) {
  ExitWatcher w(recorder());
  ASSERT_TRUE(w.start().ok());
  ASSERT_TRUE(w.watch("a", (root_ / "a").string()).ok());
  EXPECT_FALSE(w.watch("x", (root_ / "missing").string()).ok());
  fs::remove_all(root_ / "a");
  // The watcher drops the watch when the kernel says the directory is gone;
  // a later exit elsewhere still arrives.
  ASSERT_TRUE(w.watch("b", (root_ / "b").string()).ok());
  ASSERT_TRUE(writeFileAtomic((root_ / "b" / "exit.json").string(), "{}").ok());
  ASSERT_TRUE(waitFor(1));
  w.stop();
  EXPECT_EQ(w.watching(), 0u);
  EXPECT_EQ(exited_, std::vector<std::string>{"b"});
}

}  // namespace
}  // namespace berth::runtime
