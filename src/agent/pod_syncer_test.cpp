#include "agent/pod_syncer.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <mutex>
#include <set>

#include "agent/fake_pod_runtime.h"
#include "api/kinds/access.h"
#include "common/error.h"

namespace berth::agent {
namespace {

namespace json = boost::json;
using api::strAt;
using std::chrono::seconds;

class PodSyncerTest : public ::testing::Test {
 protected:
  api::Object pod(const std::string& policy, const std::string& extra_spec = "") {
    api::Object p = json::parse(R"({"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
        "spec": {"restartPolicy": ")" +
                                policy + R"(", )" + extra_spec +
                                R"("containers": [{"name": "c", "image": "busybox:1"}]}})")
                        .as_object();
    return p;
  }
  // The pod as the API would hold it after the agent wrote `status`.
  void apply(api::Object& p, const SyncOutcome& o) { p["status"] = o.status; }
  static std::string phase(const SyncOutcome& o) { return strAt(o.status, {"phase"}); }
  static const json::object& cstatus(const SyncOutcome& o, size_t i = 0) {
    return o.status.at("containerStatuses").as_array()[i].as_object();
  }

  FakeClock clock_{std::chrono::system_clock::time_point(seconds(1767225600))};
  FakeRuntime runtime_{clock_};
  PodSyncer syncer_{runtime_, clock_, "10.0.0.2"};
};

TEST_F(PodSyncerTest, StartsRunsAndCrashLoops) {
  api::Object p = pod("Always");
  auto first = syncer_.sync(p);
  apply(p, first);
  EXPECT_EQ(phase(first), "Running");
  EXPECT_EQ(strAt(first.status, {"podIP"}), "10.244.1.7");
  EXPECT_EQ(strAt(first.status, {"hostIP"}), "10.0.0.2");
  EXPECT_EQ(strAt(first.status, {"qosClass"}), "BestEffort");
  EXPECT_TRUE(cstatus(first).at("ready").as_bool());
  ASSERT_EQ(first.events.size(), 2u);
  EXPECT_EQ(first.events[1].message, "Started container c");
  // Exits 1: restarted at once (the first restart has no back-off).
  clock_.advance(seconds(3));
  runtime_.exit("c-0", 1);
  auto second = syncer_.sync(p);
  apply(p, second);
  EXPECT_EQ(runtime_.all.size(), 2u);
  EXPECT_EQ(cstatus(second).at("restartCount").as_int64(), 1);
  EXPECT_EQ(strAt(cstatus(second), {"lastState", "terminated", "containerID"}), "berth://c-0");
  // Exits again: CrashLoopBackOff for 10 s, then restarted.
  clock_.advance(seconds(2));
  runtime_.exit("c-1", 1);
  auto third = syncer_.sync(p);
  apply(p, third);
  EXPECT_EQ(runtime_.all.size(), 2u);
  EXPECT_EQ(strAt(cstatus(third), {"state", "waiting", "reason"}), "CrashLoopBackOff");
  EXPECT_EQ(strAt(cstatus(third), {"state", "waiting", "message"}),
            "back-off 10s restarting failed container=c pod=p_ns(u1)");
  EXPECT_EQ(phase(third), "Running");
  ASSERT_TRUE(third.resync_at);
  EXPECT_EQ(*third.resync_at, clock_.now() + seconds(10));
  EXPECT_EQ(strAt(third.status.at("conditions").as_array()[2].as_object(), {"status"}), "False");
  clock_.advance(seconds(10));
  auto fourth = syncer_.sync(p);
  EXPECT_EQ(runtime_.all.size(), 3u);
  EXPECT_EQ(cstatus(fourth).at("restartCount").as_int64(), 2);
}

TEST_F(PodSyncerTest, RestartPoliciesEndInTerminalPhases) {
  api::Object never = pod("Never");
  apply(never, syncer_.sync(never));
  runtime_.exit("c-0", 2);
  auto failed = syncer_.sync(never);
  EXPECT_EQ(phase(failed), "Failed");
  EXPECT_EQ(runtime_.all.size(), 1u);
  apply(never, failed);
  EXPECT_EQ(phase(syncer_.sync(never)), "Failed");  // stays

  runtime_.all.clear();
  api::Object on_failure = pod("OnFailure");
  apply(on_failure, syncer_.sync(on_failure));
  runtime_.exit("c-0", 0);
  auto done = syncer_.sync(on_failure);
  EXPECT_EQ(phase(done), "Succeeded");
  EXPECT_EQ(strAt(cstatus(done), {"state", "terminated", "reason"}), "Completed");
  EXPECT_EQ(runtime_.all.size(), 1u);
}

TEST_F(PodSyncerTest, AFinishedPodGivesItsNetworkBackAndKeepsItsIp) {
  api::Object p = pod("Never");
  apply(p, syncer_.sync(p));
  EXPECT_TRUE(runtime_.released.empty());  // running: the network stays
  runtime_.exit("c-0", 0);
  auto done = syncer_.sync(p);
  EXPECT_EQ(phase(done), "Succeeded");
  EXPECT_EQ(runtime_.released, std::set<std::string>{"u1"});
  EXPECT_EQ(runtime_.destroyed, 0);  // the exited container and its log stay
  apply(p, done);
  auto later = syncer_.sync(p);
  EXPECT_EQ(strAt(later.status, {"podIP"}), "10.244.1.7");  // still reported
  EXPECT_EQ(runtime_.all.size(), 1u);
}

TEST_F(PodSyncerTest, InitContainersRunFirstInOrder) {
  api::Object p = json::parse(R"({"metadata": {"name": "p", "namespace": "ns", "uid": "u2"},
      "spec": {"restartPolicy": "Always",
               "initContainers": [{"name": "i1", "image": "b"}, {"name": "i2", "image": "b"}],
               "containers": [{"name": "c", "image": "b"}]}})")
                      .as_object();
  auto s1 = syncer_.sync(p);
  apply(p, s1);
  ASSERT_EQ(runtime_.all.size(), 1u);
  EXPECT_EQ(runtime_.all[0].name, "i1");
  EXPECT_EQ(phase(s1), "Pending");
  EXPECT_EQ(strAt(cstatus(s1), {"state", "waiting", "reason"}), "PodInitializing");
  runtime_.exit("i1-0", 0);
  apply(p, syncer_.sync(p));
  ASSERT_EQ(runtime_.all.size(), 2u);
  EXPECT_EQ(runtime_.all[1].name, "i2");
  runtime_.exit("i2-0", 0);
  auto s3 = syncer_.sync(p);
  ASSERT_EQ(runtime_.all.size(), 3u);
  EXPECT_EQ(runtime_.all[2].name, "c");
  EXPECT_EQ(phase(s3), "Running");
  auto initialized = s3.status.at("conditions").as_array()[1].as_object();
  EXPECT_EQ(strAt(initialized, {"type"}), "Initialized");
  EXPECT_EQ(strAt(initialized, {"status"}), "True");
}

TEST_F(PodSyncerTest, DeletionStopsWithTheGracePeriodAndTearsDown) {
  api::Object p = pod("Always", R"("terminationGracePeriodSeconds": 7, )");
  apply(p, syncer_.sync(p));
  p["metadata"].as_object()["deletionTimestamp"] = "2026-01-01T00:00:10Z";
  p["metadata"].as_object()["deletionGracePeriodSeconds"] = 5;
  auto gone = syncer_.sync(p);
  EXPECT_TRUE(gone.terminated);
  EXPECT_EQ(runtime_.last_grace, std::chrono::milliseconds(5000));
  EXPECT_EQ(runtime_.destroyed, 1);
  EXPECT_EQ(gone.events[0].message, "Stopping container c");
  EXPECT_EQ(runtime_.all.size(), 1u);  // nothing restarted
  EXPECT_EQ(phase(gone), "Failed");    // killed by signal: a failure, as upstream
}

TEST_F(PodSyncerTest, SandboxFailureWaitsAndRetries) {
  runtime_.fail_sandbox = true;
  api::Object p = pod("Always");
  auto s = syncer_.sync(p);
  EXPECT_TRUE(runtime_.all.empty());
  EXPECT_EQ(phase(s), "Pending");
  EXPECT_EQ(strAt(cstatus(s), {"state", "waiting", "reason"}), "ContainerCreating");
  EXPECT_EQ(s.events[0].reason, "FailedCreatePodSandBox");
  ASSERT_TRUE(s.resync_at);
  runtime_.fail_sandbox = false;
  EXPECT_EQ(phase(syncer_.sync(p)), "Running");
}

TEST_F(PodSyncerTest, ProbeVerdictsDecideStartedReadyAndRestarts) {
  ProbeVerdict verdict;
  verdict.started = false;
  verdict.ready = false;
  std::vector<std::string> asked;
  PodSyncer syncer(runtime_, clock_, "10.0.0.2", nullptr,
                   [&](const std::string& uid, const api::Object& c, const std::string& id) {
                     asked.push_back(uid + "/" + api::strAt(c, {"name"}) + "/" + id);
                     return verdict;
                   });
  api::Object p = pod("Always", R"("terminationGracePeriodSeconds": 9, )");
  p["spec"].as_object()["containers"].as_array()[0].as_object()["livenessProbe"] =
      json::parse(R"({"exec": {"command": ["true"]}, "terminationGracePeriodSeconds": 2})");
  auto s1 = syncer.sync(p);
  apply(p, s1);
  EXPECT_FALSE(cstatus(s1).at("started").as_bool());
  EXPECT_FALSE(cstatus(s1).at("ready").as_bool());
  ASSERT_EQ(s1.running.size(), 1u);
  EXPECT_EQ(s1.running[0].state.id, "c-0");
  EXPECT_EQ(s1.pod_ip, "10.244.1.7");
  EXPECT_EQ(asked.back(), "u1/c/c-0");

  verdict.started = true;
  auto s2 = syncer.sync(p);
  EXPECT_TRUE(cstatus(s2).at("started").as_bool());
  EXPECT_FALSE(cstatus(s2).at("ready").as_bool());
  verdict.ready = true;
  auto s3 = syncer.sync(p);
  apply(p, s3);
  EXPECT_TRUE(cstatus(s3).at("ready").as_bool());

  // Liveness fails: killed with the probe's grace period, restarted at once.
  verdict.liveness_failed = true;
  auto s4 = syncer.sync(p);
  EXPECT_EQ(runtime_.last_grace, std::chrono::milliseconds(2000));
  ASSERT_EQ(runtime_.all.size(), 2u);
  EXPECT_FALSE(runtime_.all[0].state.running);
  EXPECT_TRUE(runtime_.all[1].state.running);
  EXPECT_EQ(cstatus(s4).at("restartCount").as_int64(), 1);
  ASSERT_GE(s4.events.size(), 1u);
  EXPECT_EQ(s4.events[0].reason, "Killing");
  EXPECT_EQ(s4.events[0].message, "Container c failed liveness probe, will be restarted");
}

TEST_F(PodSyncerTest, AStartupFailureUnderRestartPolicyNeverFailsThePod) {
  PodSyncer syncer(runtime_, clock_, "10.0.0.2", nullptr,
                   [&](const std::string&, const api::Object&, const std::string&) {
                     ProbeVerdict v;
                     v.started = false;
                     v.startup_failed = true;
                     return v;
                   });
  api::Object p = pod("Never");
  apply(p, syncer.sync(p));  // started, then the verdict kills it
  auto s = syncer.sync(p);
  EXPECT_EQ(runtime_.last_grace, std::chrono::milliseconds(30000));  // the pod's default
  EXPECT_EQ(runtime_.all.size(), 1u);
  EXPECT_EQ(phase(s), "Failed");
  EXPECT_EQ(s.events[0].message, "Container c failed startup probe, will be restarted");
}

TEST_F(PodSyncerTest, AMissingImageIsPulledFirstAndAFailedPullWaits) {
  bool present = false;
  Status pull_result = makeError(ErrorCode::kNotFound, "manifest unknown");
  int pulls = 0;
  ImageSource source;
  source.present = [&](const std::string&) { return present; };
  source.pull = [&](const std::string&, const api::Object&) -> Result<int64_t> {
    pulls++;
    if (!pull_result.ok()) return pull_result.error();
    present = true;
    return int64_t{1234};
  };
  ImageManager images(source, clock_);
  PodSyncer syncer(runtime_, clock_, "10.0.0.2", &images);
  api::Object p = pod("Always");
  auto s1 = syncer.sync(p);
  apply(p, s1);
  EXPECT_TRUE(runtime_.all.empty());
  EXPECT_EQ(pulls, 1);
  EXPECT_EQ(strAt(cstatus(s1), {"state", "waiting", "reason"}), "ErrImagePull");
  ASSERT_TRUE(s1.resync_at);
  EXPECT_EQ(*s1.resync_at, clock_.now() + seconds(10));
  // Within the back-off no pull is tried.
  auto s2 = syncer.sync(p);
  EXPECT_EQ(pulls, 1);
  EXPECT_EQ(strAt(cstatus(s2), {"state", "waiting", "reason"}), "ImagePullBackOff");
  clock_.advance(seconds(10));
  pull_result = okStatus();
  auto s3 = syncer.sync(p);
  EXPECT_EQ(pulls, 2);
  ASSERT_EQ(runtime_.all.size(), 1u);
  EXPECT_EQ(phase(s3), "Running");
  EXPECT_EQ(s3.events[0].reason, "Pulling");
}

TEST_F(PodSyncerTest, ADeletedPodWhoseContainerWouldNotStopIsKeptAndTriedAgain) {
  api::Object p = pod("Always");
  apply(p, syncer_.sync(p));
  p["metadata"].as_object()["deletionTimestamp"] = "2026-01-01T00:00:10Z";
  runtime_.fail_stops = true;
  auto stuck = syncer_.sync(p);
  EXPECT_FALSE(stuck.terminated);
  EXPECT_EQ(runtime_.destroyed, 0);  // the sandbox stays while something runs
  ASSERT_TRUE(stuck.resync_at.has_value());
  EXPECT_EQ(*stuck.resync_at, clock_.now() + seconds(1));
  EXPECT_EQ(syncer_.cleanup("u1").error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(runtime_.destroyed, 0);
  runtime_.fail_stops = false;
  auto gone = syncer_.sync(p);
  EXPECT_TRUE(gone.terminated);
  EXPECT_EQ(runtime_.destroyed, 1);
}

TEST_F(PodSyncerTest, CleanupStopsAndTearsDownWhatAGonePodLeft) {
  api::Object p = pod("Always");
  apply(p, syncer_.sync(p));
  EXPECT_EQ(runtime_.podUids(), std::vector<std::string>{"u1"});
  ASSERT_TRUE(syncer_.cleanup("u1").ok());
  EXPECT_FALSE(runtime_.all[0].state.running);
  EXPECT_EQ(runtime_.last_grace, std::chrono::milliseconds(0));
  EXPECT_EQ(runtime_.destroyed, 1);
}

TEST_F(PodSyncerTest, PostStartRunsAfterTheStartAndAFailureKillsTheContainer) {
  api::Object p = pod("Always");
  p["spec"].as_object()["containers"].as_array()[0].as_object()["lifecycle"] =
      json::parse(R"({"postStart": {"exec": {"command": ["touch", "/ready"]}}})");
  auto s1 = syncer_.sync(p);
  apply(p, s1);
  EXPECT_EQ(runtime_.hooks, std::vector<std::string>{"c/c-0:exec"});
  EXPECT_TRUE(runtime_.all[0].state.running);
  EXPECT_EQ(phase(s1), "Running");

  runtime_.fail_hooks = true;
  runtime_.exit("c-0", 1);
  auto s2 = syncer_.sync(p);  // restarted at once; its postStart fails
  ASSERT_EQ(runtime_.all.size(), 2u);
  EXPECT_FALSE(runtime_.all[1].state.running);
  bool reported = false;
  for (const auto& e : s2.events)
    reported |= e.reason == "FailedPostStartHook" &&
                e.message == "command 'false' exited with 1: " && e.type == "Warning";
  EXPECT_TRUE(reported);
  EXPECT_FALSE(cstatus(s2).at("ready").as_bool());
}

TEST_F(PodSyncerTest, PreStopRunsWithinTheGracePeriodBeforeTheStop) {
  api::Object p = pod("Always", R"("terminationGracePeriodSeconds": 7, )");
  p["spec"].as_object()["containers"].as_array()[0].as_object()["lifecycle"] =
      json::parse(R"({"preStop": {"httpGet": {"path": "/quit", "port": 8080}}})");
  apply(p, syncer_.sync(p));
  p["metadata"].as_object()["deletionTimestamp"] = "2026-01-01T00:00:10Z";
  p["metadata"].as_object()["deletionGracePeriodSeconds"] = 7;
  runtime_.fail_hooks = true;
  auto gone = syncer_.sync(p);
  EXPECT_TRUE(gone.terminated);
  EXPECT_EQ(runtime_.hooks, std::vector<std::string>{"c/c-0:http"});
  EXPECT_EQ(runtime_.hook_timeout, std::chrono::milliseconds(7000));
  // What was left of the grace period, never less than 2 s.
  EXPECT_GE(runtime_.last_grace, std::chrono::milliseconds(2000));
  EXPECT_LE(runtime_.last_grace, std::chrono::milliseconds(7000));
  bool reported = false;
  for (const auto& e : gone.events) reported |= e.reason == "FailedPreStopHook";
  EXPECT_TRUE(reported);
}

}  // namespace
}  // namespace berth::agent
