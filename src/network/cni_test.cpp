#include "network/cni.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace berth::network {
namespace {

namespace json = boost::json;

TEST(CniTest, BridgeConfigHasTheNodeSubnetAndNoMasquerade) {
  CniConfig c;
  c.subnet = "10.244.1.0/24";
  c.data_dir = "/var/lib/berth/cni";
  c.mtu = 1450;
  json::object net = json::parse(bridgeNetworkConfig(c)).as_object();
  EXPECT_EQ(net.at("cniVersion"), "1.0.0");
  EXPECT_EQ(net.at("type"), "bridge");
  EXPECT_EQ(net.at("bridge"), "cni0");
  EXPECT_EQ(net.at("isGateway"), true);
  EXPECT_EQ(net.at("ipMasq"), false);
  EXPECT_EQ(net.at("hairpinMode"), true);
  EXPECT_EQ(net.at("mtu"), 1450);
  const auto& ipam = net.at("ipam").as_object();
  EXPECT_EQ(ipam.at("type"), "host-local");
  EXPECT_EQ(ipam.at("dataDir"), "/var/lib/berth/cni");
  EXPECT_EQ(ipam.at("ranges").at(0).at(0).at("subnet"), "10.244.1.0/24");
}

TEST(CniTest, ParsesTheAddressOfTheSandboxInterface) {
  const char* result = R"({"cniVersion": "1.0.0",
    "interfaces": [{"name": "cni0", "mac": "aa:aa:aa:aa:aa:aa"},
                   {"name": "veth1", "mac": "bb:bb:bb:bb:bb:bb"},
                   {"name": "eth0", "mac": "cc:cc:cc:cc:cc:cc", "sandbox": "/run/netns/p"}],
    "ips": [{"interface": 2, "address": "10.244.1.7/24", "gateway": "10.244.1.1"}],
    "routes": [{"dst": "0.0.0.0/0"}], "dns": {}})";
  auto a = parseCniResult(result);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->ip, "10.244.1.7");
  EXPECT_EQ(a->prefix, "10.244.1.7/24");
  EXPECT_EQ(a->gateway, "10.244.1.1");
  EXPECT_EQ(a->mac, "cc:cc:cc:cc:cc:cc");
  EXPECT_FALSE(parseCniResult("not json").ok());
  EXPECT_FALSE(parseCniResult(R"({"cniVersion": "1.0.0", "ips": []})").ok());
  EXPECT_FALSE(cniAdd(CniConfig{}, "c", "/nonexistent").ok());  // no subnet
}

}  // namespace
}  // namespace berth::network
