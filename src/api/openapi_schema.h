#pragma once

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "api/schema.h"

namespace berth::api {

// OpenAPI v3 `components.schemas` entries generated from the API schema, for
// /openapi/v3 documents (kubectl explain, apply's field checks). Names follow
// upstream's definitions: "core.v1.Pod" -> "io.k8s.api.core.v1.Pod",
// "meta.v1.ObjectMeta" -> "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
// time, quantity and intorstr refer to upstream's shared definitions
// (io.k8s.apimachinery.pkg.apis.meta.v1.Time, ...api.resource.Quantity,
// ...util.intstr.IntOrString), which are added when used. Lists carry
// x-kubernetes-patch-strategy / x-kubernetes-patch-merge-key.

std::string openApiSchemaName(std::string_view schema_type_name);

// The reference object {"$ref": "#/components/schemas/<name>"} for a type.
boost::json::object openApiRef(std::string_view schema_type_name);

struct OpenApiGvk {
  std::string group;  // "" for core
  std::string version;
  std::string kind;
};

// Adds the schema of `root` (a kObject type) and of every type it references,
// directly or not, to `schemas` (existing entries are kept). With `gvk`, the
// root's entry gets x-kubernetes-group-version-kind, appended when it is
// already there (one type may serve several versions).
void addOpenApiSchemas(const SchemaType& root, boost::json::object& schemas, const OpenApiGvk* gvk = nullptr);

}  // namespace berth::api
