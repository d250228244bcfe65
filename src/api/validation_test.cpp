#include "api/validation.h"

#include <gtest/gtest.h>

namespace berth::api {
namespace {

namespace json = boost::json;

TEST(Validation, Dns1123SubdomainMessage) {
  EXPECT_TRUE(isDns1123Subdomain("web.example-1").empty());
  auto errs = isDns1123Subdomain("Web");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0],
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
            "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
  EXPECT_EQ(isDns1123Subdomain(std::string(254, 'a'))[0], "must be no more than 253 characters");
  EXPECT_FALSE(isDns1123Subdomain("a..b").empty());
}

TEST(Validation, Dns1123LabelAnd1035) {
  EXPECT_TRUE(isDns1123Label("123-abc").empty());
  EXPECT_EQ(isDns1123Label("a.b")[0],
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
            "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
  EXPECT_FALSE(isDns1035Label("1abc").empty());
  EXPECT_TRUE(isDns1035Label("abc-1").empty());
}

TEST(Validation, QualifiedNameAndLabelValue) {
  EXPECT_TRUE(isQualifiedName("app.kubernetes.io/name").empty());
  EXPECT_TRUE(isQualifiedName("Foo_bar.1").empty());
  auto e = isQualifiedName("/foo");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "prefix part must be non-empty");
  EXPECT_FALSE(isQualifiedName("a/b/c").empty());
  EXPECT_TRUE(isValidLabelValue("").empty());
  EXPECT_FALSE(isValidLabelValue("-x").empty());
}

TEST(Validation, ConfigMapKeyAndPortName) {
  EXPECT_TRUE(isConfigMapKey("tls.crt").empty());
  EXPECT_EQ(isConfigMapKey("..data").back(), "must not start with '..'");
  EXPECT_FALSE(isConfigMapKey("a/b").empty());
  EXPECT_TRUE(isValidPortName("http").empty());
  EXPECT_EQ(isValidPortName("80")[0], "must contain at least one letter (a-z)");
  EXPECT_EQ(isValidPortNum(0)[0], "must be between 1 and 65535, inclusive");
}

TEST(Validation, ObjectMetaCreate) {
  json::object o = json::parse(R"({"metadata":{"name":"Bad_Name","labels":{"ok":"-bad"}}})").as_object();
  FieldErrors errs;
  validateObjectMeta(o, nullptr, true, NameRule::kDns1123Subdomain, errs);
  ASSERT_EQ(errs.causes().size(), 3u);
  EXPECT_EQ(errs.causes()[0].field, "metadata.name");
  EXPECT_EQ(errs.causes()[1].field, "metadata.namespace");
  EXPECT_EQ(errs.causes()[1].message, "Required value");
  EXPECT_EQ(errs.causes()[2].field, "metadata.labels");
  EXPECT_EQ(errs.causes()[2].message.rfind("Invalid value: \"-bad\": a valid label must be", 0), 0u);
}

TEST(Validation, ObjectMetaNameRequiredAndClusterScoped) {
  json::object o = json::parse(R"({"metadata":{"namespace":"x"}})").as_object();
  FieldErrors errs;
  validateObjectMeta(o, nullptr, false, NameRule::kDns1123Label, errs);
  ASSERT_EQ(errs.causes().size(), 2u);
  EXPECT_EQ(errs.causes()[0].message, "Required value: name or generateName is required");
  EXPECT_EQ(errs.causes()[1].message, "Forbidden: not allowed on this type");
}

TEST(Validation, GenerateNameAllowsTrailingDash) {
  json::object o = json::parse(R"({"metadata":{"name":"web-abcde","generateName":"web-","namespace":"d"}})")
                       .as_object();
  FieldErrors errs;
  validateObjectMeta(o, nullptr, true, NameRule::kDns1123Subdomain, errs);
  EXPECT_TRUE(errs.empty());
}

TEST(Validation, ObjectMetaUpdateImmutable) {
  json::object old = json::parse(R"({"metadata":{"name":"a","namespace":"d","uid":"1"}})").as_object();
  json::object now = json::parse(R"({"metadata":{"name":"a","namespace":"d","uid":"2"}})").as_object();
  FieldErrors errs;
  validateObjectMeta(now, &old, true, NameRule::kDns1123Subdomain, errs);
  ASSERT_EQ(errs.causes().size(), 1u);
  EXPECT_EQ(errs.causes()[0].field, "metadata.uid");
  EXPECT_EQ(errs.causes()[0].message, "Invalid value: \"2\": field is immutable");
}

TEST(Validation, LabelSelector) {
  json::value sel = json::parse(
      R"({"matchExpressions":[{"key":"a","operator":"In"},{"key":"b","operator":"Exists","values":["x"]},{"key":"c","operator":"Foo"}]})");
  FieldErrors errs;
  validateLabelSelector(&sel, "spec.selector", errs);
  ASSERT_EQ(errs.causes().size(), 3u);
  EXPECT_EQ(errs.causes()[0].field, "spec.selector.matchExpressions[0].values");
  EXPECT_EQ(errs.causes()[0].message, "Required value: must be specified when `operator` is 'In' or 'NotIn'");
  EXPECT_EQ(errs.causes()[1].reason, "FieldValueForbidden");
  EXPECT_EQ(errs.causes()[2].message, "Invalid value: \"Foo\": not a valid selector operator");
}

TEST(Validation, ValueReprAndEquality) {
  json::value m = json::parse(R"({"b":"2","a":"1"})");
  EXPECT_EQ(valueRepr(&m), "map[string]string{\"a\":\"1\", \"b\":\"2\"}");
  json::value i = 3, d = 3.0;
  EXPECT_TRUE(jsonEqual(&i, &d));
  json::value x = json::parse(R"({"a":null})"), y = json::object();
  EXPECT_TRUE(jsonEqual(&x, &y));
  EXPECT_TRUE(isIpv4("10.0.0.1"));
  EXPECT_TRUE(isIpv6("fd00::1"));
  EXPECT_FALSE(isValidIp("10.0.0").empty());
}

}  // namespace
}  // namespace berth::api
