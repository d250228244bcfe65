#include "server/cluster_server.h"

#include <gtest/gtest.h>

namespace berth::server {
namespace {

TEST(ParseServerFlagsTest, DefaultsAreUpstreams) {
  ServerConfig config;
  ASSERT_TRUE(parseServerFlags({}, &config).ok());
  const ControlPlaneOptions& cp = config.control_plane_options;
  EXPECT_EQ(cp.node_monitor_period, std::chrono::seconds(5));
  EXPECT_EQ(cp.node_monitor_grace_period, std::chrono::seconds(40));
  EXPECT_DOUBLE_EQ(cp.node_eviction_rate, 0.1);
  EXPECT_DOUBLE_EQ(cp.secondary_node_eviction_rate, 0.01);
  EXPECT_EQ(cp.large_cluster_size_threshold, 50);
  EXPECT_DOUBLE_EQ(cp.unhealthy_zone_threshold, 0.55);
  EXPECT_TRUE(config.control_plane);
}

TEST(ParseServerFlagsTest, NodeLifecycleFlags) {
  ServerConfig config;
  Status st = parseServerFlags(
      {"--node-monitor-period", "1s", "--node-monitor-grace-period", "1m", "--node-eviction-rate",
       "0.5", "--secondary-node-eviction-rate", "0", "--large-cluster-size-threshold", "10",
       "--unhealthy-zone-threshold", "0.7", "--scheduler-strategy", "most", "--no-control-plane"},
      &config);
  ASSERT_TRUE(st.ok()) << st.error().message;
  const ControlPlaneOptions& cp = config.control_plane_options;
  EXPECT_EQ(cp.node_monitor_period, std::chrono::seconds(1));
  EXPECT_EQ(cp.node_monitor_grace_period, std::chrono::seconds(60));
  EXPECT_DOUBLE_EQ(cp.node_eviction_rate, 0.5);
  EXPECT_DOUBLE_EQ(cp.secondary_node_eviction_rate, 0.0);
  EXPECT_EQ(cp.large_cluster_size_threshold, 10);
  EXPECT_DOUBLE_EQ(cp.unhealthy_zone_threshold, 0.7);
  EXPECT_EQ(cp.scoring_strategy, scheduler::ScoringStrategy::kMostAllocated);
  EXPECT_FALSE(config.control_plane);
}

TEST(ParseServerFlagsTest, BadValuesNameTheFlag) {
  const std::vector<std::vector<std::string>> bad = {
      {"--node-eviction-rate", "-1"},
      {"--node-eviction-rate", "fast"},
      {"--node-eviction-rate", "nan"},
      {"--secondary-node-eviction-rate", ""},
      {"--unhealthy-zone-threshold", "1.5"},
      {"--large-cluster-size-threshold", "2.5"},
      {"--node-monitor-period", "0s"},
      {"--scheduler-strategy", "random"},
      {"--node-eviction-rate"},
      {"--no-such-flag"},
  };
  for (const auto& args : bad) {
    ServerConfig config;
    Status st = parseServerFlags(args, &config);
    ASSERT_FALSE(st.ok()) << args[0];
    EXPECT_EQ(st.error().code, ErrorCode::kBadRequest) << args[0];
    EXPECT_NE(st.error().message.find(args[0]), std::string::npos) << st.error().message;
    // A rejected flag changes nothing.
    EXPECT_DOUBLE_EQ(config.control_plane_options.node_eviction_rate, 0.1);
  }
}

}  // namespace
}  // namespace berth::server
