#include "agent/pod_status.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/kinds/access.h"

namespace berth::agent {
namespace {

namespace json = boost::json;
using api::Object;

Object parse(const std::string& text) { return json::parse(text).as_object(); }

std::string phase(const std::string& pod, const std::string& inits, const std::string& statuses,
                  bool terminal = false) {
  json::array i = json::parse(inits).as_array();
  json::array s = json::parse(statuses).as_array();
  return podPhase(parse(pod), &i, &s, terminal);
}

const std::string kRunning = R"({"running": {"startedAt": "2026-01-01T00:00:00Z"}})";
std::string term(int code) {
  return R"({"terminated": {"exitCode": )" + std::to_string(code) + "}}";
}
const std::string kWaiting = R"({"waiting": {"reason": "ContainerCreating"}})";
std::string cs(const std::string& name, const std::string& state, const std::string& extra = "") {
  return R"({"name": ")" + name + R"(", "state": )" + state + extra + "}";
}

TEST(PodStatusTest, PhaseFollowsUpstreamGetPhase) {
  const std::string pod =
      R"({"spec": {"restartPolicy": "Always", "containers": [{"name": "a"}, {"name": "b"}]}})";
  EXPECT_EQ(phase(pod, "[]", "[]"), "Pending");  // nothing known yet
  EXPECT_EQ(phase(pod, "[]", "[" + cs("a", kRunning) + "," + cs("b", kWaiting) + "]"), "Pending");
  EXPECT_EQ(phase(pod, "[]", "[" + cs("a", kRunning) + "," + cs("b", kRunning) + "]"), "Running");
  // Restarting containers (waiting with a last termination) keep Running.
  EXPECT_EQ(phase(pod, "[]",
                  "[" + cs("a", kRunning) + "," +
                      cs("b", kWaiting, R"(, "lastState": {"terminated": {"exitCode": 1}})") + "]"),
            "Running");
  EXPECT_EQ(phase(pod, "[]", "[" + cs("a", term(0)) + "," + cs("b", term(1)) + "]"), "Running");
  EXPECT_EQ(phase(pod, "[]", "[" + cs("a", term(0)) + "," + cs("b", term(1)) + "]", true),
            "Failed");
  EXPECT_EQ(phase(pod, "[]", "[" + cs("a", term(0)) + "," + cs("b", term(0)) + "]", true),
            "Succeeded");

  const std::string never =
      R"({"spec": {"restartPolicy": "Never", "containers": [{"name": "a"}]}})";
  EXPECT_EQ(phase(never, "[]", "[" + cs("a", term(0)) + "]"), "Succeeded");
  EXPECT_EQ(phase(never, "[]", "[" + cs("a", term(2)) + "]"), "Failed");
  const std::string on_failure =
      R"({"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "a"}]}})";
  EXPECT_EQ(phase(on_failure, "[]", "[" + cs("a", term(2)) + "]"), "Running");
  EXPECT_EQ(phase(on_failure, "[]", "[" + cs("a", term(0)) + "]"), "Succeeded");
}

TEST(PodStatusTest, PhaseWithInitContainersAndSidecars) {
  const std::string pod = R"({"spec": {"restartPolicy": "Never",
      "initContainers": [{"name": "init"}, {"name": "side", "restartPolicy": "Always"}],
      "containers": [{"name": "a"}]}})";
  EXPECT_EQ(phase(pod, "[" + cs("init", kRunning) + "]", "[" + cs("a", kWaiting) + "]"), "Pending");
  EXPECT_EQ(phase(pod, "[" + cs("init", term(1)) + "]", "[" + cs("a", kWaiting) + "]"), "Failed");
  std::string inits_done =
      "[" + cs("init", term(0)) + "," + cs("side", kRunning, R"(, "started": true)") + "]";
  EXPECT_EQ(phase(pod, inits_done, "[" + cs("a", kRunning) + "]"), "Running");
  // A sidecar not yet started holds the pod in Pending before any regular container ran.
  std::string side_starting =
      "[" + cs("init", term(0)) + "," + cs("side", kRunning, R"(, "started": false)") + "]";
  EXPECT_EQ(phase(pod, side_starting, "[" + cs("a", kWaiting) + "]"), "Pending");
}

