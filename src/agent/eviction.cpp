#include "agent/eviction.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "agent/pod_status.h"
#include "api/kinds/access.h"
#include "api/kinds/pod_spec.h"
#include "api/object.h"
#include "common/clock.h"

namespace berth::agent {

namespace json = boost::json;
using api::Object;

namespace {

// kubetypes.ConfigSourceAnnotationKey / ConfigMirrorAnnotationKey.
constexpr const char* kConfigSourceAnnotation = "kubernetes.io/config.source";
constexpr const char* kConfigMirrorAnnotation = "kubernetes.io/config.mirror";

// A quantity string as bytes (rounded up as Quantity.Value() does); 0 when
// absent or malformed.
uint64_t quantityBytes(const json::value* v) {
  if (!v) return 0;
  if (v->is_int64()) return v->as_int64() > 0 ? static_cast<uint64_t>(v->as_int64()) : 0;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_double())
    return v->as_double() > 0 ? static_cast<uint64_t>(std::ceil(v->as_double())) : 0;
  if (!v->is_string()) return 0;
  auto q = api::parseQuantity(std::string(v->as_string()));
  if (!q || *q <= 0) return 0;
  return static_cast<uint64_t>(std::ceil(*q - 1e-9L));
}

uint64_t containerRequest(const json::object& container, const std::string& resource) {
  return quantityBytes(api::at(container, {"resources", "requests", resource}));
}

// The canonical DecimalSI form of an integer: mantissa with the largest
// exponent that is a multiple of 3 ("1k", "1500", "2M").
std::string decimalQuantity(int64_t value) {
  if (value == 0) return "0";
  bool negative = value < 0;
  uint64_t m = negative ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  static const char* kSuffixes[] = {"", "k", "M", "G", "T", "P", "E"};
  int exp3 = 0;
  while (m % 1000 == 0 && exp3 < 6) {
    m /= 1000;
    ++exp3;
  }
  return (negative ? "-" : "") + std::to_string(m) + kSuffixes[exp3];
}

// The threshold met for `resource` and the available amount, as
// getThresholdMetInfo reports them (threshold quantity first).
struct ThresholdInfo {
  int64_t quantity = 0;
  int64_t available = 0;
};

// evictionapi.GetThresholdQuantity for a percentage: the percentage is a
// float32 upstream, so the product is taken with float32 precision widened
// to float64, then truncated.
int64_t percentOf(uint64_t capacity, double fraction) {
  double f = static_cast<double>(static_cast<float>(fraction));
  return static_cast<int64_t>(static_cast<double>(capacity) * f);
}

using UsageOf = uint64_t (*)(const PodUsage&);

uint64_t memoryUsage(const PodUsage& p) { return p.memory_working_set; }
uint64_t diskUsage(const PodUsage& p) { return p.disk_bytes; }

// orderedBy(exceedRequests, priority, usage above requests).
std::vector<const PodUsage*> rank(const std::vector<PodUsage>& pods, const std::string& resource,
                                  UsageOf usage_of) {
  struct Ranked {
    const PodUsage* pod;
    bool exceeds;
    int64_t priority;
    long double above;  // usage - request, may be negative
  };
  std::vector<Ranked> ranked;
  ranked.reserve(pods.size());
  for (const auto& p : pods) {
    uint64_t usage = usage_of(p);
    uint64_t request = podRequestBytes(*p.pod, resource);
    ranked.push_back({&p, usage > request, podPriority(*p.pod),
                      static_cast<long double>(usage) - static_cast<long double>(request)});
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) {
    if (a.exceeds != b.exceeds) return a.exceeds;
    if (a.priority != b.priority) return a.priority < b.priority;
    return a.above > b.above;
  });
  std::vector<const PodUsage*> out;
  out.reserve(ranked.size());
  for (const auto& r : ranked) out.push_back(r.pod);
  return out;
}

