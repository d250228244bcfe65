#pragma once

// The framework runtime (upstream's frameworkImpl): one per profile. Builds
// the enabled plugins from the registry and runs them at each extension
// point, per node in parallel where upstream does.

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>

#include "common/result.h"
#include "scheduler/config.h"
#include "scheduler/framework.h"
#include "scheduler/registry.h"

namespace berth::scheduler {

// Scores of one node: per score plugin (in plugin order), and their weighted sum.
struct NodePluginScores {
  std::string name;
  std::vector<int64_t> scores;
  int64_t total_score = 0;
};

class Framework {
 public:
  // Fails on an unknown plugin name or invalid plugin arguments. `handle`
  // must outlive the framework; handle.framework is set to it.
  static Result<std::unique_ptr<Framework>> create(const ProfileConfig& config, Handle& handle,
                                                   const Registry& registry);
  ~Framework();

  const ProfileConfig& config() const { return config_; }
  const std::string& schedulerName() const { return config_.scheduler_name; }
  Handle& handle() { return handle_; }
  const Handle& handle() const { return handle_; }

  bool hasFilterPlugins() const { return !filter_.empty(); }
  bool hasPostFilterPlugins() const { return !post_filter_.empty(); }
  bool hasScorePlugins() const { return !score_.empty(); }
  // Names of the score plugins, in the order NodePluginScores lists them.
  std::vector<std::string> scorePluginNames() const;
  // Plugin name -> the cluster events it registered (for the queue).
  std::map<std::string, std::vector<ClusterEvent>> eventsByPlugin() const;
  Plugin* plugin(std::string_view name) const;

  // RunPreFilterPlugins: the first rejection or error ends the run; results
  // are intersected. An empty node set is UnschedulableAndUnresolvable.
  PluginStatus runPreFilterPlugins(CycleState& state, const PodInfo& pod, PreFilterResult* result);
  PluginStatus runPreFilterExtensionAddPod(CycleState& state, const PodInfo& pod,
                                           const PodInfoPtr& to_add, const NodeInfo& node);
  PluginStatus runPreFilterExtensionRemovePod(CycleState& state, const PodInfo& pod,
                                              const PodInfoPtr& to_remove, const NodeInfo& node);
  // RunFilterPlugins: the status of the first plugin that does not pass.
  PluginStatus runFilterPlugins(const CycleState& state, const PodInfo& pod,
                                const NodeInfo& node) const;
  // runFilterPlugins without building rejections where plugins can tell
  // fast: kPass, kReject (a plugin's fast path rejected; no status), or
  // kUnknown with runFilterPlugins' status in *status (a plugin's full
  // filter failed or errored).
  FastFilter runFilterPluginsFast(const CycleState& state, const PodInfo& pod, const NodeInfo& node,
                                  PluginStatus* status) const;
  // True when filtering `node` must consider nominated pods (the fast path
  // does not).
  bool hasNominatedPodsFor(const PodInfo& pod, const NodeInfo& node) const;
  // RunFilterPluginsWithNominatedPods: runs the filters with the pods
  // nominated to this node with priority >= the pod's added (on clones), and,
  // if that passes and some were added, again without them.
  PluginStatus runFilterPluginsWithNominatedPods(const CycleState& state, const PodInfo& pod,
                                                 const NodeInfo& node);
  // The first PostFilter plugin that succeeds (or errors) decides.
  PluginStatus runPostFilterPlugins(CycleState& state, const PodInfo& pod,
                                    const NodeStatusMap& statuses, PostFilterResult* result);
  PluginStatus runPreScorePlugins(CycleState& state, const PodInfo& pod,
                                  const std::vector<NodeInfo*>& nodes);
  // Scores every node with every (non-skipped) score plugin in parallel,
  // normalizes, applies weights and sums.
  PluginStatus runScorePlugins(const CycleState& state, const PodInfo& pod,
                               const std::vector<NodeInfo*>& nodes,
                               std::vector<NodePluginScores>* out);
  // The same scores, only their weighted sum per node (in `nodes` order):
  // what the scheduling cycle needs to pick a host, without a name and a
  // vector per node.
  PluginStatus runScorePluginsTotals(const CycleState& state, const PodInfo& pod,
                                     const std::vector<NodeInfo*>& nodes,
                                     std::vector<int64_t>* totals);
  PluginStatus runReservePluginsReserve(CycleState& state, const PodInfo& pod,
                                        const std::string& node);
  // Unreserve runs in reverse order.
  void runReservePluginsUnreserve(CycleState& state, const PodInfo& pod, const std::string& node);
  // Success, a rejection, or Wait (the pod is then a waiting pod until
  // waitOnPermit resolves it).
  PluginStatus runPermitPlugins(CycleState& state, const PodInfo& pod, const std::string& node);
  // Blocks while the pod waits on permit plugins.
  PluginStatus waitOnPermit(const PodInfo& pod);
  // A Permit plugin lets a waiting pod go (once every waiting plugin did) or
  // rejects it. False when the pod is not waiting.
  bool allowWaitingPod(const std::string& uid, const std::string& plugin);
  bool rejectWaitingPod(const std::string& uid, const std::string& message);
  PluginStatus runBindPlugins(CycleState& state, const PodInfo& pod, const std::string& node);

 private:
  // A failed filter's status as the framework reports it: errors wrapped
  // with the plugin's name, the plugin recorded.
  static PluginStatus filterFailure(const FilterPlugin& pl, PluginStatus s);
  // Filter plugin i's PreFilter returned Skip this cycle.
  bool filterSkipped(const CycleState& state, size_t i) const;
  // The pods nominated to `node` that `pod` must yield to (other pods of
  // equal or higher priority).
  std::vector<PodInfoPtr> nominatedPodsFor(const PodInfo& pod, const NodeInfo& node) const;
  Framework(const ProfileConfig& config, Handle& handle) : config_(config), handle_(handle) {}

  struct WaitingPod;

  // Score, NormalizeScore, weights: totals per node and, when `weighted` is
  // set, each plugin's weighted score (node-major, score_.size() per node).
  PluginStatus scoreNodes(const CycleState& state, const PodInfo& pod,
                          const std::vector<NodeInfo*>& nodes, std::vector<int64_t>* totals,
                          std::vector<int64_t>* weighted);

  ProfileConfig config_;
  Handle& handle_;
  std::vector<std::shared_ptr<Plugin>> plugins_;
  std::vector<PreFilterPlugin*> pre_filter_;
  std::vector<FilterPlugin*> filter_;
  std::vector<PostFilterPlugin*> post_filter_;
  std::vector<PreScorePlugin*> pre_score_;
  std::vector<std::pair<ScorePlugin*, int64_t>> score_;
  std::vector<ReservePlugin*> reserve_;
  std::vector<PermitPlugin*> permit_;
  std::vector<BindPlugin*> bind_;

  std::mutex waiting_mu_;
  std::map<std::string, std::shared_ptr<WaitingPod>> waiting_;
};

}  // namespace berth::scheduler
