// PodTopologySpread, after upstream's podtopologyspread package: the
// DoNotSchedule constraints filter (maxSkew against the global minimum, with
// minDomains and the node inclusion policies), the ScheduleAnyway ones score.
// Not mirrored: the system default constraints derived from the pod's
// Services / ReplicaSets (pods without constraints are not spread).

#include <climits>
#include <cmath>
#include <map>
#include <unordered_map>

#include "scheduler/parallel.h"
#include "scheduler/plugins/helpers.h"
#include "scheduler/plugins/plugins.h"

namespace berth::scheduler {

namespace {

const std::string kPreFilterKey = "PreFilterPodTopologySpread";
const std::string kPreScoreKey = "PreScorePodTopologySpread";

using TopologyPair = std::pair<std::string, std::string>;

// The two smallest match counts of a topology key (criticalPaths); [0] holds
// the global minimum.
struct CriticalPaths {
  struct Path {
    std::string value;
    int match_num = INT_MAX;
  };
  Path p[2];

  void update(const std::string& value, int num) {
    int i = value == p[0].value ? 0 : value == p[1].value ? 1 : -1;
    if (i >= 0) {
      p[i].match_num = num;
      if (p[0].match_num > p[1].match_num) std::swap(p[0], p[1]);
    } else if (num < p[0].match_num) {
      p[1] = p[0];
      p[0] = {value, num};
    } else if (num < p[1].match_num) {
      p[1] = {value, num};
    }
  }
};

struct FilterState : StateData {
  std::vector<SpreadConstraint> constraints;
  std::map<TopologyPair, int> pair_match_num;
  std::map<std::string, CriticalPaths> critical_paths;
  std::map<std::string, int> domains_num;

  std::shared_ptr<StateData> clone() const override { return std::make_shared<FilterState>(*this); }

