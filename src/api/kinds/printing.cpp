#include "api/kinds/printing.h"

#include <algorithm>

#include "api/kinds/access.h"
#include "common/clock.h"

namespace berth::api {

namespace json = boost::json;

std::string timestampSince(const std::string& rfc3339, std::chrono::system_clock::time_point now) {
  std::chrono::system_clock::time_point t;
  if (rfc3339.empty() || !parseRfc3339(rfc3339, &t)) return "<unknown>";
  return humanDuration(now - t);
}

std::string timestampSince(const json::value* rfc3339, std::chrono::system_clock::time_point now) {
  return timestampSince(asStr(rfc3339), now);
}

std::string ageCell(const json::object& obj, const KindContext& ctx) {
  return timestampSince(at(obj, {"metadata", "creationTimestamp"}), ctx.now);
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::string noneIfEmpty(const std::string& s) { return s.empty() ? "<none>" : s; }

std::string formatLabels(const std::map<std::string, std::string>& labels) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : labels) parts.push_back(k + "=" + v);
  return noneIfEmpty(join(parts, ","));
}

std::string formatSelectorMap(const json::value* selector) { return formatLabels(stringMap(selector)); }

std::string formatLabelSelector(const json::value* selector) {
  const json::object* sel = asObj(selector);
  if (!sel) return "<none>";
  // (key, rendered requirement); sorted by key, stable, as labels.Selector does.
  std::vector<std::pair<std::string, std::string>> reqs;
  for (const auto& [k, v] : stringMap(at(*sel, {"matchLabels"}))) reqs.push_back({k, k + "=" + v});
  if (const json::array* exprs = arrAt(*sel, {"matchExpressions"})) {
    for (const auto& e : *exprs) {
      const json::object* eo = asObj(&e);
      if (!eo) continue;
      std::string key = strAt(*eo, {"key"});
      std::string op = strAt(*eo, {"operator"});
      std::vector<std::string> values;
      if (const json::array* va = arrAt(*eo, {"values"}))
        for (const auto& x : *va)
          if (x.is_string()) values.emplace_back(x.get_string());
      std::sort(values.begin(), values.end());
      values.erase(std::unique(values.begin(), values.end()), values.end());
      std::string r;
      if (op == "In") r = key + " in (" + join(values, ",") + ")";
      else if (op == "NotIn") r = key + " notin (" + join(values, ",") + ")";
      else if (op == "Exists") r = key;
      else if (op == "DoesNotExist") r = "!" + key;
      else return "<error>";
      reqs.push_back({key, r});
    }
  }
  std::stable_sort(reqs.begin(), reqs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> parts;
  for (auto& r : reqs) parts.push_back(r.second);
  return noneIfEmpty(join(parts, ","));
}

void containerCells(const json::value* containers, std::string* names, std::string* images) {
  std::vector<std::string> n, i;
  if (const json::array* a = asArr(containers)) {
    for (const auto& c : *a) {
      const json::object* co = asObj(&c);
      if (!co) continue;
      n.push_back(strAt(*co, {"name"}));
      i.push_back(strAt(*co, {"image"}));
    }
  }
  if (names) *names = join(n, ",");
  if (images) *images = join(i, ",");
}

PrinterColumn column(const std::string& name, const std::string& type, const std::string& description,
                     int priority, const std::string& format) {
  PrinterColumn c;
  c.name = name;
  c.type = type;
  c.description = description;
  c.priority = priority;
  c.format = format;
  return c;
}

PrinterColumn ageColumn() {
  return column("Age", "string",
                "CreationTimestamp is a timestamp representing the server time when this object was created. "
                "It is not guaranteed to be set in happens-before order across separate operations. Clients "
                "may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the "
                "system. Read-only. Null for lists. More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata");
}

}  // namespace berth::api
