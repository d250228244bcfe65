#include "agent/node/machine.h"

#include <gtest/gtest.h>

namespace berth::agent::node {
namespace {

TEST(MachineTest, ParsesProcTexts) {
  const char* meminfo =
      "MemTotal:       24683732 kB\nMemFree:         1000 kB\nMemAvailable:   23831204 kB\n"
      "HugePages_Total:       0\n";
  EXPECT_EQ(meminfoBytes(meminfo, "MemTotal"), 24683732ull * 1024);
  EXPECT_EQ(meminfoBytes(meminfo, "MemAvailable"), 23831204ull * 1024);
  EXPECT_EQ(meminfoBytes(meminfo, "HugePages_Total"), 0u);
  EXPECT_EQ(meminfoBytes(meminfo, "Mem"), 0u);  // a prefix of a field is not the field
  EXPECT_EQ(meminfoBytes(meminfo, "Missing"), 0u);
  EXPECT_EQ(osImage("NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
            "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(osImage("PRETTY_NAME=Plain\n"), "Plain");
  EXPECT_EQ(osImage(""), "Linux");
  EXPECT_EQ(loadavgProcesses("0.95 1.73 2.15 3/312 12345\n"), 312u);
  EXPECT_EQ(loadavgProcesses("garbage"), 0u);
}

TEST(MachineTest, AllocatableSubtractsHardEvictionThresholds) {
  MachineInfo info;
  info.cpus = 2;
  info.memory_bytes = 16ull << 30;
  MachineUsage usage;
  usage.fs_capacity_bytes = 100ull << 30;
  EvictionThresholds t;
  auto cap = capacityOf(info, usage, 110);
  EXPECT_EQ(cap.cpu, "2");
  EXPECT_EQ(cap.memory, std::to_string((16ull << 30) / 1024) + "Ki");
  EXPECT_EQ(cap.ephemeral_storage, std::to_string((100ull << 30) / 1024) + "Ki");
  EXPECT_EQ(cap.pods, "110");
  auto alloc = allocatableOf(info, usage, 110, t);
  EXPECT_EQ(alloc.cpu, "2");
  EXPECT_EQ(alloc.memory, std::to_string(((16ull << 30) - (100ull << 20)) / 1024) + "Ki");
  EXPECT_EQ(alloc.ephemeral_storage, std::to_string((100ull << 30) - (10ull << 30) + 0));
  EXPECT_EQ(alloc.pods, "110");
}

TEST(MachineTest, PressureFollowsTheThresholds) {
  EvictionThresholds t;
  MachineUsage u;
  u.memory_available_bytes = 1ull << 30;
  u.fs_capacity_bytes = 1000;
  u.fs_available_bytes = 500;
  u.fs_inodes = 1000;
  u.fs_inodes_free = 900;
  u.pid_max = 1000;
  u.processes = 990;
  Pressure p = evaluatePressure(u, t);
  EXPECT_FALSE(p.memory);
  EXPECT_FALSE(p.disk);
  EXPECT_FALSE(p.pid);  // no pid threshold by default
  u.memory_available_bytes = 99ull << 20;
  EXPECT_TRUE(evaluatePressure(u, t).memory);
  u.fs_available_bytes = 99;
  EXPECT_TRUE(evaluatePressure(u, t).disk);
  u.fs_available_bytes = 500;
  u.fs_inodes_free = 49;
  EXPECT_TRUE(evaluatePressure(u, t).disk);
  t.pid_available_fraction = 0.05;
  EXPECT_TRUE(evaluatePressure(u, t).pid);
  u.processes = 100;
  EXPECT_FALSE(evaluatePressure(u, t).pid);
}

TEST(MachineTest, ReadsThisMachine) {
  auto info = readMachineInfo();
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_GT(info->cpus, 0);
  EXPECT_GT(info->memory_bytes, 0u);
  EXPECT_FALSE(info->kernel_version.empty());
  auto usage = readMachineUsage("/");
  ASSERT_TRUE(usage.ok()) << usage.error().message;
  EXPECT_GT(usage->fs_capacity_bytes, 0u);
  EXPECT_GT(usage->memory_available_bytes, 0u);
  EXPECT_GT(usage->processes, 0u);
  EXPECT_FALSE(readMachineUsage("/nonexistent/berth-machine-test").ok());
}

}  // namespace
}  // namespace berth::agent::node
