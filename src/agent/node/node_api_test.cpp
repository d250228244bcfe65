#include "agent/node/node_api.h"

#include <gtest/gtest.h>

#include "api/kinds/access.h"

namespace berth::agent::node {
namespace {

using api::strAt;

TEST(NodeApiTest, RealNodeStatusFromTheMachine) {
  NodeReport r;
  r.machine.cpus = 2;
  r.machine.memory_bytes = 8ull << 30;
  r.machine.machine_id = "m1";
  r.machine.system_uuid = "uuid";
  r.machine.boot_id = "boot";
  r.machine.kernel_version = "6.1.0";
  r.machine.os_image = "Debian GNU/Linux 12 (bookworm)";
  r.usage.fs_capacity_bytes = 100ull << 30;
  r.usage.fs_available_bytes = 50ull << 30;
  r.usage.memory_available_bytes = 4ull << 30;
  r.internal_ip = "10.0.0.2";
  r.hostname = "node-a";
  r.runtime_version = "runc://1.1.5";
  r.kubelet_version = "v1.32.2-berth";
  NodeConditions conds;
  auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1767225600));
  auto status = realNodeStatus(r, conds.update(realNodeHealth(r, ""), now));
  EXPECT_EQ(strAt(status, {"capacity", "cpu"}), "2");
  EXPECT_EQ(strAt(status, {"capacity", "memory"}), "8388608Ki");
  EXPECT_EQ(strAt(status, {"allocatable", "memory"}), "8286208Ki");  // minus 100Mi
  EXPECT_EQ(strAt(status, {"allocatable", "pods"}), "110");
  EXPECT_EQ(strAt(status, {"nodeInfo", "containerRuntimeVersion"}), "runc://1.1.5");
  EXPECT_EQ(strAt(status, {"nodeInfo", "osImage"}), "Debian GNU/Linux 12 (bookworm)");
  const auto& addresses = status.at("addresses").as_array();
  ASSERT_EQ(addresses.size(), 2u);
  EXPECT_EQ(strAt(addresses[0].as_object(), {"address"}), "10.0.0.2");
  const auto& c = status.at("conditions").as_array();
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(strAt(c[3].as_object(), {"type"}), "Ready");
  EXPECT_EQ(strAt(c[3].as_object(), {"status"}), "True");
  EXPECT_EQ(strAt(c[0].as_object(), {"reason"}), "KubeletHasSufficientMemory");

  // Low memory: MemoryPressure; a runtime problem: NotReady with its message.
  r.usage.memory_available_bytes = 10 << 20;
  auto later = now + std::chrono::seconds(10);
  auto pressured = conds.update(realNodeHealth(r, "runc is missing"), later);
  EXPECT_EQ(strAt(pressured[0].as_object(), {"status"}), "True");
  EXPECT_EQ(strAt(pressured[0].as_object(), {"reason"}), "KubeletHasInsufficientMemory");
  EXPECT_EQ(strAt(pressured[3].as_object(), {"status"}), "False");
  EXPECT_EQ(strAt(pressured[3].as_object(), {"message"}), "runc is missing");
  EXPECT_EQ(strAt(pressured[3].as_object(), {"lastTransitionTime"}), "2026-01-01T00:00:10Z");
  EXPECT_EQ(strAt(pressured[1].as_object(), {"lastTransitionTime"}), "2026-01-01T00:00:00Z");
}

}  // namespace
}  // namespace berth::agent::node
