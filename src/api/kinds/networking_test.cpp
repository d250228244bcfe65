#include <gtest/gtest.h>

#include "api/kind.h"
#include "api/kinds/networking_internal.h"

namespace berth::api {
namespace {

namespace json = boost::json;

json::object parse(const char* s) { return json::parse(s).as_object(); }

const KindInfo& kind(const char* k) {
  static const KindRegistry reg = [] {
    KindRegistry r;
    registerNetworkingKinds(r);
    return r;
  }();
  const KindInfo* info = reg.byKind("networking.k8s.io", "v1", k);
  EXPECT_NE(info, nullptr);
  return *info;
}

std::vector<std::string> errors(const KindInfo& k, const json::object& obj, const json::object* old = nullptr) {
  FieldErrors errs;
  k.validate(obj, old, errs);
  std::vector<std::string> out;
  for (const auto& c : errs.causes()) out.push_back(c.field + ": " + c.message);
  return out;
}

KindContext at(int64_t unix_seconds) { return KindContext{std::chrono::system_clock::from_time_t(unix_seconds)}; }
constexpr int64_t kCreated = 1704067200;  // 2024-01-01T00:00:00Z

TEST(NetworkPolicy, Defaults) {
  const KindInfo& np = kind("NetworkPolicy");
  auto a = parse(R"({"metadata":{"name":"a","namespace":"ns"},"spec":{"ingress":[{"ports":[{"port":80}]}]}})");
  np.defaults(a);
  EXPECT_EQ(a.at("spec").at("policyTypes"), (json::array{"Ingress"}));
  EXPECT_EQ(a.at("spec").at("podSelector"), json::object());
  EXPECT_EQ(a.at("spec").at("ingress").at(0).at("ports").at(0).at("protocol"), "TCP");
  auto b = parse(R"({"spec":{"egress":[{}]}})");
  np.defaults(b);
  EXPECT_EQ(b.at("spec").at("policyTypes"), (json::array{"Ingress", "Egress"}));
  auto c = parse(R"({"spec":{"policyTypes":["Egress"],"egress":[{}]}})");
  np.defaults(c);
  EXPECT_EQ(c.at("spec").at("policyTypes"), (json::array{"Egress"}));
}

TEST(NetworkPolicy, Validation) {
  auto obj = parse(R"({"metadata":{"name":"a","namespace":"ns"},"spec":{"podSelector":{},
      "ingress":[{"ports":[{"protocol":"ICMP","port":70000},{"port":"http","endPort":90},{"port":100,"endPort":90}],
                  "from":[{},{"ipBlock":{"cidr":"10.0.0.0/8","except":["10.1.0.0/16","11.0.0.0/16","10.0.0.0/8","bad"]}},
                          {"ipBlock":{"cidr":"10.0.0.0/33"}},
                          {"ipBlock":{"cidr":"10.0.0.0/8"},"podSelector":{}}]}],
      "policyTypes":["Ingress","Sideways"]}})");
  EXPECT_EQ(errors(kind("NetworkPolicy"), obj),
            (std::vector<std::string>{
                "spec.ingress[0].ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"TCP\", \"UDP\", \"SCTP\"",
                "spec.ingress[0].ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.ingress[0].ports[1].endPort: Invalid value: 90: may not be specified when `port` is non-numeric",
                "spec.ingress[0].ports[2].endPort: Invalid value: 100: must be greater than or equal to `port`",
                "spec.ingress[0].from[0]: Required value: must specify a peer",
                "spec.ingress[0].from[1].ipBlock.except[1]: Invalid value: \"11.0.0.0/16\": must be a strict subset of `cidr`",
                "spec.ingress[0].from[1].ipBlock.except[2]: Invalid value: \"10.0.0.0/8\": must be a strict subset of `cidr`",
                "spec.ingress[0].from[1].ipBlock.except[3]: Invalid value: \"bad\": must be a valid CIDR value, (e.g. "
                "10.9.8.0/24 or 2001:db8::/64)",
                "spec.ingress[0].from[2].ipBlock.cidr: Invalid value: \"10.0.0.0/33\": must be a valid CIDR value, (e.g. "
                "10.9.8.0/24 or 2001:db8::/64)",
                "spec.ingress[0].from[3]: Forbidden: may not specify both ipBlock and another peer",
                "spec.policyTypes[1]: Unsupported value: \"Sideways\": supported values: \"Ingress\", \"Egress\""}));
}

TEST(NetworkPolicy, Cidr) {
  auto net = parseCidr("2001:db8::/32");
  auto inner = parseCidr("2001:db8:1::/48");
  ASSERT_TRUE(net && inner);
  EXPECT_TRUE(cidrContains(*net, *inner));
  EXPECT_FALSE(cidrContains(*inner, *net));
  EXPECT_FALSE(parseCidr("10.0.0.0"));
  EXPECT_FALSE(parseCidr("10.0.0.0/x"));
}

TEST(NetworkPolicy, Table) {
  auto obj = parse(R"({"metadata":{"name":"a","creationTimestamp":"2024-01-01T00:00:00Z"},
      "spec":{"podSelector":{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"Exists"}]}}})");
  const KindInfo& np = kind("NetworkPolicy");
  EXPECT_EQ(np.columns[0].name, "Pod-Selector");
  EXPECT_EQ(np.cells(obj, at(kCreated + 90)), (json::array{"app=web,tier", "90s"}));
  auto empty = parse(R"({"metadata":{"name":"a"},"spec":{"podSelector":{}}})");
  EXPECT_EQ(np.cells(empty, at(kCreated)), (json::array{"<none>", "<unknown>"}));
}

