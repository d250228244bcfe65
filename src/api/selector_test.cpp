#include "api/selector.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace berth::api {
namespace {

namespace json = boost::json;

LabelSelector parseOk(std::string_view s) {
  auto r = LabelSelector::parse(s);
  EXPECT_TRUE(r.ok()) << s << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : LabelSelector::nothing();
}

std::string parseErr(std::string_view s) {
  auto r = LabelSelector::parse(s);
  EXPECT_FALSE(r.ok()) << s;
  if (r.ok()) return "";
  EXPECT_EQ(r.error().code, ErrorCode::kBadRequest);
  return r.error().message;
}

bool matches(std::string_view sel, const LabelMap& labels) { return parseOk(sel).matches(labels); }

TEST(LabelSelector, ParseRoundTrips) {
  // Upstream's TestSelectorParse good strings: String() gives them back
  // without spaces.
  for (std::string s : {"x=a,y=b,z=c", "", "x!=a,y=b", "x=", "x= ", "x=,z= ", "x= ,z= ", "!x", "x>1", "x>1,z<5"}) {
    std::string expected = s;
    expected.erase(std::remove(expected.begin(), expected.end(), ' '), expected.end());
    EXPECT_EQ(parseOk(s).toString(), expected) << s;
  }
  for (std::string s : {"x=a||y=b", "x==a==b", "!x=a", "x<a"}) parseErr(s);
  // Deterministic: sorted by key.
  EXPECT_EQ(parseOk("x=a,a=x").toString(), parseOk("a=x,x=a").toString());
  EXPECT_EQ(parseOk("x in (c, a,b,a), y notin (z)").toString(), "x in (a,b,c),y notin (z)");
  EXPECT_EQ(parseOk("x in (foo,,baz),y,z notin ()").toString(), "x in (,baz,foo),y,z notin ()");
  EXPECT_EQ(parseOk("in in (in), notin").toString(), "in in (in),notin");
  EXPECT_EQ(parseOk("app==web").toString(), "app==web");
}

TEST(LabelSelector, Matching) {
  EXPECT_TRUE(matches("", {{"x", "y"}}));
  EXPECT_TRUE(matches("x=y", {{"x", "y"}}));
  EXPECT_TRUE(matches("x=y,z=w", {{"x", "y"}, {"z", "w"}}));
  EXPECT_TRUE(matches("x!=y,z!=w", {{"x", "z"}, {"z", "a"}}));
  EXPECT_TRUE(matches("notin=in", {{"notin", "in"}}));
  EXPECT_TRUE(matches("x", {{"x", "z"}}));
  EXPECT_TRUE(matches("!x", {{"y", "z"}}));
  EXPECT_TRUE(matches("x>1", {{"x", "2"}}));
  EXPECT_TRUE(matches("x<1", {{"x", "0"}}));
  EXPECT_FALSE(matches("x=z", {}));
  EXPECT_FALSE(matches("x=y", {{"x", "z"}}));
  EXPECT_FALSE(matches("x=y,z=w", {{"x", "w"}, {"z", "w"}}));
  EXPECT_FALSE(matches("x!=y,z!=w", {{"x", "z"}, {"z", "w"}}));
  EXPECT_FALSE(matches("x", {{"y", "z"}}));
  EXPECT_FALSE(matches("!x", {{"x", "z"}}));
  EXPECT_FALSE(matches("x>1", {{"x", "0"}}));
  EXPECT_FALSE(matches("x<1", {{"x", "2"}}));
  EXPECT_FALSE(matches("x>1", {{"x", "abc"}}));
  EXPECT_TRUE(matches("x in (a,b)", {{"x", "b"}}));
  EXPECT_FALSE(matches("x in (a,b)", {{"y", "b"}}));
  EXPECT_TRUE(matches("x notin (a,b)", {{"y", "b"}}));
  EXPECT_FALSE(matches("x notin (a,b)", {{"x", "a"}}));
  EXPECT_TRUE(matches("x in ()", {{"x", ""}}));
  // Labels straight from metadata.labels.
  auto labels = json::parse(R"({"app":"web","tier":"fe"})");
  EXPECT_TRUE(parseOk("app=web,tier in (fe,be)").matches(&labels.as_object()));
  EXPECT_FALSE(parseOk("app").matches(nullptr));
  EXPECT_TRUE(parseOk("!app").matches(nullptr));
}

TEST(LabelSelector, ParseErrorsMirrorUpstream) {
  // '|' is no operator character: "a||y" is read as the value.
  EXPECT_EQ(parseErr("x=a||y=b").rfind("unable to parse requirement: values[0][x]: Invalid value: \"a||y\": ", 0), 0u);
  EXPECT_EQ(parseErr("x==a==b"), "found '==', expected: ',' or 'end of string'");
  EXPECT_EQ(parseErr("!x=a"), "found '=', expected: ',' or 'end of string'");
  EXPECT_EQ(parseErr("x<a"),
            "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be "
            "an integer");
  EXPECT_EQ(parseErr(",x"), "found ',', expected: !, identifier, or 'end of string'");
  EXPECT_EQ(parseErr("x=a,"), "found '', expected: identifier after ','");
  EXPECT_EQ(parseErr("x in a"), "unable to parse requirement: found 'a' expected: '('");
  EXPECT_EQ(parseErr("x in (a"), "unable to parse requirement: found '', expected: ',' or ')'");
  EXPECT_EQ(parseErr("x (a)"), "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt");
  EXPECT_EQ(parseErr("-x=a"),
            "unable to parse requirement: <nil>: Invalid value: \"-x\": name part must consist of alphanumeric "
            "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
            "'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
  EXPECT_EQ(parseErr("x=a b"), "found 'b', expected: ',' or 'end of string'");
  EXPECT_EQ(parseErr("app=-bad"),
            "unable to parse requirement: values[0][app]: Invalid value: \"-bad\": a valid label must be an empty "
            "string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
            "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
  EXPECT_NE(parseErr("Example.com/x=a").find("prefix part a lowercase RFC 1123 subdomain"), std::string::npos);
  EXPECT_NE(parseErr("a/b/c").find("a valid label key must consist"), std::string::npos);
  EXPECT_NE(parseErr(std::string(64, 'a')).find("name part must be no more than 63 bytes"), std::string::npos);
}

TEST(LabelSelector, FromObject) {
  auto sel = json::parse(R"({"matchLabels":{"app":"web","tier":"fe"},
      "matchExpressions":[{"key":"env","operator":"In","values":["prod","dev"]},
                          {"key":"canary","operator":"DoesNotExist"},
                          {"key":"zone","operator":"Exists"},
                          {"key":"app","operator":"NotIn","values":["db"]}]})");
  auto r = LabelSelector::fromObject(&sel);
  ASSERT_TRUE(r.ok()) << r.error().message;
  // Sorted by key; values print sorted. This is Scale status.selector.
  EXPECT_EQ(r->toString(), "app=web,app notin (db),!canary,env in (dev,prod),tier=fe,zone");
  EXPECT_TRUE(r->matches(LabelMap{{"app", "web"}, {"tier", "fe"}, {"env", "prod"}, {"zone", "a"}}));
  EXPECT_FALSE(r->matches(LabelMap{{"app", "web"}, {"tier", "fe"}, {"env", "prod"}}));

  auto empty = json::parse("{}");
  auto e = LabelSelector::fromObject(&empty);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->empty());
  EXPECT_TRUE(e->matches(LabelMap{}));
  auto none = LabelSelector::fromObject(nullptr);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->matchesNothing());
  EXPECT_FALSE(none->matches(LabelMap{}));

