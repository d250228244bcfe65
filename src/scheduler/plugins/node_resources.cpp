// NodeResourcesFit (filter + LeastAllocated / MostAllocated score) and
// NodeResourcesBalancedAllocation, after upstream's noderesources package.

#include <algorithm>
#include <cmath>
#include <string_view>

#include "scheduler/plugins/plugins.h"

namespace berth::scheduler {

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The pod's request for one resource as the allocation scorers count it
// (calculatePodResourceRequest): with the scheduler's cpu / memory defaults
// for containers without requests unless `use_requested`.
int64_t podRequestFor(const PodInfo& pod, const std::string& name, bool use_requested) {
  const PodResources& r = pod.resources;
  if (name == "cpu") return use_requested ? r.requests.milli_cpu : r.non0_milli_cpu;
  if (name == "memory") return use_requested ? r.requests.memory : r.non0_memory;
  if (name == "ephemeral-storage") return r.requests.ephemeral_storage;
  return r.requests.scalar(name);
}

// noderesources.fitsRequest's checks: calls short_of(resource, requested,
// used, capacity) for each resource the pod would overcommit on the node
// (pods first, then cpu, memory, ephemeral-storage and scalars by name)
// until it returns false. Shared by fitsRequest (every shortfall, with
// reasons) and the filter's fast path (the first one, nothing allocated).
template <class ShortOf>
void forEachShortfall(const Resource& req, const NodeInfo& node,
                      const std::vector<std::string>& ignored_resources,
                      const std::vector<std::string>& ignored_groups, ShortOf short_of) {
  const Resource& alloc = node.allocatable();
  const Resource& used = node.requested();
  int64_t pods = static_cast<int64_t>(node.pods().size());
  if (pods + 1 > alloc.allowed_pod_number && !short_of("pods", 1, pods, alloc.allowed_pod_number))
    return;
  if (req.isEmptyRequest()) return;
  if (req.milli_cpu > 0 && req.milli_cpu > alloc.milli_cpu - used.milli_cpu &&
      !short_of("cpu", req.milli_cpu, used.milli_cpu, alloc.milli_cpu))
    return;
  if (req.memory > 0 && req.memory > alloc.memory - used.memory &&
      !short_of("memory", req.memory, used.memory, alloc.memory))
    return;
  if (req.ephemeral_storage > 0 &&
      req.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage &&
      !short_of("ephemeral-storage", req.ephemeral_storage, used.ephemeral_storage,
                alloc.ephemeral_storage))
    return;
  for (const auto& [name, q] : req.scalars) {
    if (q == 0) continue;
    // Ignored resources / groups only apply to extended resources.
    bool extended =
        name.find('/') != std::string::npos && name.find("kubernetes.io/") == std::string::npos;
    if (extended) {
      if (contains(ignored_resources, name)) continue;
      if (contains(ignored_groups, name.substr(0, name.find('/')))) continue;
    }
    if (q > alloc.scalar(name) - used.scalar(name) &&
        !short_of(name, q, used.scalar(name), alloc.scalar(name)))
      return;
  }
}

// A configured scoring resource, its kind resolved once: the scorers run
// for every feasible node of every pod and compared names each time.
struct ScoredResource {
  enum class Slot { kCpu, kMemory, kEphemeralStorage, kScalar, kOther } slot;
  std::string name;
};

std::vector<ScoredResource> resolveResources(const std::vector<ResourceWeight>& specs) {
  std::vector<ScoredResource> out;
  for (const auto& r : specs) {
    using Slot = ScoredResource::Slot;
    Slot slot = r.name == "cpu"                 ? Slot::kCpu
                : r.name == "memory"            ? Slot::kMemory
                : r.name == "ephemeral-storage" ? Slot::kEphemeralStorage
                : isScalarResourceName(r.name)  ? Slot::kScalar
                                                : Slot::kOther;
    out.push_back({slot, r.name});
  }
  return out;
}

// resourceAllocationScorer.calculateResourceAllocatableRequest: (allocatable,
// requested incl. the pod); (0, 0) skips the resource.
std::pair<int64_t, int64_t> allocatableAndRequested(const NodeInfo& node, const ScoredResource& r,
                                                    int64_t pod_request, bool use_requested) {
  using Slot = ScoredResource::Slot;
  const Resource& requested = use_requested ? node.requested() : node.nonZeroRequested();
  switch (r.slot) {
    case Slot::kCpu:
      return {node.allocatable().milli_cpu, requested.milli_cpu + pod_request};
    case Slot::kMemory:
      return {node.allocatable().memory, requested.memory + pod_request};
    case Slot::kEphemeralStorage:
      return {node.allocatable().ephemeral_storage,
              node.requested().ephemeral_storage + pod_request};
    case Slot::kScalar:
      if (pod_request == 0) return {0, 0};
      break;
    case Slot::kOther:
      break;
  }
  for (const auto& [n, v] : node.allocatable().scalars)
    if (n == r.name) return {v, node.requested().scalar(r.name) + pod_request};
  return {0, 0};
}

int64_t leastRequestedScore(int64_t requested, int64_t capacity) {
  if (capacity == 0 || requested > capacity) return 0;
  return (capacity - requested) * kMaxNodeScore / capacity;
}

int64_t mostRequestedScore(int64_t requested, int64_t capacity) {
  if (capacity == 0) return 0;
  // Requests may exceed capacity because pods without requests count the
  // defaults.
  requested = std::min(requested, capacity);
  return requested * kMaxNodeScore / capacity;
}

struct ScoreState : StateData {
  std::vector<int64_t> pod_requests;  // in the order of the configured resources
  std::shared_ptr<StateData> clone() const override { return std::make_shared<ScoreState>(*this); }
};

struct FitState : StateData {
  Resource request;
  std::shared_ptr<StateData> clone() const override { return std::make_shared<FitState>(*this); }
};

const std::string kFitPreFilterKey = "PreFilterNodeResourcesFit";
const std::string kFitPreScoreKey = "PreScoreNodeResourcesFit";
const std::string kBalancedPreScoreKey = "PreScoreNodeResourcesBalancedAllocation";

class NodeResourcesFit final : public PreFilterPlugin,
                               public FilterPlugin,
                               public PreScorePlugin,
                               public ScorePlugin {
 public:
  explicit NodeResourcesFit(const NodeResourcesFitArgs& args)
      : args_(args), scored_(resolveResources(args_.resources)) {}
  std::string_view name() const override { return kNodeResourcesFit; }

  std::vector<ClusterEvent> eventsToRegister() const override {
    // Node label / taint updates too (#109437: a Node/Add may be missed).
    return {{EventResource::kPod, kDelete, "PodDelete"},
            {EventResource::kNode,
             kAdd | kUpdateNodeAllocatable | kUpdateNodeTaint | kUpdateNodeLabel, "Node"}};
  }

  PluginStatus preFilter(CycleState& state, const PodInfo& pod, PreFilterResult*) override {
    auto s = std::make_shared<FitState>();
    s->request = pod.resources.requests;
    state.write(kFitPreFilterKey, s);
    return {};
  }

  FastFilter filterFast(const CycleState& state, const PodInfo&,
                        const NodeInfo& node) const override {
    auto* s = state.readAs<FitState>(kFitPreFilterKey);
    if (!s) return FastFilter::kUnknown;  // filter() reports the error
    bool fits = true;
    forEachShortfall(s->request, node, args_.ignored_resources, args_.ignored_resource_groups,
                     [&](std::string_view, int64_t, int64_t, int64_t) { return fits = false; });
    return fits ? FastFilter::kPass : FastFilter::kReject;
  }

  PluginStatus filter(const CycleState& state, const PodInfo&,
                      const NodeInfo& node) const override {
    auto* s = state.readAs<FitState>(kFitPreFilterKey);
    if (!s)
      return PluginStatus::error("error reading \"" + kFitPreFilterKey +
                                 "\" from cycleState: not found");
    auto insufficient =
        fitsRequest(s->request, node, args_.ignored_resources, args_.ignored_resource_groups);
    if (insufficient.empty()) return {};
    std::vector<std::string> reasons;
    for (auto& r : insufficient) reasons.push_back(std::move(r.reason));
    return PluginStatus(Code::kUnschedulable, std::move(reasons));
  }

  PluginStatus preScore(CycleState& state, const PodInfo& pod,
                        const std::vector<NodeInfo*>&) override {
    auto s = std::make_shared<ScoreState>();
    for (const auto& r : args_.resources)
      s->pod_requests.push_back(podRequestFor(pod, r.name, false));
    state.write(kFitPreScoreKey, s);
    return {};
  }

  PluginStatus score(const CycleState& state, const PodInfo& pod, const NodeInfo& node,
                     int64_t* out) const override {
    std::vector<int64_t> reqs;
    const std::vector<int64_t>* pod_requests = nullptr;
    if (auto* s = state.readAs<ScoreState>(kFitPreScoreKey)) {
      pod_requests = &s->pod_requests;
    } else {
      for (const auto& r : args_.resources) reqs.push_back(podRequestFor(pod, r.name, false));
      pod_requests = &reqs;
    }
    int64_t node_score = 0, weight_sum = 0;
    for (size_t i = 0; i < args_.resources.size(); ++i) {
      auto [alloc, requested] =
          allocatableAndRequested(node, scored_[i], (*pod_requests)[i], false);
      if (alloc == 0) continue;
      int64_t w = args_.resources[i].weight;
      int64_t v = args_.strategy == ScoringStrategy::kMostAllocated
                      ? mostRequestedScore(requested, alloc)
                      : leastRequestedScore(requested, alloc);
      node_score += v * w;
      weight_sum += w;
    }
    *out = weight_sum == 0 ? 0 : node_score / weight_sum;
    return {};
  }

 private:
  NodeResourcesFitArgs args_;
  std::vector<ScoredResource> scored_;
};

class BalancedAllocation final : public PreScorePlugin, public ScorePlugin {
 public:
  explicit BalancedAllocation(const BalancedAllocationArgs& args)
      : args_(args), scored_(resolveResources(args_.resources)) {}
  std::string_view name() const override { return kNodeResourcesBalancedAllocation; }

