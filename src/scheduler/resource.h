#pragma once

// Compute resources as the scheduler counts them, after upstream's
// framework.Resource and k8s.io/component-helpers resource.PodRequests:
// cpu in millicores, everything else in base units, both rounded up the way
// resource.Quantity's MilliValue()/Value() round.

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::scheduler {

// schedutil.DefaultMilliCPURequest / DefaultMemoryRequest: what a container
// without a cpu / memory request counts as when scoring (never when fitting).
inline constexpr int64_t kDefaultMilliCpuRequest = 100;
inline constexpr int64_t kDefaultMemoryRequest = 200 * 1024 * 1024;

struct Resource {
  int64_t milli_cpu = 0;
  int64_t memory = 0;
  int64_t ephemeral_storage = 0;
  // status.allocatable.pods of a node; unused for pod requests.
  int64_t allowed_pod_number = 0;
  // Extended resources, hugepages-*, attachable-volumes-*, *kubernetes.io/*;
  // sorted by name (a pod or node has a handful at most).
  std::vector<std::pair<std::string, int64_t>> scalars;

  int64_t scalar(std::string_view name) const;
  void setScalar(std::string_view name, int64_t value);
  void addScalar(std::string_view name, int64_t value);

  void add(const Resource& other);
  void subtract(const Resource& other);
  // Per dimension maximum (Resource.SetMaxResource).
  void setMax(const Resource& other);
  // True when nothing is requested (cpu, memory, ephemeral storage, scalars).
  bool isEmptyRequest() const;

  bool operator==(const Resource& other) const = default;
};

// schedutil.IsScalarResourceName.
bool isScalarResourceName(std::string_view name);

// A resource.Quantity (JSON string or number) as Value() / MilliValue():
// rounded up to an integer; 0 when malformed.
int64_t quantityValue(const boost::json::value& q);
int64_t quantityMilliValue(const boost::json::value& q);

// A core/v1 ResourceList object (`{"cpu": "500m", "memory": "1Gi"}`).
// nullptr reads as empty.
Resource resourceFromList(const boost::json::object* list);

// A pod's requests as the scheduler sees them.
struct PodResources {
  // resource.PodRequests: containers summed, restartable init containers
  // (sidecars) added to that sum, every other init container maxed with the
  // sidecars started before it, then spec.overhead added.
  Resource requests;
  // The same with kDefaultMilliCpuRequest / kDefaultMemoryRequest for
  // containers missing a cpu / memory request (NonMissingContainerRequests);
  // what NodeInfo.NonZeroRequested and the allocation scorers use.
  int64_t non0_milli_cpu = 0;
  int64_t non0_memory = 0;
};

// `spec` is a PodSpec object.
PodResources computePodResources(const boost::json::object& spec);

}  // namespace berth::scheduler
