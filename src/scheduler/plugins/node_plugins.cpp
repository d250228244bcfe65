// The per-node plugins: NodeName, NodeUnschedulable, NodePorts, NodeAffinity,
// TaintToleration, ImageLocality and the DefaultBinder, after upstream's
// plugins of the same names.

#include <algorithm>

#include "client/client.h"
#include "common/log.h"
#include "scheduler/plugins/helpers.h"
#include "scheduler/plugins/plugins.h"

namespace berth::scheduler {

namespace {

const ClusterEvent kNodeAddOrUpdate{EventResource::kNode, kAdd | kUpdate, "Node"};

class NodeName final : public FilterPlugin {
 public:
  std::string_view name() const override { return kNodeName; }
  std::vector<ClusterEvent> eventsToRegister() const override { return {kNodeAddOrUpdate}; }
  PluginStatus filter(const CycleState&, const PodInfo& pod, const NodeInfo& node) const override {
    if (pod.node_name.empty() || pod.node_name == node.name()) return {};
    return PluginStatus(Code::kUnschedulableAndUnresolvable, kReasonNodeName);
  }
};

class NodeUnschedulable final : public FilterPlugin {
 public:
  std::string_view name() const override { return kNodeUnschedulable; }
  // spec.unschedulable changes count as taint updates (NodeSpecUnschedulableChange).
  std::vector<ClusterEvent> eventsToRegister() const override {
    return {{EventResource::kNode, kAdd | kUpdateNodeTaint, "Node"}};
  }
  PluginStatus filter(const CycleState&, const PodInfo& pod, const NodeInfo& node) const override {
    if (!node.unschedulable()) return {};
    // A pod that tolerates the unschedulable taint tolerates spec.unschedulable.
    static const Taint kUnschedulableTaint{"node.kubernetes.io/unschedulable", "", "NoSchedule"};
    if (tolerationsTolerateTaint(pod.tolerations, kUnschedulableTaint)) return {};
    return PluginStatus(Code::kUnschedulableAndUnresolvable, kReasonUnschedulable);
  }
};

class NodePorts final : public PreFilterPlugin, public FilterPlugin {
 public:
  std::string_view name() const override { return kNodePorts; }
  std::vector<ClusterEvent> eventsToRegister() const override {
    return {{EventResource::kPod, kDelete, "PodDelete"}, kNodeAddOrUpdate};
  }
  PluginStatus preFilter(CycleState&, const PodInfo& pod, PreFilterResult*) override {
    // The pod's ports live in the PodInfo; nothing to precompute. Without
    // host ports there is nothing to check.
    if (pod.host_ports.empty()) return PluginStatus(Code::kSkip);
    return {};
  }
  PluginStatus filter(const CycleState&, const PodInfo& pod, const NodeInfo& node) const override {
    for (const auto& p : pod.host_ports)
      if (node.usedPorts().conflicts(p))
        return PluginStatus(Code::kUnschedulable, kReasonNodePorts);
    return {};
  }
};

class NodeAffinity final : public PreFilterPlugin,
                           public FilterPlugin,
                           public PreScorePlugin,
                           public ScorePlugin {
 public:
  std::string_view name() const override { return kNodeAffinity; }
  std::vector<ClusterEvent> eventsToRegister() const override { return {kNodeAddOrUpdate}; }

  PluginStatus preFilter(CycleState&, const PodInfo& pod, PreFilterResult* result) override {
    if (!pod.required_node_affinity && pod.node_selector.empty()) return PluginStatus(Code::kSkip);
    if (!pod.required_node_affinity || pod.required_node_affinity->empty()) return {};
    // Terms naming nodes by metadata.name narrow the nodes to filter: the
    // union over terms of the intersection of a term's In requirements.
    std::optional<std::set<std::string>> names;
    for (const auto& t : *pod.required_node_affinity) {
      std::optional<std::set<std::string>> term_names;
      for (const auto& r : t.match_fields) {
        if (r.key != "metadata.name" || r.op != "In") continue;
        std::set<std::string> s(r.values.begin(), r.values.end());
        if (!term_names) {
          term_names = std::move(s);
        } else {
          std::set<std::string> both;
          for (const auto& n : *term_names)
            if (s.count(n)) both.insert(n);
          term_names = std::move(both);
        }
      }
      if (!term_names) return {};  // this term allows every node
      if (!names) names.emplace();
      names->insert(term_names->begin(), term_names->end());
    }
    if (names && names->empty())
      return PluginStatus(Code::kUnschedulableAndUnresolvable, "pod affinity terms conflict");
    if (names && result) result->node_names = std::move(names);
    return {};
  }

  PluginStatus filter(const CycleState&, const PodInfo& pod, const NodeInfo& node) const override {
    if (requiredNodeAffinityMatches(pod, *node.node())) return {};
    return PluginStatus(Code::kUnschedulableAndUnresolvable, kReasonNodeAffinity);
  }

  PluginStatus preScore(CycleState&, const PodInfo& pod, const std::vector<NodeInfo*>&) override {
    if (pod.preferred_node_affinity.empty()) return PluginStatus(Code::kSkip);
    return {};
  }

  // The sum of the weights of the preferred terms the node matches.
  PluginStatus score(const CycleState&, const PodInfo& pod, const NodeInfo& node,
                     int64_t* out) const override {
    int64_t sum = 0;
    for (const auto& t : pod.preferred_node_affinity)
      if (t.weight != 0 && nodeSelectorTermMatches(t.preference, *node.node())) sum += t.weight;
    *out = sum;
    return {};
  }
  bool hasNormalizeScore() const override { return true; }
  PluginStatus normalizeScore(const CycleState&, const PodInfo&,
                              NodeScoreList& scores) const override {
    defaultNormalizeScore(kMaxNodeScore, false, scores);
    return {};
  }
};

class TaintToleration final : public FilterPlugin, public PreScorePlugin, public ScorePlugin {
 public:
  std::string_view name() const override { return kTaintToleration; }
  std::vector<ClusterEvent> eventsToRegister() const override { return {kNodeAddOrUpdate}; }

