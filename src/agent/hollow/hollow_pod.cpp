#include "agent/hollow/hollow_pod.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "agent/pod_status.h"
#include "api/kinds/access.h"

namespace berth::agent::hollow {

namespace json = boost::json;
using api::arrAt;
using api::asObj;
using api::at;
using api::intAt;
using api::objAt;
using api::strAt;

namespace {

std::optional<int64_t> annotationInt(const api::Object& pod, const char* key) {
  std::string v = strAt(pod, {"metadata", "annotations", key});
  if (v.empty()) return std::nullopt;
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || ptr != v.data() + v.size()) return std::nullopt;
  return out;
}

std::string ts(TimePoint t) { return formatRfc3339(t); }

json::object waiting(const std::string& reason, const std::string& message = "") {
  json::object w{{"reason", reason}};
  if (!message.empty()) w["message"] = message;
  return json::object{{"waiting", std::move(w)}};
}

json::object terminated(int exit_code, TimePoint started, TimePoint finished,
                        const std::string& container_id) {
  return json::object{
      {"terminated", json::object{{"exitCode", exit_code},
                                  {"reason", exit_code == 0 ? "Completed" : "Error"},
                                  {"startedAt", ts(started)},
                                  {"finishedAt", ts(finished)},
                                  {"containerID", container_id}}}};
}

struct ContainerView {
  const json::object* spec;
  std::string name;
};

std::vector<ContainerView> containersOf(const api::Object& pod, const char* field) {
  std::vector<ContainerView> out;
  if (const json::array* arr = arrAt(pod, {"spec", field}))
    for (const auto& c : *arr)
      if (const json::object* o = asObj(&c)) out.push_back({o, strAt(*o, {"name"})});
  return out;
}

// The status of one regular container (or sidecar) in the sim's stage.
json::object containerStatus(const api::Object& pod, const ContainerView& c, const PodSim& sim,
                             bool has_init, TimePoint now, bool sidecar) {
  const std::string uid = strAt(pod, {"metadata", "uid"});
  const std::string image = strAt(*c.spec, {"image"});
  json::object s{{"name", c.name},
                 {"image", image},
                 {"imageID", ""},
                 {"ready", false},
                 {"restartCount", sidecar ? 0 : sim.restarts},
                 {"started", false}};
  json::object state;
  json::object last_state;
  switch (sim.stage) {
    case PodStage::kStarting:
      state = waiting(has_init && !sidecar ? "PodInitializing" : "ContainerCreating");
      break;
    case PodStage::kStartFailed:
      state = waiting(sim.script.start_failure, "hollow node: injected start failure");
      break;
    case PodStage::kRunning: {
      int incarnation = sidecar ? 0 : sim.restarts;
      s["imageID"] = "hollow://" + image;
      s["containerID"] = hollowContainerId(uid, c.name, incarnation);
      s["ready"] = sim.ready(now);
      s["started"] = true;
      state = json::object{
          {"running", json::object{{"startedAt", ts(sidecar ? sim.acknowledged + sim.script.startup
                                                            : sim.started)}}}};
      break;
    }
    case PodStage::kBackOff: {
      if (sidecar) {
        s["imageID"] = "hollow://" + image;
        s["containerID"] = hollowContainerId(uid, c.name, 0);
        s["started"] = true;
        state = json::object{
            {"running", json::object{{"startedAt", ts(sim.acknowledged + sim.script.startup)}}}};
        break;
      }
      s["imageID"] = "hollow://" + image;
      auto delay =
          std::chrono::duration_cast<std::chrono::seconds>(sim.backoff_until - sim.last_finished)
              .count();
      state = waiting("CrashLoopBackOff", "back-off " + std::to_string(delay) +
                                              "s restarting failed container=" + c.name +
                                              " pod=" + podDescription(pod));
      break;
    }
    case PodStage::kDone:
      s["imageID"] = "hollow://" + image;
      if (sidecar) {
        std::string id = hollowContainerId(uid, c.name, 0);
        s["containerID"] = id;
        state = terminated(0, sim.acknowledged + sim.script.startup, sim.last_finished, id);
      } else {
        std::string id = hollowContainerId(uid, c.name, sim.restarts);
        s["containerID"] = id;
        state = terminated(sim.last_exit, sim.last_started, sim.last_finished, id);
      }
      break;
  }
  // lastState: the previous incarnation's termination, while a later one
  // runs or waits to restart.
  if (!sidecar && sim.stage == PodStage::kBackOff) {
    last_state = terminated(sim.last_exit, sim.last_started, sim.last_finished,
                            hollowContainerId(uid, c.name, sim.restarts));
  } else if (!sidecar && sim.stage == PodStage::kRunning && sim.terminated_once &&
             sim.restarts > 0) {
    last_state = terminated(sim.last_exit, sim.last_started, sim.last_finished,
                            hollowContainerId(uid, c.name, sim.restarts - 1));
  }
  s["state"] = std::move(state);
  s["lastState"] = std::move(last_state);
  return s;
}

json::object initContainerStatus(const api::Object& pod, const ContainerView& c,
                                 const PodSim& sim) {
  const std::string uid = strAt(pod, {"metadata", "uid"});
  const std::string image = strAt(*c.spec, {"image"});
  json::object s{{"name", c.name},
                 {"image", image},
                 {"imageID", ""},
                 {"ready", false},
                 {"restartCount", 0},
                 {"started", false},
                 {"lastState", json::object{}}};
  if (sim.stage == PodStage::kStarting) {
    s["state"] = waiting("PodInitializing");
    return s;
  }
  // Init containers run to completion at once, before the main containers.
  TimePoint t = sim.acknowledged + sim.script.startup;
  std::string id = hollowContainerId(uid, c.name, 0);
  s["imageID"] = "hollow://" + image;
  s["containerID"] = id;
  s["ready"] = true;
  s["state"] = terminated(0, t, t, id);
  return s;
}

void sortByName(json::array& statuses) {
  std::sort(statuses.begin(), statuses.end(), [](const json::value& a, const json::value& b) {
    return strAt(a.as_object(), {"name"}) < strAt(b.as_object(), {"name"});
  });
}

}  // namespace

