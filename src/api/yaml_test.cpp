#include "api/yaml.h"

#include <gtest/gtest.h>

#include <string>

#include "api/patch.h"

namespace berth::api {
namespace {

namespace json = boost::json;

json::value Y(std::string_view yaml, bool strict = false) {
  auto r = yamlToJson(yaml, strict);
  EXPECT_TRUE(r.ok()) << yaml << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : json::value();
}

std::string yamlErr(std::string_view yaml, bool strict = false) {
  auto r = yamlToJson(yaml, strict);
  EXPECT_FALSE(r.ok()) << yaml;
  if (r.ok()) return "";
  EXPECT_EQ(r.error().code, ErrorCode::kBadRequest);
  return r.error().message;
}

TEST(Yaml, Manifest) {
  auto v = Y(R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, "tier": fe}
  annotations:
    description: |
      line one
      line two
spec:
  replicas: 3
  template:
    spec:
      containers:
      - name: web
        image: "nginx:1.25"
        args: ["--port", '8080']
        ports:
        - containerPort: 80
        env:
        - {name: DEBUG, value: "true"}
)");
  EXPECT_EQ(v, json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"web","labels":{"app":"web","tier":"fe"},"annotations":{"description":"line one\nline two\n"}},
    "spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.25",
      "args":["--port","8080"],"ports":[{"containerPort":80}],"env":[{"name":"DEBUG","value":"true"}]}]}}}})"));
}

TEST(Yaml, ScalarTyping) {
  auto v = Y(R"(
n1: ~
n2: null
n3:
b1: true
b2: False
b3: yes
b4: off
b5: Y
i1: 42
i2: -7
i3: 0x1F
i4: 0o17
i5: 017
i6: 1_000
i7: +5
i8: 0b101
u1: 18446744073709551615
f1: 1.5
f2: 1e3
f3: .5
f4: 2.0
s1: "42"
s2: 'true'
s3: hello world
s4: 2024-01-01
s5: 1.2.3
s6: 08x
s7: !!str 12
s8: 0.0.0.0/0
i9: !!int "12"
)");
  EXPECT_TRUE(v.at("n1").is_null());
  EXPECT_TRUE(v.at("n2").is_null());
  EXPECT_TRUE(v.at("n3").is_null());
  EXPECT_EQ(v.at("b1"), json::value(true));
  EXPECT_EQ(v.at("b2"), json::value(false));
  EXPECT_EQ(v.at("b3"), json::value(true));
  EXPECT_EQ(v.at("b4"), json::value(false));
  EXPECT_EQ(v.at("b5"), json::value(true));
  EXPECT_EQ(v.at("i1"), json::value(42));
  EXPECT_EQ(v.at("i2"), json::value(-7));
  EXPECT_EQ(v.at("i3"), json::value(31));
  EXPECT_EQ(v.at("i4"), json::value(15));
  EXPECT_EQ(v.at("i5"), json::value(15));
  EXPECT_EQ(v.at("i6"), json::value(1000));
  EXPECT_EQ(v.at("i7"), json::value(5));
  EXPECT_EQ(v.at("i8"), json::value(5));
  EXPECT_EQ(v.at("u1"), json::value(18446744073709551615ull));
  EXPECT_EQ(v.at("f1"), json::value(1.5));
  EXPECT_EQ(v.at("f2"), json::value(1000));
  EXPECT_EQ(v.at("f3"), json::value(0.5));
  EXPECT_EQ(v.at("f4"), json::value(2));
  EXPECT_EQ(v.at("s1"), json::value("42"));
  EXPECT_EQ(v.at("s2"), json::value("true"));
  EXPECT_EQ(v.at("s3"), json::value("hello world"));
  EXPECT_EQ(v.at("s4"), json::value("2024-01-01"));
  EXPECT_EQ(v.at("s5"), json::value("1.2.3"));
  EXPECT_EQ(v.at("s6"), json::value("08x"));
  EXPECT_EQ(v.at("s7"), json::value("12"));
  EXPECT_EQ(v.at("s8"), json::value("0.0.0.0/0"));
  EXPECT_EQ(v.at("i9"), json::value(12));
}

