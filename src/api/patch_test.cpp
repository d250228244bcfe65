#include "api/patch.h"

#include <gtest/gtest.h>

#include <string>

namespace berth::api {
namespace {

namespace json = boost::json;

json::value J(std::string_view s) { return json::parse(s); }

json::value applyOk(std::string_view doc, std::string_view patch) {
  std::string detail;
  auto r = applyJsonPatch(J(doc), patch, &detail);
  EXPECT_TRUE(r.ok()) << patch << ": " << (r.ok() ? "" : r.error().message) << " " << detail;
  return r.ok() ? *r : json::value();
}

void expectFails(std::string_view doc, std::string_view patch) {
  std::string detail;
  auto r = applyJsonPatch(J(doc), patch, &detail);
  ASSERT_FALSE(r.ok()) << patch;
  EXPECT_EQ(r.error().code, ErrorCode::kInvalid) << patch << " " << r.error().message;
  EXPECT_EQ(r.error().message, "the server rejected our request due to an error in our request");
  EXPECT_FALSE(detail.empty());
}

// RFC 6902 appendix A examples.
TEST(JsonPatch, Rfc6902Examples) {
  EXPECT_EQ(applyOk(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux"}])"),
            J(R"({"baz":"qux","foo":"bar"})"));
  EXPECT_EQ(applyOk(R"({"foo":["bar","baz"]})", R"([{"op":"add","path":"/foo/1","value":"qux"}])"),
            J(R"({"foo":["bar","qux","baz"]})"));
  EXPECT_EQ(applyOk(R"({"baz":"qux","foo":"bar"})", R"([{"op":"remove","path":"/baz"}])"), J(R"({"foo":"bar"})"));
  EXPECT_EQ(applyOk(R"({"foo":["bar","qux","baz"]})", R"([{"op":"remove","path":"/foo/1"}])"),
            J(R"({"foo":["bar","baz"]})"));
  EXPECT_EQ(applyOk(R"({"baz":"qux","foo":"bar"})", R"([{"op":"replace","path":"/baz","value":"boo"}])"),
            J(R"({"baz":"boo","foo":"bar"})"));
  EXPECT_EQ(applyOk(R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
                    R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])"),
            J(R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})"));
  EXPECT_EQ(applyOk(R"({"foo":["all","grass","cows","eat"]})", R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])"),
            J(R"({"foo":["all","cows","eat","grass"]})"));
  EXPECT_EQ(applyOk(R"({"baz":"qux","foo":["a",2,"c"]})",
                    R"([{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}])"),
            J(R"({"baz":"qux","foo":["a",2,"c"]})"));
  expectFails(R"({"baz":"qux"})", R"([{"op":"test","path":"/baz","value":"bar"}])");
  EXPECT_EQ(applyOk(R"({"foo":"bar"})", R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])"),
            J(R"({"foo":"bar","child":{"grandchild":{}}})"));
  // A.11: unrecognized members are ignored.
  EXPECT_EQ(applyOk(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux","xyz":123}])"),
            J(R"({"foo":"bar","baz":"qux"})"));
  // A.12: adding to a nonexistent target.
  expectFails(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz/bat","value":"qux"}])");
  EXPECT_EQ(applyOk(R"({"foo":["bar"]})", R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])"),
            J(R"({"foo":["bar",["abc","def"]]})"));
  // A.14: ~ escaping.
  EXPECT_EQ(applyOk(R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":10}])"), J(R"({"/":9,"~1":10})"));
  expectFails(R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":"10"}])");
}

TEST(JsonPatch, PointerEscapingInKeys) {
  // kubectl annotate-style paths: "/" in keys is ~1.
  EXPECT_EQ(applyOk(R"({"metadata":{"annotations":{}}})",
                    R"([{"op":"add","path":"/metadata/annotations/example.com~1x","value":"y"}])"),
            J(R"({"metadata":{"annotations":{"example.com/x":"y"}}})"));
  EXPECT_EQ(applyOk(R"({"a":{"m~n":1}})", R"([{"op":"remove","path":"/a/m~0n"}])"), J(R"({"a":{}})"));
}

