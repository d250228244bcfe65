// The hollow pod script and the kubelet-style status built from it, without
// any client: scripts from annotations, the stage machine with restarts and
// back-off, and the status fields and conditions for each stage.
#include "agent/hollow/hollow_pod.h"

#include <gtest/gtest.h>

#include "api/kinds/access.h"

namespace berth::agent::hollow {
namespace {

namespace json = boost::json;
using api::strAt;
using std::chrono::seconds;

// 2025-01-01T00:00:00Z
const TimePoint kT0 = std::chrono::system_clock::from_time_t(1735689600);

api::Object parse(const std::string& text) { return json::parse(text).as_object(); }

api::Object pod(const std::string& extra_spec = "", const std::string& annotations = "{}") {
  std::string text =
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default",
      "uid":"u-1","annotations":)" +
      annotations + R"(},
      "spec":{"nodeName":"hollow-node-0","containers":[{"name":"b","image":"img-b"},{"name":"a","image":"img-a"}])" +
      extra_spec + R"(},"status":{"phase":"Pending","qosClass":"BestEffort",
      "conditions":[{"type":"PodScheduled","status":"True","lastProbeTime":null,
                     "lastTransitionTime":"2024-12-31T00:00:00Z"}]}})";
  return parse(text);
}

const json::object* conditionOf(const json::object& status, const std::string& type) {
  if (const json::array* conds = api::arrAt(status, {"conditions"}))
    for (const auto& c : *conds)
      if (strAt(c.as_object(), {"type"}) == type) return &c.as_object();
  return nullptr;
}

std::string condStatus(const json::object& status, const std::string& type) {
  const json::object* c = conditionOf(status, type);
  return c ? strAt(*c, {"status"}) : "<none>";
}

const json::object& container(const json::object& status, size_t i) {
  return status.at("containerStatuses").as_array().at(i).as_object();
}

TEST(HollowPodScript, ReadsAnnotationsAndDefaults) {
  PodScript s = scriptFor(pod(), seconds(2), seconds(3));
  EXPECT_EQ(s.startup, seconds(2));
  EXPECT_EQ(s.ready_delay, seconds(3));
  EXPECT_FALSE(s.run_for.has_value());
  EXPECT_EQ(s.restart_policy, "Always");

  s = scriptFor(pod(R"(,"restartPolicy":"Never")",
                    R"({"hollow.berth.dev/run-seconds":"7","hollow.berth.dev/exit-code":"2",
                        "hollow.berth.dev/ready-seconds":"4","hollow.berth.dev/startup-seconds":"1",
                        "hollow.berth.dev/start-failure":"ErrImagePull"})"),
                seconds(9), seconds(9));
  EXPECT_EQ(s.startup, seconds(1));
  EXPECT_EQ(s.ready_delay, seconds(4));
  ASSERT_TRUE(s.run_for.has_value());
  EXPECT_EQ(*s.run_for, seconds(7));
  EXPECT_EQ(s.exit_code, 2);
  EXPECT_EQ(s.start_failure, "ErrImagePull");
  EXPECT_EQ(s.restart_policy, "Never");

  // Malformed numbers are ignored rather than half-read.
  s = scriptFor(pod("", R"({"hollow.berth.dev/run-seconds":"7x"})"), seconds(0), seconds(0));
  EXPECT_FALSE(s.run_for.has_value());
}

TEST(HollowPodScript, ReadinessProbeInitialDelay) {
  api::Object p = parse(R"({"metadata":{"name":"p","uid":"u"},"spec":{"containers":[
      {"name":"a","image":"i","readinessProbe":{"initialDelaySeconds":6,"httpGet":{"port":80}}}]}})");
  EXPECT_EQ(scriptFor(p, seconds(0), seconds(1)).ready_delay, seconds(6));
}

TEST(HollowPodSim, StartsThenBecomesReady) {
  PodSim sim;
  sim.script.startup = seconds(2);
  sim.script.ready_delay = seconds(3);
  sim.acknowledged = kT0;
  auto next = sim.advance(kT0);
  EXPECT_EQ(sim.stage, PodStage::kStarting);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, kT0 + seconds(2));
  next = sim.advance(kT0 + seconds(2));
  EXPECT_EQ(sim.stage, PodStage::kRunning);
  EXPECT_EQ(sim.started, kT0 + seconds(2));
  EXPECT_FALSE(sim.ready(kT0 + seconds(4)));
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, kT0 + seconds(5));
  EXPECT_FALSE(sim.advance(kT0 + seconds(5)).has_value());
  EXPECT_TRUE(sim.ready(kT0 + seconds(5)));
}

