#include "scheduler/pod_info.h"

#include <gtest/gtest.h>

#include "scheduler/node_info.h"
#include "scheduler/test_util.h"

namespace berth::scheduler {
namespace {

using testing::NodeBuilder;
using testing::PodBuilder;
namespace json = boost::json;

TEST(PodInfoTest, BasicFields) {
  auto p = PodBuilder("web", "prod")
               .label("app", "web")
               .priority(100)
               .preemptNever()
               .nominated("n1")
               .startTime("2024-01-01T00:00:05Z")
               .info();
  EXPECT_EQ(p->ns, "prod");
  EXPECT_EQ(p->name, "web");
  EXPECT_EQ(p->key(), "prod/web");
  EXPECT_EQ(p->uid, "prod-web-uid");
  EXPECT_EQ(p->priority, 100);
  EXPECT_TRUE(p->preempt_never);
  EXPECT_EQ(p->nominated_node_name, "n1");
  EXPECT_EQ(p->labels.at("app"), "web");
  EXPECT_EQ(p->scheduler_name, "default-scheduler");
  EXPECT_TRUE(p->start_time.has_value());
  EXPECT_FALSE(p->terminating);
  EXPECT_TRUE(PodBuilder("x").terminating().info()->terminating);
}

TEST(PodInfoTest, EmptySchedulerNameMeansDefault) {
  auto b = PodBuilder("p");
  b.spec().erase("schedulerName");
  EXPECT_EQ(b.info()->scheduler_name, "default-scheduler");
  EXPECT_EQ(PodBuilder("p").schedulerName("other").info()->scheduler_name, "other");
}

TEST(PodInfoTest, HostPortsDefaultIpAndProtocol) {
  auto p = PodBuilder("p").hostPort(80).hostPort(53, "UDP", "10.0.0.1").info();
  ASSERT_EQ(p->host_ports.size(), 2u);
  EXPECT_EQ(p->host_ports[0].ip, "0.0.0.0");
  EXPECT_EQ(p->host_ports[0].protocol, "TCP");
  EXPECT_EQ(p->host_ports[1].ip, "10.0.0.1");
  EXPECT_EQ(p->host_ports[1].protocol, "UDP");
  // containerPort without hostPort is not a host port.
  auto b = PodBuilder("q");
  b.container()["ports"] = json::array{json::object{{"containerPort", 8080}}};
  EXPECT_TRUE(b.info()->host_ports.empty());
}

TEST(PodInfoTest, AffinityTermsDefaultToOwnNamespace) {
  auto p = PodBuilder("p", "ns1")
               .podAffinity(false, "app", "db", "zone")
               .podAffinity(true, "app", "web", "host")
               .info();
  ASSERT_EQ(p->required_affinity.size(), 1u);
  ASSERT_EQ(p->required_anti_affinity.size(), 1u);
  EXPECT_EQ(p->required_affinity[0].namespaces, std::set<std::string>{"ns1"});
  EXPECT_TRUE(p->required_affinity[0].namespace_selector.matchesNothing());
  EXPECT_EQ(p->required_affinity[0].topology_key, "zone");
  EXPECT_TRUE(p->hasAffinity());
  EXPECT_TRUE(p->parse_error.empty());
}

TEST(PodInfoTest, AffinityTermWithNamespaceSelectorHasNoImplicitNamespace) {
  json::object term{{"labelSelector", json::object{{"matchLabels", json::object{{"a", "b"}}}}},
                    {"namespaceSelector", json::object{}},
                    {"topologyKey", "zone"}};
  auto p = PodBuilder("p", "ns1")
               .affinity("podAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                         json::array{term})
               .info();
  ASSERT_EQ(p->required_affinity.size(), 1u);
  EXPECT_TRUE(p->required_affinity[0].namespaces.empty());
  EXPECT_FALSE(p->required_affinity[0].namespace_selector.matchesNothing());
}

TEST(PodInfoTest, BadAffinitySelectorIsAParseError) {
  json::object term{{"labelSelector",
                     json::object{{"matchExpressions", json::array{json::object{
                                                           {"key", "a"}, {"operator", "Bogus"}}}}}},
                    {"topologyKey", "zone"}};
  auto p = PodBuilder("p")
               .affinity("podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                         json::array{term})
               .info();
  EXPECT_FALSE(p->parse_error.empty());
}

TEST(PodInfoTest, SpreadConstraintDefaultsAndMatchLabelKeys) {
  auto p = PodBuilder("p")
               .label("app", "web")
               .label("rev", "7")
               .spread(2, "zone", true, "app", "web",
                       json::object{{"matchLabelKeys", json::array{"rev"}}})
               .spread(1, "kubernetes.io/hostname", false, "app", "web",
                       json::object{{"minDomains", 3},
                                    {"nodeAffinityPolicy", "Ignore"},
                                    {"nodeTaintsPolicy", "Honor"}})
               .info();
  ASSERT_EQ(p->spread_constraints.size(), 2u);
  const auto& c0 = p->spread_constraints[0];
  EXPECT_TRUE(c0.do_not_schedule);
  EXPECT_EQ(c0.max_skew, 2);
  EXPECT_EQ(c0.min_domains, 1);
  EXPECT_TRUE(c0.honor_node_affinity);
  EXPECT_FALSE(c0.honor_node_taints);
  // matchLabelKeys merged the pod's rev=7 into the selector.
  EXPECT_TRUE(c0.selector.matches(LabelMap{{"app", "web"}, {"rev", "7"}}));
  EXPECT_FALSE(c0.selector.matches(LabelMap{{"app", "web"}, {"rev", "6"}}));
  const auto& c1 = p->spread_constraints[1];
  EXPECT_FALSE(c1.do_not_schedule);
  EXPECT_EQ(c1.min_domains, 3);
  EXPECT_FALSE(c1.honor_node_affinity);
  EXPECT_TRUE(c1.honor_node_taints);
}

TEST(PodInfoTest, TolerationMatching) {
  Taint t{"k", "v", "NoSchedule"};
  EXPECT_TRUE((Toleration{"k", "Equal", "v", "NoSchedule"}).toleratesTaint(t));
  EXPECT_TRUE((Toleration{"k", "", "v", ""}).toleratesTaint(t));
  EXPECT_FALSE((Toleration{"k", "Equal", "w", ""}).toleratesTaint(t));
  EXPECT_TRUE((Toleration{"k", "Exists", "", ""}).toleratesTaint(t));
  EXPECT_TRUE((Toleration{"", "Exists", "", ""}).toleratesTaint(t));
  EXPECT_FALSE((Toleration{"k", "Exists", "", "NoExecute"}).toleratesTaint(t));
  EXPECT_FALSE((Toleration{"other", "Exists", "", ""}).toleratesTaint(t));
  EXPECT_FALSE((Toleration{"k", "Gt", "v", ""}).toleratesTaint(t));
}

TEST(PodInfoTest, ImagesAreNormalized) {
  EXPECT_EQ(normalizedImageName("nginx"), "nginx:latest");
  EXPECT_EQ(normalizedImageName("nginx:1.25"), "nginx:1.25");
  EXPECT_EQ(normalizedImageName("registry:5000/app"), "registry:5000/app:latest");
  EXPECT_EQ(normalizedImageName("registry:5000/app:v1"), "registry:5000/app:v1");
  EXPECT_EQ(normalizedImageName("app@sha256:abcd"), "app@sha256:abcd");
  auto p = PodBuilder("p").image("nginx").init("", "").info();
  ASSERT_EQ(p->images.size(), 2u);
  EXPECT_EQ(p->images[0], "busybox:latest");
  EXPECT_EQ(p->images[1], "nginx:latest");
  EXPECT_EQ(p->num_containers, 2u);
}

TEST(PodInfoTest, MoreImportantPod) {
  auto high = PodBuilder("a").priority(10).info();
  auto low = PodBuilder("b").priority(1).info();
  EXPECT_TRUE(moreImportantPod(*high, *low));
  EXPECT_FALSE(moreImportantPod(*low, *high));
  auto early = PodBuilder("c").startTime("2024-01-01T00:00:00Z").info();
  auto late = PodBuilder("d").startTime("2024-01-01T01:00:00Z").info();
  auto never = PodBuilder("e").info();
  EXPECT_TRUE(moreImportantPod(*early, *late));
  EXPECT_TRUE(moreImportantPod(*late, *never));
}

TEST(NodeDataTest, ParsesSchedulingFields) {
  auto n = NodeBuilder("n1")
               .capacity("8", "32Gi", "50")
               .label("zone", "a")
               .taint("dedicated", "gpu", "NoSchedule")
               .unschedulable()
               .image({"nginx:1.25", "nginx@sha256:x"}, 100)
               .data();
  EXPECT_EQ(n->name, "n1");
  EXPECT_EQ(n->allocatable.milli_cpu, 8000);
  EXPECT_EQ(n->allocatable.allowed_pod_number, 50);
  EXPECT_EQ(n->labels.at("zone"), "a");
  ASSERT_EQ(n->taints.size(), 1u);
  EXPECT_EQ(n->taints[0].value, "gpu");
  EXPECT_TRUE(n->unschedulable);
  ASSERT_EQ(n->images.size(), 1u);
  EXPECT_EQ(n->images[0].names.size(), 2u);
}

TEST(NodeInfoTest, AddRemovePodsKeepsAggregates) {
  auto a = PodBuilder("a").req("1", "1Gi").hostPort(80).node("n1").info();
  auto b = PodBuilder("b").podAffinity(true, "app", "x", "zone").node("n1").info();
  auto ni = NodeBuilder("n1").info({a, b});
  EXPECT_EQ(ni->pods().size(), 2u);
  EXPECT_EQ(ni->requested().milli_cpu, 1000);
  EXPECT_EQ(ni->nonZeroRequested().milli_cpu, 1000 + kDefaultMilliCpuRequest);
  EXPECT_EQ(ni->podsWithAffinity().size(), 1u);
  EXPECT_EQ(ni->podsWithRequiredAntiAffinity().size(), 1u);
  EXPECT_TRUE(ni->usedPorts().conflicts({"0.0.0.0", "TCP", 80}));
  int64_t gen = ni->generation();
  EXPECT_TRUE(ni->removePod(a->uid));
  EXPECT_GT(ni->generation(), gen);
  EXPECT_FALSE(ni->removePod(a->uid));
  EXPECT_EQ(ni->requested().milli_cpu, 0);
  EXPECT_FALSE(ni->usedPorts().conflicts({"0.0.0.0", "TCP", 80}));
  EXPECT_TRUE(ni->removePod(b->uid));
  EXPECT_TRUE(ni->podsWithAffinity().empty());
  EXPECT_EQ(ni->nonZeroRequested().milli_cpu, 0);
}

TEST(NodeInfoTest, HostPortConflicts) {
  HostPortInfo ports;
  ports.add({"10.0.0.1", "TCP", 8080});
  EXPECT_TRUE(ports.conflicts({"10.0.0.1", "TCP", 8080}));
  EXPECT_TRUE(ports.conflicts({"0.0.0.0", "TCP", 8080}));
  EXPECT_FALSE(ports.conflicts({"10.0.0.2", "TCP", 8080}));
  EXPECT_FALSE(ports.conflicts({"10.0.0.1", "UDP", 8080}));
  ports.add({"0.0.0.0", "UDP", 53});
  EXPECT_TRUE(ports.conflicts({"10.0.0.9", "UDP", 53}));
  EXPECT_FALSE(ports.conflicts({"10.0.0.9", "UDP", 0}));
  // Counted: two users of the same port release it only together.
  ports.add({"10.0.0.1", "TCP", 8080});
  ports.remove({"10.0.0.1", "TCP", 8080});
  EXPECT_TRUE(ports.conflicts({"10.0.0.1", "TCP", 8080}));
  ports.remove({"10.0.0.1", "TCP", 8080});
  EXPECT_FALSE(ports.conflicts({"10.0.0.1", "TCP", 8080}));
}

TEST(NodeInfoTest, CloneIsIndependent) {
  auto a = PodBuilder("a").req("1").node("n1").info();
  auto ni = NodeBuilder("n1").info({a});
  auto copy = ni->clone();
  copy->removePod(a->uid);
  EXPECT_EQ(ni->pods().size(), 1u);
  EXPECT_EQ(copy->pods().size(), 0u);
  EXPECT_EQ(ni->requested().milli_cpu, 1000);
}

}  // namespace
}  // namespace berth::scheduler
