// libFuzzer target: label selector strings, and metav1.LabelSelector objects
// when the input is JSON. A parsed selector must re-parse from its String().
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/patch.h"
#include "api/selector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto sel = berth::api::LabelSelector::parse(input);
  if (sel.ok()) {
    (void)sel->matches(berth::api::LabelMap{{"app", "web"}, {"x", "1"}, {"in", ""}});
    auto again = berth::api::LabelSelector::parse(sel->toString());
    if (!again.ok() || again->toString() != sel->toString()) std::abort();
  }
  auto obj = berth::api::parseJsonLimited(input, "selector");
  if (obj.ok()) {
    auto s = berth::api::LabelSelector::fromObject(&*obj);
    if (s.ok()) {
      (void)s->matches(berth::api::LabelMap{{"app", "web"}});
      (void)s->toString();
    }
  }
  return 0;
}
