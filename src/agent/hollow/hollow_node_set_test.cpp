// HollowNodeSet over a FakeClient with a FakeClock, in test mode (no
// threads): step() fires the timers due at the fake time and performs the
// queued writes, so registration, lease renewal, node heartbeats and the pod
// status transitions are checked without sleeping.
#include "agent/hollow/hollow_node_set.h"

#include <gtest/gtest.h>

#include "api/kinds/access.h"
#include "client/fake_client.h"

namespace berth::agent::hollow {
namespace {

namespace json = boost::json;
using api::strAt;
using client::ObjectPtr;
using std::chrono::seconds;

// 2025-01-01T00:00:00Z
const TimePoint kT0 = std::chrono::system_clock::from_time_t(1735689600);

api::Object parse(const std::string& text) { return json::parse(text).as_object(); }

std::string condField(const api::Object& obj, const std::string& type, const char* field) {
  if (const json::array* conds = api::arrAt(obj, {"status", "conditions"}))
    for (const auto& c : *conds)
      if (strAt(c.as_object(), {"type"}) == type) return strAt(c.as_object(), {field});
  return "<none>";
}

class HollowNodeSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Feed the shared pod informer from the fake's synchronous watch, so the
    // set sees every write (its own included) at once, as a test step.
    client::Informer& informer = informers_.forKind(pods_);
    auto w = fake_.watch(pods_, "", {}, [&informer](const client::Event& ev) {
      if (ev.type == client::EventType::kAdded || ev.type == client::EventType::kModified)
        informer.injectUpsert(ev.object);
      else if (ev.type == client::EventType::kDeleted)
        informer.injectDelete(client::keyOf(*ev.object));
    });
    ASSERT_TRUE(w.ok());
    watch_ = std::move(w).value();
    informer.markSynced();
  }
  void TearDown() override {
    if (set_) set_->stop();
    if (watch_) watch_->stop();
  }

  HollowNodeSet& makeSet(int count, HollowOptions options = {}) {
    options.count = count;
    options.run_threads = false;
    set_ = std::make_unique<HollowNodeSet>(fake_, informers_, clock_, options);
    EXPECT_TRUE(set_->start().ok());
    set_->step();
    return *set_;
  }

  void advance(std::chrono::seconds d) {
    clock_.advance(d);
    set_->step();
  }

  ObjectPtr get(const api::KindInfo& kind, const std::string& ns, const std::string& name) {
    auto r = fake_.get(kind, ns, name);
    return r.ok() ? *r : nullptr;
  }
  ObjectPtr node(const std::string& name) { return get(nodes_, "", name); }
  ObjectPtr lease(const std::string& name) { return get(leases_, "kube-node-lease", name); }
  ObjectPtr pod(const std::string& name) { return get(pods_, "default", name); }

  ObjectPtr createPod(const std::string& name, const std::string& node,
                      const std::string& extra_spec = "", const std::string& annotations = "{}") {
    auto r = fake_.create(
        pods_, parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
                     R"(","namespace":"default","annotations":)" + annotations +
                     R"(},"spec":{"nodeName":")" + node +
                     R"(","containers":[{"name":"app","image":"nginx"}])" + extra_spec + "}}"));
    EXPECT_TRUE(r.ok());
    set_->step();
    return r.ok() ? *r : nullptr;
  }

  size_t writesTo(const std::string& resource, const std::string& subresource = "*") {
    size_t n = 0;
    for (const auto& a : fake_.writes())
      if (a.resource == resource && (subresource == "*" || a.subresource == subresource)) ++n;
    return n;
  }

  FakeClock clock_{kT0};
  client::FakeClient fake_{clock_};
  client::InformerFactory informers_{fake_};
  std::unique_ptr<client::Watch> watch_;
  std::unique_ptr<HollowNodeSet> set_;
  const api::KindInfo& pods_ = client::kind("", "Pod");
  const api::KindInfo& nodes_ = client::kind("", "Node");
  const api::KindInfo& leases_ = client::kind("coordination.k8s.io", "Lease");
};

