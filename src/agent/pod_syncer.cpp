#include "agent/pod_syncer.h"

#include <algorithm>
#include <list>
#include <map>
#include <thread>

#include "agent/pod_status.h"
#include "api/kinds/access.h"
#include "api/kinds/pod_spec.h"
#include "api/object.h"
#include "common/log.h"

namespace berth::agent {

namespace json = boost::json;
using api::arrAt;
using api::asObj;
using api::intAt;
using api::objAt;
using api::strAt;

namespace {

// The kubelet bounds a postStart hook by nothing but the grace period; a
// stuck hook must not hold the pod's worker forever.
constexpr std::chrono::seconds kPostStartTimeout{30};
// minimumGracePeriodInSeconds: what is left after a preStop hook.
constexpr std::chrono::seconds kMinGraceAfterPreStop{2};

struct History {
  std::optional<RuntimeContainer> latest, previous;
};

std::map<std::string, History> byName(const std::vector<RuntimeContainer>& all) {
  std::map<std::string, History> out;
  for (const auto& c : all) {
    History& h = out[c.name];
    if (!h.latest || c.attempt > h.latest->attempt) {
      if (h.latest) h.previous = h.latest;
      h.latest = c;
    } else if (!h.previous || c.attempt > h.previous->attempt) {
      h.previous = c;
    }
  }
  return out;
}

bool shouldRestart(const std::string& policy, const Attempt& exited) {
  if (policy == "Always") return true;
  if (policy == "OnFailure") return exited.exit_code != 0;
  return false;
}

std::chrono::system_clock::time_point parseTime(const std::string& t,
                                                std::chrono::system_clock::time_point fallback) {
  std::chrono::system_clock::time_point out;
  return parseRfc3339(t, &out) ? out : fallback;
}

}  // namespace

SyncOutcome PodSyncer::sync(const api::Object& pod) {
  SyncOutcome out;
  const auto now = clock_.now();
  const std::string uid = api::uid(pod);
  const std::string pod_desc = podDescription(pod);
  const std::string policy = strAt(pod, {"spec", "restartPolicy"}, "Always");
  const std::string old_phase = strAt(pod, {"status", "phase"});
  const bool deleting =
      objAt(pod, {"metadata"}) && api::metadata(pod)->contains("deletionTimestamp");
  const bool was_terminal = old_phase == "Succeeded" || old_phase == "Failed";
  auto event = [&](const char* type, const char* reason, std::string message) {
    out.events.push_back(AgentEvent{type, reason, std::move(message)});
  };

  std::string pod_ip;
  bool sandbox_ready = false;
  std::map<std::string, ContainerView> views;

  if (deleting) {
    // SyncTerminatingPod: stop what runs within the grace period, then the sandbox.
    int64_t grace =
        intAt(pod, {"metadata", "deletionGracePeriodSeconds"})
            .value_or(intAt(pod, {"spec", "terminationGracePeriodSeconds"}).value_or(30));
    // The containers stop in parallel, each within the grace period.
    std::vector<std::thread> stops;
    std::list<std::string> failures;  // stable addresses for the threads
    const std::string ip = strAt(pod, {"status", "podIP"});
    for (const auto& c : runtime_.containers(uid)) {
      if (!c.state.running) continue;
      event("Normal", "Killing", "Stopping container " + c.name);
      failures.emplace_back();
      const json::object* spec = nullptr;
      for (const json::object* cs : podContainers(pod, "containers"))
        if (strAt(*cs, {"name"}) == c.name) spec = cs;
      stops.emplace_back([this, spec, id = c.state.id, ip, grace, f = &failures.back()] {
        stopWithHooks(spec, id, ip, std::chrono::seconds(grace), f);
      });
    }
    for (auto& t : stops) t.join();
    for (auto& f : failures)
      if (!f.empty()) event("Warning", "FailedPreStopHook", f);
    // Only a pod with nothing left running is torn down and let go (a stop
    // that timed out, or an agent shutting down, tries again later).
    if (cleanup(uid).ok()) {
      out.terminated = true;
    } else {
      out.resync_at = now + std::chrono::seconds(1);
    }
  } else if (!was_terminal) {
    Stopwatch timer;
    auto ip = runtime_.ensureSandbox(pod);
    BERTH_LOG(kDebug, "agent") << "pod sandbox pod=" << pod_desc << " ms=" << timer.ms();
    if (!ip.ok()) {
      event("Warning", "FailedCreatePodSandBox",
            "Failed to create pod sandbox: " + ip.error().message);
      out.resync_at = now + std::chrono::seconds(10);
    } else {
      pod_ip = *ip;
      sandbox_ready = true;
    }
  }

  auto history = byName(runtime_.containers(uid));
  auto verdictOf = [&](const json::object& spec, const RuntimeContainer& c) {
    return probes_ ? probes_(uid, spec, c.state.id) : ProbeVerdict{};
  };
  // A failed liveness or startup probe: the kubelet kills the container,
  // and restartPolicy decides whether it runs again.
  if (!deleting && !was_terminal) {
    bool killed = false;
    for (const json::object* spec : podContainers(pod, "containers")) {
      const std::string name = strAt(*spec, {"name"});
      auto it = history.find(name);
      if (it == history.end() || !it->second.latest || !it->second.latest->state.running) continue;
      ProbeVerdict verdict = verdictOf(*spec, *it->second.latest);
      const char* probe = verdict.liveness_failed  ? "livenessProbe"
                          : verdict.startup_failed ? "startupProbe"
                                                   : nullptr;
      if (!probe) continue;
      event("Normal", "Killing",
            "Container " + name + " failed " +
                (verdict.liveness_failed ? std::string("liveness") : std::string("startup")) +
                " probe, will be restarted");
      // The probe's own terminationGracePeriodSeconds wins over the pod's.
      int64_t grace =
          intAt(*spec, {probe, "terminationGracePeriodSeconds"})
              .value_or(intAt(pod, {"spec", "terminationGracePeriodSeconds"}).value_or(30));
      std::string failure;
      stopWithHooks(spec, it->second.latest->state.id, strAt(pod, {"status", "podIP"}),
                    std::chrono::seconds(grace), &failure);
      if (!failure.empty()) event("Warning", "FailedPreStopHook", failure);
      killed = true;
    }
    if (killed) history = byName(runtime_.containers(uid));
  }
  // Starts a container, or says why it waits (back-off).
  auto run = [&](const json::object& spec, History& h, ContainerView& v) {
    const std::string name = strAt(spec, {"name"});
    int attempt = h.latest ? h.latest->attempt + 1 : 0;
    if (h.latest && !h.latest->state.running) {
      auto finished = parseTime(h.latest->state.finished_at, now);
      if (auto msg = backoff_.check(uid + "/" + name, name, pod_desc, finished, now)) {
        v.waiting_reason = "CrashLoopBackOff";
        v.waiting_message = *msg;
        event("Warning", "BackOff",
              "Back-off restarting failed container " + name + " in pod " + pod_desc);
        if (auto at = backoff_.retryAt(uid + "/" + name, finished))
          if (!out.resync_at || *at < *out.resync_at) out.resync_at = *at;
        return false;
      }
    }
    if (images_) {
      EnsuredImage image = images_->ensure(pod, spec);
      for (auto& e : image.events) out.events.push_back(std::move(e));
      if (!image.ready) {
        v.waiting_reason = image.reason;
        v.waiting_message = image.message;
        // A pull back-off starts at 10 s; the image manager says when a
        // pull may go again.
        auto at = now + std::chrono::seconds(10);
        if (!out.resync_at || at < *out.resync_at) out.resync_at = at;
        return false;
      }
    }
    Stopwatch timer;
    auto started = runtime_.startContainer(pod, spec, attempt, pod_ip);
    BERTH_LOG(kDebug, "agent") << "container started pod=" << pod_desc << " container=" << name
                               << " ms=" << timer.ms();
    if (!started.ok()) {
      v.waiting_reason = "CreateContainerError";
      v.waiting_message = started.error().message;
      event("Warning", "Failed", "Error: " + started.error().message);
      out.resync_at = now + std::chrono::seconds(10);
      return false;
    }
    event("Normal", "Created", "Created container " + name);
    event("Normal", "Started", "Started container " + name);
    if (h.latest) h.previous = h.latest;
    h.latest = *started;
    if (const json::object* hook = objAt(spec, {"lifecycle", "postStart"})) {
      // The kubelet waits for postStart before the container counts as
      // running; a failure kills it (restartPolicy decides what follows).
      Status s = runtime_.runHook(spec, started->state.id, pod_ip, *hook, kPostStartTimeout);
      if (!s.ok()) {
        event("Warning", "FailedPostStartHook", s.error().message);
        (void)runtime_.stopContainer(started->state.id, std::chrono::seconds(0));
        for (auto& c : runtime_.containers(uid))
          if (c.state.id == started->state.id) h.latest = c;
      }
    }
    v.waiting_reason.clear();
    v.waiting_message.clear();
    return true;
  };

  // Init containers, one at a time; regular containers once they are done.
  bool init_done = true;
  for (const json::object* spec : podContainers(pod, "initContainers")) {
    const std::string name = strAt(*spec, {"name"});
    History& h = history[name];
    ContainerView& v = views[name];
    if (!init_done) {
      continue;
    }
    if (h.latest && h.latest->state.running) {
      init_done = false;
      continue;
    }
    if (h.latest && h.latest->state.exit_code == 0) continue;  // completed
    init_done = false;
    if (!sandbox_ready || deleting || was_terminal) continue;
    if (h.latest && policy == "Never") continue;  // failed for good: the pod fails
    run(*spec, h, v);
  }
  for (const json::object* spec : podContainers(pod, "containers")) {
    const std::string name = strAt(*spec, {"name"});
    History& h = history[name];
    ContainerView& v = views[name];
    if (!init_done) {
      v.waiting_reason = "PodInitializing";
      continue;
    }
    if (!sandbox_ready || deleting || was_terminal) continue;
    if (!h.latest || (!h.latest->state.running && shouldRestart(policy, h.latest->state)))
      run(*spec, h, v);
  }

  // The status that follows.
  json::object status;
  if (const json::object* old = objAt(pod, {"status"})) status = *old;
  auto statusesOf = [&](const char* list) {
    json::array arr;
    for (const json::object* spec : podContainers(pod, list)) {
      const std::string name = strAt(*spec, {"name"});
      ContainerView& v = views[name];
      History& h = history[name];
      v.name = name;
      v.image = strAt(*spec, {"image"});
      if (h.latest) v.current = h.latest->state;
      if (h.previous) v.previous = h.previous->state;
      v.restart_count = h.latest ? h.latest->attempt : 0;
      const bool running = h.latest && h.latest->state.running;
      ProbeVerdict verdict = running ? verdictOf(*spec, *h.latest) : ProbeVerdict{};
      v.started = running && verdict.started;
      v.ready = v.started && verdict.ready && v.waiting_reason.empty();
      if (running) out.running.push_back(*h.latest);
      if (h.latest && std::string(list) == "initContainers" && !h.latest->state.running &&
          h.latest->state.exit_code == 0)
        v.ready = true;  // a completed init container counts as ready
      arr.push_back(containerStatus(v));
    }
    return arr;
  };
  json::array init_statuses = statusesOf("initContainers");
  json::array statuses = statusesOf("containers");
  if (!init_statuses.empty()) status["initContainerStatuses"] = init_statuses;
  status["containerStatuses"] = statuses;
  std::string phase = podPhase(pod, &init_statuses, &statuses, deleting);
  if (was_terminal) phase = old_phase;  // no way out of a terminal phase
  status["phase"] = phase;
  // A finished pod gives its network back, as the kubelet stops its
  // sandbox; its exited containers and their logs stay until it is deleted.
  if (!deleting && (phase == "Succeeded" || phase == "Failed") && out.running.empty()) {
    Status released = runtime_.releaseNetwork(pod);
    if (!released.ok()) {
      BERTH_LOG(kWarning, "agent")
          << "releasing the network of a finished pod failed pod=" << pod_desc
          << " error=" << released.error().message;
      auto at = now + std::chrono::seconds(10);
      if (!out.resync_at || at < *out.resync_at) out.resync_at = at;
    }
  }
  status["hostIP"] = node_ip_;
  status["hostIPs"] = json::array{json::object{{"ip", node_ip_}}};
  out.pod_ip = pod_ip;
  if (!pod_ip.empty()) {
    status["podIP"] = pod_ip;
    status["podIPs"] = json::array{json::object{{"ip", pod_ip}}};
  }
  if (strAt(status, {"startTime"}).empty()) status["startTime"] = formatRfc3339(now);
  if (const json::object* spec = objAt(pod, {"spec"})) status["qosClass"] = api::podQosClass(*spec);
  json::array old_conditions;
  if (const json::array* old = arrAt(pod, {"status", "conditions"})) old_conditions = *old;
  status["conditions"] = podConditions(pod, status, &old_conditions, sandbox_ready, now);
  out.status = std::move(status);
  return out;
}

void PodSyncer::stopWithHooks(const api::Object* spec, const std::string& id,
                              const std::string& pod_ip, std::chrono::seconds grace,
                              std::string* failure) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(grace);
  if (const json::object* hook = spec ? objAt(*spec, {"lifecycle", "preStop"}) : nullptr) {
    auto t0 = std::chrono::steady_clock::now();
    Status s = runtime_.runHook(*spec, id, pod_ip, *hook, left);
    if (!s.ok()) *failure = s.error().message;
    left -= std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  t0);
    left = std::max(left, std::chrono::milliseconds(kMinGraceAfterPreStop));
  }
  (void)runtime_.stopContainer(id, left);
}

void PodSyncer::killAll(const std::string& pod_uid) {
  for (const auto& c : runtime_.containers(pod_uid))
    if (c.state.running) (void)runtime_.stopContainer(c.state.id, std::chrono::seconds(0));
}

Status PodSyncer::cleanup(const std::string& pod_uid) {
  for (const auto& c : runtime_.containers(pod_uid))
    if (c.state.running) (void)runtime_.stopContainer(c.state.id, std::chrono::seconds(0));
  for (const auto& c : runtime_.containers(pod_uid)) {
    if (c.state.running)
      return makeError(ErrorCode::kUnavailable,
                       "container " + c.name + " of pod " + pod_uid + " is still running");
    backoff_.forget(pod_uid + "/" + c.name);
  }
  api::Object stub;
  stub["metadata"] = json::object{{"uid", pod_uid}};
  return runtime_.destroySandbox(stub);
}

}  // namespace berth::agent
