#include "agent/pod_dns.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace berth::agent {
namespace {

api::Object parse(const std::string& text) { return boost::json::parse(text).as_object(); }

TEST(PodDnsTest, ResolvConfParseAndFormat) {
  auto c = parseResolvConf(
      "# comment\nnameserver 10.0.0.10\nnameserver 10.0.0.11 ; x\n"
      "domain old.example\nsearch a.example b.example\noptions ndots:2 edns0\n");
  EXPECT_EQ(c.nameservers, (std::vector<std::string>{"10.0.0.10", "10.0.0.11"}));
  EXPECT_EQ(c.searches, (std::vector<std::string>{"a.example", "b.example"}));
  EXPECT_EQ(c.options, (std::vector<std::string>{"ndots:2", "edns0"}));
  EXPECT_EQ(formatResolvConf(c),
            "nameserver 10.0.0.10\nnameserver 10.0.0.11\nsearch a.example b.example\n"
            "options ndots:2 edns0\n");
}

TEST(PodDnsTest, PoliciesAndDnsConfig) {
  ResolvConf host = parseResolvConf("nameserver 192.0.2.53\nsearch corp.example\n");
  ClusterDns dns{{"10.96.0.10"}, "cluster.local"};
  std::string warning;
  auto cf = podResolvConf(parse(R"({"metadata": {"name": "p", "namespace": "web"}, "spec": {}})"),
                          host, dns, &warning);
  EXPECT_EQ(formatResolvConf(cf),
            "nameserver 10.96.0.10\n"
            "search web.svc.cluster.local svc.cluster.local cluster.local corp.example\n"
            "options ndots:5\n");
  EXPECT_TRUE(warning.empty());
  // No cluster DNS yet: the node's, with upstream's warning.
  auto fallback = podResolvConf(parse(R"({"metadata": {"name": "p", "namespace": "web"}})"), host,
                                ClusterDns{}, &warning);
  EXPECT_EQ(formatResolvConf(fallback), "nameserver 192.0.2.53\nsearch corp.example\n");
  EXPECT_NE(warning.find("Falling back to \"Default\" policy"), std::string::npos);
  // Host network with ClusterFirst is Default; ClusterFirstWithHostNet is cluster DNS.
  auto hostnet =
      podResolvConf(parse(R"({"metadata": {"namespace": "a"}, "spec": {"hostNetwork": true}})"),
                    host, dns, nullptr);
  EXPECT_EQ(hostnet.nameservers, (std::vector<std::string>{"192.0.2.53"}));
  auto with_host_net = podResolvConf(
      parse(
          R"({"metadata": {"namespace": "a"}, "spec": {"hostNetwork": true, "dnsPolicy": "ClusterFirstWithHostNet"}})"),
      host, dns, nullptr);
  EXPECT_EQ(with_host_net.nameservers, (std::vector<std::string>{"10.96.0.10"}));
  // None: only dnsConfig; options merged by name; at most 3 nameservers.
  auto none = podResolvConf(parse(R"({"metadata": {"namespace": "a"}, "spec": {"dnsPolicy": "None",
      "dnsConfig": {"nameservers": ["1.1.1.1", "1.0.0.1", "9.9.9.9", "8.8.8.8"], "searches": ["x.example"],
                    "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}}})"),
                            host, dns, nullptr);
  EXPECT_EQ(formatResolvConf(none),
            "nameserver 1.1.1.1\nnameserver 1.0.0.1\nnameserver 9.9.9.9\nsearch x.example\noptions "
            "ndots:2 edns0\n");
  auto merged = podResolvConf(parse(R"({"metadata": {"namespace": "a"}, "spec": {
      "dnsConfig": {"options": [{"name": "ndots", "value": "1"}]}}})"),
                              host, dns, nullptr);
  EXPECT_EQ(merged.options, (std::vector<std::string>{"ndots:1"}));
}

TEST(PodDnsTest, HostsFile) {
  auto pod = parse(R"({"metadata": {"name": "web-0", "namespace": "prod"},
      "spec": {"hostname": "web-0", "subdomain": "web",
               "hostAliases": [{"ip": "10.1.2.3", "hostnames": ["foo.local", "bar.local"]}]}})");
  std::string hosts = podHostsFile(pod, "10.244.1.5", "cluster.local", "");
  EXPECT_EQ(hosts,
            "# Kubernetes-managed hosts file.\n"
            "127.0.0.1\tlocalhost\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n"
            "fe00::0\tip6-localnet\n"
            "fe00::0\tip6-mcastprefix\n"
            "fe00::1\tip6-allnodes\n"
            "fe00::2\tip6-allrouters\n"
            "10.244.1.5\tweb-0.web.prod.svc.cluster.local\tweb-0\n"
            "\n# Entries added by HostAliases.\n"
            "10.1.2.3\tfoo.local\tbar.local\n");
  auto hostnet = parse(R"({"metadata": {"name": "n"}, "spec": {"hostNetwork": true}})");
  EXPECT_EQ(podHostsFile(hostnet, "", "cluster.local", "127.0.0.1 localhost"),
            "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n");
  EXPECT_EQ(
      podHostname(parse(R"({"metadata": {"name": ")" + std::string(70, 'a') + R"("}})")).size(),
      63u);
}

}  // namespace
}  // namespace berth::agent