TEST_F(HollowNodeSetTest, RegistersNodesWithStatusAndLease) {
  HollowNodeSet& set = makeSet(4);
  EXPECT_EQ(set.registeredCount(), 4u);
  EXPECT_EQ(set.nodeNames().front(), "hollow-node-0");

  ObjectPtr n = node("hollow-node-0");
  ASSERT_TRUE(n);
  EXPECT_EQ(strAt(*n, {"metadata", "labels", "kubernetes.io/hostname"}), "hollow-node-0");
  EXPECT_EQ(strAt(*n, {"metadata", "labels", "kubernetes.io/os"}), "linux");
  EXPECT_EQ(strAt(*n, {"metadata", "labels", "kubernetes.io/arch"}), "amd64");
  EXPECT_EQ(strAt(*n, {"metadata", "labels", "topology.kubernetes.io/zone"}), "hollow-zone-a");
  EXPECT_EQ(strAt(*node("hollow-node-1"), {"metadata", "labels", "topology.kubernetes.io/zone"}),
            "hollow-zone-b");
  EXPECT_EQ(strAt(*node("hollow-node-3"), {"metadata", "labels", "topology.kubernetes.io/zone"}),
            "hollow-zone-a");
  EXPECT_EQ(strAt(*n, {"status", "capacity", "cpu"}), "4");
  EXPECT_EQ(strAt(*n, {"status", "capacity", "memory"}), "16Gi");
  EXPECT_EQ(strAt(*n, {"status", "capacity", "pods"}), "110");
  EXPECT_EQ(strAt(*n, {"status", "allocatable", "pods"}), "110");
  EXPECT_EQ(strAt(*n, {"status", "nodeInfo", "kubeletVersion"}), "v1.32.2-berth-hollow");
  EXPECT_EQ(strAt(*n, {"status", "nodeInfo", "containerRuntimeVersion"}), "hollow://1");
  const json::array* addrs = api::arrAt(*n, {"status", "addresses"});
  ASSERT_TRUE(addrs);
  EXPECT_EQ(strAt((*addrs)[0].as_object(), {"type"}), "InternalIP");
  EXPECT_EQ(strAt((*addrs)[0].as_object(), {"address"}), "10.244.0.1");
  EXPECT_EQ(strAt(*node("hollow-node-1"), {"spec", "podCIDR"}), "10.128.1.0/24");

  EXPECT_EQ(condField(*n, "Ready", "status"), "True");
  EXPECT_EQ(condField(*n, "Ready", "reason"), "KubeletReady");
  EXPECT_EQ(condField(*n, "Ready", "message"), "kubelet is posting ready status");
  EXPECT_EQ(condField(*n, "MemoryPressure", "status"), "False");
  EXPECT_EQ(condField(*n, "DiskPressure", "reason"), "KubeletHasNoDiskPressure");
  EXPECT_EQ(condField(*n, "PIDPressure", "status"), "False");
  EXPECT_EQ(condField(*n, "Ready", "lastHeartbeatTime"), "2025-01-01T00:00:00Z");

  ObjectPtr l = lease("hollow-node-0");
  ASSERT_TRUE(l);
  EXPECT_EQ(strAt(*l, {"spec", "holderIdentity"}), "hollow-node-0");
  EXPECT_EQ(api::intAt(*l, {"spec", "leaseDurationSeconds"}), 40);
  EXPECT_EQ(strAt(*l, {"spec", "renewTime"}), "2025-01-01T00:00:00.000000Z");
  const json::array* owners = api::arrAt(*l, {"metadata", "ownerReferences"});
  ASSERT_TRUE(owners && owners->size() == 1);
  EXPECT_EQ(strAt((*owners)[0].as_object(), {"kind"}), "Node");
  EXPECT_EQ(strAt((*owners)[0].as_object(), {"uid"}), strAt(*n, {"metadata", "uid"}));
}

