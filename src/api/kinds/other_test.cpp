#include <gtest/gtest.h>

#include "api/kind.h"

namespace berth::api {
namespace {

namespace json = boost::json;

json::object parse(const char* s) { return json::parse(s).as_object(); }

const KindRegistry& registry() {
  static const KindRegistry reg = [] {
    KindRegistry r;
    registerOtherKinds(r);
    return r;
  }();
  return reg;
}

const KindInfo& kind(const char* group, const char* k) {
  const KindInfo* info = registry().byKind(group, "v1", k);
  EXPECT_NE(info, nullptr) << k;
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

TEST(PriorityClass, DefaultsValidationTable) {
  const KindInfo& pc = kind("scheduling.k8s.io", "PriorityClass");
  EXPECT_FALSE(pc.namespaced);
  auto obj = parse(R"({"metadata":{"name":"high","creationTimestamp":"2024-01-01T00:00:00Z"},"value":1000})");
  pc.defaults(obj);
  EXPECT_EQ(obj.at("preemptionPolicy"), "PreemptLowerPriority");
  EXPECT_TRUE(errors(pc, obj).empty());
  std::vector<std::string> names;
  for (const auto& c : pc.columns) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"Value", "Global-Default", "Age", "PreemptionPolicy"}));
  EXPECT_EQ(pc.cells(obj, at(kCreated + 7200)), (json::array{1000, false, "120m", "PreemptLowerPriority"}));

  auto changed = obj;
  changed["value"] = 5;
  changed["preemptionPolicy"] = "Never";
  EXPECT_EQ(errors(pc, changed, &obj),
            (std::vector<std::string>{"value: Forbidden: may not be changed in an update.",
                                      "preemptionPolicy: Invalid value: \"Never\": field is immutable"}));

  auto sys = parse(R"({"metadata":{"name":"system-mine"},"value":10})");
  EXPECT_EQ(errors(pc, sys), (std::vector<std::string>{"metadata.name: Forbidden: priority class names with 'system-' "
                                                       "prefix are reserved for system use only. error: system-mine is "
                                                       "not a known system priority class"}));
  auto builtin = parse(R"({"metadata":{"name":"system-node-critical"},"value":2000001000})");
  EXPECT_TRUE(errors(pc, builtin).empty());
  auto huge = parse(R"({"metadata":{"name":"huge"},"value":2000000000})");
  EXPECT_EQ(errors(pc, huge), (std::vector<std::string>{"value: Forbidden: maximum allowed value of a user defined "
                                                        "priority is 1000000000"}));
}

TEST(RuntimeClass, HandlerRequiredAndImmutable) {
  const KindInfo& rc = kind("node.k8s.io", "RuntimeClass");
  auto obj = parse(R"({"metadata":{"name":"runc"},"handler":"runc"})");
  EXPECT_TRUE(errors(rc, obj).empty());
  EXPECT_EQ(rc.cells(obj, at(kCreated)), (json::array{"runc", "<unknown>"}));
  auto changed = obj;
  changed["handler"] = "crun";
  EXPECT_EQ(errors(rc, changed, &obj),
            (std::vector<std::string>{"handler: Invalid value: \"crun\": field is immutable"}));
  auto empty = parse(R"({"metadata":{"name":"x"}})");
  auto errs = errors(rc, empty);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].rfind("handler: Invalid value: \"\": a lowercase RFC 1123 label must consist", 0), 0u) << errs[0];
}

TEST(Lease, ValidationAndTable) {
  const KindInfo& l = kind("coordination.k8s.io", "Lease");
  auto obj = parse(R"({"metadata":{"name":"node1","namespace":"kube-node-lease"},
      "spec":{"holderIdentity":"node1","leaseDurationSeconds":0,"leaseTransitions":-1}})");
  EXPECT_EQ(errors(l, obj),
            (std::vector<std::string>{"spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
                                      "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"}));
  EXPECT_EQ(l.cells(obj, at(kCreated)), (json::array{"node1", "<unknown>"}));
}

