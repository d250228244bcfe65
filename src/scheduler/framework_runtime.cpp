#include "scheduler/framework_runtime.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>

#include "scheduler/nominator.h"
#include "scheduler/parallel.h"

namespace berth::scheduler {

// A pod some Permit plugin asked to wait (framework.waitingPod).
struct Framework::WaitingPod {
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::string> pending;  // plugins that have not allowed yet
  std::optional<PluginStatus> result;
  std::chrono::steady_clock::time_point deadline;
  std::string first_plugin;
};

Result<std::unique_ptr<Framework>> Framework::create(const ProfileConfig& config, Handle& handle,
                                                     const Registry& registry) {
  std::unique_ptr<Framework> fw(new Framework(config, handle));
  handle.framework = fw.get();
  std::set<std::string> seen;
  for (const auto& spec : config.plugins) {
    if (!seen.insert(spec.name).second)
      return makeError(ErrorCode::kInvalid, "plugin \"" + spec.name + "\" already registered");
    auto it = registry.find(spec.name);
    if (it == registry.end())
      return makeError(ErrorCode::kInvalid, "plugin \"" + spec.name + "\" does not exist");
    auto plugin = it->second(config, handle);
    if (!plugin.ok()) return std::move(plugin).error();
    std::shared_ptr<Plugin> p = std::move(plugin.value());
    if (auto* x = dynamic_cast<PreFilterPlugin*>(p.get())) fw->pre_filter_.push_back(x);
    if (auto* x = dynamic_cast<FilterPlugin*>(p.get())) fw->filter_.push_back(x);
    if (auto* x = dynamic_cast<PostFilterPlugin*>(p.get())) fw->post_filter_.push_back(x);
    if (auto* x = dynamic_cast<PreScorePlugin*>(p.get())) fw->pre_score_.push_back(x);
    if (auto* x = dynamic_cast<ScorePlugin*>(p.get())) {
      if (spec.weight < 0)
        return makeError(ErrorCode::kInvalid,
                         "score plugin \"" + spec.name + "\" weight must be positive");
      fw->score_.emplace_back(x, spec.weight == 0 ? 1 : spec.weight);
    }
    if (auto* x = dynamic_cast<ReservePlugin*>(p.get())) fw->reserve_.push_back(x);
    if (auto* x = dynamic_cast<PermitPlugin*>(p.get())) fw->permit_.push_back(x);
    if (auto* x = dynamic_cast<BindPlugin*>(p.get())) fw->bind_.push_back(x);
    fw->plugins_.push_back(std::move(p));
  }
  if (fw->bind_.empty())
    return makeError(ErrorCode::kInvalid, "at least one bind plugin is needed");
  return fw;
}

Framework::~Framework() {
  if (handle_.framework == this) handle_.framework = nullptr;
}

std::vector<std::string> Framework::scorePluginNames() const {
  std::vector<std::string> out;
  for (const auto& [p, w] : score_) out.emplace_back(p->name());
  return out;
}

std::map<std::string, std::vector<ClusterEvent>> Framework::eventsByPlugin() const {
  std::map<std::string, std::vector<ClusterEvent>> out;
  for (const auto& p : plugins_) out[std::string(p->name())] = p->eventsToRegister();
  return out;
}

Plugin* Framework::plugin(std::string_view name) const {
  for (const auto& p : plugins_)
    if (p->name() == name) return p.get();
  return nullptr;
}

PluginStatus Framework::runPreFilterPlugins(CycleState& state, const PodInfo& pod,
                                            PreFilterResult* result) {
  PluginStatus ret;
  std::vector<std::string> plugins_with_nodes;
  PreFilterResult merged;
  state.skip_filter_plugins.clear();
  state.skip_filter_mask = 0;
  for (PreFilterPlugin* pl : pre_filter_) {
    PreFilterResult r;
    PluginStatus s = pl->preFilter(state, pod, &r);
    if (s.isSkip()) {
      state.skip_filter_plugins.insert(std::string(pl->name()));
      continue;
    }
    if (!s.isSuccess()) {
      s.withPlugin(std::string(pl->name()));
      // Unresolvable ends the run (no preemption will help); Unschedulable
      // lets the others run so that preemption sees their state (#119770).
      if (s.code() == Code::kUnschedulableAndUnresolvable) return s;
      if (s.code() == Code::kUnschedulable) {
        ret = s;
        continue;
      }
      return PluginStatus::error("running PreFilter plugin \"" + std::string(pl->name()) +
                                 "\": " + s.message())
          .withPlugin(std::string(pl->name()));
    }
    if (!r.allNodes()) plugins_with_nodes.emplace_back(pl->name());
    merged.merge(r);
    if (!merged.allNodes() && merged.node_names->empty()) {
      std::string msg;
      if (plugins_with_nodes.size() == 1) {
        msg = "node(s) didn't satisfy plugin " + plugins_with_nodes[0];
      } else {
        msg = "node(s) didn't satisfy plugin(s) [";
        for (size_t i = 0; i < plugins_with_nodes.size(); ++i)
          msg += (i ? " " : "") + plugins_with_nodes[i];
        msg += "] simultaneously";
      }
      if (result) {
        *result = merged;
        result->plugins = plugins_with_nodes;
      }
      return PluginStatus(Code::kUnschedulableAndUnresolvable, msg);
    }
  }
  if (result) {
    *result = merged;
    result->plugins = plugins_with_nodes;
  }
  state.skip_filter_mask = 0;
  for (size_t i = 0; i < filter_.size() && i < 64; ++i)
    if (state.skip_filter_plugins.count(filter_[i]->name()))
      state.skip_filter_mask |= uint64_t{1} << i;
  return ret;
}

PluginStatus Framework::runPreFilterExtensionAddPod(CycleState& state, const PodInfo& pod,
                                                    const PodInfoPtr& to_add,
                                                    const NodeInfo& node) {
  for (PreFilterPlugin* pl : pre_filter_) {
    if (!pl->hasPreFilterExtensions() || state.skip_filter_plugins.count(pl->name())) continue;
    PluginStatus s = pl->addPod(state, pod, to_add, node);
    if (!s.isSuccess())
      return PluginStatus::error("running AddPod on PreFilter plugin \"" + std::string(pl->name()) +
                                 "\": " + s.message());
  }
  return {};
}

PluginStatus Framework::runPreFilterExtensionRemovePod(CycleState& state, const PodInfo& pod,
                                                       const PodInfoPtr& to_remove,
                                                       const NodeInfo& node) {
  for (PreFilterPlugin* pl : pre_filter_) {
    if (!pl->hasPreFilterExtensions() || state.skip_filter_plugins.count(pl->name())) continue;
    PluginStatus s = pl->removePod(state, pod, to_remove, node);
    if (!s.isSuccess())
      return PluginStatus::error("running RemovePod on PreFilter plugin \"" +
                                 std::string(pl->name()) + "\": " + s.message());
  }
  return {};
}

PluginStatus Framework::runFilterPlugins(const CycleState& state, const PodInfo& pod,
                                         const NodeInfo& node) const {
  for (size_t i = 0; i < filter_.size(); ++i) {
    FilterPlugin* pl = filter_[i];
    if (filterSkipped(state, i)) continue;
    PluginStatus s = pl->filter(state, pod, node);
    if (s.isSuccess()) continue;
    return filterFailure(*pl, std::move(s));
  }
  return {};
}

bool Framework::filterSkipped(const CycleState& state, size_t i) const {
  return i < 64 ? (state.skip_filter_mask >> i) & 1
                : state.skip_filter_plugins.count(filter_[i]->name()) > 0;
}

PluginStatus Framework::filterFailure(const FilterPlugin& pl, PluginStatus s) {
  if (!s.isRejected())
    s = PluginStatus::error("running \"" + std::string(pl.name()) +
                            "\" filter plugin: " + s.message());
  s.withPlugin(std::string(pl.name()));
  return s;
}

FastFilter Framework::runFilterPluginsFast(const CycleState& state, const PodInfo& pod,
                                           const NodeInfo& node, PluginStatus* status) const {
  for (size_t i = 0; i < filter_.size(); ++i) {
    FilterPlugin* pl = filter_[i];
    if (filterSkipped(state, i)) continue;
    switch (pl->filterFast(state, pod, node)) {
      case FastFilter::kPass:
        continue;
      case FastFilter::kReject:
        return FastFilter::kReject;
      case FastFilter::kUnknown: {
        PluginStatus s = pl->filter(state, pod, node);
        if (s.isSuccess()) continue;
        *status = filterFailure(*pl, std::move(s));
        return FastFilter::kUnknown;
      }
    }
  }
  return FastFilter::kPass;
}

std::vector<PodInfoPtr> Framework::nominatedPodsFor(const PodInfo& pod,
                                                    const NodeInfo& node) const {
  std::vector<PodInfoPtr> nominated;
  if (handle_.nominator && !handle_.nominator->empty() && node.node())
    for (const auto& p : handle_.nominator->podsForNode(node.name()))
      if (p->uid != pod.uid && p->priority >= pod.priority) nominated.push_back(p);
  return nominated;
}

bool Framework::hasNominatedPodsFor(const PodInfo& pod, const NodeInfo& node) const {
  return !nominatedPodsFor(pod, node).empty();
}

PluginStatus Framework::runFilterPluginsWithNominatedPods(const CycleState& state,
                                                          const PodInfo& pod,
                                                          const NodeInfo& node) {
  std::vector<PodInfoPtr> nominated = nominatedPodsFor(pod, node);
  if (nominated.empty()) return runFilterPlugins(state, pod, node);
  // First pass: as if the nominated pods (of equal or higher priority) were
  // running; those are the pods this one must yield to.
  CycleState state_with = state.clone();
  NodeInfoPtr node_with = node.clone();
  for (const auto& p : nominated) {
    node_with->addPod(p);
    PluginStatus s = runPreFilterExtensionAddPod(state_with, pod, p, *node_with);
    if (!s.isSuccess()) return s;
  }
  PluginStatus s = runFilterPlugins(state_with, pod, *node_with);
  if (!s.isSuccess()) return s;
  // Second pass without them: filters like pod affinity may only pass when
  // the nominated pods are treated as running.
  return runFilterPlugins(state, pod, node);
}

PluginStatus Framework::runPostFilterPlugins(CycleState& state, const PodInfo& pod,
                                             const NodeStatusMap& statuses,
                                             PostFilterResult* result) {
  PluginStatus ret(Code::kUnschedulable);
  std::vector<std::string> reasons;
  for (PostFilterPlugin* pl : post_filter_) {
    PluginStatus s = pl->postFilter(state, pod, statuses, result);
    if (s.isSuccess()) return s;
    if (s.code() == Code::kUnschedulableAndUnresolvable)
      return s.withPlugin(std::string(pl->name()));
    if (!s.isRejected()) return s.withPlugin(std::string(pl->name()));
    for (const auto& r : s.reasons()) reasons.push_back(r);
    ret = PluginStatus(Code::kUnschedulable, reasons).withPlugin(std::string(pl->name()));
  }
  return ret;
}

PluginStatus Framework::runPreScorePlugins(CycleState& state, const PodInfo& pod,
                                           const std::vector<NodeInfo*>& nodes) {
  state.skip_score_plugins.clear();
  for (PreScorePlugin* pl : pre_score_) {
    PluginStatus s = pl->preScore(state, pod, nodes);
    if (s.isSkip()) {
      state.skip_score_plugins.insert(std::string(pl->name()));
      continue;
    }
    if (!s.isSuccess())
      return PluginStatus::error("running PreScore plugin \"" + std::string(pl->name()) +
                                 "\": " + s.message());
  }
  return {};
}

PluginStatus Framework::runScorePlugins(const CycleState& state, const PodInfo& pod,
                                        const std::vector<NodeInfo*>& nodes,
                                        std::vector<NodePluginScores>* out) {
  std::vector<int64_t> totals, weighted;
  PluginStatus s = scoreNodes(state, pod, nodes, &totals, &weighted);
  if (!s.isSuccess()) return s;
  const size_t np = score_.size();
  out->assign(nodes.size(), {});
  for (size_t i = 0; i < nodes.size(); ++i) {
    NodePluginScores& ns = (*out)[i];
    ns.name = nodes[i]->name();
    ns.scores.assign(weighted.begin() + static_cast<std::ptrdiff_t>(i * np),
                     weighted.begin() + static_cast<std::ptrdiff_t>((i + 1) * np));
    ns.total_score = totals[i];
  }
  return {};
}

PluginStatus Framework::runScorePluginsTotals(const CycleState& state, const PodInfo& pod,
                                              const std::vector<NodeInfo*>& nodes,
                                              std::vector<int64_t>* totals) {
  return scoreNodes(state, pod, nodes, totals, nullptr);
}

PluginStatus Framework::scoreNodes(const CycleState& state, const PodInfo& pod,
                                   const std::vector<NodeInfo*>& nodes,
                                   std::vector<int64_t>* totals, std::vector<int64_t>* weighted) {
  const size_t n = nodes.size();
  const size_t np = score_.size();
  totals->assign(n, 0);
  if (weighted) weighted->assign(n * np, 0);
  std::vector<size_t> active;
  for (size_t p = 0; p < np; ++p)
    if (!state.skip_score_plugins.count(score_[p].first->name())) active.push_back(p);
  if (active.empty() || n == 0) return {};
  // Raw scores, plugin-major, in one allocation per cycle: raw[a * n + i] is
  // active plugin a on node i (upstream's per-plugin NodeScoreList, without
  // a node name per entry).
  std::vector<int64_t> raw(active.size() * n);
  std::mutex err_mu;
  std::optional<PluginStatus> err;
  std::atomic<bool> stop{false};
  Parallelizer* par = handle_.parallelizer;
  auto score_node = [&](int i) {
    if (static_cast<size_t>(i) + kNodePrefetchDistance < n)
      prefetchNodeInfo(nodes[static_cast<size_t>(i) + kNodePrefetchDistance]);
    for (size_t a = 0; a < active.size(); ++a) {
      ScorePlugin* pl = score_[active[a]].first;
      int64_t v = 0;
      PluginStatus s = pl->score(state, pod, *nodes[i], &v);
      if (!s.isSuccess()) {
        std::lock_guard lock(err_mu);
        if (!err)
          err = PluginStatus::error("plugin \"" + std::string(pl->name()) +
                                    "\" failed with: " + s.message());
        stop = true;
        return;
      }
      raw[a * n + static_cast<size_t>(i)] = v;
    }
  };
  if (par)
    par->until(static_cast<int>(n), score_node, &stop);
  else
    for (int i = 0; i < static_cast<int>(n) && !stop; ++i) score_node(i);
  if (err) return *err;
  NodeScoreList list;  // only for plugins with NormalizeScore
  for (size_t a = 0; a < active.size(); ++a) {
    const size_t p = active[a];
    ScorePlugin* pl = score_[p].first;
    const int64_t weight = score_[p].second;
    int64_t* col = raw.data() + a * n;
    if (pl->hasNormalizeScore()) {
      list.resize(n);
      for (size_t i = 0; i < n; ++i) {
        list[i].name = nodes[i]->name();
        list[i].score = col[i];
      }
      PluginStatus s = pl->normalizeScore(state, pod, list);
      if (!s.isSuccess())
        return PluginStatus::error("running Normalize on Score plugins: plugin \"" +
                                   std::string(pl->name()) + "\" failed with: " + s.message());
      for (size_t i = 0; i < n; ++i) col[i] = list[i].score;
    }
    for (size_t i = 0; i < n; ++i) {
      int64_t v = col[i];
      if (v > kMaxNodeScore || v < kMinNodeScore)
        return PluginStatus::error("plugin \"" + std::string(pl->name()) +
                                   "\" returns an invalid score " + std::to_string(v) +
                                   ", it should in the range of [0, 100] after normalizing");
      (*totals)[i] += v * weight;
      if (weighted) (*weighted)[i * np + p] = v * weight;
    }
  }
  return {};
}

PluginStatus Framework::runReservePluginsReserve(CycleState& state, const PodInfo& pod,
                                                 const std::string& node) {
  for (ReservePlugin* pl : reserve_) {
    PluginStatus s = pl->reserve(state, pod, node);
    if (s.isSuccess()) continue;
    if (s.isRejected()) return s.withPlugin(std::string(pl->name()));
    return PluginStatus::error("running Reserve plugin \"" + std::string(pl->name()) +
                               "\": " + s.message())
        .withPlugin(std::string(pl->name()));
  }
  return {};
}

void Framework::runReservePluginsUnreserve(CycleState& state, const PodInfo& pod,
                                           const std::string& node) {
  for (auto it = reserve_.rbegin(); it != reserve_.rend(); ++it) (*it)->unreserve(state, pod, node);
}

PluginStatus Framework::runPermitPlugins(CycleState& state, const PodInfo& pod,
                                         const std::string& node) {
  std::map<std::string, std::chrono::milliseconds> waits;
  for (PermitPlugin* pl : permit_) {
    std::chrono::milliseconds timeout{0};
    PluginStatus s = pl->permit(state, pod, node, &timeout);
    if (s.isSuccess()) continue;
    if (s.isRejected()) return s.withPlugin(std::string(pl->name()));
    if (s.isWait()) {
      // Upstream caps a permit wait at 15 minutes.
      waits[std::string(pl->name())] =
          std::min(timeout, std::chrono::milliseconds(std::chrono::minutes(15)));
      continue;
    }
    return PluginStatus::error("running Permit plugin \"" + std::string(pl->name()) +
                               "\": " + s.message())
        .withPlugin(std::string(pl->name()));
  }
  if (waits.empty()) return {};
  auto wp = std::make_shared<WaitingPod>();
  auto min_wait = std::chrono::milliseconds::max();
  for (const auto& [name, t] : waits) {
    wp->pending.insert(name);
    if (t < min_wait) {
      min_wait = t;
      wp->first_plugin = name;
    }
  }
  wp->deadline = std::chrono::steady_clock::now() + min_wait;
  std::lock_guard lock(waiting_mu_);
  waiting_[pod.uid] = wp;
  return PluginStatus(Code::kWait);
}

PluginStatus Framework::waitOnPermit(const PodInfo& pod) {
  std::shared_ptr<WaitingPod> wp;
  {
    std::lock_guard lock(waiting_mu_);
    auto it = waiting_.find(pod.uid);
    if (it == waiting_.end()) return {};
    wp = it->second;
  }
  PluginStatus result;
  {
    std::unique_lock lock(wp->mu);
    if (!wp->cv.wait_until(lock, wp->deadline, [&] { return wp->result.has_value(); }))
      wp->result =
          PluginStatus(Code::kUnschedulable,
                       "rejected due to timeout after waiting at plugin " + wp->first_plugin)
              .withPlugin(wp->first_plugin);
    result = *wp->result;
  }
  std::lock_guard lock(waiting_mu_);
  waiting_.erase(pod.uid);
  return result;
}

bool Framework::allowWaitingPod(const std::string& uid, const std::string& plugin) {
  std::shared_ptr<WaitingPod> wp;
  {
    std::lock_guard lock(waiting_mu_);
    auto it = waiting_.find(uid);
    if (it == waiting_.end()) return false;
    wp = it->second;
  }
  std::lock_guard lock(wp->mu);
  wp->pending.erase(plugin);
  if (wp->pending.empty() && !wp->result) {
    wp->result = PluginStatus();
    wp->cv.notify_all();
  }
  return true;
}

bool Framework::rejectWaitingPod(const std::string& uid, const std::string& message) {
  std::shared_ptr<WaitingPod> wp;
  {
    std::lock_guard lock(waiting_mu_);
    auto it = waiting_.find(uid);
    if (it == waiting_.end()) return false;
    wp = it->second;
  }
  std::lock_guard lock(wp->mu);
  if (!wp->result) {
    wp->result = PluginStatus(Code::kUnschedulable, message);
    wp->cv.notify_all();
  }
  return true;
}

PluginStatus Framework::runBindPlugins(CycleState& state, const PodInfo& pod,
                                       const std::string& node) {
  PluginStatus last(Code::kSkip);
  for (BindPlugin* pl : bind_) {
    last = pl->bind(state, pod, node);
    if (last.isSkip()) continue;
    if (!last.isSuccess()) {
      if (last.isRejected()) return last.withPlugin(std::string(pl->name()));
      return PluginStatus::error("running Bind plugin \"" + std::string(pl->name()) +
                                 "\": " + last.message())
          .withPlugin(std::string(pl->name()));
    }
    return last;
  }
  return last;
}

}  // namespace berth::scheduler
