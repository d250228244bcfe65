// libFuzzer target: JSON Merge Patch; input is "<doc>\n<patch>" or a patch.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/patch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  static const boost::json::value kDoc =
      boost::json::parse(R"({"metadata":{"name":"x","labels":{"a":"b"}},"spec":{"list":[1,2],"m":{"k":null}}})");
  auto split = input.find('\n');
  if (split == std::string_view::npos) {
    (void)berth::api::applyMergePatchText(kDoc, input);
    return 0;
  }
  auto doc = berth::api::parseJsonLimited(input.substr(0, split), "doc");
  if (doc.ok()) (void)berth::api::applyMergePatchText(*doc, input.substr(split + 1));
  return 0;
}
