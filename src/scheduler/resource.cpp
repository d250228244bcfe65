#include "scheduler/resource.h"

#include <algorithm>
#include <cmath>

#include "api/kinds/access.h"
#include "api/kinds/pod_spec.h"

namespace berth::scheduler {

namespace json = boost::json;

namespace {

// Quantity.Value()/MilliValue() round up; parsing in long double leaves
// tiny errors (0.1 * 1000 = 100.0000000001), which must not round up.
int64_t roundUp(long double x) {
  long double r = std::round(x);
  if (std::fabs(x - r) <= 1e-6L * std::max<long double>(1.0L, std::fabs(x)))
    return static_cast<int64_t>(r);
  return static_cast<int64_t>(std::ceil(x));
}

std::optional<long double> quantity(const json::value& q) {
  if (q.is_string()) return api::parseQuantity(std::string(q.get_string()));
  if (q.is_int64()) return static_cast<long double>(q.get_int64());
  if (q.is_uint64()) return static_cast<long double>(q.get_uint64());
  if (q.is_double()) return static_cast<long double>(q.get_double());
  return std::nullopt;
}

auto scalarPos(std::vector<std::pair<std::string, int64_t>>& v, std::string_view name) {
  return std::lower_bound(v.begin(), v.end(), name,
                          [](const auto& e, std::string_view n) { return e.first < n; });
}

}  // namespace

int64_t Resource::scalar(std::string_view name) const {
  auto it = std::lower_bound(scalars.begin(), scalars.end(), name,
                             [](const auto& e, std::string_view n) { return e.first < n; });
  return it != scalars.end() && it->first == name ? it->second : 0;
}

void Resource::setScalar(std::string_view name, int64_t value) {
  auto it = scalarPos(scalars, name);
  if (it != scalars.end() && it->first == name)
    it->second = value;
  else
    scalars.insert(it, {std::string(name), value});
}

void Resource::addScalar(std::string_view name, int64_t value) {
  auto it = scalarPos(scalars, name);
  if (it != scalars.end() && it->first == name)
    it->second += value;
  else
    scalars.insert(it, {std::string(name), value});
}

void Resource::add(const Resource& o) {
  milli_cpu += o.milli_cpu;
  memory += o.memory;
  ephemeral_storage += o.ephemeral_storage;
  allowed_pod_number += o.allowed_pod_number;
  for (const auto& [n, v] : o.scalars) addScalar(n, v);
}

void Resource::subtract(const Resource& o) {
  milli_cpu -= o.milli_cpu;
  memory -= o.memory;
  ephemeral_storage -= o.ephemeral_storage;
  allowed_pod_number -= o.allowed_pod_number;
  for (const auto& [n, v] : o.scalars) addScalar(n, -v);
}

void Resource::setMax(const Resource& o) {
  milli_cpu = std::max(milli_cpu, o.milli_cpu);
  memory = std::max(memory, o.memory);
  ephemeral_storage = std::max(ephemeral_storage, o.ephemeral_storage);
  allowed_pod_number = std::max(allowed_pod_number, o.allowed_pod_number);
  for (const auto& [n, v] : o.scalars) setScalar(n, std::max(scalar(n), v));
}

bool Resource::isEmptyRequest() const {
  if (milli_cpu != 0 || memory != 0 || ephemeral_storage != 0) return false;
  for (const auto& [n, v] : scalars)
    if (v != 0) return false;
  return true;
}

bool isScalarResourceName(std::string_view name) {
  // v1helper: extended (a domain-prefixed name outside kubernetes.io and not
  // a quota "requests." name), hugepages-*, prefixed native, attachable-volumes-*.
  bool has_slash = name.find('/') != std::string_view::npos;
  bool prefixed_native = name.find("kubernetes.io/") != std::string_view::npos;
  if (prefixed_native) return true;
  if (name.rfind("hugepages-", 0) == 0 || name.rfind("attachable-volumes-", 0) == 0) return true;
  return has_slash && name.rfind("requests.", 0) != 0;
}

int64_t quantityValue(const json::value& q) {
  auto v = quantity(q);
  return v ? roundUp(*v) : 0;
}

int64_t quantityMilliValue(const json::value& q) {
  auto v = quantity(q);
  return v ? roundUp(*v * 1000.0L) : 0;
}

Resource resourceFromList(const json::object* list) {
  Resource r;
  if (!list) return r;
  for (const auto& [k, q] : *list) {
    std::string_view name(k.data(), k.size());
    if (name == "cpu")
      r.milli_cpu += quantityMilliValue(q);
    else if (name == "memory")
      r.memory += quantityValue(q);
    else if (name == "ephemeral-storage")
      r.ephemeral_storage += quantityValue(q);
    else if (name == "pods")
      r.allowed_pod_number += quantityValue(q);
    else if (isScalarResourceName(name))
      r.addScalar(name, quantityValue(q));
  }
  return r;
}

namespace {

struct ContainerRequests {
  Resource requests;
  bool has_cpu = false;
  bool has_memory = false;
  bool sidecar = false;  // restartPolicy: Always on an init container
};

ContainerRequests containerRequests(const json::value& c, bool init) {
  ContainerRequests out;
  const json::object* co = api::asObj(&c);
  if (!co) return out;
  const json::object* reqs = api::objAt(*co, {"resources", "requests"});
  out.requests = resourceFromList(reqs);
  out.has_cpu = reqs && reqs->contains("cpu");
  out.has_memory = reqs && reqs->contains("memory");
  out.sidecar = init && api::strAt(*co, {"restartPolicy"}) == "Always";
  return out;
}

// resource.PodRequests over pre-parsed containers; `non_missing` applies the
// scheduler's defaults to containers without a cpu / memory request.
Resource podRequests(const std::vector<ContainerRequests>& containers,
                     const std::vector<ContainerRequests>& inits, const Resource& overhead,
                     bool non_missing) {
  auto effective = [&](const ContainerRequests& c) {
    Resource r = c.requests;
    if (non_missing) {
      if (!c.has_cpu) r.milli_cpu = kDefaultMilliCpuRequest;
      if (!c.has_memory) r.memory = kDefaultMemoryRequest;
    }
    return r;
  };
  Resource reqs;
  for (const auto& c : containers) reqs.add(effective(c));
  // InitContainerUse(i) = sum(sidecars before i) + init container i; a
  // sidecar also keeps running next to the regular containers.
  Resource sidecars, init_max;
  for (const auto& c : inits) {
    Resource r = effective(c);
    if (c.sidecar) {
      reqs.add(r);
      sidecars.add(r);
      init_max.setMax(sidecars);
    } else {
      r.add(sidecars);
      init_max.setMax(r);
    }
  }
  reqs.setMax(init_max);
  reqs.add(overhead);
  return reqs;
}

}  // namespace

PodResources computePodResources(const json::object& spec) {
  std::vector<ContainerRequests> containers, inits;
  if (const json::array* cs = api::arrAt(spec, {"containers"}))
    for (const auto& c : *cs) containers.push_back(containerRequests(c, false));
  if (const json::array* cs = api::arrAt(spec, {"initContainers"}))
    for (const auto& c : *cs) inits.push_back(containerRequests(c, true));
  Resource overhead = resourceFromList(api::objAt(spec, {"overhead"}));
  overhead.allowed_pod_number = 0;
  PodResources out;
  out.requests = podRequests(containers, inits, overhead, false);
  Resource non0 = podRequests(containers, inits, overhead, true);
  out.non0_milli_cpu = non0.milli_cpu;
  out.non0_memory = non0.memory;
  return out;
}

}  // namespace berth::scheduler
