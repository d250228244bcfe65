// DefaultPreemption, after upstream's defaultpreemption plugin and the
// preemption.Evaluator: when no node fits, find nodes where evicting pods of
// lower priority makes the pod fit (dry runs on cloned NodeInfos with the
// filters), pick the candidate that hurts least, delete its victims and
// nominate the pod to that node.

#include <algorithm>
#include <climits>
#include <mutex>

#include "api/kinds/access.h"
#include "api/object.h"
#include "client/client.h"
#include "client/event_recorder.h"
#include "common/clock.h"
#include "common/log.h"
#include "scheduler/fit_error.h"
#include "scheduler/framework_runtime.h"
#include "scheduler/nominator.h"
#include "scheduler/parallel.h"
#include "scheduler/plugins/plugins.h"

namespace berth::scheduler {

using client::PatchType;
using client::Subresource;

namespace {

struct Candidate {
  std::string node;
  std::vector<PodInfoPtr> victims;  // most important first
  int num_pdb_violations = 0;
};

struct Pdb {
  std::string ns;
  api::LabelSelector selector;
  int64_t disruptions_allowed = 0;
  std::set<std::string> disrupted_pods;
};

std::vector<Pdb> parsePdbs(const std::vector<ObjectPtr>& objects) {
  std::vector<Pdb> out;
  for (const auto& o : objects) {
    if (!o) continue;
    auto sel = api::LabelSelector::fromObject(api::at(*o, {"spec", "selector"}));
    // An invalid selector matches no pod.
    if (!sel.ok()) continue;
    Pdb p;
    p.ns = api::strAt(*o, {"metadata", "namespace"});
    p.selector = std::move(sel.value());
    p.disruptions_allowed = api::intAt(*o, {"status", "disruptionsAllowed"}).value_or(0);
    if (const auto* d = api::objAt(*o, {"status", "disruptedPods"}))
      for (const auto& [name, t] : *d) p.disrupted_pods.insert(std::string(name));
    out.push_back(std::move(p));
  }
  return out;
}

// filterPodsWithPDBViolation: a pod whose eviction takes a matching budget
// below zero is violating. Pods listed in disruptedPods were already counted.
void splitByPdbViolation(const std::vector<PodInfoPtr>& pods, const std::vector<Pdb>& pdbs,
                         std::vector<PodInfoPtr>* violating,
                         std::vector<PodInfoPtr>* non_violating) {
  std::vector<int64_t> allowed;
  for (const auto& p : pdbs) allowed.push_back(p.disruptions_allowed);
  for (const auto& pod : pods) {
    bool violated = false;
    if (!pod->labels.empty())
      for (size_t i = 0; i < pdbs.size(); ++i) {
        if (pdbs[i].ns != pod->ns) continue;
        if (pdbs[i].selector.empty() || !pdbs[i].selector.matches(pod->labels)) continue;
        if (pdbs[i].disrupted_pods.count(pod->name)) continue;
        if (--allowed[i] < 0) violated = true;
      }
    (violated ? violating : non_violating)->push_back(pod);
  }
}

class DefaultPreemption final : public PostFilterPlugin {
 public:
  DefaultPreemption(const DefaultPreemptionArgs& args, Handle& handle)
      : args_(args), handle_(handle) {}
  std::string_view name() const override { return kDefaultPreemption; }

  PluginStatus postFilter(CycleState& state, const PodInfo& pod, const NodeStatusMap& statuses,
                          PostFilterResult* result) override {
    PluginStatus s = preempt(state, pod, statuses, result);
    std::string msg = s.message();
    if (!msg.empty()) return PluginStatus(s.code(), "preemption: " + msg);
    return s;
  }

