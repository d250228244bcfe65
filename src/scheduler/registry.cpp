#include "scheduler/registry.h"

#include "scheduler/plugins/plugins.h"

namespace berth::scheduler {

namespace {
// Adapts a factory that cannot fail to the registry's signature.
PluginFactory infallible(std::shared_ptr<Plugin> (*make)(const ProfileConfig&, Handle&)) {
  return [make](const ProfileConfig& config, Handle& handle) -> Result<std::shared_ptr<Plugin>> {
    return make(config, handle);
  };
}
}  // namespace

Registry inTreeRegistry() {
  Registry r;
  r[kNodeResourcesFit] = infallible(newNodeResourcesFit);
  r[kNodeResourcesBalancedAllocation] = infallible(newBalancedAllocation);
  r[kNodeName] = infallible(newNodeName);
  r[kNodeUnschedulable] = infallible(newNodeUnschedulable);
  r[kNodePorts] = infallible(newNodePorts);
  r[kNodeAffinity] = infallible(newNodeAffinity);
  r[kTaintToleration] = infallible(newTaintToleration);
  r[kImageLocality] = infallible(newImageLocality);
  r[kPodTopologySpread] = infallible(newPodTopologySpread);
  r[kInterPodAffinity] = infallible(newInterPodAffinity);
  r[kDefaultPreemption] = infallible(newDefaultPreemption);
  r[kDefaultBinder] = infallible(newDefaultBinder);
  return r;
}

}  // namespace berth::scheduler