TEST_F(HollowNodeSetTest, LeaseRenewalsSpreadOverThePeriod) {
  makeSet(2);
  size_t base = writesTo("leases");
  // Node 0 renews at +10 s, node 1 at +15 s (its slot is half a period later).
  advance(seconds(9));
  EXPECT_EQ(writesTo("leases"), base);
  advance(seconds(1));
  EXPECT_EQ(strAt(*lease("hollow-node-0"), {"spec", "renewTime"}), "2025-01-01T00:00:10.000000Z");
  EXPECT_EQ(strAt(*lease("hollow-node-1"), {"spec", "renewTime"}), "2025-01-01T00:00:00.000000Z");
  advance(seconds(5));
  EXPECT_EQ(strAt(*lease("hollow-node-1"), {"spec", "renewTime"}), "2025-01-01T00:00:15.000000Z");
  EXPECT_EQ(writesTo("leases"), base + 2);
  advance(seconds(10));
  EXPECT_EQ(writesTo("leases"), base + 4);
  EXPECT_EQ(set_->stats().lease_renewals, 6u);  // 2 at registration + 4
}

TEST_F(HollowNodeSetTest, NodeStatusHeartbeatEveryMinute) {
  makeSet(1);
  size_t base = writesTo("nodes", "status");
  advance(seconds(59));
  EXPECT_EQ(writesTo("nodes", "status"), base);
  advance(seconds(1));
  EXPECT_EQ(writesTo("nodes", "status"), base + 1);
  ObjectPtr n = node("hollow-node-0");
  EXPECT_EQ(condField(*n, "Ready", "lastHeartbeatTime"), "2025-01-01T00:01:00Z");
  EXPECT_EQ(condField(*n, "Ready", "lastTransitionTime"), "2025-01-01T00:00:00Z");
  // Capacity from registration is still there (the heartbeat patches conditions only).
  EXPECT_EQ(strAt(*n, {"status", "capacity", "cpu"}), "4");
}

TEST_F(HollowNodeSetTest, CustomCapacityLabelsAndPrefix) {
  HollowOptions o;
  o.name_prefix = "sim-";
  o.first_index = 10;
  o.resources.cpu = "8";
  o.resources.memory = "32Gi";
  o.resources.pods = "30";
  o.labels["pool"] = "batch";
  makeSet(1, o);
  ObjectPtr n = node("sim-10");
  ASSERT_TRUE(n);
  EXPECT_EQ(strAt(*n, {"status", "capacity", "cpu"}), "8");
  EXPECT_EQ(strAt(*n, {"status", "allocatable", "memory"}), "32Gi");
  EXPECT_EQ(strAt(*n, {"status", "capacity", "pods"}), "30");
  EXPECT_EQ(strAt(*n, {"metadata", "labels", "pool"}), "batch");
  EXPECT_EQ(strAt(*n, {"metadata", "labels", "topology.kubernetes.io/zone"}), "hollow-zone-b");
}

TEST_F(HollowNodeSetTest, ReRegistersOverAnExistingNode) {
  // A node left by an earlier agent run, NotReady (Unknown) meanwhile.
  fake_.add(nodes_, parse(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"hollow-node-0"},
      "status":{"conditions":[{"type":"Ready","status":"Unknown","lastTransitionTime":"2024-01-01T00:00:00Z"}]}})"));
  clock_.advance(seconds(30));
  makeSet(1);
  ObjectPtr n = node("hollow-node-0");
  EXPECT_EQ(condField(*n, "Ready", "status"), "True");
  EXPECT_EQ(condField(*n, "Ready", "lastTransitionTime"), "2025-01-01T00:00:30Z");
  EXPECT_EQ(set_->registeredCount(), 1u);
}

