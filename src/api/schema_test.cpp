#include "api/schema.h"

#include <gtest/gtest.h>

namespace berth::api {
namespace {

constexpr std::string_view kSample = R"(# a comment line
type test.Meta
  name         string             1
  generation   int64              7   # trailing comment
  labels       map[string]       11
  owners       []test.Owner      13  merge=uid
  finalizers   []string          14  merge
  kind         string             0  noproto

type test.Owner
  uid          string             4  keep
  controller   bool               6  keep

type test.Source
  emptyDir     test.Empty         2  keep
  path         string             1

type test.Empty

type test.Volume
  name         string             1  keep
  source       test.Source        2  inline
  ports        []int32            3  merge=containerPort,retainKeys
  extra        map[[]string]      4
  limits       map[quantity]      5
)";

SchemaRegistry sampleRegistry() {
  SchemaRegistry r;
  auto st = r.add("sample.schema", kSample);
  EXPECT_TRUE(st.ok()) << st.error().message;
  auto rs = r.resolve();
  EXPECT_TRUE(rs.ok()) << rs.error().message;
  return r;
}

TEST(SchemaParse, FieldsTypesAndFlags) {
  auto r = sampleRegistry();
  auto meta = r.find("test.Meta");
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->kind, SchemaKind::kObject);
  EXPECT_EQ(meta->name, "test.Meta");
  ASSERT_EQ(meta->fields.size(), 6u);
  EXPECT_EQ(meta->fields[0].json_name, "name");

  const SchemaField* gen = meta->field("generation");
  ASSERT_TRUE(gen);
  EXPECT_EQ(gen->proto_number, 7);
  EXPECT_EQ(gen->type->kind, SchemaKind::kInt64);
  EXPECT_FALSE(gen->keep_zero);

  const SchemaField* labels = meta->fieldByNumber(11);
  ASSERT_TRUE(labels);
  EXPECT_EQ(labels->json_name, "labels");
  EXPECT_EQ(labels->type->kind, SchemaKind::kMap);
  EXPECT_EQ(labels->type->elem->kind, SchemaKind::kString);

  const SchemaField* owners = meta->field("owners");
  ASSERT_TRUE(owners);
  EXPECT_TRUE(owners->merge);
  EXPECT_EQ(owners->merge_key, "uid");
  ASSERT_EQ(owners->type->kind, SchemaKind::kArray);
  // Named references resolve to the registry's own type object.
  EXPECT_EQ(owners->type->elem.get(), r.find("test.Owner").get());
  EXPECT_TRUE(owners->type->elem->field("uid")->keep_zero);

  const SchemaField* fin = meta->field("finalizers");
  EXPECT_TRUE(fin->merge);
  EXPECT_TRUE(fin->merge_key.empty());

  const SchemaField* kind = meta->field("kind");
  ASSERT_TRUE(kind);
  EXPECT_TRUE(kind->no_proto);
  EXPECT_EQ(meta->fieldByNumber(0), nullptr);
  EXPECT_EQ(meta->field("nope"), nullptr);
  EXPECT_EQ(meta->fieldByNumber(99), nullptr);
}

TEST(SchemaParse, InlineExpandsJsonViewKeepsProtoView) {
  auto r = sampleRegistry();
  auto vol = r.find("test.Volume");
  ASSERT_TRUE(vol);
  // JSON sees name, emptyDir, path, ports, extra, limits.
  std::vector<std::string> names;
  for (const auto& f : vol->fields) names.push_back(f.json_name);
  EXPECT_EQ(names, (std::vector<std::string>{"name", "emptyDir", "path", "ports", "extra", "limits"}));
  EXPECT_TRUE(vol->field("emptyDir"));
  EXPECT_EQ(vol->field("source"), nullptr);
  // Protobuf sees field 2 as the nested Source message.
  const SchemaField* src = vol->fieldByNumber(2);
  ASSERT_TRUE(src);
  EXPECT_TRUE(src->is_inline);
  EXPECT_EQ(src->type.get(), r.find("test.Source").get());

  const SchemaField* ports = vol->field("ports");
  EXPECT_TRUE(ports->merge);
  EXPECT_TRUE(ports->retain_keys);
  EXPECT_EQ(ports->merge_key, "containerPort");

  const SchemaField* extra = vol->field("extra");
  ASSERT_EQ(extra->type->kind, SchemaKind::kMap);
  ASSERT_EQ(extra->type->elem->kind, SchemaKind::kArray);
  EXPECT_EQ(extra->type->elem->elem->kind, SchemaKind::kString);
  EXPECT_EQ(vol->field("limits")->type->elem->kind, SchemaKind::kQuantity);

  auto empty = r.find("test.Empty");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->fields.empty());
}

TEST(SchemaParse, HandBuiltTypesUseLinearLookup) {
  SchemaType t;
  t.kind = SchemaKind::kObject;
  SchemaField f;
  f.json_name = "a";
  f.proto_number = 3;
  t.fields.push_back(f);
  EXPECT_EQ(t.field("a"), &t.fields[0]);
  EXPECT_EQ(t.fieldByNumber(3), &t.fields[0]);
  t.buildIndex();
  EXPECT_EQ(t.field("a"), &t.fields[0]);
  EXPECT_EQ(t.fieldByNumber(3), &t.fields[0]);
  EXPECT_EQ(t.field("b"), nullptr);
}

