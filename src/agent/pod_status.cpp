#include "agent/pod_status.h"

#include <vector>

#include "api/kinds/access.h"
#include "api/object.h"
#include "common/clock.h"

namespace berth::agent {

namespace json = boost::json;
using api::arrAt;
using api::asObj;
using api::intAt;
using api::objAt;
using api::strAt;

namespace {

const json::object* statusOf(const json::array* statuses, const std::string& name) {
  if (!statuses) return nullptr;
  for (const auto& v : *statuses)
    if (const json::object* cs = asObj(&v); cs && strAt(*cs, {"name"}) == name) return cs;
  return nullptr;
}

// HasAnyRegularContainerStarted: a regular container runs or has run.
bool anyRegularContainerStarted(const api::Object& pod, const json::array* statuses) {
  for (const json::object* c : podContainers(pod, "containers"))
    if (const json::object* cs = statusOf(statuses, strAt(*c, {"name"})))
      if (objAt(*cs, {"state", "running"}) || objAt(*cs, {"state", "terminated"}) ||
          objAt(*cs, {"lastState", "terminated"}))
        return true;
  return false;
}

bool boolField(const json::object& o, const char* name) {
  const json::value* v = o.if_contains(name);
  return v && v->is_bool() && v->as_bool();
}

json::object condition(const std::string& type, bool status, const std::string& reason = "",
                       const std::string& message = "") {
  json::object c{{"type", type}, {"status", status ? "True" : "False"}};
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  return c;
}

bool kubeletOwned(const std::string& type) {
  return type == "PodReadyToStartContainers" || type == "Initialized" || type == "Ready" ||
         type == "ContainersReady";
}

// "containers with unknown status: [..], containers with <what> status: [..]".
std::string notReadyMessage(const std::vector<std::string>& unknown,
                            const std::vector<std::string>& not_ready, const char* what) {
  std::string msg;
  if (!unknown.empty()) msg = "containers with unknown status: " + goList(unknown);
  if (!not_ready.empty()) {
    if (!msg.empty()) msg += ", ";
    msg += std::string("containers with ") + what + " status: " + goList(not_ready);
  }
  return msg;
}

}  // namespace

bool isSidecar(const json::object& init_container) {
  return strAt(init_container, {"restartPolicy"}) == "Always";
}

std::vector<const json::object*> podContainers(const api::Object& pod, const char* list) {
  std::vector<const json::object*> out;
  if (const json::array* cs = arrAt(pod, {"spec", list}))
    for (const auto& c : *cs)
      if (const json::object* o = asObj(&c)) out.push_back(o);
  return out;
}

std::string podDescription(const api::Object& pod) {
  return api::name(pod) + "_" + api::namespaceOf(pod) + "(" + api::uid(pod) + ")";
}

std::string goList(const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? " " : "") + names[i];
  return out + "]";
}

std::string podPhase(const api::Object& pod, const json::array* init_statuses,
                     const json::array* statuses, bool pod_is_terminal) {
  const std::string policy = strAt(pod, {"spec", "restartPolicy"}, "Always");
  int pending_init = 0, failed_init = 0;
  int unknown = 0, running = 0, waiting = 0, stopped = 0, succeeded = 0;
  const bool regular_started = anyRegularContainerStarted(pod, statuses);
  for (const json::object* c : podContainers(pod, "initContainers")) {
    const json::object* cs = statusOf(init_statuses, strAt(*c, {"name"}));
    if (isSidecar(*c)) {
      if (!cs) {
        ++unknown;
        continue;
      }
      if (objAt(*cs, {"state", "running"})) {
        if (!boolField(*cs, "started")) ++pending_init;
        ++running;
      } else if (objAt(*cs, {"state", "waiting"}) && !objAt(*cs, {"lastState", "terminated"})) {
        ++pending_init;
        ++waiting;
      } else if (!objAt(*cs, {"state", "terminated"}) && !objAt(*cs, {"state", "waiting"})) {
        ++pending_init;
        ++unknown;
      }
      continue;
    }
    if (!cs) {
      ++pending_init;
      continue;
    }
    if (objAt(*cs, {"state", "running"})) {
      ++pending_init;
    } else if (const json::object* t = objAt(*cs, {"state", "terminated"})) {
      if (intAt(*t, {"exitCode"}).value_or(0) != 0) ++failed_init;
    } else if (objAt(*cs, {"state", "waiting"})) {
      if (const json::object* last = objAt(*cs, {"lastState", "terminated"})) {
        if (intAt(*last, {"exitCode"}).value_or(0) != 0) ++failed_init;
      } else {
        ++pending_init;
      }
    } else {
      ++pending_init;
    }
  }
  for (const json::object* c : podContainers(pod, "containers")) {
    const json::object* cs = statusOf(statuses, strAt(*c, {"name"}));
    if (!cs) {
      ++unknown;
    } else if (objAt(*cs, {"state", "running"})) {
      ++running;
    } else if (const json::object* t = objAt(*cs, {"state", "terminated"})) {
      ++stopped;
      if (intAt(*t, {"exitCode"}).value_or(0) == 0) ++succeeded;
    } else if (objAt(*cs, {"state", "waiting"})) {
      if (objAt(*cs, {"lastState", "terminated"})) {
        ++stopped;
      } else {
        ++waiting;
      }
    } else {
      ++unknown;
    }
  }
  if (failed_init > 0 && policy == "Never") return "Failed";
  if ((pending_init > 0 && !regular_started) || waiting > 0) return "Pending";
  if (running > 0 && unknown == 0) return "Running";
  if (running == 0 && stopped > 0 && unknown == 0) {
    if (pod_is_terminal) return stopped == succeeded ? "Succeeded" : "Failed";
    if (policy == "Always") return "Running";
    if (stopped == succeeded) return "Succeeded";
    if (policy == "Never") return "Failed";
    return "Running";
  }
  return "Pending";
}