  PluginStatus filter(const CycleState&, const PodInfo& pod, const NodeInfo& node) const override {
    if (!node.hasTaints()) return {};
    auto taint = findUntoleratedTaint(node.node()->taints, pod.tolerations, isDoNotScheduleTaint);
    if (!taint) return {};
    return PluginStatus(Code::kUnschedulableAndUnresolvable,
                        "node(s) had untolerated taint {" + taint->key + ": " + taint->value + "}");
  }

  PluginStatus preScore(CycleState&, const PodInfo&, const std::vector<NodeInfo*>&) override {
    return {};
  }

  // The number of PreferNoSchedule taints the pod does not tolerate (only
  // tolerations with an empty or PreferNoSchedule effect count).
  PluginStatus score(const CycleState&, const PodInfo& pod, const NodeInfo& node,
                     int64_t* out) const override {
    int64_t count = 0;
    if (!node.hasTaints()) {
      *out = 0;
      return {};
    }
    for (const auto& taint : node.node()->taints) {
      if (taint.effect != "PreferNoSchedule") continue;
      bool tolerated = false;
      for (const auto& t : pod.tolerations)
        if ((t.effect.empty() || t.effect == "PreferNoSchedule") && t.toleratesTaint(taint))
          tolerated = true;
      if (!tolerated) ++count;
    }
    *out = count;
    return {};
  }
  bool hasNormalizeScore() const override { return true; }
  PluginStatus normalizeScore(const CycleState&, const PodInfo&,
                              NodeScoreList& scores) const override {
    defaultNormalizeScore(kMaxNodeScore, true, scores);
    return {};
  }
};

class ImageLocality final : public ScorePlugin {
 public:
  explicit ImageLocality(Handle& handle) : handle_(handle) {}
  std::string_view name() const override { return kImageLocality; }

  // Prefers nodes that already have the pod's images, weighing an image by
  // its size and by how widely it is spread (to avoid piling pods onto the
  // one node that has a rare image).
  PluginStatus score(const CycleState&, const PodInfo& pod, const NodeInfo& node,
                     int64_t* out) const override {
    constexpr int64_t kMb = 1024 * 1024;
    constexpr int64_t kMinThreshold = 23 * kMb;
    constexpr int64_t kMaxContainerThreshold = 1000 * kMb;
    int64_t total_nodes = handle_.snapshot ? static_cast<int64_t>(handle_.snapshot->numNodes()) : 1;
    if (total_nodes <= 0) total_nodes = 1;
    int64_t sum = 0;
    // Most nodes report no images: nothing to hash and look up.
    if (!node.imageStates().empty())
      for (const auto& image : pod.images) {
        auto it = node.imageStates().find(image);
        if (it == node.imageStates().end()) continue;
        double spread =
            static_cast<double>(it->second.num_nodes) / static_cast<double>(total_nodes);
        sum += static_cast<int64_t>(static_cast<double>(it->second.size) * spread);
      }
    int64_t max_threshold =
        kMaxContainerThreshold * static_cast<int64_t>(std::max<size_t>(1, pod.num_containers));
    sum = std::clamp(sum, kMinThreshold, max_threshold);
    *out = kMaxNodeScore * (sum - kMinThreshold) / (max_threshold - kMinThreshold);
    return {};
  }

 private:
  Handle& handle_;
};

class DefaultBinder final : public BindPlugin {
 public:
  explicit DefaultBinder(Handle& handle) : handle_(handle) {}
  std::string_view name() const override { return kDefaultBinder; }

  // POST pods/<name>/binding with a core/v1 Binding naming the node.
  PluginStatus bind(CycleState&, const PodInfo& pod, const std::string& node) override {
    if (!handle_.client) return PluginStatus::error("no API client");
    boost::json::object binding{
        {"apiVersion", "v1"},
        {"kind", "Binding"},
        {"metadata",
         boost::json::object{{"namespace", pod.ns}, {"name", pod.name}, {"uid", pod.uid}}},
        {"target", boost::json::object{{"kind", "Node"}, {"name", node}}}};
    static const api::KindInfo& pods = client::kind("", "Pod");
    auto r =
        handle_.client->createSubresource(pods, pod.ns, pod.name, "binding", std::move(binding));
    if (!r.ok()) return PluginStatus::error(r.error().message);
    return {};
  }

 private:
  Handle& handle_;
};

}  // namespace

std::shared_ptr<Plugin> newNodeName(const ProfileConfig&, Handle&) {
  return std::make_shared<NodeName>();
}
std::shared_ptr<Plugin> newNodeUnschedulable(const ProfileConfig&, Handle&) {
  return std::make_shared<NodeUnschedulable>();
}
std::shared_ptr<Plugin> newNodePorts(const ProfileConfig&, Handle&) {
  return std::make_shared<NodePorts>();
}
std::shared_ptr<Plugin> newNodeAffinity(const ProfileConfig&, Handle&) {
  return std::make_shared<NodeAffinity>();
}
std::shared_ptr<Plugin> newTaintToleration(const ProfileConfig&, Handle&) {
  return std::make_shared<TaintToleration>();
}
std::shared_ptr<Plugin> newImageLocality(const ProfileConfig&, Handle& handle) {
  return std::make_shared<ImageLocality>(handle);
}
std::shared_ptr<Plugin> newDefaultBinder(const ProfileConfig&, Handle& handle) {
  return std::make_shared<DefaultBinder>(handle);
}

}  // namespace berth::scheduler