TEST(HollowPodSim, RestartBackOffDoublesAndCaps) {
  PodSim sim;
  sim.script.run_for = seconds(1);
  sim.script.exit_code = 1;
  sim.script.restart_policy = "OnFailure";
  sim.acknowledged = kT0;
  // Exit at 1 s, immediate restart; exit at 2 s, back-off 10 s; ...
  sim.advance(kT0 + seconds(1));
  EXPECT_EQ(sim.stage, PodStage::kRunning);
  EXPECT_EQ(sim.restarts, 1);
  auto next = sim.advance(kT0 + seconds(2));
  EXPECT_EQ(sim.stage, PodStage::kBackOff);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, kT0 + seconds(12));
  sim.advance(kT0 + seconds(12));
  EXPECT_EQ(sim.restarts, 2);
  next = sim.advance(kT0 + seconds(13));
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, kT0 + seconds(33));  // 20 s
  // Far in the future the delay is capped at five minutes.
  for (int i = 0; i < 40; ++i)
    sim.advance(sim.stage == PodStage::kBackOff ? sim.backoff_until : sim.started + seconds(1));
  ASSERT_EQ(sim.stage, PodStage::kBackOff);
  EXPECT_EQ(sim.backoff_until - sim.last_finished, kMaxBackOff);
}

TEST(HollowPodSim, NeverRestartEndsInPhase) {
  PodSim sim;
  sim.script.run_for = seconds(5);
  sim.script.restart_policy = "Never";
  sim.acknowledged = kT0;
  EXPECT_EQ(sim.phase(), "Pending");
  sim.advance(kT0);
  EXPECT_EQ(sim.phase(), "Running");
  EXPECT_FALSE(sim.advance(kT0 + seconds(5)).has_value());
  EXPECT_EQ(sim.phase(), "Succeeded");
  PodSim failed = sim;
  failed.last_exit = 137;
  EXPECT_EQ(failed.phase(), "Failed");
  // OnFailure with exit 0 is done too.
  PodSim ok;
  ok.script.run_for = seconds(1);
  ok.script.restart_policy = "OnFailure";
  ok.acknowledged = kT0;
  ok.advance(kT0 + seconds(1));
  EXPECT_EQ(ok.stage, PodStage::kDone);
}

TEST(HollowPodStatus, StartingIsPendingContainerCreating) {
  api::Object p = pod();
  PodSim sim;
  sim.script.startup = seconds(2);
  sim.acknowledged = kT0;
  sim.advance(kT0);
  json::object st = buildPodStatus(p, sim, "10.244.0.1", "10.128.0.2", kT0);
  EXPECT_EQ(strAt(st, {"phase"}), "Pending");
  EXPECT_EQ(strAt(st, {"hostIP"}), "10.244.0.1");
  EXPECT_FALSE(st.contains("podIP"));
  EXPECT_EQ(strAt(st, {"startTime"}), "2025-01-01T00:00:00Z");
  EXPECT_EQ(strAt(st, {"qosClass"}), "BestEffort");  // kept
  // Sorted by name, as the kubelet reports them.
  EXPECT_EQ(strAt(container(st, 0), {"name"}), "a");
  EXPECT_EQ(strAt(container(st, 0), {"state", "waiting", "reason"}), "ContainerCreating");
  EXPECT_EQ(condStatus(st, "PodReadyToStartContainers"), "False");
  EXPECT_EQ(condStatus(st, "Initialized"), "True");
  // Listed in spec order, as the kubelet's status generator walks spec.containers.
  EXPECT_EQ(strAt(*conditionOf(st, "Ready"), {"message"}), "containers with unready status: [b a]");
  EXPECT_EQ(strAt(*conditionOf(st, "Ready"), {"reason"}), "ContainersNotReady");
  // The scheduler's condition survives, after the kubelet's own.
  const json::array& conds = st.at("conditions").as_array();
  ASSERT_EQ(conds.size(), 5u);
  EXPECT_EQ(strAt(conds[0].as_object(), {"type"}), "PodReadyToStartContainers");
  EXPECT_EQ(strAt(conds[4].as_object(), {"type"}), "PodScheduled");
  EXPECT_EQ(strAt(conds[4].as_object(), {"lastTransitionTime"}), "2024-12-31T00:00:00Z");
}

