// One scheduling cycle and its binding cycle, after upstream's
// pkg/scheduler/schedule_one.go.

#include <algorithm>
#include <atomic>

#include "api/kinds/access.h"
#include "api/object.h"
#include "common/log.h"
#include "scheduler/scheduler.h"

namespace berth::scheduler {

namespace {

// Upstream's minFeasibleNodesToFind / minFeasibleNodesPercentageToFind.
constexpr int kMinFeasibleNodesToFind = 100;
constexpr int kMinFeasibleNodesPercentageToFind = 5;
// truncateMessage's noteLengthLimit for event notes.
constexpr size_t kNoteLengthLimit = 1024;

// push_back rather than append: GCC 12 reports a false -Warray-bounds on
// appending a literal here (GCC PR 105329).
std::string truncateMessage(const std::string& msg) {
  if (msg.size() <= kNoteLengthLimit) return msg;
  std::string out = msg.substr(0, kNoteLengthLimit - 4);
  for (char c : std::string_view(" ...")) out.push_back(c);
  return out;
}

}  // namespace

// A binding cycle handed to the binder pool.
struct Scheduler::BindTask {
  std::shared_ptr<CycleState> state;
  QueuedPodInfoPtr info;
  PodInfoPtr assumed;
  std::string node;
  int64_t cycle = 0;
};

CycleOutcome Scheduler::scheduleOne() {
  QueuedPodInfoPtr info = queue_->tryPop();
  if (!info) return {};
  return scheduleQueued(info);
}

int Scheduler::numFeasibleNodesToFind(int num_all_nodes) const {
  if (num_all_nodes < kMinFeasibleNodesToFind) return num_all_nodes;
  int percentage = options_.profile.percentage_of_nodes_to_score;
  if (percentage <= 0) {
    // Adaptive: 50% for small clusters, 1% less per 125 nodes, at least 5%.
    percentage = 50 - num_all_nodes / 125;
    if (percentage < kMinFeasibleNodesPercentageToFind)
      percentage = kMinFeasibleNodesPercentageToFind;
  }
  int n = static_cast<int>(static_cast<int64_t>(num_all_nodes) * percentage / 100);
  return std::max(n, kMinFeasibleNodesToFind);
}

std::vector<NodeInfo*> Scheduler::findNodesThatPassFilters(CycleState& state, const PodInfo& pod,
                                                           const std::vector<NodeInfo*>& nodes,
                                                           Diagnosis* diag, PluginStatus* error,
                                                           int* rejected_count) {
  int num_all = static_cast<int>(nodes.size());
  if (num_all == 0) return {};
  int num_to_find = numFeasibleNodesToFind(num_all);
  if (!framework_->hasScorePlugins()) num_to_find = 1;
  std::vector<NodeInfo*> feasible(num_to_find);
  if (!framework_->hasFilterPlugins()) {
    for (int i = 0; i < num_to_find; ++i)
      feasible[i] = nodes[(next_start_node_index_ + i) % num_all];
    return feasible;
  }
  std::atomic<int> feasible_len{0};
  std::atomic<bool> stop{false};
  // Only rejections are kept (upstream's NodeToStatus under a lock): a slot
  // per node would cost an allocation and a walk over the whole cluster for
  // every pod, when a cycle stops after numFeasibleNodesToFind.
  std::mutex status_mu;
  std::vector<std::pair<int, PluginStatus>> rejected;
  // Nodes a plugin's fast path rejected: their statuses are built only if
  // no node passes (for the diagnosis and PostFilter); otherwise only their
  // number matters.
  std::vector<int> rejected_fast;
  std::mutex err_mu;
  auto feasible_found = [&](NodeInfo* node) {
    int len = feasible_len.fetch_add(1) + 1;
    if (len > num_to_find) {
      stop = true;
      feasible_len.fetch_sub(1);
    } else {
      feasible[len - 1] = node;
    }
  };
  // Nodes are checked from where the previous cycle stopped, so every node
  // gets its turn across pods.
  auto check = [&](int i) {
    NodeInfo* node = nodes[(next_start_node_index_ + i) % num_all];
    if (i + kNodePrefetchDistance < num_all)
      prefetchNodeInfo(nodes[(next_start_node_index_ + i + kNodePrefetchDistance) % num_all]);
    PluginStatus s;
    if (!framework_->hasNominatedPodsFor(pod, *node)) {
      FastFilter verdict = framework_->runFilterPluginsFast(state, pod, *node, &s);
      if (verdict == FastFilter::kPass) {
        feasible_found(node);
        return;
      }
      if (verdict == FastFilter::kReject) {
        std::lock_guard lock(status_mu);
        rejected_fast.push_back(i);
        return;
      }
    } else {
      s = framework_->runFilterPluginsWithNominatedPods(state, pod, *node);
    }
    if (s.code() == Code::kError) {
      std::lock_guard lock(err_mu);
      if (error->isSuccess()) *error = s;
      stop = true;
      return;
    }
    if (s.isSuccess()) {
      feasible_found(node);
    } else {
      std::lock_guard lock(status_mu);
      rejected.emplace_back(i, std::move(s));
    }
  };
  parallelizer_.until(num_all, check, &stop);
  feasible.resize(feasible_len.load());
  int processed = static_cast<int>(feasible.size() + rejected.size() + rejected_fast.size());
  *rejected_count += static_cast<int>(rejected.size() + rejected_fast.size());
  if (feasible.empty()) {
    // The filters are pure over this cycle's state: the full pass gives the
    // statuses the fast one skipped.
    for (int i : rejected_fast) {
      NodeInfo* node = nodes[(next_start_node_index_ + i) % num_all];
      PluginStatus s = framework_->runFilterPlugins(state, pod, *node);
      if (s.code() == Code::kError) {
        if (error->isSuccess()) *error = s;
        return {};
      }
      rejected.emplace_back(i, std::move(s));
    }
    for (auto& [i, st] : rejected) {
      NodeInfo* node = nodes[(next_start_node_index_ + i) % num_all];
      if (!st.plugin().empty()) diag->unschedulable_plugins.insert(st.plugin());
      diag->node_statuses[node->name()] = std::move(st);
    }
  }
  next_start_node_index_ = (next_start_node_index_ + processed) % num_all;
  return feasible;
}

std::string Scheduler::selectHost(const std::vector<NodeInfo*>& nodes,
                                  const std::vector<int64_t>& totals) {
  std::lock_guard lock(rng_mu_);
  size_t selected = 0;
  int count = 0;
  for (size_t i = 0; i < totals.size(); ++i) {
    if (i == 0 || totals[i] > totals[selected]) {
      selected = i;
      count = 1;
    } else if (totals[i] == totals[selected]) {
      ++count;
      if (std::uniform_int_distribution<int>(0, count - 1)(rng_) == 0) selected = i;
    }
  }
  return nodes[selected]->name();
}

Scheduler::ScheduleResult Scheduler::schedulePod(CycleState& state, const PodInfo& pod,
                                                 Diagnosis* diag, PluginStatus* status) {
  ScheduleResult r;
  cache_.updateSnapshot(snapshot_);
  if (snapshot_.numNodes() == 0) {
    *status =
        PluginStatus(Code::kUnschedulableAndUnresolvable, "no nodes available to schedule pods");
    return r;
  }
  PreFilterResult pre;
  PluginStatus s = framework_->runPreFilterPlugins(state, pod, &pre);
  for (const auto& p : pre.plugins) diag->unschedulable_plugins.insert(p);
  if (!s.isSuccess()) {
    if (!s.isRejected()) {
      *status = s;
      return r;
    }
    // Every node carries the PreFilter status, so preemption can weigh it.
    diag->pre_filter_msg = s.message();
    for (NodeInfo* n : snapshot_.list()) diag->node_statuses[n->name()] = s;
    if (!s.plugin().empty()) diag->unschedulable_plugins.insert(s.plugin());
    *status = PluginStatus(Code::kUnschedulable);
    r.fit_error = true;
    return r;
  }
  std::vector<NodeInfo*> feasible;
  // A node nominated by an earlier preemption is likely the only one that
  // fits; try it first.
  if (!pod.nominated_node_name.empty())
    if (NodeInfo* n = snapshot_.get(pod.nominated_node_name)) {
      PluginStatus err;
      Diagnosis scratch;
      int scratch_rejected = 0;
      feasible = findNodesThatPassFilters(state, pod, {n}, &scratch, &err, &scratch_rejected);
      r.evaluated = 1;
    }
  if (feasible.empty()) {
    // All nodes are filtered from the snapshot's own list (no copy).
    std::vector<NodeInfo*> narrowed;
    const std::vector<NodeInfo*>* nodes = &snapshot_.list();
    if (!pre.allNodes()) {
      nodes = &narrowed;
      std::string plugins;
      for (const auto& p : pre.plugins) plugins += (plugins.empty() ? "" : " ") + p;
      PluginStatus absent(Code::kUnschedulableAndUnresolvable,
                          "node(s) didn't satisfy plugin(s) [" + plugins + "]");
      for (NodeInfo* n : snapshot_.list()) {
        if (pre.node_names->count(n->name()))
          narrowed.push_back(n);
        else
          diag->node_statuses[n->name()] = absent;
      }
    }
    PluginStatus err;
    // Nodes a PreFilter result excluded are in diag already.
    int rejected = static_cast<int>(diag->node_statuses.size());
    feasible = findNodesThatPassFilters(state, pod, *nodes, diag, &err, &rejected);
    if (!err.isSuccess()) {
      *status = err;
      return r;
    }
    r.evaluated = static_cast<int>(feasible.size()) + rejected;
  }
  r.feasible = static_cast<int>(feasible.size());
  if (feasible.empty()) {
    *status = PluginStatus(Code::kUnschedulable);
    r.fit_error = true;
    return r;
  }
  if (feasible.size() == 1) {
    r.node = feasible[0]->name();
    return r;
  }
  std::vector<int64_t> totals;
  if (framework_->hasScorePlugins()) {
    s = framework_->runPreScorePlugins(state, pod, feasible);
    if (s.isSuccess()) s = framework_->runScorePluginsTotals(state, pod, feasible, &totals);
    if (!s.isSuccess()) {
      *status = s;
      return r;
    }
  } else {
    totals.assign(feasible.size(), 1);
  }
  r.node = selectHost(feasible, totals);
  return r;
}

CycleOutcome Scheduler::scheduleQueued(const QueuedPodInfoPtr& info) {
  const PodInfoPtr pod = info->pod;
  CycleOutcome out;
  out.pod = pod->key();
  int64_t cycle = queue_->schedulingCycle();
  // skipPodSchedule: a pod being deleted, or one already assumed (an
  // update re-queued it while it is being bound).
  if (pod->terminating || cache_.isAssumedPod(pod->uid)) {
    queue_->done(pod->uid);
    out.kind = CycleOutcome::Kind::kSkipped;
    return out;
  }
  auto state = std::make_shared<CycleState>();
  Diagnosis diag;
  PluginStatus status;
  ScheduleResult r = schedulePod(*state, *pod, &diag, &status);
  out.evaluated_nodes = r.evaluated;
  out.feasible_nodes = r.feasible;
  if (!status.isSuccess()) {
    std::optional<std::string> nominated;
    std::string message = status.message();
    if (r.fit_error) {
      // SchedulePod failed because the pod fits no node: PostFilter
      // (preemption) may make room for a later cycle.
      if (framework_->hasPostFilterPlugins()) {
        PostFilterResult pf;
        PluginStatus ps = framework_->runPostFilterPlugins(*state, *pod, diag.node_statuses, &pf);
        diag.post_filter_msg = ps.message();
        if (ps.code() == Code::kError)
          BERTH_LOG(kWarning, "scheduler")
              << "postfilter error pod=" << pod->key() << " msg=" << ps.message();
        nominated = pf.nominated_node_name;
      }
      message = fitErrorMessage(static_cast<int>(snapshot_.numNodes()), diag);
      info->unschedulable_plugins = diag.unschedulable_plugins;
    } else {
      // No nodes at all, or an error: retried after back-off; a stale
      // nomination is cleared.
      nominated = "";
      info->unschedulable_plugins.clear();
    }
    handleFailure(info, status, message, nominated, cycle);
    out.kind =
        status.isRejected() ? CycleOutcome::Kind::kUnschedulable : CycleOutcome::Kind::kError;
    out.message = message;
    return out;
  }

  // Assume: the pod counts on the node from now on, so the next cycle does
  // not need to wait for the bind.
  PodInfoPtr assumed = withNodeName(*pod, r.node);
  if (Status a = cache_.assumePod(assumed); !a.ok()) {
    PluginStatus err = PluginStatus::error(a.error().message);
    handleFailure(info, err, err.message(), "", cycle);
    out.kind = CycleOutcome::Kind::kError;
    out.message = err.message();
    return out;
  }
  nominator_.remove(pod->uid);
  auto reject = [&](const PluginStatus& s) {
    framework_->runReservePluginsUnreserve(*state, *assumed, r.node);
    if (Status f = cache_.forgetPod(assumed); !f.ok())
      BERTH_LOG(kWarning, "scheduler")
          << "forget failed pod=" << pod->key() << " err=" << f.error().message;
    std::string message = s.message();
    if (s.isRejected()) {
      // Reported as a fit error on the one node it was meant for.
      message = fitErrorMessage(1, "", {{r.node, s}}, "");
      info->unschedulable_plugins = {s.plugin()};
    }
    handleFailure(info, s, message, std::nullopt, cycle);
    out.kind = s.isRejected() ? CycleOutcome::Kind::kUnschedulable : CycleOutcome::Kind::kError;
    out.message = message;
  };
  PluginStatus rs = framework_->runReservePluginsReserve(*state, *assumed, r.node);
  if (!rs.isSuccess()) {
    reject(rs);
    return out;
  }
  PluginStatus ps = framework_->runPermitPlugins(*state, *assumed, r.node);
  if (!ps.isSuccess() && !ps.isWait()) {
    reject(ps);
    return out;
  }
  out.kind = CycleOutcome::Kind::kScheduled;
  out.node = r.node;
  auto task = std::make_shared<BindTask>();
  task->state = state;
  task->info = info;
  task->assumed = assumed;
  task->node = r.node;
  task->cycle = cycle;
  submit([this, task] { runBindingCycle(task); });
  return out;
}

void Scheduler::runBindingCycle(std::shared_ptr<BindTask> task) {
  const PodInfo& pod = *task->assumed;
  PluginStatus s = framework_->waitOnPermit(pod);
  if (!s.isSuccess()) {
    handleBindingFailure(task, s);
    return;
  }
  s = framework_->runBindPlugins(*task->state, pod, task->node);
  if (!s.isSuccess()) {
    handleBindingFailure(task, s);
    return;
  }
  cache_.finishBinding(pod.uid);
  ++scheduled_;
  if (pod.object)
    recorder_.record(*pod.object, "Normal", "Scheduled",
                     "Successfully assigned " + pod.ns + "/" + pod.name + " to " + task->node);
  queue_->done(pod.uid);
}

void Scheduler::handleBindingFailure(const std::shared_ptr<BindTask>& task,
                                     const PluginStatus& status) {
  ++bind_failures_;
  const PodInfoPtr& assumed = task->assumed;
  framework_->runReservePluginsUnreserve(*task->state, *assumed, task->node);
  if (Status f = cache_.forgetPod(assumed); !f.ok())
    BERTH_LOG(kWarning, "scheduler")
        << "forget failed pod=" << assumed->key() << " err=" << f.error().message;
  // The assumed pod's resources are free again: other pods may fit now
  // (the pod itself is excluded when it was rejected).
  std::string uid = assumed->uid;
  bool rejected = status.isRejected();
  queue_->moveAllToActiveOrBackoffQueue(
      {EventResource::kPod, kDelete, "AssignedPodDelete"},
      [&](const PodInfo& p) { return !rejected || p.uid != uid; });
  std::string message = status.message();
  if (rejected) {
    message = fitErrorMessage(1, "", {{task->node, status}}, "");
    task->info->unschedulable_plugins = {status.plugin()};
  } else {
    task->info->unschedulable_plugins.clear();
  }
  BERTH_LOG(kInfo, "scheduler") << "binding failed pod=" << assumed->key() << " node=" << task->node
                                << " err=" << message;
  handleFailure(task->info, status, message, std::nullopt, task->cycle);
}

void Scheduler::handleFailure(const QueuedPodInfoPtr& info, const PluginStatus& status,
                              const std::string& message, std::optional<std::string> nominated_node,
                              int64_t cycle) {
  const PodInfoPtr pod = info->pod;
  std::string reason = status.isRejected() ? "Unschedulable" : "SchedulerError";
  client::ObjectPtr latest = pods_.get(pod->ns, pod->name);
  PodInfoPtr current = pod;
  if (!latest || api::uid(*latest) != pod->uid) {
    // Deleted meanwhile: nothing to requeue or report.
    queue_->done(pod->uid);
    nominator_.remove(pod->uid);
    return;
  }
  current = makePodInfo(latest);
  if (!current->node_name.empty()) {
    // Bound by someone else (or our bind went through after all).
    queue_->done(pod->uid);
    return;
  }
  info->pod = current;
  queue_->addUnschedulableIfNotPresent(info, cycle);
  // Keep the queue's nominations in step without waiting for the status
  // update to come back through the informer.
  nominator_.add(current, nominated_node ? *nominated_node : current->nominated_node_name);
  recorder_.record(*current->object, "Warning", "FailedScheduling", truncateMessage(message));
  submit([this, current, reason, message, nominated_node] {
    updatePodStatus(*current, reason, message, nominated_node);
  });
}

void Scheduler::updatePodStatus(const PodInfo& pod, const std::string& reason,
                                const std::string& message,
                                const std::optional<std::string>& nominated_node) {
  namespace json = boost::json;
  // podutil.UpdatePodCondition: write only when something changed; the
  // transition time moves only when the status does.
  std::string transition = formatRfc3339(clock_.now());
  bool condition_changed = true;
  if (const json::array* conds = api::arrAt(*pod.object, {"status", "conditions"}))
    for (const auto& c : *conds) {
      const json::object* co = api::asObj(&c);
      if (!co || api::strAt(*co, {"type"}) != "PodScheduled") continue;
      if (api::strAt(*co, {"status"}) == "False") {
        std::string old_transition = api::strAt(*co, {"lastTransitionTime"});
        if (!old_transition.empty()) transition = old_transition;
        condition_changed =
            api::strAt(*co, {"reason"}) != reason || api::strAt(*co, {"message"}) != message;
      }
    }
  bool nnn_changed = nominated_node && *nominated_node != pod.nominated_node_name;
  if (!condition_changed && !nnn_changed) return;
  json::object st;
  st["conditions"] = json::array{json::object{{"type", "PodScheduled"},
                                              {"status", "False"},
                                              {"lastProbeTime", nullptr},
                                              {"lastTransitionTime", transition},
                                              {"reason", reason},
                                              {"message", message}}};
  if (nnn_changed) {
    if (nominated_node->empty())
      st["nominatedNodeName"] = nullptr;
    else
      st["nominatedNodeName"] = *nominated_node;
  }
  static const api::KindInfo& pods = client::kind("", "Pod");
  auto r = client_.patch(pods, pod.ns, pod.name, client::PatchType::kStrategic,
                         json::serialize(json::object{{"status", std::move(st)}}),
                         client::Subresource::kStatus);
  if (!r.ok() && r.error().code != ErrorCode::kNotFound)
    BERTH_LOG(kWarning, "scheduler")
        << "pod status update failed pod=" << pod.key() << " err=" << r.error().message;
}

}  // namespace berth::scheduler
