// libFuzzer target: JSON Patch documents applied to a fixed object, and the
// first half of the input used as the document when it is valid JSON.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/patch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  static const boost::json::value kDoc = boost::json::parse(
      R"({"metadata":{"name":"x","labels":{"a":"b"}},"spec":{"list":[1,2,{"k":"v"}],"n":null}})");
  (void)berth::api::applyJsonPatch(kDoc, input);
  auto split = input.find('\n');
  if (split != std::string_view::npos) {
    auto doc = berth::api::parseJsonLimited(input.substr(0, split), "doc");
    if (doc.ok()) (void)berth::api::applyJsonPatch(*doc, input.substr(split + 1));
  }
  return 0;
}