TEST(HollowPodStatus, RunningReadyAndTransitionTimesKept) {
  api::Object p = pod();
  PodSim sim;
  sim.script.ready_delay = seconds(3);
  sim.acknowledged = kT0;
  sim.advance(kT0);
  json::object st = buildPodStatus(p, sim, "10.244.0.1", "10.128.0.2", kT0);
  EXPECT_EQ(strAt(st, {"phase"}), "Running");
  EXPECT_EQ(strAt(st, {"podIP"}), "10.128.0.2");
  EXPECT_EQ(strAt(st.at("podIPs").as_array()[0].as_object(), {"ip"}), "10.128.0.2");
  EXPECT_EQ(strAt(container(st, 0), {"state", "running", "startedAt"}), "2025-01-01T00:00:00Z");
  EXPECT_FALSE(api::boolAt(container(st, 0), {"ready"}).value());
  EXPECT_TRUE(api::boolAt(container(st, 0), {"started"}).value());
  EXPECT_EQ(strAt(container(st, 0), {"imageID"}), "hollow://img-a");
  EXPECT_EQ(strAt(container(st, 0), {"containerID"}), hollowContainerId("u-1", "a", 0));
  EXPECT_EQ(strAt(container(st, 0), {"containerID"}).rfind("hollow://", 0), 0u);
  EXPECT_EQ(condStatus(st, "PodReadyToStartContainers"), "True");
  EXPECT_EQ(condStatus(st, "Ready"), "False");

  // Three seconds later: ready. Ready's transition moves, Initialized's stays.
  p["status"] = st;
  sim.advance(kT0 + seconds(3));
  json::object st2 = buildPodStatus(p, sim, "10.244.0.1", "10.128.0.2", kT0 + seconds(3));
  EXPECT_EQ(condStatus(st2, "Ready"), "True");
  EXPECT_EQ(condStatus(st2, "ContainersReady"), "True");
  EXPECT_EQ(strAt(*conditionOf(st2, "Ready"), {"lastTransitionTime"}), "2025-01-01T00:00:03Z");
  EXPECT_EQ(strAt(*conditionOf(st2, "Initialized"), {"lastTransitionTime"}),
            "2025-01-01T00:00:00Z");
  EXPECT_FALSE(conditionOf(st2, "Ready")->contains("reason"));
  // Recomputing at the same time gives the same status (no write needed).
  p["status"] = st2;
  EXPECT_EQ(buildPodStatus(p, sim, "10.244.0.1", "10.128.0.2", kT0 + seconds(3)), st2);
}

TEST(HollowPodStatus, TerminalPhases) {
  api::Object p = pod(R"(,"restartPolicy":"Never")");
  PodSim sim;
  sim.script.run_for = seconds(5);
  sim.script.restart_policy = "Never";
  sim.acknowledged = kT0;
  sim.advance(kT0 + seconds(5));
  json::object st = buildPodStatus(p, sim, "h", "ip", kT0 + seconds(5));
  EXPECT_EQ(strAt(st, {"phase"}), "Succeeded");
  const json::object& term = container(st, 0).at("state").at("terminated").as_object();
  EXPECT_EQ(api::intAt(term, {"exitCode"}), 0);
  EXPECT_EQ(strAt(term, {"reason"}), "Completed");
  EXPECT_EQ(strAt(term, {"startedAt"}), "2025-01-01T00:00:00Z");
  EXPECT_EQ(strAt(term, {"finishedAt"}), "2025-01-01T00:00:05Z");
  EXPECT_EQ(condStatus(st, "PodReadyToStartContainers"), "False");
  EXPECT_EQ(strAt(*conditionOf(st, "Initialized"), {"reason"}), "PodCompleted");
  EXPECT_EQ(strAt(*conditionOf(st, "Ready"), {"reason"}), "PodCompleted");
  EXPECT_EQ(strAt(*conditionOf(st, "ContainersReady"), {"reason"}), "PodCompleted");

  sim.last_exit = 3;
  st = buildPodStatus(p, sim, "h", "ip", kT0 + seconds(5));
  EXPECT_EQ(strAt(st, {"phase"}), "Failed");
  EXPECT_EQ(strAt(container(st, 1), {"state", "terminated", "reason"}), "Error");
  EXPECT_EQ(strAt(*conditionOf(st, "Ready"), {"reason"}), "PodFailed");
}