json::array podConditions(const api::Object& pod, const json::object& status,
                          const json::array* old_conditions, bool sandbox_ready, TimePoint now) {
  const std::string phase = strAt(status, {"phase"});
  const json::array* statuses = arrAt(status, {"containerStatuses"});
  const json::array* init_statuses = arrAt(status, {"initContainerStatuses"});
  std::vector<json::object> owned;
  owned.push_back(condition("PodReadyToStartContainers", sandbox_ready));

  // Initialized: every regular init container terminated with 0, every
  // sidecar started; true for good once a regular container has started.
  std::vector<std::string> init_unknown, incomplete;
  const bool regular_started = anyRegularContainerStarted(pod, statuses);
  for (const json::object* c : podContainers(pod, "initContainers")) {
    std::string name = strAt(*c, {"name"});
    const json::object* cs = statusOf(init_statuses, name);
    if (!cs) {
      init_unknown.push_back(name);
      continue;
    }
    bool done = isSidecar(*c) ? boolField(*cs, "started")
                              : (objAt(*cs, {"state", "terminated"}) &&
                                 intAt(*cs, {"state", "terminated", "exitCode"}).value_or(-1) == 0);
    if (!done) incomplete.push_back(name);
  }
  if (phase == "Succeeded" && init_unknown.empty()) {
    owned.push_back(condition("Initialized", true, "PodCompleted"));
  } else if (regular_started || (init_unknown.empty() && incomplete.empty())) {
    owned.push_back(condition("Initialized", true));
  } else {
    owned.push_back(condition("Initialized", false, "ContainersNotInitialized",
                              notReadyMessage(init_unknown, incomplete, "incomplete")));
  }

  // ContainersReady: regular containers and sidecars ready.
  std::vector<std::string> unknown, unready;
  auto check = [&](const json::object* c, const json::array* list) {
    std::string name = strAt(*c, {"name"});
    const json::object* cs = statusOf(list, name);
    if (!cs) {
      unknown.push_back(name);
    } else if (!boolField(*cs, "ready")) {
      unready.push_back(name);
    }
  };
  for (const json::object* c : podContainers(pod, "initContainers"))
    if (isSidecar(*c)) check(c, init_statuses);
  for (const json::object* c : podContainers(pod, "containers")) check(c, statuses);
  json::object containers_ready;
  if ((phase == "Succeeded" && unknown.empty()) || phase == "Failed") {
    containers_ready =
        condition("ContainersReady", false, phase == "Succeeded" ? "PodCompleted" : "PodFailed");
  } else if (!unknown.empty() || !unready.empty()) {
    containers_ready = condition("ContainersReady", false, "ContainersNotReady",
                                 notReadyMessage(unknown, unready, "unready"));
  } else {
    containers_ready = condition("ContainersReady", true);
  }

  // Ready: ContainersReady, then every readiness gate's condition True.
  json::object ready = containers_ready;
  ready["type"] = "Ready";
  if (strAt(containers_ready, {"status"}) == "True") {
    std::vector<std::string> gate_messages;
    const json::array* conds = arrAt(status, {"conditions"});
    if (const json::array* gates = arrAt(pod, {"spec", "readinessGates"}))
      for (const auto& g : *gates) {
        const json::object* go = asObj(&g);
        if (!go) continue;
        std::string type = strAt(*go, {"conditionType"});
        const json::object* found = nullptr;
        if (conds)
          for (const auto& c : *conds)
            if (const json::object* co = asObj(&c); co && strAt(*co, {"type"}) == type) found = co;
        if (!found)
          gate_messages.push_back("corresponding condition of pod readiness gate \"" + type +
                                  "\" does not exist.");
        else if (strAt(*found, {"status"}) != "True")
          gate_messages.push_back("the status of pod readiness gate \"" + type +
                                  "\" is not \"True\", but " + strAt(*found, {"status"}));
      }
    if (!gate_messages.empty()) {
      std::string msg;
      for (size_t i = 0; i < gate_messages.size(); ++i) msg += (i ? ", " : "") + gate_messages[i];
      ready = condition("Ready", false, "ReadinessGatesNotReady", msg);
    }
  }
  owned.push_back(std::move(ready));
  owned.push_back(std::move(containers_ready));

  json::array conditions;
  const std::string now_text = formatRfc3339(now);
  for (auto& c : owned) {
    std::string transition = now_text;
    if (old_conditions)
      for (const auto& o : *old_conditions)
        if (const json::object* oo = asObj(&o); oo && strAt(*oo, {"type"}) == strAt(c, {"type"}) &&
                                                strAt(*oo, {"status"}) == strAt(c, {"status"}))
          transition = strAt(*oo, {"lastTransitionTime"}, transition);
    // Upstream's field order: type, status, lastProbeTime, lastTransitionTime, reason, message.
    json::object ordered{{"type", c["type"]},
                         {"status", c["status"]},
                         {"lastProbeTime", nullptr},
                         {"lastTransitionTime", transition}};
    if (c.contains("reason")) ordered["reason"] = c["reason"];
    if (c.contains("message")) ordered["message"] = c["message"];
    conditions.push_back(std::move(ordered));
  }
  if (old_conditions)
    for (const auto& o : *old_conditions)
      if (const json::object* oo = asObj(&o); oo && !kubeletOwned(strAt(*oo, {"type"})))
        conditions.push_back(o);
  return conditions;
}

}  // namespace berth::agent
