#pragma once

// The scheduling framework's seams, after upstream's
// pkg/scheduler/framework/interface.go: a plugin implements one or more
// extension points (PreFilter, Filter, PostFilter, PreScore, Score with
// NormalizeScore, Reserve/Unreserve, Permit, Bind); the Framework
// (framework_runtime.h) runs the enabled plugins of a profile at each point.
// Plugins are created by the registry function in registry.h, never by
// static registration.

#include <cassert>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "scheduler/node_info.h"

namespace berth {
class Clock;
namespace client {
class Client;
class EventRecorder;
}  // namespace client
}  // namespace berth

namespace berth::scheduler {

class Framework;
class Nominator;
class Parallelizer;

inline constexpr int64_t kMaxNodeScore = 100;
inline constexpr int64_t kMinNodeScore = 0;

// framework.Code.
enum class Code { kSuccess, kError, kUnschedulable, kUnschedulableAndUnresolvable, kWait, kSkip };

// framework.Status: a code, the reasons (shown to users, counted in the
// "0/N nodes are available" summary) and the plugin that returned it.
class PluginStatus {
 public:
  PluginStatus() = default;
  explicit PluginStatus(Code code, std::vector<std::string> reasons = {})
      : code_(code), reasons_(std::move(reasons)) {}
  PluginStatus(Code code, std::string reason) : code_(code), reasons_{std::move(reason)} {}
  static PluginStatus error(std::string message) {
    return PluginStatus(Code::kError, std::move(message));
  }

  Code code() const { return code_; }
  bool isSuccess() const { return code_ == Code::kSuccess; }
  bool isSkip() const { return code_ == Code::kSkip; }
  bool isWait() const { return code_ == Code::kWait; }
  // Unschedulable or UnschedulableAndUnresolvable (Status.IsRejected).
  bool isRejected() const {
    return code_ == Code::kUnschedulable || code_ == Code::kUnschedulableAndUnresolvable;
  }
  const std::vector<std::string>& reasons() const { return reasons_; }
  // The reasons joined by ", " (Status.Message).
  std::string message() const;
  const std::string& plugin() const { return plugin_; }
  PluginStatus& withPlugin(std::string plugin) {
    plugin_ = std::move(plugin);
    return *this;
  }

 private:
  Code code_ = Code::kSuccess;
  std::vector<std::string> reasons_;
  std::string plugin_;
};

// framework.StateData / CycleState: data a plugin computes once per cycle
// (PreFilter, PreScore) and reads per node. Written only from the scheduling
// thread before the parallel per-node phases, so reads need no lock.
// Clone() deep-copies what PreFilter extensions (AddPod/RemovePod) change.
class StateData {
 public:
  virtual ~StateData() = default;
  virtual std::shared_ptr<StateData> clone() const = 0;
};

class CycleState {
 public:
  void write(const std::string& key, std::shared_ptr<StateData> data) {
    for (auto& [k, v] : data_)
      if (k == key) {
        v = std::move(data);
        return;
      }
    data_.emplace_back(key, std::move(data));
  }
  // A linear scan: a cycle holds a handful of keys of different lengths, and
  // Filter / Score read them once per node.
  StateData* read(const std::string& key) const {
    for (const auto& [k, v] : data_)
      if (k == key) return v.get();
    return nullptr;
  }
  // Keys belong to the plugin that writes them, so the type is known; a
  // dynamic_cast per node and plugin was measurable at 5,000 nodes.
  template <class T>
  T* readAs(const std::string& key) const {
    StateData* data = read(key);
    assert(!data || dynamic_cast<T*>(data));
    return static_cast<T*>(data);
  }
  CycleState clone() const;

  // Plugins whose PreFilter / PreScore returned Skip this cycle.
  std::set<std::string, std::less<>> skip_filter_plugins;
  std::set<std::string, std::less<>> skip_score_plugins;
  // The same as a bit per filter plugin (by the framework's plugin order),
  // so that the per-node filter loop does no string lookups.
  uint64_t skip_filter_mask = 0;