TEST(EndpointSlice, DefaultsValidationTable) {
  const KindInfo& es = kind("discovery.k8s.io", "EndpointSlice");
  auto obj = parse(R"({"metadata":{"name":"web-abc","namespace":"ns","creationTimestamp":"2024-01-01T00:00:00Z"},
      "addressType":"IPv4","ports":[{"port":80},{"name":"https","port":443},{"name":"x"},{"name":"y","port":9}],
      "endpoints":[{"addresses":["10.0.0.1","10.0.0.2"]},{"addresses":["10.0.0.3"]},{"addresses":["10.0.0.4"]}]})");
  es.defaults(obj);
  EXPECT_EQ(obj.at("ports").at(0).at("protocol"), "TCP");
  EXPECT_EQ(obj.at("ports").at(0).at("name"), "");
  EXPECT_TRUE(errors(es, obj).empty());
  EXPECT_EQ(es.cells(obj, at(kCreated + 30)),
            (json::array{"IPv4", "80,443,x + 1 more...", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...", "30s"}));
  auto empty = parse(R"({"metadata":{"name":"e","namespace":"ns"},"addressType":"FQDN"})");
  EXPECT_EQ(es.cells(empty, at(kCreated)), (json::array{"FQDN", "<unset>", "<unset>", "<unknown>"}));

  auto bad = parse(R"({"metadata":{"name":"e","namespace":"ns"},"addressType":"IPv4",
      "endpoints":[{"addresses":[]},{"addresses":["fe80::1","127.0.0.1"]}],
      "ports":[{"name":"a","protocol":"TCP"},{"name":"a","protocol":"ICMP"},{"name":"b"}]})");
  EXPECT_EQ(errors(es, bad),
            (std::vector<std::string>{
                "endpoints[0].addresses: Required value: must contain at least 1 address",
                "endpoints[1].addresses[0]: Invalid value: \"fe80::1\": must be a valid IPv4 address",
                "endpoints[1].addresses[1]: Invalid value: \"127.0.0.1\": may not be in the loopback range "
                "(127.0.0.0/8, ::1/128)",
                "ports[1].name: Duplicate value: \"a\"",
                "ports[1].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                "ports[2].protocol: Required value"}));
  auto missing = parse(R"({"metadata":{"name":"e","namespace":"ns"}})");
  EXPECT_EQ(errors(es, missing), (std::vector<std::string>{"addressType: Required value"}));
  auto changed = obj;
  changed["addressType"] = "IPv6";
  changed.erase("endpoints");
  EXPECT_EQ(errors(es, changed, &obj),
            (std::vector<std::string>{"addressType: Invalid value: \"IPv6\": field is immutable"}));
}

// A syntactically valid PEM CSR block (its DER starts with a SEQUENCE).
constexpr const char* kCsrPem =
    "-----BEGIN CERTIFICATE REQUEST-----\nMIIBAjCBqAIBADAQMQ4wDAYDVQQDDAVhbGljZQ==\n-----END CERTIFICATE REQUEST-----\n";

std::string base64(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(n >> s) & 63]);
  }
  if (i + 1 == in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    out += std::string{kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += std::string{kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], '='};
  }
  return out;
}

TEST(CertificateSigningRequest, ValidationAndTable) {
  const KindInfo& csr = kind("certificates.k8s.io", "CertificateSigningRequest");
  EXPECT_TRUE(csr.has_status);
  json::object obj = parse(R"({"metadata":{"name":"alice","creationTimestamp":"2024-01-01T00:00:00Z"},
      "spec":{"signerName":"kubernetes.io/kube-apiserver-client","usages":["client auth"],
              "username":"admin","expirationSeconds":86400}})");
  obj["spec"].as_object()["request"] = base64(kCsrPem);
  EXPECT_TRUE(errors(csr, obj).empty());
  std::vector<std::string> names;
  for (const auto& c : csr.columns) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"Age", "SignerName", "Requestor", "RequestedDuration", "Condition"}));
  EXPECT_EQ(csr.cells(obj, at(kCreated + 10)),
            (json::array{"10s", "kubernetes.io/kube-apiserver-client", "admin", "24h", "Pending"}));
  obj["status"] = parse(R"({"conditions":[{"type":"Approved","status":"True"}],"certificate":"Zm9v"})");
  EXPECT_EQ(csr.cells(obj, at(kCreated + 10)).at(4), "Approved,Issued");
  EXPECT_EQ(csr.selectable_fields(obj).at("spec.signerName"), "kubernetes.io/kube-apiserver-client");

  auto bad = parse(R"({"metadata":{"name":"bob"},"spec":{"request":"aGk=","signerName":"example",
      "usages":["client auth","client auth","flying"],"expirationSeconds":60}})");
  EXPECT_EQ(errors(csr, bad),
            (std::vector<std::string>{
                "spec.request: Invalid value: []byte{0x68, 0x69}: PEM block type must be CERTIFICATE REQUEST",
                "spec.usages[1]: Duplicate value: \"client auth\"",
                "spec.usages[2]: Unsupported value: \"flying\": supported values: \"any\", \"cert sign\", "
                "\"client auth\", \"code signing\", \"content commitment\", \"crl sign\", \"data encipherment\", "
                "\"decipher only\", \"digital signature\", \"email protection\", \"encipher only\", \"ipsec end "
                "system\", \"ipsec tunnel\", \"ipsec user\", \"key agreement\", \"key encipherment\", \"microsoft "
                "sgc\", \"netscape sgc\", \"ocsp signing\", \"s/mime\", \"server auth\", \"signing\", \"timestamping\"",
                "spec.signerName: Invalid value: \"example\": must be a fully qualified domain and path of the form "
                "'example.com/signer-name'",
                "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 seconds (10 "
                "minutes)"}));
}

TEST(CertificateSigningRequest, UpdateKeepsSpecAndStatus) {
  const KindInfo& csr = kind("certificates.k8s.io", "CertificateSigningRequest");
  auto old = parse(R"({"metadata":{"name":"a"},"spec":{"signerName":"x.io/y"},"status":{"certificate":"Zm9v"}})");
  auto obj = parse(R"({"metadata":{"name":"a","labels":{"k":"v"}},"spec":{"signerName":"z.io/w"}})");
  csr.prepare(obj, &old);
  EXPECT_EQ(obj.at("spec"), old.at("spec"));
  EXPECT_EQ(obj.at("status"), old.at("status"));
  EXPECT_EQ(obj.at("metadata").at("labels").at("k"), "v");
}

}  // namespace
}  // namespace berth::api
