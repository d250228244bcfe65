#include "api/openapi_schema.h"

#include <unordered_set>
#include <vector>

namespace berth::api {

namespace json = boost::json;

namespace {
constexpr std::string_view kTimeName = "io.k8s.apimachinery.pkg.apis.meta.v1.Time";
constexpr std::string_view kMicroTimeName = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime";
constexpr std::string_view kQuantityName = "io.k8s.apimachinery.pkg.api.resource.Quantity";
constexpr std::string_view kIntOrStringName = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
constexpr std::string_view kRawExtensionName = "io.k8s.apimachinery.pkg.runtime.RawExtension";

json::object refTo(std::string_view full_name) {
  json::object o;
  o["$ref"] = "#/components/schemas/" + std::string(full_name);
  return o;
}

// Shared definitions of the apimachinery wrapper types, as upstream publishes them.
void addShared(SchemaKind kind, json::object& schemas) {
  auto put = [&](std::string_view name, json::object schema) {
    if (!schemas.contains(name)) schemas[name] = std::move(schema);
  };
  switch (kind) {
    case SchemaKind::kTime:
      put(kTimeName, json::object{{"type", "string"}, {"format", "date-time"},
                                   {"description", "Time is a wrapper around time.Time, serialized as RFC 3339."}});
      break;
    case SchemaKind::kMicroTime:
      put(kMicroTimeName, json::object{{"type", "string"}, {"format", "date-time"},
                                        {"description", "MicroTime is version of Time with microsecond level precision."}});
      break;
    case SchemaKind::kQuantity:
      put(kQuantityName,
          json::object{{"oneOf", json::array{json::object{{"type", "string"}}, json::object{{"type", "number"}}}},
                       {"description", "Quantity is a fixed-point representation of a number, e.g. 500m, 1Gi."}});
      break;
    case SchemaKind::kIntOrString:
      put(kIntOrStringName, json::object{{"type", "string"}, {"format", "int-or-string"},
                                          {"x-kubernetes-int-or-string", true},
                                          {"description", "IntOrString holds an int32 or a string."}});
      break;
    case SchemaKind::kAny:
      put(kRawExtensionName, json::object{{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true},
                                           {"description", "RawExtension holds any JSON object."}});
      break;
    default: break;
  }
}

class Builder {
 public:
  explicit Builder(json::object& schemas) : schemas_(schemas) {}

  json::value typeSchema(const SchemaType& t) {
    switch (t.kind) {
      case SchemaKind::kString: return json::object{{"type", "string"}};
      case SchemaKind::kInt32: return json::object{{"type", "integer"}, {"format", "int32"}};
      case SchemaKind::kInt64: return json::object{{"type", "integer"}, {"format", "int64"}};
      case SchemaKind::kBool: return json::object{{"type", "boolean"}};
      case SchemaKind::kDouble: return json::object{{"type", "number"}, {"format", "double"}};
      case SchemaKind::kBytes: return json::object{{"type", "string"}, {"format", "byte"}};
      case SchemaKind::kDuration: return json::object{{"type", "string"}};
      case SchemaKind::kTime: addShared(t.kind, schemas_); return refTo(kTimeName);
      case SchemaKind::kMicroTime: addShared(t.kind, schemas_); return refTo(kMicroTimeName);
      case SchemaKind::kQuantity: addShared(t.kind, schemas_); return refTo(kQuantityName);
      case SchemaKind::kIntOrString: addShared(t.kind, schemas_); return refTo(kIntOrStringName);
      case SchemaKind::kAny: addShared(t.kind, schemas_); return refTo(kRawExtensionName);
      case SchemaKind::kArray:
        return json::object{{"type", "array"}, {"items", t.elem ? typeSchema(*t.elem) : json::object{}}};
      case SchemaKind::kMap:
        return json::object{{"type", "object"}, {"additionalProperties", t.elem ? typeSchema(*t.elem) : json::object{}}};
      case SchemaKind::kObject:
        if (seen_.insert(&t).second) pending_.push_back(&t);
        return refTo(openApiSchemaName(t.name));
    }
    return json::object{};
  }

  void drain() {
    while (!pending_.empty()) {
      const SchemaType* t = pending_.back();
      pending_.pop_back();
      std::string name = openApiSchemaName(t->name);
      if (schemas_.contains(name)) continue;
      json::object props;
      for (const auto& f : t->fields) {
        if (!f.type) continue;
        json::value s = typeSchema(*f.type);
        auto& o = s.as_object();
        if (f.merge || f.retain_keys) {
          std::string strategy;
          if (f.merge) strategy = "merge";
          if (f.retain_keys) strategy += strategy.empty() ? "retainKeys" : ",retainKeys";
          o["x-kubernetes-patch-strategy"] = strategy;
        }
        if (!f.merge_key.empty()) o["x-kubernetes-patch-merge-key"] = f.merge_key;
        // A $ref may not have siblings in OpenAPI 3.0; wrap it as upstream does.
        if (o.contains("$ref") && o.size() > 1) {
          json::object wrapped;
          wrapped["allOf"] = json::array{json::object{{"$ref", o["$ref"]}}};
          for (auto& kv : o)
            if (kv.key() != "$ref") wrapped[kv.key()] = kv.value();
          s = std::move(wrapped);
        }
        props[f.json_name] = std::move(s);
      }
      json::object schema{{"type", "object"}};
      schema["properties"] = std::move(props);
      schemas_[name] = std::move(schema);
    }
  }

 private:
  json::object& schemas_;
  std::unordered_set<const SchemaType*> seen_;
  std::vector<const SchemaType*> pending_;
};

}  // namespace

std::string openApiSchemaName(std::string_view n) {
  if (n.substr(0, 8) == "meta.v1.") return "io.k8s.apimachinery.pkg.apis.meta.v1." + std::string(n.substr(8));
  return "io.k8s.api." + std::string(n);
}

json::object openApiRef(std::string_view schema_type_name) { return refTo(openApiSchemaName(schema_type_name)); }

void addOpenApiSchemas(const SchemaType& root, json::object& schemas, const OpenApiGvk* gvk) {
  Builder b(schemas);
  b.typeSchema(root);
  b.drain();
  if (gvk && root.kind == SchemaKind::kObject) {
    auto& entry = schemas[openApiSchemaName(root.name)].as_object();
    auto& list = entry["x-kubernetes-group-version-kind"];
    if (!list.is_array()) list = json::array();
    json::object g{{"group", gvk->group}, {"version", gvk->version}, {"kind", gvk->kind}};
    bool present = false;
    for (const auto& e : list.as_array()) present |= e == json::value(g);
    if (!present) list.as_array().push_back(std::move(g));
  }
}

}  // namespace berth::api
