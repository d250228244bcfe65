// libFuzzer target: field selector strings. A parsed selector must re-parse
// from its String() to the same requirements.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "api/selector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto sel = berth::api::FieldSelector::parse(input);
  if (!sel.ok()) return 0;
  (void)sel->matches(berth::api::FieldMap{{"metadata.name", "x"}, {"spec.nodeName", ""}});
  (void)sel->checkSupported({"metadata.name"});
  auto again = berth::api::FieldSelector::parse(sel->toString());
  if (!again.ok()) std::abort();
  auto key = [](const berth::api::FieldSelector& f) {
    std::vector<std::string> out;
    for (const auto& r : f.requirements()) out.push_back(r.field + (r.equals ? "=" : "!") + r.value);
    std::sort(out.begin(), out.end());
    return out;
  };
  if (key(*again) != key(*sel)) std::abort();
  return 0;
}