TEST(JsonPatch, ArrayIndices) {
  EXPECT_EQ(applyOk(R"({"a":[1,2,3]})", R"([{"op":"add","path":"/a/3","value":4}])"), J(R"({"a":[1,2,3,4]})"));
  expectFails(R"({"a":[1,2,3]})", R"([{"op":"add","path":"/a/5","value":4}])");
  expectFails(R"({"a":[1,2,3]})", R"([{"op":"remove","path":"/a/3"}])");
  expectFails(R"({"a":[1,2,3]})", R"([{"op":"replace","path":"/a/x","value":1}])");
  expectFails(R"({"a":[1,2,3]})", R"([{"op":"remove","path":"/a/-"}])");
  // Negative indices count from the end, as evanphx/json-patch v4 allows.
  EXPECT_EQ(applyOk(R"({"a":[1,2,3]})", R"([{"op":"remove","path":"/a/-1"}])"), J(R"({"a":[1,2]})"));
  EXPECT_EQ(applyOk(R"({"a":[1,2,3]})", R"([{"op":"replace","path":"/a/0","value":9}])"), J(R"({"a":[9,2,3]})"));
  EXPECT_EQ(applyOk(R"({"a":[{"b":1}]})", R"([{"op":"replace","path":"/a/0/b","value":2}])"),
            J(R"({"a":[{"b":2}]})"));
}

TEST(JsonPatch, FailuresAre422) {
  expectFails(R"({"a":1})", R"([{"op":"remove","path":"/b"}])");
  expectFails(R"({"a":1})", R"([{"op":"replace","path":"/b","value":1}])");
  expectFails(R"({"a":1})", R"([{"op":"frobnicate","path":"/a"}])");
  expectFails(R"({"a":1})", R"([{"path":"/a"}])");
  expectFails(R"({"a":1})", R"([{"op":"add","value":1}])");
  expectFails(R"({"a":1})", R"([{"op":"add","path":"","value":1}])");
  expectFails(R"({"a":1})", R"([{"op":"move","from":"/x","path":"/b"}])");
  expectFails(R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":"/a/b/c"}])");
  expectFails(R"({"a":1})", R"([{"op":"copy","from":"/x","path":"/b"}])");
  expectFails(R"({"a":1})", R"([null])");
  // Operations before a failing one do not leak into a result.
  expectFails(R"({"a":1})", R"([{"op":"add","path":"/b","value":2},{"op":"test","path":"/a","value":2}])");
}

TEST(JsonPatch, TestOperationSemantics) {
  // Numbers compare by value; null matches a missing member (v4).
  applyOk(R"({"a":1})", R"([{"op":"test","path":"/a","value":1.0}])");
  applyOk(R"({"a":1})", R"([{"op":"test","path":"/b","value":null}])");
  applyOk(R"({"a":{"x":[1,{"y":true}]}})", R"([{"op":"test","path":"/a","value":{"x":[1,{"y":true}]}}])");
  expectFails(R"({"a":{"x":[1]}})", R"([{"op":"test","path":"/a","value":{"x":[1,2]}}])");
  // rollout-undo style: test resourceVersion then replace the template.
  auto out = applyOk(
      R"({"metadata":{"resourceVersion":"7"},"spec":{"template":{"spec":{"containers":[{"name":"a","image":"v2"}]}}}})",
      R"([{"op":"test","path":"/metadata/resourceVersion","value":"7"},
          {"op":"replace","path":"/spec/template","value":{"spec":{"containers":[{"name":"a","image":"v1"}]}}}])");
  EXPECT_EQ(out.at_pointer("/spec/template/spec/containers/0/image"), json::value("v1"));
}

TEST(JsonPatch, CopyAndMove) {
  EXPECT_EQ(applyOk(R"({"a":{"b":1}})", R"([{"op":"copy","from":"/a","path":"/c"}])"),
            J(R"({"a":{"b":1},"c":{"b":1}})"));
  EXPECT_EQ(applyOk(R"({"a":1})", R"([{"op":"move","from":"/a","path":"/a"}])"), J(R"({"a":1})"));
}

TEST(JsonPatch, DecodeErrorsAre400) {
  auto r = applyJsonPatch(J("{}"), "{not json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kBadRequest);
  r = applyJsonPatch(J("{}"), R"({"op":"add"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(r.error().message, "json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  r = applyJsonPatch(J("{}"), "[1]");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "json: cannot unmarshal number into Go value of type jsonpatch.Operation");
  // null decodes to an empty patch.
  auto ok = applyJsonPatch(J(R"({"a":1})"), "null");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, J(R"({"a":1})"));
}