TEST(PodStatusTest, ConditionsAndTransitionTimes) {
  Object pod = parse(R"({"spec": {"initContainers": [{"name": "init"}],
      "containers": [{"name": "a"}, {"name": "b"}], "readinessGates": [{"conditionType": "example.com/gate"}]}})");
  auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1767225600));
  auto t1 = t0 + std::chrono::seconds(30);
  Object status = parse(R"({"phase": "Pending",
      "initContainerStatuses": [{"name": "init", "ready": false, "state": {"running": {}}}],
      "containerStatuses": [{"name": "a", "ready": false, "state": {"waiting": {"reason": "PodInitializing"}}}],
      "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "2025-12-31T00:00:00Z"}]})");
  json::array old = status["conditions"].as_array();
  json::array c = podConditions(pod, status, &old, true, t0);
  ASSERT_EQ(c.size(), 5u);
  auto get = [&](const json::array& conds, const char* type) {
    for (auto& v : conds)
      if (api::strAt(v.as_object(), {"type"}) == type) return v.as_object();
    return json::object();
  };
  EXPECT_EQ(api::strAt(c[0].as_object(), {"type"}), "PodReadyToStartContainers");
  EXPECT_EQ(api::strAt(get(c, "PodReadyToStartContainers"), {"status"}), "True");
  auto init = get(c, "Initialized");
  EXPECT_EQ(api::strAt(init, {"status"}), "False");
  EXPECT_EQ(api::strAt(init, {"reason"}), "ContainersNotInitialized");
  EXPECT_EQ(api::strAt(init, {"message"}), "containers with incomplete status: [init]");
  auto cr = get(c, "ContainersReady");
  EXPECT_EQ(api::strAt(cr, {"message"}),
            "containers with unknown status: [b], containers with unready status: [a]");
  EXPECT_EQ(api::strAt(get(c, "Ready"), {"reason"}), "ContainersNotReady");
  EXPECT_EQ(api::strAt(get(c, "PodScheduled"), {"lastTransitionTime"}), "2025-12-31T00:00:00Z");
  EXPECT_EQ(api::strAt(init, {"lastTransitionTime"}), "2026-01-01T00:00:00Z");

  // Everything ready, but the readiness gate's condition is missing.
  Object running = parse(R"({"phase": "Running",
      "initContainerStatuses": [{"name": "init", "ready": true, "state": {"terminated": {"exitCode": 0}}}],
      "containerStatuses": [{"name": "a", "ready": true, "state": {"running": {}}},
                            {"name": "b", "ready": true, "state": {"running": {}}}]})");
  json::array c2 = podConditions(pod, running, &c, true, t1);
  EXPECT_EQ(api::strAt(get(c2, "Initialized"), {"status"}), "True");
  EXPECT_EQ(api::strAt(get(c2, "Initialized"), {"lastTransitionTime"}), "2026-01-01T00:00:30Z");
  EXPECT_EQ(api::strAt(get(c2, "ContainersReady"), {"status"}), "True");
  EXPECT_EQ(api::strAt(get(c2, "PodReadyToStartContainers"), {"lastTransitionTime"}),
            "2026-01-01T00:00:00Z");  // unchanged status keeps its time
  auto ready = get(c2, "Ready");
  EXPECT_EQ(api::strAt(ready, {"status"}), "False");
  EXPECT_EQ(api::strAt(ready, {"reason"}), "ReadinessGatesNotReady");
  EXPECT_EQ(api::strAt(ready, {"message"}),
            "corresponding condition of pod readiness gate \"example.com/gate\" does not exist.");
  // The gate's condition set True by someone else: Ready.
  running["conditions"] =
      json::array{json::object{{"type", "example.com/gate"}, {"status", "True"}}};
  json::array c3 = podConditions(pod, running, &c2, true, t1);
  EXPECT_EQ(api::strAt(get(c3, "Ready"), {"status"}), "True");

  Object done = parse(R"({"phase": "Succeeded",
      "initContainerStatuses": [{"name": "init", "state": {"terminated": {"exitCode": 0}}}],
      "containerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 0}}},
                            {"name": "b", "state": {"terminated": {"exitCode": 0}}}]})");
  json::array c4 = podConditions(pod, done, nullptr, false, t1);
  EXPECT_EQ(api::strAt(get(c4, "Initialized"), {"reason"}), "PodCompleted");
  EXPECT_EQ(api::strAt(get(c4, "ContainersReady"), {"reason"}), "PodCompleted");
  EXPECT_EQ(api::strAt(get(c4, "Ready"), {"reason"}), "PodCompleted");
}

}  // namespace
}  // namespace berth::agent
