#include "controllers/job/indexed_job_utils.h"

#include <algorithm>
#include <cctype>
#include <climits>

#include "api/kinds/access.h"
#include "api/object.h"

namespace berth::controllers {

namespace json = boost::json;
using api::Object;

namespace {

// strconv.Atoi for non-negative decimal integers; -1 when invalid.
int parseIndex(const std::string& s) {
  if (s.empty() || s.size() > 10) return -1;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
  long long v = std::stoll(s);
  return v > INT_MAX ? -1 : static_cast<int>(v);
}

}  // namespace

OrderedIntervals OrderedIntervals::parse(const std::string& text, int completions) {
  std::vector<Interval> out;
  size_t pos = 0;
  while (pos <= text.size() && !text.empty()) {
    size_t comma = text.find(',', pos);
    std::string part =
        text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? text.size() + 1 : comma + 1;
    size_t dash = part.find('-');
    int first = parseIndex(dash == std::string::npos ? part : part.substr(0, dash));
    int last = dash == std::string::npos ? first : parseIndex(part.substr(dash + 1));
    // Upstream logs and skips what it cannot parse; indexes beyond
    // completions (after a scale down of completions) are dropped.
    if (first < 0 || last < 0 || first >= completions) continue;
    last = std::min(last, completions - 1);
    if (last < first) continue;
    if (!out.empty() && out.back().last + 1 >= first)
      out.back().last = std::max(out.back().last, last);
    else
      out.push_back({first, last});
  }
  return OrderedIntervals(std::move(out));
}

OrderedIntervals OrderedIntervals::withOrderedIndexes(const std::vector<int>& indexes) const {
  std::vector<Interval> all = intervals_;
  for (int ix : indexes) all.push_back({ix, ix});
  std::sort(all.begin(), all.end(),
            [](const Interval& a, const Interval& b) { return a.first < b.first; });
  std::vector<Interval> merged;
  for (const auto& iv : all) {
    if (!merged.empty() && merged.back().last + 1 >= iv.first)
      merged.back().last = std::max(merged.back().last, iv.last);
    else
      merged.push_back(iv);
  }
  return OrderedIntervals(std::move(merged));
}

int OrderedIntervals::total() const {
  int n = 0;
  for (const auto& iv : intervals_) n += iv.last - iv.first + 1;
  return n;
}

bool OrderedIntervals::has(int ix) const {
  for (const auto& iv : intervals_)
    if (ix >= iv.first && ix <= iv.last) return true;
  return false;
}

std::string OrderedIntervals::toString() const {
  std::string out;
  for (const auto& iv : intervals_) {
    if (!out.empty()) out += ',';
    out += std::to_string(iv.first);
    if (iv.last > iv.first) out += (iv.last == iv.first + 1 ? "," : "-") + std::to_string(iv.last);
  }
  return out;
}

int completionIndex(const Object& pod) {
  const json::value* v = api::at(pod, {"metadata", "annotations", kJobCompletionIndexAnnotation});
  if (!v || !v->is_string()) return kUnknownCompletionIndex;
  return parseIndex(std::string(v->as_string()));
}

std::set<int> completionIndexes(const std::vector<client::ObjectPtr>& pods) {
  std::set<int> out;
  for (const auto& p : pods)
    if (int ix = completionIndex(*p); ix != kUnknownCompletionIndex) out.insert(ix);
  return out;
}

std::string podGenerateNameWithIndex(const std::string& job_name, int index) {
  // names.MaxGeneratedNameLength: 63 minus the 5 random characters.
  constexpr size_t kMaxGeneratedNameLength = 58;
  std::string append = "-" + std::to_string(index) + "-";
  std::string prefix = job_name + append;
  if (prefix.size() > kMaxGeneratedNameLength)
    prefix = prefix.substr(0, kMaxGeneratedNameLength - append.size()) + append;
  return prefix;
}

void addCompletionIndexEnvVariables(json::object& pod_template) {
  json::object& spec = api::ensureObject(pod_template, "spec");
  for (const char* list : {"initContainers", "containers"}) {
    auto it = spec.find(list);
    if (it == spec.end() || !it->value().is_array()) continue;
    for (auto& c : it->value().as_array()) {
      json::object* container = c.if_object();
      if (!container) continue;
      json::array& env = api::ensureArray(*container, "env");
      bool present = false;
      for (const auto& e : env)
        if (e.is_object() && api::strAt(e.as_object(), {"name"}) == kJobCompletionIndexEnvName)
          present = true;
      if (present) continue;
      json::object field_ref{{"fieldPath", std::string("metadata.annotations['") +
                                               kJobCompletionIndexAnnotation + "']"}};
      env.push_back(json::object{{"name", kJobCompletionIndexEnvName},
                                 {"valueFrom", json::object{{"fieldRef", field_ref}}}});
    }
  }
}

}  // namespace berth::controllers