TEST_F(HollowNodeSetTest, PodPendingRunningReady) {
  HollowOptions o;
  o.startup_latency = seconds(2);
  o.ready_delay = seconds(3);
  makeSet(1, o);
  createPod("web", "hollow-node-0");
  ObjectPtr p = pod("web");
  EXPECT_EQ(strAt(*p, {"status", "phase"}), "Pending");
  EXPECT_EQ(strAt(*p, {"status", "hostIP"}), "10.244.0.1");
  EXPECT_EQ(strAt(p->at("status").at("containerStatuses").as_array()[0].as_object(),
                  {"state", "waiting", "reason"}),
            "ContainerCreating");

  advance(seconds(2));
  p = pod("web");
  EXPECT_EQ(strAt(*p, {"status", "phase"}), "Running");
  EXPECT_EQ(strAt(*p, {"status", "podIP"}), "10.128.0.2");
  const json::object& cs = p->at("status").at("containerStatuses").as_array()[0].as_object();
  EXPECT_EQ(strAt(cs, {"state", "running", "startedAt"}), "2025-01-01T00:00:02Z");
  EXPECT_EQ(strAt(cs, {"containerID"}).rfind("hollow://", 0), 0u);
  EXPECT_EQ(strAt(cs, {"imageID"}), "hollow://nginx");
  EXPECT_EQ(condField(*p, "PodReadyToStartContainers", "status"), "True");
  EXPECT_EQ(condField(*p, "Initialized", "status"), "True");
  EXPECT_EQ(condField(*p, "Ready", "status"), "False");

  advance(seconds(3));
  p = pod("web");
  EXPECT_EQ(condField(*p, "Ready", "status"), "True");
  EXPECT_EQ(condField(*p, "ContainersReady", "status"), "True");
  EXPECT_EQ(condField(*p, "Ready", "lastTransitionTime"), "2025-01-01T00:00:05Z");

  // Settled: time passing writes no more pod status (only leases / heartbeats).
  size_t writes = writesTo("pods", "status");
  advance(seconds(120));
  EXPECT_EQ(writesTo("pods", "status"), writes);
  EXPECT_EQ(writes, 3u);  // Pending, Running, Ready
}

TEST_F(HollowNodeSetTest, PodBacklogDoesNotDelayLeaseRenewal) {
  makeSet(1);
  // Twenty pods arrive (queued, not yet processed) just before the renewal is due.
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(
        fake_
            .create(pods_, parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p)" +
                                 std::to_string(i) + R"(","namespace":"default"},
        "spec":{"nodeName":"hollow-node-0","containers":[{"name":"app","image":"nginx"}]}})"))
            .ok());
  fake_.clearActions();
  advance(seconds(10));
  std::vector<client::Action> writes = fake_.writes();
  ASSERT_EQ(writes.size(), 21u);
  EXPECT_EQ(writes.front().resource, "leases");
  EXPECT_EQ(writes.back().resource, "pods");
}

TEST_F(HollowNodeSetTest, PodIpsUniquePerNodeAndReleased) {
  makeSet(2);
  createPod("a", "hollow-node-0");
  createPod("b", "hollow-node-0");
  createPod("c", "hollow-node-1");
  createPod("elsewhere", "real-node");  // not ours: left alone
  EXPECT_EQ(strAt(*pod("a"), {"status", "podIP"}), "10.128.0.2");
  EXPECT_EQ(strAt(*pod("b"), {"status", "podIP"}), "10.128.0.3");
  EXPECT_EQ(strAt(*pod("c"), {"status", "podIP"}), "10.128.1.2");
  EXPECT_EQ(strAt(*pod("elsewhere"), {"status", "phase"}), "");
  EXPECT_EQ(set_->podCount(), 3u);

  ASSERT_TRUE(fake_.remove(pods_, "default", "a").ok());
  set_->step();
  EXPECT_EQ(pod("a"), nullptr);
  createPod("d", "hollow-node-0");
  EXPECT_EQ(strAt(*pod("d"), {"status", "podIP"}), "10.128.0.2");  // a's address, free again
}

