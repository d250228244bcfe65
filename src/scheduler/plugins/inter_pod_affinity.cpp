// InterPodAffinity, after upstream's interpodaffinity package: required pod
// affinity / anti-affinity of the incoming pod and the required
// anti-affinity of existing pods filter (by counting matches per topology
// pair once in PreFilter); preferred terms on both sides, and existing pods'
// required affinity (hardPodAffinityWeight), score.

#include <climits>
#include <map>

#include "scheduler/parallel.h"
#include "scheduler/plugins/helpers.h"
#include "scheduler/plugins/plugins.h"

namespace berth::scheduler {

namespace {

const std::string kPreFilterKey = "PreFilterInterPodAffinity";
const std::string kPreScoreKey = "PreScoreInterPodAffinity";

using TopologyPair = std::pair<std::string, std::string>;
using TopologyCounts = std::map<TopologyPair, int64_t>;

void addCount(TopologyCounts& m, const NodeData& node, const std::string& key, int64_t delta) {
  auto it = node.labels.find(key);
  if (it == node.labels.end()) return;
  TopologyPair pair{key, it->second};
  int64_t& v = m[pair];
  v += delta;
  if (v == 0) m.erase(pair);
}

bool matchesAll(const std::vector<AffinityTerm>& terms, const PodInfo& pod,
                const LabelMap& ns_labels) {
  if (terms.empty()) return false;
  for (const auto& t : terms)
    if (!affinityTermMatches(t, pod, ns_labels)) return false;
  return true;
}

struct FilterState : StateData {
  // Existing pods' anti-affinity terms matching the incoming pod.
  TopologyCounts existing_anti_affinity;
  // Existing pods matching the incoming pod's affinity (all terms) / anti-affinity terms.
  TopologyCounts affinity;
  TopologyCounts anti_affinity;
  // The incoming pod's terms, namespace selectors resolved into namespaces.
  std::vector<AffinityTerm> affinity_terms;
  std::vector<AffinityTerm> anti_affinity_terms;
  LabelMap ns_labels;  // of the incoming pod's namespace

  std::shared_ptr<StateData> clone() const override { return std::make_shared<FilterState>(*this); }

