#include "scheduler/plugins/helpers.h"

#include <charconv>

namespace berth::scheduler {

namespace {

std::optional<int64_t> parseInt(const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

bool contains(const std::vector<std::string>& values, const std::string& v) {
  for (const auto& x : values)
    if (x == v) return true;
  return false;
}

// nodeSelectorRequirementsAsSelector + Matches for one requirement; nullopt
// when the requirement is malformed (the whole term then fails).
std::optional<bool> labelRequirementMatches(const NodeSelectorRequirement& r,
                                            const LabelMap& labels) {
  auto it = labels.find(r.key);
  bool has = it != labels.end();
  if (r.op == "In") {
    if (r.values.empty()) return std::nullopt;
    return has && contains(r.values, it->second);
  }
  if (r.op == "NotIn") {
    if (r.values.empty()) return std::nullopt;
    return !has || !contains(r.values, it->second);
  }
  if (r.op == "Exists") {
    if (!r.values.empty()) return std::nullopt;
    return has;
  }
  if (r.op == "DoesNotExist") {
    if (!r.values.empty()) return std::nullopt;
    return !has;
  }
  if (r.op == "Gt" || r.op == "Lt") {
    if (r.values.size() != 1) return std::nullopt;
    auto bound = parseInt(r.values[0]);
    if (!bound) return std::nullopt;
    if (!has) return false;
    auto v = parseInt(it->second);
    if (!v) return false;
    return r.op == "Gt" ? *v > *bound : *v < *bound;
  }
  return std::nullopt;
}

// Field requirements: only metadata.name with In / NotIn and one value
// (validation enforces it; anything else matches nothing).
std::optional<bool> fieldRequirementMatches(const NodeSelectorRequirement& r,
                                            const NodeData& node) {
  if (r.key != "metadata.name") return std::nullopt;
  if (r.values.size() != 1) return std::nullopt;
  if (r.op == "In") return node.name == r.values[0];
  if (r.op == "NotIn") return node.name != r.values[0];
  return std::nullopt;
}

}  // namespace

bool nodeSelectorTermMatches(const NodeSelectorTerm& term, const NodeData& node) {
  if (term.match_expressions.empty() && term.match_fields.empty()) return false;
  for (const auto& r : term.match_expressions) {
    auto m = labelRequirementMatches(r, node.labels);
    if (!m || !*m) return false;
  }
  for (const auto& r : term.match_fields) {
    auto m = fieldRequirementMatches(r, node);
    if (!m || !*m) return false;
  }
  return true;
}

bool nodeSelectorTermsMatch(const std::vector<NodeSelectorTerm>& terms, const NodeData& node) {
  for (const auto& t : terms)
    if (nodeSelectorTermMatches(t, node)) return true;
  return false;
}

bool requiredNodeAffinityMatches(const PodInfo& pod, const NodeData& node) {
  for (const auto& [k, v] : pod.node_selector) {
    auto it = node.labels.find(k);
    if (it == node.labels.end() || it->second != v) return false;
  }
  if (pod.required_node_affinity) return nodeSelectorTermsMatch(*pod.required_node_affinity, node);
  return true;
}

bool tolerationsTolerateTaint(const std::vector<Toleration>& tolerations, const Taint& taint) {
  for (const auto& t : tolerations)
    if (t.toleratesTaint(taint)) return true;
  return false;
}

std::optional<Taint> findUntoleratedTaint(const std::vector<Taint>& taints,
                                          const std::vector<Toleration>& tolerations,
                                          const std::function<bool(const Taint&)>& inclusion) {
  for (const auto& taint : taints) {
    if (inclusion && !inclusion(taint)) continue;
    if (!tolerationsTolerateTaint(tolerations, taint)) return taint;
  }
  return std::nullopt;
}

bool isDoNotScheduleTaint(const Taint& t) {
  return t.effect == "NoSchedule" || t.effect == "NoExecute";
}

bool affinityTermMatches(const AffinityTerm& term, const PodInfo& pod, const LabelMap& ns_labels) {
  if (!term.namespaces.count(pod.ns) && !term.namespace_selector.matches(ns_labels)) return false;
  return term.selector.matches(pod.labels);
}

}  // namespace berth::scheduler