TEST_F(HollowNodeSetTest, JobPodsSucceedOrFail) {
  makeSet(1);
  createPod("ok", "hollow-node-0", R"(,"restartPolicy":"Never")",
            R"({"hollow.berth.dev/run-seconds":"5"})");
  createPod("bad", "hollow-node-0", R"(,"restartPolicy":"Never")",
            R"({"hollow.berth.dev/run-seconds":"3","hollow.berth.dev/exit-code":"2"})");
  EXPECT_EQ(strAt(*pod("ok"), {"status", "phase"}), "Running");
  advance(seconds(3));
  ObjectPtr bad = pod("bad");
  EXPECT_EQ(strAt(*bad, {"status", "phase"}), "Failed");
  const json::object& term = bad->at("status")
                                 .at("containerStatuses")
                                 .as_array()[0]
                                 .at("state")
                                 .at("terminated")
                                 .as_object();
  EXPECT_EQ(api::intAt(term, {"exitCode"}), 2);
  EXPECT_EQ(strAt(term, {"reason"}), "Error");
  EXPECT_EQ(condField(*bad, "Ready", "reason"), "PodFailed");
  EXPECT_EQ(strAt(*pod("ok"), {"status", "phase"}), "Running");
  advance(seconds(2));
  ObjectPtr ok = pod("ok");
  EXPECT_EQ(strAt(*ok, {"status", "phase"}), "Succeeded");
  EXPECT_EQ(condField(*ok, "Ready", "reason"), "PodCompleted");
  EXPECT_EQ(condField(*ok, "PodReadyToStartContainers", "status"), "False");
}

TEST_F(HollowNodeSetTest, OnFailureRestartsWithBackOff) {
  makeSet(1);
  createPod("crash", "hollow-node-0", R"(,"restartPolicy":"OnFailure")",
            R"({"hollow.berth.dev/run-seconds":"1","hollow.berth.dev/exit-code":"1"})");
  advance(seconds(1));
  auto container = [&] {
    return pod("crash")->at("status").at("containerStatuses").as_array()[0].as_object();
  };
  EXPECT_EQ(api::intAt(container(), {"restartCount"}), 1);
  EXPECT_TRUE(api::at(container(), {"state", "running"}));
  EXPECT_EQ(api::intAt(container(), {"lastState", "terminated", "exitCode"}), 1);
  advance(seconds(1));
  EXPECT_EQ(strAt(container(), {"state", "waiting", "reason"}), "CrashLoopBackOff");
  EXPECT_EQ(strAt(*pod("crash"), {"status", "phase"}), "Running");
  advance(seconds(10));
  EXPECT_EQ(api::intAt(container(), {"restartCount"}), 2);
  EXPECT_TRUE(api::at(container(), {"state", "running"}));
}

TEST_F(HollowNodeSetTest, DeletedPodIsConfirmedWithZeroGrace) {
  makeSet(1);
  createPod("web", "hollow-node-0");
  ASSERT_EQ(strAt(*pod("web"), {"status", "phase"}), "Running");
  // A graceful delete of a running, bound pod leaves it terminating for the agent.
  auto r = fake_.remove(pods_, "default", "web");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(api::at(**r, {"metadata", "deletionTimestamp"}));
  EXPECT_TRUE(pod("web"));
  set_->step();
  EXPECT_EQ(pod("web"), nullptr);
  EXPECT_EQ(set_->stats().pod_deletions, 1u);
  EXPECT_EQ(set_->podCount(), 0u);
  EXPECT_EQ(set_->podIp("default/web"), "");
}

TEST_F(HollowNodeSetTest, DarkNodeStopsLeasesAndPodsUntilBack) {
  makeSet(2);
  set_->setDark("hollow-node-0", true);
  advance(seconds(15));
  advance(seconds(5));
  EXPECT_EQ(strAt(*lease("hollow-node-0"), {"spec", "renewTime"}), "2025-01-01T00:00:00.000000Z");
  EXPECT_EQ(strAt(*lease("hollow-node-1"), {"spec", "renewTime"}), "2025-01-01T00:00:15.000000Z");
  createPod("web", "hollow-node-0");
  EXPECT_EQ(strAt(*pod("web"), {"status", "phase"}), "");  // nobody home

  set_->setDark("hollow-node-0", false);
  set_->step();
  EXPECT_EQ(strAt(*lease("hollow-node-0"), {"spec", "renewTime"}), "2025-01-01T00:00:20.000000Z");
  EXPECT_EQ(strAt(*pod("web"), {"status", "phase"}), "Running");
  EXPECT_EQ(condField(*node("hollow-node-0"), "Ready", "lastHeartbeatTime"),
            "2025-01-01T00:00:20Z");
}