 private:
  PluginStatus preempt(CycleState& state, const PodInfo& pod, const NodeStatusMap& statuses,
                       PostFilterResult* result) {
    auto nominated_status = statuses.find(pod.nominated_node_name);
    std::string msg;
    if (!eligible(pod, nominated_status == statuses.end() ? nullptr : &nominated_status->second,
                  &msg))
      return PluginStatus(Code::kUnschedulable, msg);

    // Preemption only helps on nodes a filter rejected as Unschedulable
    // (nodesWherePreemptionMightHelp).
    const Snapshot& snap = *handle_.snapshot;
    if (snap.numNodes() == 0) return PluginStatus::error("no nodes available");
    std::vector<NodeInfo*> potential;
    NodeStatusMap node_statuses;
    for (NodeInfo* n : snap.list()) {
      auto it = statuses.find(n->name());
      if (it != statuses.end() && it->second.code() == Code::kUnschedulable)
        potential.push_back(n);
      else
        node_statuses[n->name()] = PluginStatus(Code::kUnschedulableAndUnresolvable,
                                                "Preemption is not helpful for scheduling");
    }
    std::vector<Candidate> candidates;
    if (!potential.empty()) {
      candidates = dryRun(state, pod, potential, &node_statuses);
    } else if (!pod.nominated_node_name.empty()) {
      clearNominatedNodeName(*pod.object);
    }
    if (candidates.empty()) {
      if (result) result->nominated_node_name = "";
      return PluginStatus(
          Code::kUnschedulable,
          fitErrorMessage(static_cast<int>(node_statuses.size()), {}, node_statuses, ""));
    }
    const Candidate& best = selectCandidate(candidates);
    PluginStatus prepared = prepareCandidate(best, pod);
    if (!prepared.isSuccess()) return prepared;
    if (result) result->nominated_node_name = best.node;
    return {};
  }

  // PodEligibleToPreemptOthers.
  bool eligible(const PodInfo& pod, const PluginStatus* nominated_status, std::string* msg) const {
    if (pod.preempt_never) {
      *msg = "not eligible due to preemptionPolicy=Never.";
      return false;
    }
    if (pod.nominated_node_name.empty()) return true;
    // A nominated node the filters now call unresolvable is worth preempting again.
    if (nominated_status && nominated_status->code() == Code::kUnschedulableAndUnresolvable)
      return true;
    if (NodeInfo* n = handle_.snapshot->get(pod.nominated_node_name))
      for (const auto& p : n->pods())
        if (p->priority < pod.priority && p->terminating && p->disruption_by_preemption) {
          *msg = "not eligible due to a terminating pod on the nominated node.";
          return false;
        }
    return true;
  }

  // DryRunPreemption over the potential nodes from a random offset, until
  // enough candidates (GetOffsetAndNumCandidates) are found.
  std::vector<Candidate> dryRun(CycleState& state, const PodInfo& pod,
                                const std::vector<NodeInfo*>& potential,
                                NodeStatusMap* node_statuses) {
    int n = static_cast<int>(potential.size());
    int num_candidates = std::max<int>(n * args_.min_candidate_nodes_percentage / 100,
                                       args_.min_candidate_nodes_absolute);
    num_candidates = std::min(num_candidates, n);
    int offset = handle_.random ? static_cast<int>(handle_.random() % static_cast<uint64_t>(n)) : 0;
    std::vector<Pdb> pdbs = parsePdbs(handle_.pdbs ? handle_.pdbs() : std::vector<ObjectPtr>{});
    std::mutex mu;
    std::vector<Candidate> non_violating, violating;
    std::atomic<bool> stop{false};
    auto check = [&](int i) {
      NodeInfoPtr node = potential[(offset + i) % n]->clone();
      CycleState state_copy = state.clone();
      Candidate c;
      c.node = node->name();
      PluginStatus s = selectVictimsOnNode(state_copy, pod, *node, pdbs, &c);
      std::lock_guard lock(mu);
      if (s.isSuccess() && !c.victims.empty()) {
        (c.num_pdb_violations == 0 ? non_violating : violating).push_back(std::move(c));
        if (!non_violating.empty() &&
            static_cast<int>(non_violating.size() + violating.size()) >= num_candidates)
          stop = true;
        return;
      }
      if (s.isSuccess())
        s = PluginStatus::error("expected at least one victim pod on node \"" + c.node + "\"");
      (*node_statuses)[c.node] = s;
    };
    if (handle_.parallelizer)
      handle_.parallelizer->until(n, check, &stop);
    else
      for (int i = 0; i < n && !stop; ++i) check(i);
    for (auto& c : violating) non_violating.push_back(std::move(c));
    return non_violating;
  }