PodScript scriptFor(const api::Object& pod, Duration default_startup,
                    Duration default_ready_delay) {
  PodScript s;
  s.restart_policy = strAt(pod, {"spec", "restartPolicy"}, "Always");
  s.startup = default_startup;
  if (auto v = annotationInt(pod, kStartupSecondsAnnotation); v && *v >= 0)
    s.startup = std::chrono::seconds(*v);
  s.ready_delay = default_ready_delay;
  if (auto v = annotationInt(pod, kReadySecondsAnnotation); v && *v >= 0) {
    s.ready_delay = std::chrono::seconds(*v);
  } else {
    // Without a script, a readinessProbe makes the container ready after its
    // initial delay, as the first successful probe would.
    for (const auto& c : containersOf(pod, "containers"))
      if (auto d = intAt(*c.spec, {"readinessProbe", "initialDelaySeconds"}); d && *d > 0)
        s.ready_delay = std::max<Duration>(s.ready_delay, std::chrono::seconds(*d));
  }
  if (auto v = annotationInt(pod, kRunSecondsAnnotation); v && *v >= 0)
    s.run_for = std::chrono::seconds(*v);
  if (auto v = annotationInt(pod, kExitCodeAnnotation)) s.exit_code = static_cast<int>(*v);
  s.start_failure = strAt(pod, {"metadata", "annotations", kStartFailureAnnotation});
  return s;
}

std::optional<TimePoint> PodSim::advance(TimePoint now) {
  for (;;) {
    switch (stage) {
      case PodStage::kStarting: {
        TimePoint t = acknowledged + script.startup;
        if (now < t) return t;
        if (!script.start_failure.empty()) {
          stage = PodStage::kStartFailed;
          return std::nullopt;
        }
        stage = PodStage::kRunning;
        started = t;
        continue;
      }
      case PodStage::kRunning: {
        std::optional<TimePoint> next;
        TimePoint ready_at = started + script.ready_delay;
        if (now < ready_at) next = ready_at;
        if (!script.run_for) return next;
        TimePoint end = started + *script.run_for;
        if (now < end) return next ? std::min(*next, end) : end;
        terminated_once = true;
        last_started = started;
        last_finished = end;
        last_exit = script.exit_code;
        // The kubelet's restart policy: Always restarts every exit,
        // OnFailure only failures, Never none.
        bool restart = script.restart_policy == "Always" ||
                       (script.restart_policy == "OnFailure" && last_exit != 0);
        if (!restart) {
          stage = PodStage::kDone;
          return std::nullopt;
        }
        // The first restart is immediate; later ones back off 10 s, 20 s, ... 5 min.
        Duration delay{0};
        if (restarts > 0) {
          delay = kInitialBackOff;
          for (int i = 1; i < restarts && delay < kMaxBackOff; ++i) delay *= 2;
          delay = std::min(delay, kMaxBackOff);
        }
        backoff_until = end + delay;
        stage = PodStage::kBackOff;
        continue;
      }
      case PodStage::kBackOff:
        if (now < backoff_until) return backoff_until;
        ++restarts;
        started = backoff_until;
        stage = PodStage::kRunning;
        continue;
      case PodStage::kStartFailed:
      case PodStage::kDone:
        return std::nullopt;
    }
  }
}

bool PodSim::ready(TimePoint now) const {
  return stage == PodStage::kRunning && now >= started + script.ready_delay;
}