TEST_F(HollowNodeSetTest, InjectedNotReadyAndPressure) {
  makeSet(1);
  clock_.advance(seconds(7));
  NodeHealth h;
  h.ready = false;
  h.not_ready_message = "container runtime network not ready";
  h.memory_pressure = true;
  set_->setHealth("hollow-node-0", h);
  set_->step();
  ObjectPtr n = node("hollow-node-0");
  EXPECT_EQ(condField(*n, "Ready", "status"), "False");
  EXPECT_EQ(condField(*n, "Ready", "reason"), "KubeletNotReady");
  EXPECT_EQ(condField(*n, "Ready", "message"), "container runtime network not ready");
  EXPECT_EQ(condField(*n, "Ready", "lastTransitionTime"), "2025-01-01T00:00:07Z");
  EXPECT_EQ(condField(*n, "MemoryPressure", "status"), "True");
  EXPECT_EQ(condField(*n, "MemoryPressure", "reason"), "KubeletHasInsufficientMemory");
  EXPECT_EQ(condField(*n, "DiskPressure", "lastTransitionTime"), "2025-01-01T00:00:00Z");
}

TEST_F(HollowNodeSetTest, StatusConflictIsRetriedOnTheLatest) {
  makeSet(1);
  int conflicts = 0;
  fake_.prependReactor(
      "update", "pods", [&](const client::Action& a) -> std::optional<Result<ObjectPtr>> {
        if (a.subresource == "status" && conflicts++ == 0)
          return Result<ObjectPtr>(makeError(ErrorCode::kConflict, "the object has been modified"));
        return std::nullopt;
      });
  createPod("web", "hollow-node-0");
  EXPECT_EQ(strAt(*pod("web"), {"status", "phase"}), "Running");
  EXPECT_EQ(set_->stats().conflicts, 1u);
}

TEST_F(HollowNodeSetTest, FailedWritesAreRetriedLater) {
  makeSet(1);
  bool fail = true;
  fake_.prependReactor(
      "update", "pods", [&](const client::Action&) -> std::optional<Result<ObjectPtr>> {
        if (fail) return Result<ObjectPtr>(makeError(ErrorCode::kUnavailable, "server is down"));
        return std::nullopt;
      });
  createPod("web", "hollow-node-0");
  EXPECT_EQ(strAt(*pod("web"), {"status", "phase"}), "");
  fail = false;
  advance(seconds(1));
  EXPECT_EQ(strAt(*pod("web"), {"status", "phase"}), "Running");
}

TEST_F(HollowNodeSetTest, AdoptedTerminalPodIsNotRewritten) {
  fake_.add(
      pods_,
      parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"done","namespace":"default"},
      "spec":{"nodeName":"hollow-node-0","restartPolicy":"Never","containers":[{"name":"app","image":"x"}]},
      "status":{"phase":"Succeeded"}})"));
  makeSet(1);
  set_->step();
  EXPECT_EQ(writesTo("pods"), 0u);
  EXPECT_EQ(set_->podCount(), 1u);
}

TEST_F(HollowNodeSetTest, StopWithAndWithoutCleanup) {
  makeSet(2);
  set_->stop(false);
  EXPECT_TRUE(node("hollow-node-0"));
  EXPECT_TRUE(lease("hollow-node-1"));
  // Stopped: time passes, nothing is renewed any more.
  size_t writes = fake_.writes().size();
  clock_.advance(seconds(60));
  set_->step();
  EXPECT_EQ(fake_.writes().size(), writes);

  HollowOptions o;
  o.name_prefix = "gone-";
  auto& other = makeSet(2, o);
  other.stop(true);
  EXPECT_EQ(node("gone-0"), nullptr);
  EXPECT_EQ(lease("gone-1"), nullptr);
}

}  // namespace
}  // namespace berth::agent::hollow