  void updateWithPod(const PodInfo& incoming, const PodInfo& updated, const NodeData& node,
                     int64_t delta) {
    for (const auto& t : updated.required_anti_affinity)
      if (affinityTermMatches(t, incoming, ns_labels))
        addCount(existing_anti_affinity, node, t.topology_key, delta);
    if (matchesAll(affinity_terms, updated, {}))
      for (const auto& t : affinity_terms) addCount(affinity, node, t.topology_key, delta);
    for (const auto& t : anti_affinity_terms)
      if (affinityTermMatches(t, updated, {})) addCount(anti_affinity, node, t.topology_key, delta);
  }
};

struct ScoreState : StateData {
  std::map<std::string, std::map<std::string, int64_t>> topology_score;
  std::shared_ptr<StateData> clone() const override { return std::make_shared<ScoreState>(*this); }
};

class InterPodAffinity final : public PreFilterPlugin,
                               public FilterPlugin,
                               public PreScorePlugin,
                               public ScorePlugin {
 public:
  InterPodAffinity(const InterPodAffinityArgs& args, Handle& handle)
      : args_(args), handle_(handle) {}
  std::string_view name() const override { return kInterPodAffinity; }

  std::vector<ClusterEvent> eventsToRegister() const override {
    return {{EventResource::kPod, kAllActions, "Pod"},
            {EventResource::kNode, kAdd | kUpdateNodeLabel | kUpdateNodeTaint, "Node"}};
  }

  PluginStatus preFilter(CycleState& state, const PodInfo& pod, PreFilterResult*) override {
    if (!pod.parse_error.empty())
      return PluginStatus(Code::kUnschedulableAndUnresolvable, "parsing pod: " + pod.parse_error);
    const Snapshot& snap = *handle_.snapshot;
    if (pod.required_affinity.empty() && pod.required_anti_affinity.empty() &&
        snap.havePodsWithRequiredAntiAffinity().empty())
      return PluginStatus(Code::kSkip);
    auto s = std::make_shared<FilterState>();
    s->affinity_terms = resolveNamespaces(pod.required_affinity);
    s->anti_affinity_terms = resolveNamespaces(pod.required_anti_affinity);
    s->ns_labels = namespaceLabels(pod.ns);

    const auto& anti_nodes = snap.havePodsWithRequiredAntiAffinity();
    std::vector<TopologyCounts> per_node(anti_nodes.size());
    runParallel(static_cast<int>(anti_nodes.size()), [&](int i) {
      const NodeData* node = anti_nodes[i]->node();
      if (!node) return;
      for (const auto& existing : anti_nodes[i]->podsWithRequiredAntiAffinity())
        for (const auto& t : existing->required_anti_affinity)
          if (affinityTermMatches(t, pod, s->ns_labels))
            addCount(per_node[i], *node, t.topology_key, 1);
    });
    for (const auto& m : per_node)
      for (const auto& [k, v] : m) s->existing_anti_affinity[k] += v;

    if (!s->affinity_terms.empty() || !s->anti_affinity_terms.empty()) {
      const auto& all = snap.list();
      std::vector<std::pair<TopologyCounts, TopologyCounts>> counts(all.size());
      runParallel(static_cast<int>(all.size()), [&](int i) {
        const NodeData* node = all[i]->node();
        if (!node) return;
        for (const auto& existing : all[i]->pods()) {
          if (matchesAll(s->affinity_terms, *existing, {}))
            for (const auto& t : s->affinity_terms)
              addCount(counts[i].first, *node, t.topology_key, 1);
          for (const auto& t : s->anti_affinity_terms)
            if (affinityTermMatches(t, *existing, {}))
              addCount(counts[i].second, *node, t.topology_key, 1);
        }
      });
      for (const auto& [a, anti] : counts) {
        for (const auto& [k, v] : a) s->affinity[k] += v;
        for (const auto& [k, v] : anti) s->anti_affinity[k] += v;
      }
    }
    state.write(kPreFilterKey, s);
    return {};
  }

  bool hasPreFilterExtensions() const override { return true; }
  PluginStatus addPod(CycleState& state, const PodInfo& pod, const PodInfoPtr& added,
                      const NodeInfo& node) override {
    auto* s = state.readAs<FilterState>(kPreFilterKey);
    if (!s)
      return PluginStatus::error("reading \"" + kPreFilterKey + "\" from cycleState: not found");
    if (node.node()) s->updateWithPod(pod, *added, *node.node(), 1);
    return {};
  }
  PluginStatus removePod(CycleState& state, const PodInfo& pod, const PodInfoPtr& removed,
                         const NodeInfo& node) override {
    auto* s = state.readAs<FilterState>(kPreFilterKey);
    if (!s)
      return PluginStatus::error("reading \"" + kPreFilterKey + "\" from cycleState: not found");
    if (node.node()) s->updateWithPod(pod, *removed, *node.node(), -1);
    return {};
  }

  PluginStatus filter(const CycleState& state, const PodInfo& pod,
                      const NodeInfo& node_info) const override {
    auto* s = state.readAs<FilterState>(kPreFilterKey);
    if (!s)
      return PluginStatus::error("reading \"" + kPreFilterKey + "\" from cycleState: not found");
    const NodeData& node = *node_info.node();
    if (!satisfiesAffinity(*s, pod, node))
      return PluginStatus(Code::kUnschedulableAndUnresolvable, kReasonAffinityRules);
    if (!s->anti_affinity.empty())
      for (const auto& t : s->anti_affinity_terms) {
        auto it = node.labels.find(t.topology_key);
        if (it == node.labels.end()) continue;
        auto c = s->anti_affinity.find({t.topology_key, it->second});
        if (c != s->anti_affinity.end() && c->second > 0)
          return PluginStatus(Code::kUnschedulable, kReasonAntiAffinityRules);
      }
    if (!s->existing_anti_affinity.empty())
      for (const auto& [k, v] : node.labels) {
        auto c = s->existing_anti_affinity.find({k, v});
        if (c != s->existing_anti_affinity.end() && c->second > 0)
          return PluginStatus(Code::kUnschedulable, kReasonExistingAntiAffinity);
      }
    return {};
  }

  PluginStatus preScore(CycleState& state, const PodInfo& pod,
                        const std::vector<NodeInfo*>& nodes) override {
    if (nodes.empty()) return PluginStatus(Code::kSkip);
    bool has_constraints = !pod.preferred_affinity.empty() || !pod.preferred_anti_affinity.empty();
    const Snapshot& snap = *handle_.snapshot;
    // Without preferred terms of its own, only nodes with pods that have
    // (anti-)affinity can contribute.
    const std::vector<NodeInfo*>& all = has_constraints ? snap.list() : snap.havePodsWithAffinity();
    std::vector<WeightedAffinityTerm> pref = resolveNamespaces(pod.preferred_affinity);
    std::vector<WeightedAffinityTerm> pref_anti = resolveNamespaces(pod.preferred_anti_affinity);
    LabelMap ns_labels = namespaceLabels(pod.ns);
    using ScoreMap = std::map<std::string, std::map<std::string, int64_t>>;
    std::vector<ScoreMap> per_node(all.size());
    auto process_term = [](ScoreMap& m, const AffinityTerm& term, int64_t weight, const PodInfo& p,
                           const LabelMap& nsl, const NodeData& node) {
      if (!affinityTermMatches(term, p, nsl)) return;
      auto it = node.labels.find(term.topology_key);
      if (it != node.labels.end()) m[term.topology_key][it->second] += weight;
    };
    runParallel(static_cast<int>(all.size()), [&](int i) {
      const NodeData* node = all[i]->node();
      if (!node || node->labels.empty()) return;
      const auto& pods = has_constraints ? all[i]->pods() : all[i]->podsWithAffinity();
      for (const auto& existing : pods) {
        for (const auto& t : pref)
          process_term(per_node[i], t.term, t.weight, *existing, {}, *node);
        for (const auto& t : pref_anti)
          process_term(per_node[i], t.term, -t.weight, *existing, {}, *node);
        if (args_.hard_pod_affinity_weight > 0)
          for (const auto& t : existing->required_affinity)
            process_term(per_node[i], t, args_.hard_pod_affinity_weight, pod, ns_labels, *node);
        for (const auto& t : existing->preferred_affinity)
          process_term(per_node[i], t.term, t.weight, pod, ns_labels, *node);
        for (const auto& t : existing->preferred_anti_affinity)
          process_term(per_node[i], t.term, -t.weight, pod, ns_labels, *node);
      }
    });
    auto s = std::make_shared<ScoreState>();
    for (const auto& m : per_node)
      for (const auto& [key, values] : m)
        for (const auto& [value, score] : values) s->topology_score[key][value] += score;
    if (s->topology_score.empty()) return PluginStatus(Code::kSkip);
    state.write(kPreScoreKey, s);
    return {};
  }

  PluginStatus score(const CycleState& state, const PodInfo&, const NodeInfo& node,
                     int64_t* out) const override {
    auto* s = state.readAs<ScoreState>(kPreScoreKey);
    if (!s)
      return PluginStatus::error("reading \"" + kPreScoreKey + "\" from cycleState: not found");
    int64_t score = 0;
    for (const auto& [key, values] : s->topology_score) {
      auto it = node.node()->labels.find(key);
      if (it == node.node()->labels.end()) continue;
      auto v = values.find(it->second);
      if (v != values.end()) score += v->second;
    }
    *out = score;
    return {};
  }

  bool hasNormalizeScore() const override { return true; }
  // Min-max scaling to [0, 100] (scores may be negative).
  PluginStatus normalizeScore(const CycleState& state, const PodInfo&,
                              NodeScoreList& scores) const override {
    auto* s = state.readAs<ScoreState>(kPreScoreKey);
    if (!s || s->topology_score.empty()) return {};
    int64_t min_count = INT64_MAX, max_count = INT64_MIN;
    for (const auto& sc : scores) {
      max_count = std::max(max_count, sc.score);
      min_count = std::min(min_count, sc.score);
    }
    int64_t diff = max_count - min_count;
    for (auto& sc : scores) {
      double f = 0;
      if (diff > 0)
        f = static_cast<double>(kMaxNodeScore) *
            (static_cast<double>(sc.score - min_count) / static_cast<double>(diff));
      sc.score = static_cast<int64_t>(f);
    }
    return {};
  }

 private:
  void runParallel(int n, const std::function<void(int)>& fn) {
    if (handle_.parallelizer)
      handle_.parallelizer->until(n, fn);
    else
      for (int i = 0; i < n; ++i) fn(i);
  }

  LabelMap namespaceLabels(const std::string& ns) const {
    return handle_.namespace_labels ? handle_.namespace_labels(ns) : LabelMap{};
  }

  // mergeAffinityTermNamespacesIfNotEmpty: the incoming pod's namespace
  // selectors become explicit namespace names, so matching needs no labels.
  AffinityTerm resolve(const AffinityTerm& t) const {
    if (t.namespace_selector.matchesNothing()) return t;
    AffinityTerm out = t;
    if (handle_.namespaces_matching)
      for (const auto& ns : handle_.namespaces_matching(t.namespace_selector))
        out.namespaces.insert(ns);
    out.namespace_selector = api::LabelSelector::nothing();
    return out;
  }
  std::vector<AffinityTerm> resolveNamespaces(const std::vector<AffinityTerm>& terms) const {
    std::vector<AffinityTerm> out;
    for (const auto& t : terms) out.push_back(resolve(t));
    return out;
  }
  std::vector<WeightedAffinityTerm> resolveNamespaces(
      const std::vector<WeightedAffinityTerm>& terms) const {
    std::vector<WeightedAffinityTerm> out;
    for (const auto& t : terms) out.push_back({resolve(t.term), t.weight});
    return out;
  }

  // satisfyPodAffinity: every term's topology key is on the node and some
  // matching pod is in the node's domain; or, for the first pod of a group
  // with affinity to itself, no pod matches anywhere and the pod matches its
  // own terms.
  static bool satisfiesAffinity(const FilterState& s, const PodInfo& pod, const NodeData& node) {
    bool pods_exist = true;
    for (const auto& t : s.affinity_terms) {
      auto it = node.labels.find(t.topology_key);
      if (it == node.labels.end()) return false;
      auto c = s.affinity.find({t.topology_key, it->second});
      if (c == s.affinity.end() || c->second <= 0) pods_exist = false;
    }
    if (pods_exist) return true;
    return s.affinity.empty() && matchesAll(s.affinity_terms, pod, {});
  }

  InterPodAffinityArgs args_;
  Handle& handle_;
};

}  // namespace

std::shared_ptr<Plugin> newInterPodAffinity(const ProfileConfig& config, Handle& handle) {
  return std::make_shared<InterPodAffinity>(config.inter_pod_affinity, handle);
}

}  // namespace berth::scheduler