std::string PodSim::phase() const {
  switch (stage) {
    case PodStage::kStarting:
    case PodStage::kStartFailed:
      return "Pending";
    case PodStage::kRunning:
    case PodStage::kBackOff:
      return "Running";
    case PodStage::kDone:
      return last_exit == 0 ? "Succeeded" : "Failed";
  }
  return "Pending";
}

bool adoptExistingStatus(const api::Object& pod, PodSim* sim) {
  std::string phase = strAt(pod, {"status", "phase"});
  if (phase != "Running" && phase != "Succeeded" && phase != "Failed") return false;
  TimePoint t;
  if (parseRfc3339(strAt(pod, {"status", "startTime"}), &t)) sim->acknowledged = t;
  const json::array* statuses = arrAt(pod, {"status", "containerStatuses"});
  if (phase == "Running") {
    sim->stage = PodStage::kRunning;
    sim->started = sim->acknowledged + sim->script.startup;
    bool first = true;
    if (statuses)
      for (const auto& v : *statuses) {
        const json::object* cs = asObj(&v);
        if (!cs) continue;
        sim->restarts = std::max<int>(sim->restarts,
                                      static_cast<int>(intAt(*cs, {"restartCount"}).value_or(0)));
        if (parseRfc3339(strAt(*cs, {"state", "running", "startedAt"}), &t) &&
            (first || t < sim->started)) {
          sim->started = t;
          first = false;
        }
      }
    return true;
  }
  sim->stage = PodStage::kDone;
  sim->terminated_once = true;
  sim->last_exit = phase == "Succeeded" ? 0 : 1;
  sim->last_started = sim->last_finished = sim->acknowledged;
  if (statuses)
    for (const auto& v : *statuses) {
      const json::object* cs = asObj(&v);
      if (!cs) continue;
      if (const json::object* term = objAt(*cs, {"state", "terminated"})) {
        if (auto code = intAt(*term, {"exitCode"}); code && *code != 0)
          sim->last_exit = static_cast<int>(*code);
        if (parseRfc3339(strAt(*term, {"startedAt"}), &t)) sim->last_started = t;
        if (parseRfc3339(strAt(*term, {"finishedAt"}), &t)) sim->last_finished = t;
      }
      sim->restarts =
          std::max<int>(sim->restarts, static_cast<int>(intAt(*cs, {"restartCount"}).value_or(0)));
    }
  if (phase == "Failed" && sim->last_exit == 0) sim->last_exit = 1;
  return true;
}

json::object buildPodStatus(const api::Object& pod, const PodSim& sim, const std::string& host_ip,
                            const std::string& pod_ip, TimePoint now) {
  json::object status;
  if (const json::object* existing = objAt(pod, {"status"})) status = *existing;
  const std::string phase = sim.phase();
  status["phase"] = phase;
  status["hostIP"] = host_ip;
  status["hostIPs"] = json::array{json::object{{"ip", host_ip}}};
  if (sim.stage != PodStage::kStarting) {
    // The pod IP exists once the sandbox does.
    status["podIP"] = pod_ip;
    status["podIPs"] = json::array{json::object{{"ip", pod_ip}}};
  }
  if (strAt(status, {"startTime"}).empty()) status["startTime"] = ts(sim.acknowledged);

  auto containers = containersOf(pod, "containers");
  auto inits = containersOf(pod, "initContainers");
  bool has_init = !inits.empty();

  json::array container_statuses;
  for (const auto& c : containers)
    container_statuses.push_back(containerStatus(pod, c, sim, has_init, now, false));
  json::array init_statuses;
  for (const auto& c : inits)
    init_statuses.push_back(isSidecar(*c.spec) ? containerStatus(pod, c, sim, has_init, now, true)
                                               : initContainerStatus(pod, c, sim));
  sortByName(container_statuses);
  status["containerStatuses"] = std::move(container_statuses);
  if (has_init) {
    sortByName(init_statuses);
    status["initContainerStatuses"] = std::move(init_statuses);
  } else {
    status.erase("initContainerStatuses");
  }

  // Conditions as the kubelet's status generator makes them.
  bool sandbox = sim.stage == PodStage::kStartFailed || sim.stage == PodStage::kRunning ||
                 sim.stage == PodStage::kBackOff;
  json::array old_conditions;
  if (const json::array* old = arrAt(status, {"conditions"})) old_conditions = *old;
  status["conditions"] = podConditions(pod, status, &old_conditions, sandbox, now);
  return status;
}

std::string hollowContainerId(const std::string& pod_uid, const std::string& container,
                              int restart) {
  // FNV-1a: stable across runs, so a restarted agent reports the same IDs.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const std::string& s) {
    for (unsigned char ch : s) {
      h ^= ch;
      h *= 1099511628211ull;
    }
    h ^= '/';
    h *= 1099511628211ull;
  };
  mix(pod_uid);
  mix(container);
  mix(std::to_string(restart));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string("hollow://") + buf;
}

}  // namespace berth::agent::hollow