  // SelectVictimsOnNode: remove every lower-priority pod; if the pod then
  // fits, add them back one by one, most important first (PDB-violating ones
  // before the rest), keeping those that still let the pod fit.
  PluginStatus selectVictimsOnNode(CycleState& state, const PodInfo& pod, NodeInfo& node,
                                   const std::vector<Pdb>& pdbs, Candidate* out) {
    Framework& fw = *handle_.framework;
    std::vector<PodInfoPtr> potential;
    for (const auto& p : node.pods())
      if (p->priority < pod.priority) potential.push_back(p);
    if (potential.empty())
      return PluginStatus(Code::kUnschedulableAndUnresolvable,
                          "No preemption victims found for incoming pod");
    for (const auto& p : potential) {
      node.removePod(p->uid);
      PluginStatus s = fw.runPreFilterExtensionRemovePod(state, pod, p, node);
      if (!s.isSuccess()) return s;
    }
    PluginStatus fits = fw.runFilterPluginsWithNominatedPods(state, pod, node);
    if (!fits.isSuccess()) return fits;
    std::sort(potential.begin(), potential.end(),
              [](const PodInfoPtr& a, const PodInfoPtr& b) { return moreImportantPod(*a, *b); });
    std::vector<PodInfoPtr> violating, non_violating;
    splitByPdbViolation(potential, pdbs, &violating, &non_violating);
    auto reprieve = [&](const PodInfoPtr& p, bool* fit) -> PluginStatus {
      node.addPod(p);
      PluginStatus s = fw.runPreFilterExtensionAddPod(state, pod, p, node);
      if (!s.isSuccess()) return s;
      *fit = fw.runFilterPluginsWithNominatedPods(state, pod, node).isSuccess();
      if (!*fit) {
        node.removePod(p->uid);
        s = fw.runPreFilterExtensionRemovePod(state, pod, p, node);
        if (!s.isSuccess()) return s;
        out->victims.push_back(p);
      }
      return {};
    };
    for (const auto& p : violating) {
      bool fit = false;
      PluginStatus s = reprieve(p, &fit);
      if (!s.isSuccess()) return s;
      if (!fit) ++out->num_pdb_violations;
    }
    for (const auto& p : non_violating) {
      bool fit = false;
      PluginStatus s = reprieve(p, &fit);
      if (!s.isSuccess()) return s;
    }
    std::sort(out->victims.begin(), out->victims.end(),
              [](const PodInfoPtr& a, const PodInfoPtr& b) { return moreImportantPod(*a, *b); });
    return {};
  }

