#include "runtime/oci/bundle.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "runtime/oci/test_util.h"

namespace berth::runtime {
namespace {
using testing::TempDir;

TEST(BundleTest, WriteCreatesPrivateDirAndConfig) {
  TempDir tmp;
  Bundle bundle(tmp.path() + "/pods/p1/c1");
  boost::json::object config{{"ociVersion", "1.0.2"}, {"hostname", "x"}};
  ASSERT_TRUE(bundle.write(config).ok());
  struct stat st;
  ASSERT_EQ(::stat(bundle.dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto read = bundle.readConfig();
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, config);
  // No temp file left beside it.
  int entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(bundle.dir())) {
    (void)entry;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(BundleTest, RewriteReplacesConfig) {
  TempDir tmp;
  Bundle bundle(tmp.path() + "/c1");
  ASSERT_TRUE(bundle.write({{"hostname", "a"}}).ok());
  ASSERT_TRUE(bundle.write({{"hostname", "b"}}).ok());
  EXPECT_EQ(bundle.readConfig()->at("hostname").as_string(), "b");
}

TEST(BundleTest, ReadMissingConfigIsNotFound) {
  TempDir tmp;
  auto read = Bundle(tmp.path() + "/none").readConfig();
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, ErrorCode::kNotFound);
}

TEST(BundleTest, RemoveDeletesTreeAndToleratesMissing) {
  TempDir tmp;
  Bundle bundle(tmp.path() + "/c1");
  ASSERT_TRUE(bundle.write({{"a", 1}}).ok());
  std::filesystem::create_directories(bundle.dir() + "/rootfs/bin");
  testing::writeText(bundle.dir() + "/rootfs/bin/x", "x");
  ASSERT_TRUE(bundle.remove().ok());
  EXPECT_FALSE(std::filesystem::exists(bundle.dir()));
  EXPECT_TRUE(bundle.remove().ok());
}

TEST(BundleTest, RemoveRefusesWhileSomethingIsMountedBelow) {
  // /proc is a mount point: a "bundle" containing it must not be deleted.
  auto status = Bundle("/proc").remove();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kConflict);
  EXPECT_NE(status.error().message.find("mount"), std::string::npos);
}

TEST(BundleTest, WriteFileAtomic) {
  TempDir tmp;
  std::string path = tmp.path() + "/f.json";
  ASSERT_TRUE(writeFileAtomic(path, "one").ok());
  ASSERT_TRUE(writeFileAtomic(path, "two").ok());
  EXPECT_EQ(testing::readText(path), "two");
  auto status = writeFileAtomic(tmp.path() + "/missing-dir/f", "x");
  EXPECT_FALSE(status.ok());
}

}  // namespace
}  // namespace berth::runtime
