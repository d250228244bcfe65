// libFuzzer target: strict JSON decoding of request bodies against the
// built-in Deployment and Pod schemas, in every fieldValidation mode.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/decode.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace berth::api;
  if (size == 0) return 0;
  static const auto deployment = SchemaRegistry::builtin().find("apps.v1.Deployment");
  static const auto pod = SchemaRegistry::builtin().find("core.v1.Pod");
  // The first byte picks the mode and the schema.
  DecodeOptions o;
  o.validation = static_cast<FieldValidation>(data[0] % 3);
  const SchemaType* type = (data[0] & 4) ? pod.get() : deployment.get();
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  auto r = decodeJson(body, type, o);
  if (r.ok()) {
    // A decoded value checks clean and has nothing left to remove.
    auto again = checkJsonFields(r->value, *type, FieldValidation::kStrict);
    if (!again.ok()) std::abort();
    boost::json::value copy = r->value;
    removeUnknownFields(copy, *type);
    if (copy != r->value) std::abort();
  }
  return 0;
}