  // pickOneNodeForPreemption: fewest PDB violations, then the lowest
  // highest-priority victim, the smallest priority sum, the fewest victims,
  // the latest start of the highest-priority victims; then the first.
  const Candidate& selectCandidate(const std::vector<Candidate>& candidates) const {
    std::vector<const Candidate*> all;
    for (const auto& c : candidates) all.push_back(&c);
    auto earliest_top_start = [](const Candidate& c) {
      int32_t top = c.victims.front()->priority;
      TimePoint earliest = TimePoint::max();
      for (const auto& v : c.victims)
        if (v->priority == top) earliest = std::min(earliest, v->startTimeOrMax());
      return static_cast<int64_t>(earliest.time_since_epoch().count());
    };
    std::vector<std::function<int64_t(const Candidate&)>> score_funcs = {
        [](const Candidate& c) { return -static_cast<int64_t>(c.num_pdb_violations); },
        [](const Candidate& c) { return -static_cast<int64_t>(c.victims.front()->priority); },
        [](const Candidate& c) {
          int64_t sum = 0;
          for (const auto& v : c.victims)
            sum += static_cast<int64_t>(v->priority) + int64_t{INT32_MAX} + 1;
          return -sum;
        },
        [](const Candidate& c) { return -static_cast<int64_t>(c.victims.size()); },
        earliest_top_start,
    };
    for (const auto& f : score_funcs) {
      std::vector<const Candidate*> selected;
      int64_t max_score = INT64_MIN;
      for (const Candidate* c : all) {
        int64_t s = f(*c);
        if (s > max_score) {
          max_score = s;
          selected.clear();
        }
        if (s == max_score) selected.push_back(c);
      }
      if (selected.size() == 1) return *selected[0];
      all = std::move(selected);
    }
    return *all[0];
  }

  // prepareCandidate: mark and delete the victims, record Preempted events,
  // and clear the nominations of lower-priority pods on the node.
  PluginStatus prepareCandidate(const Candidate& c, const PodInfo& pod) {
    static const api::KindInfo& pods = client::kind("", "Pod");
    for (const auto& victim : c.victims) {
      if (handle_.framework && handle_.framework->rejectWaitingPod(victim->uid, "preempted")) {
        // A pod waiting on Permit is rejected instead of deleted.
      } else if (handle_.client) {
        std::string cond_msg =
            pod.scheduler_name + ": preempting to accommodate a higher priority pod";
        boost::json::object patch{
            {"status",
             boost::json::object{
                 {"conditions",
                  boost::json::array{boost::json::object{
                      {"type", "DisruptionTarget"},
                      {"status", "True"},
                      {"reason", "PreemptionByScheduler"},
                      {"message", cond_msg},
                      {"lastTransitionTime",
                       formatRfc3339(handle_.clock ? handle_.clock->now()
                                                   : std::chrono::system_clock::now())}}}}}}};
        auto pr = handle_.client->patch(pods, victim->ns, victim->name, PatchType::kStrategic,
                                        boost::json::serialize(patch), Subresource::kStatus);
        if (!pr.ok() && pr.error().code != ErrorCode::kNotFound)
          return PluginStatus::error(pr.error().message);
        auto r = handle_.client->remove(pods, victim->ns, victim->name);
        if (!r.ok() && r.error().code != ErrorCode::kNotFound)
          return PluginStatus::error(r.error().message);
      }
      if (handle_.recorder && victim->object)
        handle_.recorder->record(*victim->object, "Normal", "Preempted",
                                 "Preempted by pod " + pod.uid + " on node " + c.node);
    }
    if (handle_.nominator)
      for (const auto& p : handle_.nominator->podsForNode(c.node))
        if (p->priority < pod.priority && p->uid != pod.uid && p->object) {
          handle_.nominator->remove(p->uid);
          clearNominatedNodeName(*p->object);
        }
    return {};
  }

  void clearNominatedNodeName(const api::Object& pod) {
    if (!handle_.client) return;
    static const api::KindInfo& pods = client::kind("", "Pod");
    auto r =
        handle_.client->patch(pods, api::namespaceOf(pod), api::name(pod), PatchType::kMerge,
                              R"({"status":{"nominatedNodeName":null}})", Subresource::kStatus);
    if (!r.ok())
      BERTH_LOG(kWarning, "scheduler") << "clear nominatedNodeName failed pod=" << api::name(pod)
                                       << " err=" << r.error().message;
  }

  DefaultPreemptionArgs args_;
  Handle& handle_;
};

}  // namespace

std::shared_ptr<Plugin> newDefaultPreemption(const ProfileConfig& config, Handle& handle) {
  return std::make_shared<DefaultPreemption>(config.preemption, handle);
}

}  // namespace berth::scheduler
