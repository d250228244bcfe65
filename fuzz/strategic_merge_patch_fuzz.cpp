// libFuzzer target: strategic merge patch against a small hand-built schema
// (merge keys, set lists, retainKeys) and without schema. Input is
// "<doc>\n<patch>" or a patch alone (applied to a fixed Pod-like object).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "api/patch.h"
#include "api/schema.h"
#include "api/strategic_merge.h"

namespace {

using berth::api::SchemaField;
using berth::api::SchemaKind;
using berth::api::SchemaType;

std::shared_ptr<SchemaType> make(SchemaKind kind, std::shared_ptr<SchemaType> elem = nullptr) {
  auto t = std::make_shared<SchemaType>();
  t->kind = kind;
  t->elem = std::move(elem);
  return t;
}

void field(const std::shared_ptr<SchemaType>& t, const char* name, std::shared_ptr<SchemaType> type,
           const char* merge_key = "", bool merge = false) {
  SchemaField f;
  f.json_name = name;
  f.type = std::move(type);
  f.merge_key = merge_key;
  f.merge = merge || *merge_key;
  t->fields.push_back(std::move(f));
}

const SchemaType* podSchema() {
  static const std::shared_ptr<SchemaType> pod = [] {
    auto str = make(SchemaKind::kString);
    auto i32 = make(SchemaKind::kInt32);
    auto env = make(SchemaKind::kObject);
    field(env, "name", str);
    field(env, "value", str);
    auto port = make(SchemaKind::kObject);
    field(port, "containerPort", i32);
    auto container = make(SchemaKind::kObject);
    field(container, "name", str);
    field(container, "env", make(SchemaKind::kArray, env), "name");
    field(container, "ports", make(SchemaKind::kArray, port), "containerPort");
    field(container, "args", make(SchemaKind::kArray, str));
    auto spec = make(SchemaKind::kObject);
    field(spec, "containers", make(SchemaKind::kArray, container), "name");
    field(spec, "finalizers", make(SchemaKind::kArray, str), "", true);
    field(spec, "labels", make(SchemaKind::kMap, str));
    auto root = make(SchemaKind::kObject);
    field(root, "spec", spec);
    field(root, "metadata", make(SchemaKind::kAny));
    return root;
  }();
  return pod.get();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  static const boost::json::value kDoc = boost::json::parse(
      R"({"metadata":{"name":"x"},"spec":{"finalizers":["a","b"],"labels":{"a":"b"},
          "containers":[{"name":"a","env":[{"name":"E","value":"1"}],"ports":[{"containerPort":80}]},{"name":"b"}]}})");
  auto split = input.find('\n');
  if (split == std::string_view::npos) {
    (void)berth::api::applyStrategicMergePatchText(kDoc, input, podSchema());
    (void)berth::api::applyStrategicMergePatchText(kDoc, input, nullptr);
    return 0;
  }
  auto doc = berth::api::parseJsonLimited(input.substr(0, split), "doc");
  if (doc.ok()) {
    (void)berth::api::applyStrategicMergePatchText(*doc, input.substr(split + 1), podSchema());
    (void)berth::api::applyStrategicMergePatchText(*doc, input.substr(split + 1), nullptr);
  }
  return 0;
}