  auto bad_op = json::parse(R"({"matchExpressions":[{"key":"a","operator":"Gt","values":["1"]}]})");
  auto b = LabelSelector::fromObject(&bad_op);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message, "\"Gt\" is not a valid label selector operator");
  auto no_values = json::parse(R"({"matchExpressions":[{"key":"a","operator":"In","values":[]}]})");
  b = LabelSelector::fromObject(&no_values);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message, "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty");
  auto bad_value = json::parse(R"({"matchLabels":{"app":"a b"}})");
  b = LabelSelector::fromObject(&bad_value);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message.rfind("values[0][app]: Invalid value: \"a b\": a valid label", 0), 0u) << b.error().message;
}

TEST(LabelSelector, FromSetAndExactMatch) {
  auto s = LabelSelector::fromSet({{"b", "2"}, {"a", "1"}});
  EXPECT_EQ(s.toString(), "a=1,b=2");
  EXPECT_EQ(s.requiresExactMatch("a"), std::optional<std::string>("1"));
  EXPECT_EQ(parseOk("x in (a)").requiresExactMatch("x"), std::optional<std::string>("a"));
  EXPECT_EQ(parseOk("x in (a,b)").requiresExactMatch("x"), std::nullopt);
  EXPECT_TRUE(LabelSelector().empty());
}

TEST(FieldSelector, ParseAndMatch) {
  auto r = FieldSelector::parse("spec.nodeName=n1,status.phase!=Running");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->matches(FieldMap{{"spec.nodeName", "n1"}, {"status.phase", "Pending"}}));
  EXPECT_FALSE(r->matches(FieldMap{{"spec.nodeName", "n1"}, {"status.phase", "Running"}}));
  EXPECT_FALSE(r->matches(FieldMap{{"spec.nodeName", "n2"}}));
  EXPECT_EQ(r->fieldNames(), (std::vector<std::string>{"spec.nodeName", "status.phase"}));
  EXPECT_EQ(r->requiresExactMatch("spec.nodeName"), std::optional<std::string>("n1"));
  EXPECT_EQ(r->toString(), "spec.nodeName=n1,status.phase!=Running");
  // == is =; an empty value matches a missing field.
  auto d = FieldSelector::parse("metadata.name==web,spec.nodeName=");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->matches(FieldMap{{"metadata.name", "web"}}));
  auto empty = FieldSelector::parse("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_TRUE(empty->matches(FieldMap{}));
}

TEST(FieldSelector, Escaping) {
  auto r = FieldSelector::parse(R"(involvedObject.fieldPath=spec.containers\{app\=x\,y\\})");
  ASSERT_FALSE(r.ok());  // \{ is not a recognized escape
  EXPECT_EQ(r.error().message, "invalid field selector: invalid escape sequence: \\{");
  r = FieldSelector::parse(R"(a=x\=y\,z\\,b=c)");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->matches(FieldMap{{"a", "x=y,z\\"}, {"b", "c"}}));
  EXPECT_EQ(r->toString(), R"(a=x\=y\,z\\,b=c)");
  auto bad = FieldSelector::parse("a=b=c");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "invalid field selector: unescaped character in value: 61");
  bad = FieldSelector::parse("a=b\\");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "invalid field selector: invalid escape sequence: \\");
  bad = FieldSelector::parse("a,b=c");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(bad.error().message, "invalid selector: 'a,b=c'; can't understand 'a'");
}

TEST(FieldSelector, UnsupportedFields) {
  auto r = FieldSelector::parse("metadata.name=a,spec.foo=b");
  ASSERT_TRUE(r.ok());
  auto st = r->checkSupported({"metadata.name", "metadata.namespace"});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(st.error().message, "field label not supported: spec.foo");
  EXPECT_TRUE(r->checkSupported({"metadata.name", "spec.foo"}).ok());
}

}  // namespace
}  // namespace berth::api