TEST(Yaml, NonStringKeys) {
  EXPECT_EQ(Y("1: a\ntrue: b\n1.5: c\n"), json::parse(R"({"1":"a","true":"b","1.5":"c"})"));
  EXPECT_NE(yamlErr("? [a]\n: b\n").find("unsupported map key"), std::string::npos);
  EXPECT_NE(yamlErr("~: b\n").find("unsupported map key"), std::string::npos);
  EXPECT_NE(yamlErr("? {a: 1}\n: b\n").find("unsupported map key"), std::string::npos);
}

TEST(Yaml, AnchorsAliasesAndMerge) {
  auto v = Y(R"(
base: &base {cpu: "1", memory: 1Gi}
a: *base
b:
  <<: *base
  cpu: "2"
c:
  <<: [{x: 1}, {x: 2, z: 3}]
list: &l [1, 2]
again: *l
)");
  EXPECT_EQ(v.at("a"), json::parse(R"({"cpu":"1","memory":"1Gi"})"));
  EXPECT_EQ(v.at("b"), json::parse(R"({"cpu":"2","memory":"1Gi"})"));
  EXPECT_EQ(v.at("c"), json::parse(R"({"x":1,"z":3})"));
  // go-yaml v2 reads a plain `y` key as the bool true.
  EXPECT_EQ(Y("y: 1\n"), json::parse(R"({"true":1})"));
  EXPECT_EQ(v.at("again"), json::parse("[1,2]"));
  EXPECT_NE(yamlErr("a: *nope\n").find("unknown anchor 'nope' referenced"), std::string::npos);
}

TEST(Yaml, BillionLaughsIsRefused) {
  std::string doc = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  std::string prev = "a";
  for (char c = 'b'; c <= 'j'; ++c) {
    std::string name(1, c);
    doc += name + ": &" + name + " [";
    for (int i = 0; i < 10; ++i) doc += (i ? ", *" : "*") + prev;
    doc += "]\n";
    prev = name;
  }
  EXPECT_NE(yamlErr(doc).find("excessive aliasing"), std::string::npos);
}

TEST(Yaml, DocumentsAndEmptyInput) {
  EXPECT_TRUE(Y("").is_null());
  EXPECT_TRUE(Y("# just a comment\n").is_null());
  EXPECT_EQ(Y("---\na: 1\n"), json::parse(R"({"a":1})"));
  EXPECT_EQ(Y("a: 1\n---\n"), json::parse(R"({"a":1})"));
  EXPECT_NE(yamlErr("a: 1\n---\nb: 2\n").find("multiple YAML documents"), std::string::npos);
}

TEST(Yaml, DuplicateKeys) {
  EXPECT_EQ(Y("a: 1\na: 2\n"), json::parse(R"({"a":2})"));
  EXPECT_EQ(yamlErr("a: 1\na: 2\n", true),
            "error converting YAML to JSON: yaml: line 2, column 1: key \"a\" already set in map");
}

TEST(Yaml, SyntaxErrorsCarryLineAndColumn) {
  auto msg = yamlErr("a: 1\nb: [1, 2\nc: 3\n");
  EXPECT_EQ(msg.rfind("error converting YAML to JSON: yaml: line ", 0), 0u) << msg;
  EXPECT_NE(msg.find(", column "), std::string::npos) << msg;
  msg = yamlErr("a: b: c\n");
  EXPECT_EQ(msg, "error converting YAML to JSON: yaml: line 1, column 5: mapping values are not allowed in this context");
  EXPECT_NE(yamlErr("a: .inf\n").find("unsupported value"), std::string::npos);
  EXPECT_NE(yamlErr("a: !!int abc\n").find("cannot decode"), std::string::npos);
}

TEST(Yaml, DepthIsBounded) {
  std::string deep(kMaxJsonDepth + 5, '[');
  EXPECT_NE(yamlErr(deep).find("nested too deeply"), std::string::npos);
  std::string ok(100, '[');
  ok += std::string(100, ']');
  EXPECT_TRUE(yamlToJson(ok).ok());
}

}  // namespace
}  // namespace berth::api
