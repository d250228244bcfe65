#include "agent/pod_syncer.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/kinds/access.h"
#include "common/error.h"

namespace berth::agent {
namespace {

namespace json = boost::json;
using api::strAt;
using std::chrono::seconds;

// Containers that run until the test says they exit.
class FakeRuntime : public PodRuntime {
 public:
  explicit FakeRuntime(Clock& clock) : clock_(clock) {}
  Result<std::string> ensureSandbox(const api::Object&) override {
    if (fail_sandbox) return makeError(ErrorCode::kInternal, "CNI failed");
    sandboxes++;
    return std::string("10.244.1.7");
  }
  Status destroySandbox(const api::Object&) override {
    destroyed++;
    return okStatus();
  }
  Result<RuntimeContainer> startContainer(const api::Object& pod, const api::Object& c, int attempt,
                                          const std::string&) override {
    RuntimeContainer r;
    r.name = strAt(c, {"name"});
    r.attempt = attempt;
    r.state.id = r.name + "-" + std::to_string(attempt);
    r.state.running = true;
    r.state.started_at = formatRfc3339(clock_.now());
    r.state.image_id = "sha256:abc";
    all.push_back(r);
    return r;
  }
  std::vector<RuntimeContainer> containers(const std::string&) override { return all; }
  Status stopContainer(const std::string& id, std::chrono::milliseconds grace) override {
    last_grace = grace;
    exit(id, 137, 9);
    return okStatus();
  }
  void exit(const std::string& id, int code, int signal = 0) {
    for (auto& c : all)
      if (c.state.id == id) {
        c.state.running = false;
        c.state.exit_code = code;
        c.state.signal = signal;
        c.state.reason = code == 0 ? "Completed" : "Error";
        c.state.finished_at = formatRfc3339(clock_.now());
      }
  }

  Clock& clock_;
  std::vector<RuntimeContainer> all;
  int sandboxes = 0, destroyed = 0;
  bool fail_sandbox = false;
  std::chrono::milliseconds last_grace{0};
};

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

}  // namespace
}  // namespace berth::agent
