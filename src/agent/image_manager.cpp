#include "agent/image_manager.h"

#include <cstdio>

#include "api/kinds/access.h"
#include "api/object.h"

namespace berth::agent {

std::string goDurationFine(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  char buf[64];
  long long ns = d.count();
  if (ns < 1000) return std::to_string(ns) + "ns";
  if (ns < 1000000) {
    std::snprintf(buf, sizeof buf, "%gµs", ns / 1e3);
    return buf;
  }
  if (ns < 1000000000) {
    std::snprintf(buf, sizeof buf, "%gms", ns / 1e6);
    return buf;
  }
  if (ns < 60ll * 1000000000) {
    std::snprintf(buf, sizeof buf, "%.9gs", ns / 1e9);
    return buf;
  }
  long long total_s = ns / 1000000000;
  double frac = (ns % 1000000000) / 1e9;
  long long h = total_s / 3600, m = (total_s % 3600) / 60;
  double s = static_cast<double>(total_s % 60) + frac;
  std::string out = h ? std::to_string(h) + "h" : "";
  std::snprintf(buf, sizeof buf, "%lldm%.9gs", m, s);
  return out + buf;
}

EnsuredImage ImageManager::ensure(const api::Object& pod, const api::Object& container) {
  EnsuredImage r;
  const std::string image = api::strAt(container, {"image"});
  std::string policy = api::strAt(container, {"imagePullPolicy"}, "IfNotPresent");
  auto event = [&](const char* type, const char* reason, std::string message) {
    r.events.push_back(AgentEvent{type, reason, std::move(message)});
  };
  if (source_.validate) {
    Status valid = source_.validate(image);
    if (!valid.ok()) {
      r.reason = "InvalidImageName";
      r.message = "Failed to apply default image tag \"" + image + "\": " + valid.error().message;
      event("Warning", "InspectFailed", r.message);
      return r;
    }
  }
  const bool present = source_.present(image);
  if (present && policy != "Always") {
    event("Normal", "Pulled", "Container image \"" + image + "\" already present on machine");
    r.ready = true;
    return r;
  }
  if (policy == "Never") {
    r.reason = "ErrImageNeverPull";
    r.message = "Container image \"" + image + "\" is not present with pull policy of Never";
    event("Warning", "ErrImageNeverPull", r.message);
    return r;
  }
  const std::string key = api::uid(pod) + "_" + image;
  if (backoff_.inBackoffSinceUpdate(key, clock_.now())) {
    r.reason = "ImagePullBackOff";
    r.message = "Back-off pulling image \"" + image + "\"";
    event("Normal", "BackOff", r.message);
    return r;
  }
  event("Normal", "Pulling", "Pulling image \"" + image + "\"");
  auto start = std::chrono::steady_clock::now();
  auto pulled = source_.pull(image, pod);
  if (!pulled.ok()) {
    backoff_.next(key, clock_.now());
    r.reason = "ErrImagePull";
    r.message = pulled.error().message;
    event("Warning", "Failed", "Failed to pull image \"" + image + "\": " + pulled.error().message);
    return r;
  }
  std::string took = goDurationFine(std::chrono::steady_clock::now() - start);
  event("Normal", "Pulled",
        "Successfully pulled image \"" + image + "\" in " + took + " (" + took +
            " including waiting). Image size: " + std::to_string(*pulled) + " bytes.");
  r.ready = true;
  return r;
}

}  // namespace berth::agent