  PluginStatus preScore(CycleState& state, const PodInfo& pod,
                        const std::vector<NodeInfo*>&) override {
    auto s = std::make_shared<ScoreState>();
    for (const auto& r : args_.resources)
      s->pod_requests.push_back(podRequestFor(pod, r.name, true));
    state.write(kBalancedPreScoreKey, s);
    return {};
  }

  // balancedResourceScorer: 1 - the standard deviation of the requested
  // fractions (each capped at 1), scaled to [0, 100].
  PluginStatus score(const CycleState& state, const PodInfo& pod, const NodeInfo& node,
                     int64_t* out) const override {
    std::vector<int64_t> reqs;
    const std::vector<int64_t>* pod_requests = nullptr;
    if (auto* s = state.readAs<ScoreState>(kBalancedPreScoreKey)) {
      pod_requests = &s->pod_requests;
    } else {
      for (const auto& r : args_.resources) reqs.push_back(podRequestFor(pod, r.name, true));
      pod_requests = &reqs;
    }
    // The fractions on the stack for the usual handful of resources (this
    // runs for every feasible node of every pod).
    constexpr size_t kInline = 8;
    double inline_fractions[kInline];
    std::vector<double> more;
    size_t count = 0;
    double total = 0;
    for (size_t i = 0; i < args_.resources.size(); ++i) {
      auto [alloc, requested] = allocatableAndRequested(node, scored_[i], (*pod_requests)[i], true);
      if (alloc == 0) continue;
      double f = std::min(1.0, static_cast<double>(requested) / static_cast<double>(alloc));
      total += f;
      if (count < kInline) {
        inline_fractions[count] = f;
      } else {
        if (more.empty()) more.assign(inline_fractions, inline_fractions + kInline);
        more.push_back(f);
      }
      ++count;
    }
    const double* fractions = more.empty() ? inline_fractions : more.data();
    double std_dev = 0;
    if (count == 2) {
      std_dev = std::fabs((fractions[0] - fractions[1]) / 2);
    } else if (count > 2) {
      double mean = total / static_cast<double>(count);
      double sum = 0;
      for (size_t i = 0; i < count; ++i) sum += (fractions[i] - mean) * (fractions[i] - mean);
      std_dev = std::sqrt(sum / static_cast<double>(count));
    }
    *out = static_cast<int64_t>((1 - std_dev) * static_cast<double>(kMaxNodeScore));
    return {};
  }

 private:
  BalancedAllocationArgs args_;
  std::vector<ScoredResource> scored_;
};

}  // namespace

std::vector<InsufficientResource> fitsRequest(const Resource& req, const NodeInfo& node,
                                              const std::vector<std::string>& ignored_resources,
                                              const std::vector<std::string>& ignored_groups) {
  std::vector<InsufficientResource> out;
  forEachShortfall(
      req, node, ignored_resources, ignored_groups,
      [&](std::string_view resource, int64_t requested, int64_t used, int64_t capacity) {
        std::string reason = resource == "pods" ? std::string(kReasonTooManyPods)
                                                : "Insufficient " + std::string(resource);
        out.push_back({std::string(resource), std::move(reason), requested, used, capacity});
        return true;
      });
  return out;
}

std::shared_ptr<Plugin> newNodeResourcesFit(const ProfileConfig& config, Handle&) {
  return std::make_shared<NodeResourcesFit>(config.fit);
}

std::shared_ptr<Plugin> newBalancedAllocation(const ProfileConfig& config, Handle&) {
  return std::make_shared<BalancedAllocation>(config.balanced);
}

}  // namespace berth::scheduler