  // minMatchNum: the global minimum, 0 while fewer than minDomains domains exist.
  int minMatchNum(const SpreadConstraint& c) const {
    auto it = critical_paths.find(c.topology_key);
    int min = it == critical_paths.end() ? 0 : it->second.p[0].match_num;
    auto d = domains_num.find(c.topology_key);
    int domains = d == domains_num.end() ? 0 : d->second;
    if (domains < c.min_domains) min = 0;
    return min;
  }
};

struct ScoreState : StateData {
  std::vector<SpreadConstraint> constraints;
  std::set<std::string, std::less<>> ignored_nodes;
  std::vector<std::unordered_map<std::string, int64_t>> value_counts;  // per constraint
  std::vector<double> weights;
  std::shared_ptr<StateData> clone() const override { return std::make_shared<ScoreState>(*this); }
};

bool nodeHasAllKeys(const NodeData& node, const std::vector<SpreadConstraint>& cs) {
  for (const auto& c : cs)
    if (!node.labels.count(c.topology_key)) return false;
  return true;
}

bool matchesInclusionPolicies(const SpreadConstraint& c, const PodInfo& pod, const NodeData& node) {
  if (c.honor_node_affinity && !requiredNodeAffinityMatches(pod, node)) return false;
  if (c.honor_node_taints &&
      findUntoleratedTaint(node.taints, pod.tolerations, isDoNotScheduleTaint))
    return false;
  return true;
}

// countPodsMatchSelector: same namespace, not terminating; an empty selector
// counts nothing.
int countMatching(const std::vector<PodInfoPtr>& pods, const api::LabelSelector& sel,
                  const std::string& ns) {
  if (sel.empty()) return 0;
  int n = 0;
  for (const auto& p : pods)
    if (!p->terminating && p->ns == ns && sel.matches(p->labels)) ++n;
  return n;
}

std::vector<SpreadConstraint> constraintsOf(const PodInfo& pod, bool do_not_schedule) {
  std::vector<SpreadConstraint> out;
  for (const auto& c : pod.spread_constraints)
    if (c.do_not_schedule == do_not_schedule) out.push_back(c);
  return out;
}

class PodTopologySpread final : public PreFilterPlugin,
                                public FilterPlugin,
                                public PreScorePlugin,
                                public ScorePlugin {
 public:
  explicit PodTopologySpread(Handle& handle) : handle_(handle) {}
  std::string_view name() const override { return kPodTopologySpread; }

  std::vector<ClusterEvent> eventsToRegister() const override {
    return {{EventResource::kPod, kAllActions, "Pod"},
            {EventResource::kNode, kAdd | kDelete | kUpdateNodeLabel | kUpdateNodeTaint, "Node"}};
  }

  PluginStatus preFilter(CycleState& state, const PodInfo& pod, PreFilterResult*) override {
    auto s = std::make_shared<FilterState>();
    s->constraints = constraintsOf(pod, true);
    if (s->constraints.empty()) return PluginStatus(Code::kSkip);
    const std::vector<NodeInfo*>& nodes = handle_.snapshot->list();
    std::vector<std::vector<std::pair<TopologyPair, int>>> per_node(nodes.size());
    auto process = [&](int i) {
      const NodeData* node = nodes[i]->node();
      if (!node || !nodeHasAllKeys(*node, s->constraints)) return;
      for (const auto& c : s->constraints) {
        if (!matchesInclusionPolicies(c, pod, *node)) continue;
        per_node[i].push_back({{c.topology_key, node->labels.at(c.topology_key)},
                               countMatching(nodes[i]->pods(), c.selector, pod.ns)});
      }
    };
    runParallel(static_cast<int>(nodes.size()), process);
    for (const auto& v : per_node)
      for (const auto& [pair, count] : v) s->pair_match_num[pair] += count;
    for (const auto& [pair, count] : s->pair_match_num) s->domains_num[pair.first]++;
    for (const auto& c : s->constraints) s->critical_paths[c.topology_key];
    for (const auto& [pair, count] : s->pair_match_num)
      s->critical_paths[pair.first].update(pair.second, count);
    state.write(kPreFilterKey, s);
    return {};
  }

  bool hasPreFilterExtensions() const override { return true; }
  PluginStatus addPod(CycleState& state, const PodInfo& pod, const PodInfoPtr& added,
                      const NodeInfo& node) override {
    return updateWithPod(state, pod, *added, node, 1);
  }
  PluginStatus removePod(CycleState& state, const PodInfo& pod, const PodInfoPtr& removed,
                         const NodeInfo& node) override {
    return updateWithPod(state, pod, *removed, node, -1);
  }

  PluginStatus filter(const CycleState& state, const PodInfo& pod,
                      const NodeInfo& node) const override {
    auto* s = state.readAs<FilterState>(kPreFilterKey);
    if (!s)
      return PluginStatus::error("reading \"" + kPreFilterKey + "\" from cycleState: not found");
    for (const auto& c : s->constraints) {
      auto label = node.node()->labels.find(c.topology_key);
      if (label == node.node()->labels.end())
        return PluginStatus(Code::kUnschedulableAndUnresolvable, kReasonSpreadLabel);
      int self_match = c.selector.matches(pod.labels) ? 1 : 0;
      auto it = s->pair_match_num.find({c.topology_key, label->second});
      int match_num = it == s->pair_match_num.end() ? 0 : it->second;
      // 'existing matching num' + 'if self-match (1 or 0)' - 'global minimum' <= 'maxSkew'
      if (match_num + self_match - s->minMatchNum(c) > c.max_skew)
        return PluginStatus(Code::kUnschedulable, kReasonSpreadConstraints);
    }
    return {};
  }

  PluginStatus preScore(CycleState& state, const PodInfo& pod,
                        const std::vector<NodeInfo*>& filtered) override {
    const std::vector<NodeInfo*>& all = handle_.snapshot->list();
    if (all.empty()) return PluginStatus(Code::kSkip);
    auto s = std::make_shared<ScoreState>();
    s->constraints = constraintsOf(pod, false);
    if (s->constraints.empty()) return PluginStatus(Code::kSkip);
    size_t n = s->constraints.size();
    s->value_counts.resize(n);
    std::vector<int> topo_size(n, 0);
    for (NodeInfo* ni : filtered) {
      const NodeData& node = *ni->node();
      if (!nodeHasAllKeys(node, s->constraints)) {
        s->ignored_nodes.insert(node.name);
        continue;
      }
      for (size_t i = 0; i < n; ++i) {
        const auto& c = s->constraints[i];
        if (c.topology_key == kLabelHostname) continue;  // counted per node in Score
        if (s->value_counts[i].emplace(node.labels.at(c.topology_key), 0).second) ++topo_size[i];
      }
    }
    for (size_t i = 0; i < n; ++i) {
      int sz = topo_size[i];
      if (s->constraints[i].topology_key == kLabelHostname)
        sz = static_cast<int>(filtered.size() - s->ignored_nodes.size());
      // topologyNormalizingWeight: log(size + 2).
      s->weights.push_back(std::log(static_cast<double>(sz + 2)));
    }
    std::vector<std::vector<std::pair<size_t, int>>> per_node(all.size());
    auto process = [&](int idx) {
      const NodeData* node = all[idx]->node();
      if (!node || !nodeHasAllKeys(*node, s->constraints)) return;
      for (size_t i = 0; i < n; ++i) {
        const auto& c = s->constraints[i];
        if (c.topology_key == kLabelHostname || !matchesInclusionPolicies(c, pod, *node)) continue;
        if (!s->value_counts[i].count(node->labels.at(c.topology_key))) continue;
        per_node[idx].push_back({i, countMatching(all[idx]->pods(), c.selector, pod.ns)});
      }
    };
    runParallel(static_cast<int>(all.size()), process);
    for (size_t idx = 0; idx < all.size(); ++idx)
      for (const auto& [i, count] : per_node[idx])
        s->value_counts[i][all[idx]->node()->labels.at(s->constraints[i].topology_key)] += count;
    state.write(kPreScoreKey, s);
    return {};
  }

  PluginStatus score(const CycleState& state, const PodInfo& pod, const NodeInfo& node,
                     int64_t* out) const override {
    auto* s = state.readAs<ScoreState>(kPreScoreKey);
    if (!s)
      return PluginStatus::error("reading \"" + kPreScoreKey + "\" from cycleState: not found");
    *out = 0;
    if (s->ignored_nodes.count(node.name())) return {};
    double score = 0;
    for (size_t i = 0; i < s->constraints.size(); ++i) {
      const auto& c = s->constraints[i];
      auto label = node.node()->labels.find(c.topology_key);
      if (label == node.node()->labels.end()) continue;
      int64_t cnt = 0;
      if (c.topology_key == kLabelHostname) {
        cnt = countMatching(node.pods(), c.selector, pod.ns);
      } else {
        auto it = s->value_counts[i].find(label->second);
        cnt = it == s->value_counts[i].end() ? 0 : it->second;
      }
      // scoreForCount: maxSkew-1 waters down differences between domains.
      score += static_cast<double>(cnt) * s->weights[i] + static_cast<double>(c.max_skew - 1);
    }
    *out = static_cast<int64_t>(std::round(score));
    return {};
  }

  bool hasNormalizeScore() const override { return true; }
  // Fewer matching pods score higher: max * (max + min - s) / max; ignored
  // nodes get 0.
  PluginStatus normalizeScore(const CycleState& state, const PodInfo&,
                              NodeScoreList& scores) const override {
    auto* s = state.readAs<ScoreState>(kPreScoreKey);
    if (!s) return {};
    int64_t min_score = INT64_MAX, max_score = 0;
    std::vector<bool> ignored(scores.size());
    for (size_t i = 0; i < scores.size(); ++i) {
      if (s->ignored_nodes.count(scores[i].name)) {
        ignored[i] = true;
        continue;
      }
      min_score = std::min(min_score, scores[i].score);
      max_score = std::max(max_score, scores[i].score);
    }
    for (size_t i = 0; i < scores.size(); ++i) {
      if (ignored[i]) {
        scores[i].score = 0;
      } else if (max_score == 0) {
        scores[i].score = kMaxNodeScore;
      } else {
        scores[i].score = kMaxNodeScore * (max_score + min_score - scores[i].score) / max_score;
      }
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

  PluginStatus updateWithPod(CycleState& state, const PodInfo& preemptor, const PodInfo& updated,
                             const NodeInfo& node_info, int delta) {
    auto* s = state.readAs<FilterState>(kPreFilterKey);
    if (!s)
      return PluginStatus::error("reading \"" + kPreFilterKey + "\" from cycleState: not found");
    const NodeData* node = node_info.node();
    if (updated.ns != preemptor.ns || !node || !nodeHasAllKeys(*node, s->constraints)) return {};
    for (const auto& c : s->constraints) {
      if (!c.selector.matches(updated.labels)) continue;
      if (!matchesInclusionPolicies(c, preemptor, *node)) continue;
      TopologyPair pair{c.topology_key, node->labels.at(c.topology_key)};
      int& num = s->pair_match_num[pair];
      num += delta;
      s->critical_paths[c.topology_key].update(pair.second, num);
    }
    return {};
  }

  Handle& handle_;
};

}  // namespace

std::shared_ptr<Plugin> newPodTopologySpread(const ProfileConfig&, Handle& handle) {
  return std::make_shared<PodTopologySpread>(handle);
}

}  // namespace berth::scheduler