TEST(HollowPodStatus, CrashLoopBackOffWithLastState) {
  api::Object p = pod();
  PodSim sim;
  sim.script.run_for = seconds(1);
  sim.script.exit_code = 1;
  sim.acknowledged = kT0;
  sim.advance(kT0 + seconds(2));  // restarted once, exited again: back-off 10 s
  ASSERT_EQ(sim.stage, PodStage::kBackOff);
  json::object st = buildPodStatus(p, sim, "h", "ip", kT0 + seconds(2));
  EXPECT_EQ(strAt(st, {"phase"}), "Running");
  const json::object& a = container(st, 0);
  EXPECT_EQ(strAt(a, {"state", "waiting", "reason"}), "CrashLoopBackOff");
  EXPECT_EQ(strAt(a, {"state", "waiting", "message"}),
            "back-off 10s restarting failed container=a pod=web_default(u-1)");
  EXPECT_EQ(api::intAt(a, {"restartCount"}), 1);
  EXPECT_EQ(api::intAt(a, {"lastState", "terminated", "exitCode"}), 1);
  EXPECT_EQ(strAt(a, {"lastState", "terminated", "finishedAt"}), "2025-01-01T00:00:02Z");
}

TEST(HollowPodStatus, InitContainersAndStartFailure) {
  api::Object p = pod(R"(,"initContainers":[{"name":"init","image":"i"}])",
                      R"({"hollow.berth.dev/start-failure":"ErrImagePull"})");
  PodSim sim;
  sim.script = scriptFor(p, seconds(1), seconds(0));
  sim.acknowledged = kT0;
  sim.advance(kT0);
  json::object st = buildPodStatus(p, sim, "h", "ip", kT0);
  EXPECT_EQ(strAt(*conditionOf(st, "Initialized"), {"message"}),
            "containers with incomplete status: [init]");
  EXPECT_EQ(strAt(container(st, 0), {"state", "waiting", "reason"}), "PodInitializing");

  sim.advance(kT0 + seconds(1));
  ASSERT_EQ(sim.stage, PodStage::kStartFailed);
  st = buildPodStatus(p, sim, "h", "ip", kT0 + seconds(1));
  EXPECT_EQ(strAt(st, {"phase"}), "Pending");
  EXPECT_EQ(strAt(container(st, 0), {"state", "waiting", "reason"}), "ErrImagePull");
  EXPECT_EQ(condStatus(st, "Initialized"), "True");
  EXPECT_EQ(condStatus(st, "PodReadyToStartContainers"), "True");
  const json::object& init = st.at("initContainerStatuses").as_array()[0].as_object();
  EXPECT_EQ(strAt(init, {"state", "terminated", "reason"}), "Completed");
  EXPECT_TRUE(api::boolAt(init, {"ready"}).value());
}

TEST(HollowPodStatus, ReadinessGates) {
  api::Object p = pod(R"(,"readinessGates":[{"conditionType":"example.com/lb"}])");
  PodSim sim;
  sim.acknowledged = kT0;
  sim.advance(kT0);
  json::object st = buildPodStatus(p, sim, "h", "ip", kT0);
  EXPECT_EQ(condStatus(st, "ContainersReady"), "True");
  EXPECT_EQ(condStatus(st, "Ready"), "False");
  EXPECT_EQ(strAt(*conditionOf(st, "Ready"), {"reason"}), "ReadinessGatesNotReady");
  EXPECT_EQ(strAt(*conditionOf(st, "Ready"), {"message"}),
            "corresponding condition of pod readiness gate \"example.com/lb\" does not exist.");
  st.at("conditions")
      .as_array()
      .push_back(json::object{{"type", "example.com/lb"}, {"status", "True"}});
  p["status"] = st;
  st = buildPodStatus(p, sim, "h", "ip", kT0);
  EXPECT_EQ(condStatus(st, "Ready"), "True");
}

TEST(HollowPodAdopt, RunningAndTerminalPods) {
  api::Object p = pod();
  p["status"] = parse(R"({"phase":"Running","startTime":"2024-12-31T00:00:00Z","containerStatuses":[
      {"name":"a","restartCount":2,"state":{"running":{"startedAt":"2024-12-31T00:00:05Z"}}}]})");
  PodSim sim;
  ASSERT_TRUE(adoptExistingStatus(p, &sim));
  EXPECT_EQ(sim.stage, PodStage::kRunning);
  EXPECT_EQ(sim.restarts, 2);
  EXPECT_EQ(formatRfc3339(sim.started), "2024-12-31T00:00:05Z");

  p["status"] = parse(R"({"phase":"Failed","containerStatuses":[
      {"name":"a","state":{"terminated":{"exitCode":4}}}]})");
  PodSim done;
  ASSERT_TRUE(adoptExistingStatus(p, &done));
  EXPECT_EQ(done.phase(), "Failed");
  EXPECT_EQ(done.last_exit, 4);

  p["status"] = parse(R"({"phase":"Pending"})");
  PodSim fresh;
  EXPECT_FALSE(adoptExistingStatus(p, &fresh));
}

}  // namespace
}  // namespace berth::agent::hollow