// evictionMessage: the node-low sentence, the threshold, then every
// container (regular and init, in stats order) using more than it requests.
EvictionDecision decide(const PodUsage& p, const std::string& resource,
                        const ThresholdInfo& threshold) {
  EvictionDecision d;
  d.pod_key = p.key;
  d.resource = resource;
  d.message = "The node was low on resource: " + resource + ". ";
  d.message += "Threshold quantity: " + binaryQuantity(threshold.quantity) +
               ", available: " + binaryQuantity(threshold.available) + ". ";
  std::vector<const json::object*> containers = podContainers(*p.pod, "containers");
  for (const json::object* c : podContainers(*p.pod, "initContainers")) containers.push_back(c);
  std::string offending, offending_usage;
  for (const ContainerUsage& cu : p.containers) {
    for (const json::object* c : containers) {
      if (api::strAt(*c, {"name"}) != cu.name) continue;
      uint64_t usage = resource == kResourceMemory ? cu.memory_working_set : cu.disk_bytes;
      uint64_t request = containerRequest(*c, resource);
      if (usage > request) {
        std::string usage_text = binaryQuantity(static_cast<int64_t>(usage));
        d.message += "Container " + cu.name + " was using " + usage_text + ", request is " +
                     canonicalQuantity(api::strAt(*c, {"resources", "requests", resource})) +
                     ", has larger consumption of " + resource + ". ";
        offending += (offending.empty() ? "" : ",") + cu.name;
        offending_usage += (offending_usage.empty() ? "" : ",") + usage_text;
      }
      break;
    }
  }
  d.annotations["offending_containers"] = offending;
  d.annotations["offending_containers_usage"] = offending_usage;
  d.annotations["starved_resource"] = resource;
  return d;
}

std::optional<EvictionDecision> firstEvictable(const std::vector<const PodUsage*>& ranked,
                                               const std::string& resource,
                                               const ThresholdInfo& threshold) {
  for (const PodUsage* p : ranked) {
    // evictPod refuses critical pods; synchronize then tries the next one.
    if (isCriticalPod(*p->pod)) continue;
    return decide(*p, resource, threshold);
  }
  return std::nullopt;
}

}  // namespace

int64_t podPriority(const Object& pod) { return api::intAt(pod, {"spec", "priority"}).value_or(0); }

bool isCriticalPod(const Object& pod) {
  auto annotations = api::stringMap(api::at(pod, {"metadata", "annotations"}));
  // IsStaticPod: a config source other than the API server; IsMirrorPod.
  auto source = annotations.find(kConfigSourceAnnotation);
  if (source != annotations.end() && source->second != "api") return true;
  if (annotations.count(kConfigMirrorAnnotation)) return true;
  return podPriority(pod) >= kSystemCriticalPriority;
}

uint64_t podRequestBytes(const Object& pod, const std::string& resource) {
  // resource.PodRequests: regular containers and sidecars summed; each
  // other init container runs alone beside the sidecars started before it.
  uint64_t sum = 0;
  for (const json::object* c : podContainers(pod, "containers"))
    sum += containerRequest(*c, resource);
  uint64_t sidecars = 0, init_max = 0;
  for (const json::object* c : podContainers(pod, "initContainers")) {
    uint64_t r = containerRequest(*c, resource);
    if (isSidecar(*c)) {
      sidecars += r;
      init_max = std::max(init_max, sidecars);
    } else {
      init_max = std::max(init_max, sidecars + r);
    }
  }
  uint64_t total = std::max(sum + sidecars, init_max);
  total += quantityBytes(api::at(pod, {"spec", "overhead", resource}));
  return total;
}

