// libFuzzer target: YAML request bodies, lenient and strict.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto v = berth::api::yamlToJson(input, false);
  if (v.ok()) (void)boost::json::serialize(*v);
  (void)berth::api::yamlToJson(input, true);
  return 0;
}