 private:
  std::vector<std::pair<std::string, std::shared_ptr<StateData>>> data_;
};

// framework.PreFilterResult: the only nodes worth filtering (e.g. NodeAffinity
// with matchFields metadata.name); nullopt = all nodes.
struct PreFilterResult {
  std::optional<std::set<std::string>> node_names;
  // The plugins that narrowed the node set (for the "didn't satisfy plugin(s)" reason).
  std::vector<std::string> plugins;
  // Intersection of two results (PreFilterResult.Merge).
  void merge(const PreFilterResult& other);
  bool allNodes() const { return !node_names.has_value(); }
};

// Per node filter outcome of a failed cycle (NodeToStatusMap) and the
// diagnosis of a fit error.
using NodeStatusMap = std::unordered_map<std::string, PluginStatus>;

struct NodeScore {
  // The NodeInfo's name: valid for the scheduling cycle (a copy per node
  // and normalizing plugin cost more than the normalizing).
  std::string_view name;
  int64_t score = 0;
};
using NodeScoreList = std::vector<NodeScore>;

// framework.PostFilterResult: the node a preemptor was nominated to ("" clears
// a previous nomination; nullopt leaves it).
struct PostFilterResult {
  std::optional<std::string> nominated_node_name;
};

// Cluster events that may make a rejected pod schedulable (framework.ClusterEvent).
enum class EventResource { kPod, kNode, kWildcard };
enum ActionType : uint32_t {
  kAdd = 1u << 0,
  kDelete = 1u << 1,
  kUpdateNodeAllocatable = 1u << 2,
  kUpdateNodeLabel = 1u << 3,
  kUpdateNodeTaint = 1u << 4,
  kUpdateNodeCondition = 1u << 5,
  kUpdateNodeAnnotation = 1u << 6,
  kUpdatePodLabel = 1u << 7,
  kUpdatePodOther = 1u << 8,
  kUpdate = kUpdateNodeAllocatable | kUpdateNodeLabel | kUpdateNodeTaint | kUpdateNodeCondition |
            kUpdateNodeAnnotation | kUpdatePodLabel | kUpdatePodOther,
  kAllActions = kAdd | kDelete | kUpdate,
};

struct ClusterEvent {
  EventResource resource = EventResource::kWildcard;
  uint32_t actions = kAllActions;
  std::string label;  // for logs, e.g. "NodeAdd", "AssignedPodDelete"
  // Does a plugin's registered event `this` cover the event `e` that happened?
  bool covers(const ClusterEvent& e) const {
    return (resource == EventResource::kWildcard || resource == e.resource) &&
           (actions & e.actions) != 0;
  }
};

// What plugins reach beyond their arguments (framework.Handle): the cycle's
// snapshot, the parallelizer, the API client, the running framework (for
// preemption's filter re-runs), nominated pods and a few listers. Owned by
// the Scheduler; tests fill in what the plugin under test needs.
struct Handle {
  const Snapshot* snapshot = nullptr;
  Parallelizer* parallelizer = nullptr;
  client::Client* client = nullptr;
  client::EventRecorder* recorder = nullptr;
  Clock* clock = nullptr;
  Framework* framework = nullptr;
  Nominator* nominator = nullptr;
  std::string scheduler_name = "default-scheduler";
  // Labels of a namespace (namespaceSelector in affinity terms); empty when unknown.
  std::function<LabelMap(const std::string& ns)> namespace_labels;
  // Names of the namespaces whose labels match a selector.
  std::function<std::vector<std::string>(const api::LabelSelector& sel)> namespaces_matching;
  // policy/v1 PodDisruptionBudgets, for preemption; empty = none.
  std::function<std::vector<ObjectPtr>()> pdbs;
  // Random numbers (preemption's candidate offset); seeded by the scheduler.
  std::function<uint64_t()> random;
};

class Plugin {
 public:
  virtual ~Plugin() = default;
  virtual std::string_view name() const = 0;
  // EnqueueExtensions.EventsToRegister: events after which a pod this plugin
  // rejected is worth retrying.
  virtual std::vector<ClusterEvent> eventsToRegister() const { return {}; }
};

class PreFilterPlugin : public virtual Plugin {
 public:
  // May narrow the nodes (result) and store state for Filter. Skip disables
  // this plugin's Filter for the cycle.
  virtual PluginStatus preFilter(CycleState& state, const PodInfo& pod,
                                 PreFilterResult* result) = 0;
  // PreFilterExtensions: keep the state right when preemption or nominated
  // pods add / remove a pod on a cloned NodeInfo.
  virtual bool hasPreFilterExtensions() const { return false; }
  virtual PluginStatus addPod(CycleState&, const PodInfo& /*to_schedule*/,
                              const PodInfoPtr& /*to_add*/, const NodeInfo&) {
    return {};
  }
  virtual PluginStatus removePod(CycleState&, const PodInfo& /*to_schedule*/,
                                 const PodInfoPtr& /*to_remove*/, const NodeInfo&) {
    return {};
  }
};

// A filter's answer without its reasons: most cycles only count rejected
// nodes, and building a rejection's status (reason strings, plugin name)
// per node cost more than the check itself when most nodes are full
// (MostAllocated packing).
enum class FastFilter { kPass, kReject, kUnknown };

class FilterPlugin : public virtual Plugin {
 public:
  // Called concurrently for different nodes; must only read `state`.
  virtual PluginStatus filter(const CycleState& state, const PodInfo& pod,
                              const NodeInfo& node) const = 0;
  // The same verdict as filter() where it can be told without allocating;
  // kUnknown makes the framework call filter(). Must agree with filter():
  // kReject exactly when filter() rejects.
  virtual FastFilter filterFast(const CycleState&, const PodInfo&, const NodeInfo&) const {
    return FastFilter::kUnknown;
  }
};

class PostFilterPlugin : public virtual Plugin {
 public:
  virtual PluginStatus postFilter(CycleState& state, const PodInfo& pod,
                                  const NodeStatusMap& statuses, PostFilterResult* result) = 0;
};

class PreScorePlugin : public virtual Plugin {
 public:
  // `nodes` are the feasible nodes. Skip disables this plugin's Score.
  virtual PluginStatus preScore(CycleState& state, const PodInfo& pod,
                                const std::vector<NodeInfo*>& nodes) = 0;
};

class ScorePlugin : public virtual Plugin {
 public:
  // Called concurrently for different nodes; a score in [0, 100] unless
  // NormalizeScore maps it there.
  virtual PluginStatus score(const CycleState& state, const PodInfo& pod, const NodeInfo& node,
                             int64_t* score) const = 0;
  virtual bool hasNormalizeScore() const { return false; }
  virtual PluginStatus normalizeScore(const CycleState&, const PodInfo&, NodeScoreList&) const {
    return {};
  }
};

class ReservePlugin : public virtual Plugin {
 public:
  virtual PluginStatus reserve(CycleState& state, const PodInfo& pod, const std::string& node) = 0;
  virtual void unreserve(CycleState& state, const PodInfo& pod, const std::string& node) = 0;
};

class PermitPlugin : public virtual Plugin {
 public:
  // Success, a rejection, or Wait with *timeout set (the binding cycle then
  // waits until Framework::allowWaitingPod / rejectWaitingPod or the timeout).
  virtual PluginStatus permit(CycleState& state, const PodInfo& pod, const std::string& node,
                              std::chrono::milliseconds* timeout) = 0;
};

class BindPlugin : public virtual Plugin {
 public:
  // Skip hands the pod to the next bind plugin.
  virtual PluginStatus bind(CycleState& state, const PodInfo& pod, const std::string& node) = 0;
};

// NormalizeScore helper (helper.DefaultNormalizeScore): scales scores to
// [0, max_priority] by the highest one; `reverse` flips them.
void defaultNormalizeScore(int64_t max_priority, bool reverse, NodeScoreList& scores);

}  // namespace berth::scheduler