std::string addError(std::string_view text) {
  SchemaRegistry r;
  auto st = r.add("bad.schema", text);
  if (!st.ok()) return st.error().message;
  auto rs = r.resolve();
  if (!rs.ok()) return rs.error().message;
  return "";
}

TEST(SchemaParse, ErrorsNameSourceAndLine) {
  EXPECT_EQ(addError("\n  name string 1\n"), "schema bad.schema:2: field line outside of a type");
  EXPECT_EQ(addError("type A\n  name string\n"),
            "schema bad.schema:2: expected \"jsonName type number [flags]\", got \"  name string\"");
  EXPECT_EQ(addError("type A\n  name string x\n"), "schema bad.schema:2: invalid protobuf field number \"x\"");
  EXPECT_EQ(addError("type A\n  name string 1 bogus\n"), "schema bad.schema:2: unknown flag \"bogus\"");
  EXPECT_EQ(addError("type A\n  a string 1\n  b string 1\n"), "schema bad.schema:3: duplicate protobuf number 1 in A");
  EXPECT_EQ(addError("type A\n  a string 1\n  a string 2\n"), "schema bad.schema:3: duplicate field a in A");
  EXPECT_EQ(addError("type A\ntype A\n"), "schema bad.schema:2: type A already declared at bad.schema:1");
  EXPECT_EQ(addError("typo A\n"), "schema bad.schema:1: expected \"type NAME\", got \"typo A\"");
  EXPECT_EQ(addError("type A\n  a map[string 1\n"), "schema bad.schema:2: malformed map type \"map[string\" (want map[T])");
  EXPECT_EQ(addError("type A\n  a string 0\n"), "schema bad.schema:2: field a needs a protobuf number or noproto");
  EXPECT_EQ(addError("type A\n\n  a []Missing 1\n"), "schema bad.schema:3: type A field a: unknown type \"Missing\"");
  EXPECT_EQ(addError("type A\n  a string 1 inline\n"), "schema bad.schema:2: type A field a: inline needs a named object type");
  EXPECT_EQ(addError("type A\n  b B 1 inline\ntype B\n  a A 1 inline\n"), "schema: inline cycle through type A");
  EXPECT_EQ(addError("type A\n  a string 1\n  b B 2 inline\ntype B\n  a string 1\n"),
            "schema: type A has JSON field a twice after inlining");
  EXPECT_EQ(addError("type A\n  a string 1\r\n  b int32 2 keep\r\n"), "");
}

TEST(SchemaParse, RecursiveTypesResolve) {
  SchemaRegistry r;
  ASSERT_TRUE(r.add("a.schema", "type Props\n  properties map[Props] 1\n  items []Props 2\n").ok());
  ASSERT_TRUE(r.resolve().ok());
  auto p = r.find("Props");
  EXPECT_EQ(p->field("properties")->type->elem.get(), p.get());
}

TEST(SchemaBuiltin, ParsesAndResolvesAllEmbeddedTypes) {
  const auto& r = SchemaRegistry::builtin();
  auto names = r.typeNames();
  EXPECT_GT(names.size(), 100u);
  // A few types every part of the server relies on.
  for (const char* n : {"meta.v1.ObjectMeta", "core.v1.ConfigMap", "core.v1.Pod", "apps.v1.Deployment",
                        "core.v1.Service", "batch.v1.Job", "autoscaling.v1.HorizontalPodAutoscaler"}) {
    EXPECT_TRUE(r.find(n)) << n;
  }
  auto cm = r.find("core.v1.ConfigMap");
  ASSERT_TRUE(cm);
  EXPECT_EQ(cm->fieldByNumber(2)->json_name, "data");
  EXPECT_EQ(cm->fieldByNumber(3)->json_name, "binaryData");
  EXPECT_EQ(cm->field("metadata")->type.get(), r.find("meta.v1.ObjectMeta").get());
  // Volume's inline VolumeSource appears flattened in JSON.
  auto vol = r.find("core.v1.Volume");
  ASSERT_TRUE(vol);
  EXPECT_TRUE(vol->field("emptyDir"));
  EXPECT_TRUE(vol->field("configMap"));
  EXPECT_TRUE(vol->fieldByNumber(2)->is_inline);
  // Every reachable type is resolved: no placeholder names remain.
  for (const auto& n : names) {
    auto t = r.find(n);
    for (const auto& f : t->fields) {
      const SchemaType* ft = f.type.get();
      while (ft->kind == SchemaKind::kArray || ft->kind == SchemaKind::kMap) ft = ft->elem.get();
      if (ft->kind == SchemaKind::kObject) {
        EXPECT_TRUE(r.find(ft->name)) << n << "." << f.json_name;
      }
    }
  }
  EXPECT_EQ(&SchemaRegistry::builtin(), &r);
}

}  // namespace
}  // namespace berth::api
