#include "agent/qos.h"

#include <algorithm>
#include <cmath>

#include "api/kinds/pod_spec.h"
#include "api/object.h"

namespace berth::agent {

namespace json = boost::json;
using api::Object;

namespace {

int64_t quantityOf(const Object* list, const char* name, bool milli) {
  if (!list) return 0;
  const json::value* v = list->if_contains(name);
  if (!v) return 0;
  std::string text = v->is_string() ? std::string(v->get_string()) : json::serialize(*v);
  auto q = api::parseQuantity(text);
  if (!q) return 0;
  long double scaled = milli ? *q * 1000 : *q;
  long double r = std::round(scaled);
  // Value()/MilliValue() round up; keep integers that binary fractions blur.
  if (std::fabs(scaled - r) < 1e-6L) return static_cast<int64_t>(r);
  return static_cast<int64_t>(std::ceil(scaled));
}

}  // namespace

ContainerResources containerResources(const Object& container) {
  ContainerResources r;
  const Object* res = api::findObject(container, "resources");
  const Object* requests = res ? api::findObject(*res, "requests") : nullptr;
  const Object* limits = res ? api::findObject(*res, "limits") : nullptr;
  r.cpu_request_milli = quantityOf(requests, "cpu", true);
  r.cpu_limit_milli = quantityOf(limits, "cpu", true);
  r.memory_request = quantityOf(requests, "memory", false);
  r.memory_limit = quantityOf(limits, "memory", false);
  return r;
}

int oomScoreAdjust(const Object& pod, const Object& container, int64_t memory_capacity) {
  constexpr int kGuaranteed = -997;
  constexpr int kBestEffort = 1000;
  const Object* spec = api::findObject(pod, "spec");
  if (spec) {
    const json::value* p = spec->if_contains("priority");
    if (p && p->is_int64() && p->as_int64() >= 2000000000) return kGuaranteed;
  }
  std::string qos = spec ? api::podQosClass(*spec) : "BestEffort";
  if (qos == "Guaranteed") return kGuaranteed;
  if (qos == "BestEffort") return kBestEffort;
  int64_t request = containerResources(container).memory_request;
  if (memory_capacity <= 0) return 999;
  int64_t adj = 1000 - (1000 * request) / memory_capacity;
  // A burstable container stays above guaranteed ones and below best-effort ones.
  return static_cast<int>(std::clamp<int64_t>(adj, 2, 999));
}

int64_t milliCpuToShares(int64_t milli) {
  if (milli == 0) return kMinShares;
  int64_t shares = milli * 1024 / 1000;
  return std::clamp(shares, kMinShares, kMaxShares);
}

int64_t milliCpuToQuota(int64_t milli, int64_t period) {
  if (milli == 0) return 0;
  int64_t quota = milli * period / 1000;
  return std::max(quota, kMinQuotaPeriodUs);
}

std::string podCgroupParent(const Object& pod, const std::string& root) {
  const Object* spec = api::findObject(pod, "spec");
  std::string qos = spec ? api::podQosClass(*spec) : "BestEffort";
  std::string parent = root;
  if (qos == "Burstable") parent += "/burstable";
  if (qos == "BestEffort") parent += "/besteffort";
  return parent + "/pod" + api::uid(pod);
}

}  // namespace berth::agent