TEST(JsonPatch, TooManyOperations) {
  std::string patch = "[";
  for (std::size_t i = 0; i <= kMaxJsonPatchOperations; ++i) {
    if (i) patch += ',';
    patch += R"({"op":"test","path":"/a","value":1})";
  }
  patch += "]";
  auto r = applyJsonPatch(J(R"({"a":1})"), patch);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kRequestEntityTooLarge);
  EXPECT_EQ(r.error().message, "The allowed maximum operations in a JSON patch is 10000, got 10001");
}

TEST(JsonPatch, CopyGrowthIsBounded) {
  // Doubling the document with copies must stop at the accumulated limit.
  std::string patch = R"([{"op":"add","path":"/a","value":["0123456789012345678901234567890123456789"]})";
  for (int i = 0; i < 40; ++i) patch += R"(,{"op":"copy","from":"/a","path":"/a/-"})";
  patch += "]";
  std::string detail;
  auto r = applyJsonPatch(J("{}"), patch, &detail);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(detail.find("accumulated size"), std::string::npos) << detail;
}

TEST(JsonPatch, DepthIsBounded) {
  // Copying a subtree into itself repeatedly deepens the document by one
  // level per operation; the limit stops it.
  std::string patch = R"([{"op":"add","path":"/a","value":{}})";
  std::string path = "/a";
  for (std::size_t i = 0; i < kMaxJsonDepth + 5; ++i) {
    patch += R"(,{"op":"add","path":")" + path + R"(/a","value":{}})";
    path += "/a";
  }
  patch += "]";
  auto r = applyJsonPatch(J("{}"), patch);
  EXPECT_FALSE(r.ok());
  std::string deep(kMaxJsonDepth + 10, '[');
  auto r2 = applyJsonPatch(J("{}"), deep);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().code, ErrorCode::kBadRequest);
}

// RFC 7386 appendix A.
TEST(MergePatch, Rfc7386Examples) {
  struct Case {
    const char* target;
    const char* patch;
    const char* result;
  } cases[] = {
      {R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
      {R"({"a":"b"})", R"({"a":null})", R"({})"},
      {R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
      {R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
      {R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})"},
      {R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
      {R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
      {R"({"a":"b"})", R"(["c"])", R"(["c"])"},
      {R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
      {R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
      {R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
  };
  for (const auto& c : cases) {
    auto r = applyMergePatchText(J(c.target), c.patch);
    ASSERT_TRUE(r.ok()) << c.patch;
    EXPECT_EQ(*r, J(c.result)) << c.target << " + " << c.patch;
  }
}

TEST(MergePatch, KubectlScaleAndLabel) {
  auto doc = J(R"({"metadata":{"name":"web","labels":{"app":"web","tier":"fe"}},"spec":{"replicas":1}})");
  auto r = applyMergePatchText(doc, (R"({"spec":{"replicas":3}})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at_pointer("/spec/replicas"), json::value(3));
  // kubectl label tier- env=prod
  r = applyMergePatchText(doc, (R"({"metadata":{"labels":{"tier":null,"env":"prod"}}})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at_pointer("/metadata/labels"), J(R"({"app":"web","env":"prod"})"));
}

TEST(MergePatch, BadPatches) {
  for (const char* p : {"null", "1", "\"x\"", "true", "{bad"}) {
    auto r = applyMergePatchText(J("{}"), p);
    ASSERT_FALSE(r.ok()) << p;
    EXPECT_EQ(r.error().code, ErrorCode::kBadRequest);
    EXPECT_EQ(r.error().message, "Invalid JSON Patch");
  }
}

TEST(MergePatch, NullsInsideArraysAreKept) {
  auto r = applyMergePatchText(J("{}"), (R"({"a":[null,{"b":null,"c":1}]})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, J(R"({"a":[null,{"c":1}]})"));
}

TEST(PatchHelpers, GoFormat) {
  EXPECT_EQ(goFormat(J(R"({"name":"x","b":[1,"a",true,null],"f":1.5})")), "map[b:[1 a true <nil>] f:1.5 name:x]");
  EXPECT_EQ(goFormat(J("1e21")), "1e+21");
  EXPECT_EQ(goFormat(J("100000.0")), "100000");
}

TEST(PatchHelpers, JsonDepth) {
  EXPECT_EQ(jsonDepth(J("1")), 0u);
  EXPECT_EQ(jsonDepth(J("{}")), 1u);
  EXPECT_EQ(jsonDepth(J(R"({"a":[{"b":[]}]})")), 4u);
}

}  // namespace
}  // namespace berth::api
