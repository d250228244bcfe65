#include "controllers/nodelifecycle/zones.h"

#include "api/kinds/access.h"

namespace berth::controllers::nodelifecycle {

namespace json = boost::json;

const char* zoneStateName(ZoneState state) {
  switch (state) {
    case ZoneState::kInitial:
      return "Initial";
    case ZoneState::kNormal:
      return "Normal";
    case ZoneState::kPartialDisruption:
      return "PartialDisruption";
    case ZoneState::kFullDisruption:
      return "FullDisruption";
  }
  return "Unknown";
}

std::string zoneKey(const json::object& node) {
  const json::object* labels = api::objAt(node, {"metadata", "labels"});
  if (!labels) return "";
  // A label that is present wins even when empty, as Go's map lookup with ok.
  auto pick = [&](const char* first, const char* second) -> std::string {
    if (const json::value* v = labels->if_contains(first)) return api::asStr(v);
    return api::asStr(labels->if_contains(second));
  };
  std::string zone = pick(kLabelFailureDomainBetaZone, kLabelTopologyZone);
  std::string region = pick(kLabelFailureDomainBetaRegion, kLabelTopologyRegion);
  if (region.empty() && zone.empty()) return "";
  // The NUL keeps "a:b" + "c" apart from "a" + "b:c", as upstream's key.
  return region + std::string(":\0:", 3) + zone;
}

std::string printableZone(const std::string& key) {
  std::string out;
  for (char c : key)
    if (c != '\0') out.push_back(c);
  // ":\0:" printed without the NUL reads "region::zone"; one colon is enough.
  if (auto pos = out.find("::"); pos != std::string::npos) out.erase(pos, 1);
  return out;
}

bool excludedFromDisruption(const json::object& node) {
  const json::object* labels = api::objAt(node, {"metadata", "labels"});
  return labels && labels->contains(kLabelExcludeDisruption);
}

ZoneHealth computeZoneState(const std::vector<std::string>& ready_statuses,
                            double unhealthy_threshold) {
  int ready = 0;
  int not_ready = 0;
  for (const auto& s : ready_statuses) {
    if (s == "True")
      ++ready;
    else
      ++not_ready;
  }
  ZoneHealth h;
  h.not_ready = not_ready;
  // Compared in float, as upstream's float32 fraction and threshold.
  float fraction = ready + not_ready > 0
                       ? static_cast<float>(not_ready) / static_cast<float>(not_ready + ready)
                       : 0.0f;
  if (ready == 0 && not_ready > 0)
    h.state = ZoneState::kFullDisruption;
  else if (not_ready > 2 && fraction >= static_cast<float>(unhealthy_threshold))
    h.state = ZoneState::kPartialDisruption;
  else
    h.state = ZoneState::kNormal;
  return h;
}

}  // namespace berth::controllers::nodelifecycle
