#include "runtime/oci/cgroups.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "runtime/oci/test_util.h"

namespace berth::runtime {
namespace {
using testing::TempDir;

constexpr const char* kMountinfo =
    "22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:9 - cgroup "
    "cgroup rw,cpu,cpuacct\n"
    "32 30 0:29 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "33 30 0:30 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "34 30 0:31 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup "
    "rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd\n"
    "35 30 0:32 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
    "40 22 0:40 / /mnt/with\\040space rw - tmpfs tmpfs rw\n";

TEST(CgroupsTest, ParseMountinfo) {
  auto mounts = parseMountinfo(kMountinfo);
  ASSERT_EQ(mounts.size(), 8u);
  EXPECT_EQ(mounts[2].mount_point, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(mounts[2].fs_type, "cgroup");
  EXPECT_EQ(mounts[2].super_options, "rw,cpu,cpuacct");
  EXPECT_EQ(mounts[2].root, "/");
  EXPECT_EQ(mounts[0].fs_type, "ext4");
  EXPECT_EQ(mounts[0].source, "/dev/vda");
  EXPECT_EQ(mounts[7].mount_point, "/mnt/with space");
}

TEST(CgroupsTest, ControllersFromMountinfo) {
  auto cgroups = CgroupV1::fromMountinfo(parseMountinfo(kMountinfo));
  const auto& mounts = cgroups.mounts();
  EXPECT_EQ(mounts.at("cpu"), "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(mounts.at("cpuacct"), "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(mounts.at("memory"), "/sys/fs/cgroup/memory");
  EXPECT_EQ(mounts.at("name=systemd"), "/sys/fs/cgroup/systemd");
  EXPECT_EQ(mounts.count("rw"), 0u);
  EXPECT_EQ(mounts.count("xattr"), 0u);
  EXPECT_EQ(mounts.count("release_agent=/lib/systemd/systemd-cgroups-agent"), 0u);
  // Hybrid mode's cgroup2 mount, where runc creates each cgroup too.
  EXPECT_EQ(mounts.at("unified"), "/sys/fs/cgroup/unified");
  EXPECT_EQ(mounts.size(), 6u);
  EXPECT_EQ(*cgroups.path("memory", "/berth/pod1/c"), "/sys/fs/cgroup/memory/berth/pod1/c");
  EXPECT_EQ(*cgroups.path("pids", "berth/x/"), "/sys/fs/cgroup/pids/berth/x");
  auto missing = cgroups.path("blkio", "/x");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

// A fake hierarchy in a temp dir with the files runc would find.
TEST(CgroupsTest, ReadsValues) {
  TempDir tmp;
  std::string memory = tmp.path() + "/memory", cpu = tmp.path() + "/cpu",
              pids = tmp.path() + "/pids";
  std::string rel = "/berth/pod1/c";
  for (const auto& root : {memory, cpu, pids}) std::filesystem::create_directories(root + rel);
  testing::writeText(memory + rel + "/memory.usage_in_bytes", "12345\n");
  testing::writeText(memory + rel + "/memory.limit_in_bytes", "67108864\n");
  testing::writeText(memory + rel + "/memory.failcnt", "4\n");
  testing::writeText(memory + rel + "/memory.oom_control",
                     "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  testing::writeText(cpu + rel + "/cpu.cfs_quota_us", "-1\n");
  testing::writeText(cpu + rel + "/cpu.shares", "1024\n");
  testing::writeText(pids + rel + "/pids.max", "max\n");
  CgroupV1 cgroups({{"memory", memory}, {"cpu", cpu}, {"pids", pids}});
  EXPECT_EQ(*cgroups.memoryUsage(rel), 12345);
  EXPECT_EQ(*cgroups.memoryLimit(rel), 64 << 20);
  EXPECT_EQ(*cgroups.memoryFailcnt(rel), 4);
  EXPECT_EQ(*cgroups.oomKillCount(rel), 2);
  EXPECT_EQ(*cgroups.cpuQuota(rel), -1);
  EXPECT_EQ(*cgroups.cpuShares(rel), 1024);
  EXPECT_EQ(*cgroups.pidsMax(rel), -1);
  testing::writeText(pids + rel + "/pids.max", "50\n");
  EXPECT_EQ(*cgroups.pidsMax(rel), 50);
  testing::writeText(cpu + rel + "/cpu.shares", "lots\n");
  EXPECT_FALSE(cgroups.cpuShares(rel).ok());
  auto missing = cgroups.memoryUsage("/berth/other");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  testing::writeText(memory + rel + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
  EXPECT_FALSE(cgroups.oomKillCount(rel).ok());
}

TEST(CgroupsTest, RemoveTreeBottomUpUnderEveryController) {
  TempDir tmp;
  std::string memory = tmp.path() + "/memory", cpu = tmp.path() + "/cpu";
  std::filesystem::create_directories(memory + "/berth/pod1/a/deeper");
  std::filesystem::create_directories(memory + "/berth/pod1/b");
  std::filesystem::create_directories(cpu + "/berth/pod1/a");
  std::filesystem::create_directories(memory + "/berth/pod2");
  CgroupV1 cgroups({{"memory", memory}, {"cpu", cpu}});
  ASSERT_TRUE(cgroups.removeTree("/berth/pod1").ok());
  EXPECT_FALSE(std::filesystem::exists(memory + "/berth/pod1"));
  EXPECT_FALSE(std::filesystem::exists(cpu + "/berth/pod1"));
  EXPECT_TRUE(std::filesystem::exists(memory + "/berth/pod2"));
  // Already gone: fine.
  EXPECT_TRUE(cgroups.removeTree("/berth/pod1").ok());
  EXPECT_EQ(cgroups.removeTree("/").error().code, ErrorCode::kInvalid);
}

TEST(CgroupsTest, RmdirTreeNeverUnlinksFiles) {
  // On cgroupfs the control files vanish with their directory; anywhere else
  // a file means this is not a cgroup tree, and rmdir must fail, not delete it.
  TempDir tmp;
  std::filesystem::create_directories(tmp.path() + "/t/sub");
  testing::writeText(tmp.path() + "/t/sub/keep", "data");
  EXPECT_FALSE(rmdirTree(tmp.path() + "/t").ok());
  EXPECT_EQ(testing::readText(tmp.path() + "/t/sub/keep"), "data");
}

}  // namespace
}  // namespace berth::runtime
