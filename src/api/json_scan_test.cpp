#include "api/json_scan.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace berth::api {
namespace {

namespace json = boost::json;

TEST(JsonScanTest, FindsTopLevelMembersOnly) {
  std::string_view text =
      R"({"kind":"Pod","spec":{"metadata":{"x":1},"s":"a\"}b"},"metadata":{"name":"p","labels":{"a":"b"}},"n":-1.5e3,"t":true})";
  auto md = findTopLevelMember(text, "metadata");
  ASSERT_TRUE(md);
  EXPECT_EQ(*md, R"({"name":"p","labels":{"a":"b"}})");
  EXPECT_EQ(*findTopLevelMember(text, "kind"), R"("Pod")");
  EXPECT_EQ(*findTopLevelMember(text, "n"), "-1.5e3");
  EXPECT_EQ(*findTopLevelMember(text, "t"), "true");
  EXPECT_FALSE(findTopLevelMember(text, "name"));
  EXPECT_FALSE(findTopLevelMember(text, "x"));
}

TEST(JsonScanTest, WhitespaceAndArrays) {
  std::string_view text = " {\n \"a\" : [ {\"b\": \"]}\"}, 2 ] ,\t\"metadata\" : { } }";
  EXPECT_EQ(*findTopLevelMember(text, "a"), R"([ {"b": "]}"}, 2 ])");
  EXPECT_EQ(*findTopLevelMember(text, "metadata"), "{ }");
}

TEST(JsonScanTest, MalformedOrUnclearAnswersNothing) {
  for (std::string_view bad : {"", "[]", "{", R"({"a")", R"({"a":})", R"({"a":"x)",
                               R"({"a":1 "b":2})", R"({"a":{"b":1})", R"({"meta\u0064ata":{}})"})
    EXPECT_FALSE(findTopLevelMember(bad, "metadata")) << bad;
  EXPECT_FALSE(findTopLevelMember("{}", "metadata"));
}

TEST(JsonScanTest, FindsSeveralMembersInOneWalk) {
  std::string_view text =
      R"({"uid":"u1","finalizers":["a","b"],"name":"p","ownerReferences":[{"uid":"o"}]})";
  const std::string_view keys[] = {"uid", "ownerReferences", "deletionTimestamp", "finalizers"};
  std::string_view values[4];
  ASSERT_TRUE(findTopLevelMembers(text, keys, values));
  EXPECT_EQ(values[0], R"("u1")");
  EXPECT_EQ(values[1], R"([{"uid":"o"}])");
  EXPECT_TRUE(values[2].empty());
  EXPECT_EQ(values[3], R"(["a","b"])");
  // Unclear or malformed: false, whatever was found before.
  EXPECT_FALSE(findTopLevelMembers(R"({"uid":"u1","fin\u0061lizers":[]})", keys, values));
  EXPECT_FALSE(findTopLevelMembers(R"({"uid":"u1",)", keys, values));
  EXPECT_FALSE(findTopLevelMembers("[]", keys, values));
  EXPECT_TRUE(findTopLevelMembers("{}", keys, values));
  EXPECT_TRUE(values[0].empty());
}

TEST(JsonScanTest, WithResourceVersionMatchesAParse) {
  std::string_view text =
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"d"},"spec":{"a":[1,2]}})";
  auto out = withResourceVersion(text, 42);
  ASSERT_TRUE(out);
  json::value v = json::parse(*out);
  EXPECT_EQ(v.at("metadata").at("resourceVersion"), "42");
  EXPECT_EQ(v.at("metadata").at("name"), "p");
  json::value orig = json::parse(text);
  orig.at("metadata").as_object()["resourceVersion"] = "42";
  EXPECT_EQ(v, orig);
}

TEST(JsonScanTest, WithResourceVersionEmptyMetadata) {
  auto out = withResourceVersion(R"({"metadata":{},"kind":"X"})", 7);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, R"({"metadata":{"resourceVersion":"7"},"kind":"X"})");
  EXPECT_NO_THROW(json::parse(*out));
}

TEST(JsonScanTest, WithResourceVersionDeclinesWhatItCannotDoSafely) {
  // Already set, no metadata, metadata not an object, escaped keys.
  EXPECT_FALSE(withResourceVersion(R"({"metadata":{"resourceVersion":"1"}})", 2));
  EXPECT_FALSE(withResourceVersion(R"({"kind":"X"})", 2));
  EXPECT_FALSE(withResourceVersion(R"({"metadata":null})", 2));
  EXPECT_FALSE(withResourceVersion(R"({"metadata":{"resource\u0056ersion":"1"}})", 2));
  EXPECT_FALSE(withResourceVersion("not json", 2));
}

}  // namespace
}  // namespace berth::api
