#include "agent/volumes/atomic_writer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace berth::agent::volumes {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

class AtomicWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-atomic-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string slurp(const std::string& rel) {
    std::ifstream in(fs::path(dir_) / rel);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  int mode(const std::string& rel) {
    struct stat st;
    if (::stat((fs::path(dir_) / rel).c_str(), &st) != 0) return -1;
    return static_cast<int>(st.st_mode & 07777);
  }
  std::set<std::string> entries() {
    std::set<std::string> out;
    for (auto& e : fs::directory_iterator(dir_)) out.insert(e.path().filename().string());
    return out;
  }

  std::string dir_;
  FakeClock clock_{std::chrono::system_clock::time_point(seconds(1767225600))};
};

TEST_F(AtomicWriterTest, WritesThroughDataLinkAndSwapsGenerations) {
  AtomicWriter w(dir_, clock_);
  ASSERT_TRUE(w.write({{"a", {"1", 0644}}, {"sub/b", {"2", 0400}}}).ok());
  EXPECT_EQ(slurp("a"), "1");
  EXPECT_EQ(slurp("sub/b"), "2");
  EXPECT_EQ(mode("sub/b"), 0400);
  EXPECT_TRUE(fs::is_symlink(fs::path(dir_) / "a"));
  EXPECT_EQ(fs::read_symlink(fs::path(dir_) / "a"), fs::path("..data/a"));
  std::string gen1 = fs::read_symlink(fs::path(dir_) / "..data").string();
  EXPECT_EQ(gen1, "..2026_01_01_00_00_00.000000000");
  EXPECT_EQ(entries(), (std::set<std::string>{"..data", gen1, "a", "sub"}));

  // The same payload again: no new generation.
  clock_.advance(seconds(5));
  ASSERT_TRUE(w.write({{"a", {"1", 0644}}, {"sub/b", {"2", 0400}}}).ok());
  EXPECT_EQ(fs::read_symlink(fs::path(dir_) / "..data").string(), gen1);

  // An update: new generation, old one and stale links gone.
  ASSERT_TRUE(w.write({{"a", {"changed", 0644}}, {"c", {"3", 0600}}}).ok());
  std::string gen2 = fs::read_symlink(fs::path(dir_) / "..data").string();
  EXPECT_NE(gen2, gen1);
  EXPECT_EQ(slurp("a"), "changed");
  EXPECT_EQ(slurp("c"), "3");
  EXPECT_EQ(entries(), (std::set<std::string>{"..data", gen2, "a", "c"}));

  // A mode change alone is a change too.
  clock_.advance(seconds(5));
  ASSERT_TRUE(w.write({{"a", {"changed", 0600}}, {"c", {"3", 0600}}}).ok());
  EXPECT_EQ(mode("a"), 0600);
  EXPECT_NE(fs::read_symlink(fs::path(dir_) / "..data").string(), gen2);

  // Empty payload: no user-visible files.
  clock_.advance(seconds(5));
  ASSERT_TRUE(w.write({}).ok());
  for (auto& e : entries()) EXPECT_EQ(e.rfind("..", 0), 0u) << e;
}

TEST_F(AtomicWriterTest, RefusesBadPaths) {
  AtomicWriter w(dir_, clock_);
  for (std::string bad : {"", "/abs", "..x", "a/../b", "..", "a/.."})
    EXPECT_FALSE(w.write({{bad, {"x", 0644}}}).ok()) << bad;
  EXPECT_TRUE(entries().empty());
  EXPECT_TRUE(AtomicWriter::validatePath("a/b..c").ok());
}

}  // namespace
}  // namespace berth::agent::volumes