std::string binaryQuantity(int64_t bytes) {
  // CanonicalizeBytes: below 1024 in magnitude the DecimalSI form is used.
  if (bytes > -1024 && bytes < 1024) return decimalQuantity(bytes);
  bool negative = bytes < 0;
  uint64_t m = negative ? 0 - static_cast<uint64_t>(bytes) : static_cast<uint64_t>(bytes);
  static const char* kSuffixes[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  int exp = 0;
  while (m % 1024 == 0 && exp < 6) {
    m /= 1024;
    ++exp;
  }
  return (negative ? "-" : "") + std::to_string(m) + kSuffixes[exp];
}

std::string canonicalQuantity(const std::string& text) {
  auto q = api::parseQuantity(text);
  if (!q) return "0";
  // Integral values only: memory and storage requests are whole bytes.
  int64_t value = static_cast<int64_t>(std::ceil(*q - 1e-9L));
  bool binary = text.size() >= 2 && text.back() == 'i';
  return binary ? binaryQuantity(value) : decimalQuantity(value);
}

std::vector<const PodUsage*> rankMemoryPressure(const std::vector<PodUsage>& pods) {
  return rank(pods, kResourceMemory, memoryUsage);
}

std::vector<const PodUsage*> rankDiskPressure(const std::vector<PodUsage>& pods) {
  return rank(pods, kResourceEphemeralStorage, diskUsage);
}

std::optional<EvictionDecision> chooseEviction(const node::MachineUsage& usage,
                                               const node::EvictionThresholds& thresholds,
                                               const std::vector<PodUsage>& pods) {
  if (pods.empty()) return std::nullopt;
  // thresholdsMet: the same comparisons as the node's pressure conditions.
  node::Pressure pressure = node::evaluatePressure(usage, thresholds);
  if (pressure.memory) {
    ThresholdInfo t{static_cast<int64_t>(thresholds.memory_available_bytes),
                    static_cast<int64_t>(usage.memory_available_bytes)};
    if (auto d = firstEvictable(rankMemoryPressure(pods), kResourceMemory, t)) return d;
  }
  // nodefs.available, compared as evaluatePressure does.
  if (usage.fs_available_bytes <
      static_cast<uint64_t>(usage.fs_capacity_bytes * thresholds.nodefs_available_fraction)) {
    ThresholdInfo t{percentOf(usage.fs_capacity_bytes, thresholds.nodefs_available_fraction),
                    static_cast<int64_t>(usage.fs_available_bytes)};
    if (auto d = firstEvictable(rankDiskPressure(pods), kResourceEphemeralStorage, t)) return d;
  }
  // nodefs.inodesFree and pid.available: berth has no per-pod inode or
  // process stats to rank by, so those thresholds only set the condition.
  return std::nullopt;
}

json::object evictedStatus(const Object& pod, const std::string& message, TimePoint now) {
  json::object status;
  if (const json::object* old = api::objAt(pod, {"status"})) status = *old;
  status["phase"] = "Failed";
  status["reason"] = "Evicted";
  status["message"] = message;
  std::string transition = formatRfc3339(now);
  json::array conditions;
  if (const json::array* old = api::arrAt(status, {"conditions"})) conditions = *old;
  json::object* existing = nullptr;
  for (auto& c : conditions) {
    if (c.is_object() && api::strAt(c.as_object(), {"type"}) == "DisruptionTarget") {
      existing = &c.as_object();
      break;
    }
  }
  if (existing && api::strAt(*existing, {"status"}) == "True")
    transition = api::strAt(*existing, {"lastTransitionTime"}, transition);
  json::object condition{{"type", "DisruptionTarget"},       {"status", "True"},
                         {"lastProbeTime", nullptr},         {"lastTransitionTime", transition},
                         {"reason", "TerminationByKubelet"}, {"message", message}};
  if (existing) {
    *existing = std::move(condition);
  } else {
    conditions.emplace_back(std::move(condition));
  }
  status["conditions"] = std::move(conditions);
  return status;
}

Result<uint64_t> cgroupMemoryWorkingSet(const std::string& cgroup_dir) {
  auto read = [](const std::string& path) -> Result<std::string> {
    std::ifstream in(path);
    if (!in) {
      int err = errno;
      return makeError(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kInternal,
                       "open " + path + ": " + std::strerror(err));
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  BERTH_ASSIGN_OR_RETURN(std::string usage_text, read(cgroup_dir + "/memory.usage_in_bytes"));
  uint64_t usage = 0;
  try {
    size_t used = 0;
    usage = std::stoull(usage_text, &used);
  } catch (const std::exception&) {
    return makeError(ErrorCode::kInternal,
                     cgroup_dir + "/memory.usage_in_bytes: not a number: \"" + usage_text + "\"");
  }
  BERTH_ASSIGN_OR_RETURN(std::string stat, read(cgroup_dir + "/memory.stat"));
  std::istringstream lines(stat);
  std::string key;
  uint64_t value = 0;
  uint64_t inactive_file = 0;
  while (lines >> key >> value) {
    if (key == "total_inactive_file") {
      inactive_file = value;
      break;
    }
  }
  return usage > inactive_file ? usage - inactive_file : 0;
}

}  // namespace berth::agent
