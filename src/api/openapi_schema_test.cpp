#include "api/openapi_schema.h"

#include <gtest/gtest.h>

namespace berth::api {
namespace {

namespace json = boost::json;

TEST(OpenApiSchema, Names) {
  EXPECT_EQ(openApiSchemaName("core.v1.Pod"), "io.k8s.api.core.v1.Pod");
  EXPECT_EQ(openApiSchemaName("meta.v1.ObjectMeta"), "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
  EXPECT_EQ(json::serialize(openApiRef("apps.v1.Deployment")),
            R"({"$ref":"#/components/schemas/io.k8s.api.apps.v1.Deployment"})");
}

TEST(OpenApiSchema, SmallTree) {
  SchemaRegistry r;
  ASSERT_TRUE(r.add("t.schema", R"(
type x.v1.Thing
  kind        string        0  noproto
  metadata    meta.v1.Meta  1
  items       []x.v1.Item   2  merge=name
  limits      map[quantity] 3
  port        intorstr      4
  when        time          5
  self        x.v1.Thing    6
type x.v1.Item
  name        string        1
  count       int32         2
type meta.v1.Meta
  name        string        1
)").ok());
  ASSERT_TRUE(r.resolve().ok());
  json::object schemas;
  OpenApiGvk gvk{"x", "v1", "Thing"};
  addOpenApiSchemas(*r.find("x.v1.Thing"), schemas, &gvk);
  addOpenApiSchemas(*r.find("x.v1.Thing"), schemas, &gvk);  // idempotent
  ASSERT_TRUE(schemas.contains("io.k8s.api.x.v1.Thing"));
  ASSERT_TRUE(schemas.contains("io.k8s.api.x.v1.Item"));
  ASSERT_TRUE(schemas.contains("io.k8s.apimachinery.pkg.apis.meta.v1.Meta"));
  ASSERT_TRUE(schemas.contains("io.k8s.apimachinery.pkg.api.resource.Quantity"));
  ASSERT_TRUE(schemas.contains("io.k8s.apimachinery.pkg.util.intstr.IntOrString"));
  ASSERT_TRUE(schemas.contains("io.k8s.apimachinery.pkg.apis.meta.v1.Time"));
  auto& thing = schemas["io.k8s.api.x.v1.Thing"].as_object();
  EXPECT_EQ(json::serialize(thing["x-kubernetes-group-version-kind"]),
            R"([{"group":"x","version":"v1","kind":"Thing"}])");
  auto& props = thing["properties"].as_object();
  EXPECT_EQ(json::serialize(props["items"]),
            R"({"type":"array","items":{"$ref":"#/components/schemas/io.k8s.api.x.v1.Item"},)"
            R"("x-kubernetes-patch-strategy":"merge","x-kubernetes-patch-merge-key":"name"})");
  EXPECT_EQ(json::serialize(props["limits"]),
            R"({"type":"object","additionalProperties":{"$ref":"#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity"}})");
  EXPECT_EQ(json::serialize(props["self"]), R"({"$ref":"#/components/schemas/io.k8s.api.x.v1.Thing"})");
  EXPECT_EQ(json::serialize(schemas["io.k8s.api.x.v1.Item"]),
            R"({"type":"object","properties":{"name":{"type":"string"},"count":{"type":"integer","format":"int32"}}})");
}

TEST(OpenApiSchema, BuiltinPodTree) {
  json::object schemas;
  addOpenApiSchemas(*SchemaRegistry::builtin().find("core.v1.Pod"), schemas);
  EXPECT_TRUE(schemas.contains("io.k8s.api.core.v1.PodSpec"));
  EXPECT_TRUE(schemas.contains("io.k8s.api.core.v1.Container"));
  auto& volume = schemas["io.k8s.api.core.v1.Volume"].as_object()["properties"].as_object();
  EXPECT_TRUE(volume.contains("emptyDir"));  // inline VolumeSource is flattened
  EXPECT_FALSE(volume.contains("volumeSource"));
}

}  // namespace
}  // namespace berth::api