TEST(Ingress, Validation) {
  auto obj = parse(R"({"metadata":{"name":"web","namespace":"ns"},"spec":{"rules":[
      {"host":"1.2.3.4","http":{"paths":[{"path":"/","backend":{"service":{"name":"web","port":{"number":80}}}}]}},
      {"host":"*.example.com","http":{"paths":[
          {"path":"foo","pathType":"Prefix","backend":{"service":{"name":"web","port":{"name":"http","number":80}}}},
          {"path":"/a//b","pathType":"Exact","backend":{}},
          {"path":"/","pathType":"Fuzzy","backend":{"service":{"name":"Web"}}}]}},
      {"http":{"paths":[]}}]}})");
  EXPECT_EQ(errors(kind("Ingress"), obj),
            (std::vector<std::string>{
                "spec.rules[0].host: Invalid value: \"1.2.3.4\": must be a DNS name, not an IP address",
                "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified",
                "spec.rules[1].http.paths[0].path: Invalid value: \"foo\": must be an absolute path",
                "spec.rules[1].http.paths[0].backend: Invalid value: \"\": cannot set both port name & port number",
                "spec.rules[1].http.paths[1].path: Invalid value: \"/a//b\": must not contain '//'",
                "spec.rules[1].http.paths[1].backend: Invalid value: \"\": resource or service backend is required",
                "spec.rules[1].http.paths[2].pathType: Unsupported value: \"Fuzzy\": supported values: \"Exact\", "
                "\"ImplementationSpecific\", \"Prefix\"",
                "spec.rules[1].http.paths[2].backend.service.name: Invalid value: \"Web\": a DNS-1035 label must "
                "consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end "
                "with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
                "'[a-z]([-a-z0-9]*[a-z0-9])?')",
                "spec.rules[1].http.paths[2].backend: Required value: port name or number is required",
                "spec.rules[2].http.paths: Required value"}));
  auto none = parse(R"({"metadata":{"name":"web","namespace":"ns"},"spec":{}})");
  EXPECT_EQ(errors(kind("Ingress"), none),
            (std::vector<std::string>{"spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or "
                                      "`rules` must be specified"}));
}

TEST(Ingress, Table) {
  auto obj = parse(R"({"metadata":{"name":"web","creationTimestamp":"2024-01-01T00:00:00Z"},
      "spec":{"ingressClassName":"nginx","tls":[{"hosts":["a.example.com"]}],
              "rules":[{"host":"a.example.com"},{"host":"b.example.com"},{},{"host":"c.example.com"},
                       {"host":"d.example.com"},{"host":"e.example.com"}]},
      "status":{"loadBalancer":{"ingress":[{"ip":"10.0.0.2"},{"hostname":"lb.example.com"},{"ip":"10.0.0.1"}]}}})");
  const KindInfo& ing = kind("Ingress");
  std::vector<std::string> names;
  for (const auto& c : ing.columns) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"Class", "Hosts", "Address", "Ports", "Age"}));
  EXPECT_EQ(ing.cells(obj, at(kCreated + 5 * 86400)),
            (json::array{"nginx", "a.example.com,b.example.com,c.example.com,d.example.com + 2 more...",
                         "10.0.0.1,10.0.0.2,lb.example.com", "80, 443", "5d"}));
  auto bare = parse(R"({"metadata":{"name":"web"},"spec":{"defaultBackend":{"service":{"name":"x","port":{"number":80}}}}})");
  EXPECT_EQ(ing.cells(bare, at(kCreated)), (json::array{"<none>", "*", "", "80", "<unknown>"}));
}

TEST(IngressClass, DefaultsValidationTable) {
  const KindInfo& ic = kind("IngressClass");
  auto obj = parse(R"({"metadata":{"name":"nginx"},"spec":{"controller":"k8s.io/ingress-nginx",
      "parameters":{"apiGroup":"k8s.example.com","kind":"IngressParameters","name":"external-lb"}}})");
  ic.defaults(obj);
  EXPECT_EQ(obj.at("spec").at("parameters").at("scope"), "Cluster");
  EXPECT_TRUE(errors(ic, obj).empty());
  EXPECT_EQ(ic.cells(obj, at(kCreated)),
            (json::array{"k8s.io/ingress-nginx", "IngressParameters.k8s.example.com/external-lb", "<unknown>"}));
  auto bad = parse(R"({"metadata":{"name":"nginx"},"spec":{"controller":"nginx"}})");
  EXPECT_EQ(errors(ic, bad), (std::vector<std::string>{"spec.controller: Invalid value: \"nginx\": must be a "
                                                       "domain-prefixed path (such as \"acme.io/foo\")"}));
  auto changed = obj;
  changed["spec"].as_object()["controller"] = "example.com/other";
  EXPECT_EQ(errors(ic, changed, &obj),
            (std::vector<std::string>{"spec.controller: Invalid value: \"example.com/other\": field is immutable"}));
}

}  // namespace
}  // namespace berth::api
