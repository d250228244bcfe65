// End-to-end scheduling cycles against a FakeClient, with informers fed by
// injectUpsert / injectDelete (no watch threads), binds inline and one
// filter thread: deterministic.

#include "scheduler/scheduler.h"

#include <gtest/gtest.h>

#include "api/kinds/access.h"
#include "api/object.h"
#include "client/fake_client.h"
#include "scheduler/test_util.h"

namespace berth::scheduler {
namespace {

using testing::NodeBuilder;
using testing::PodBuilder;
using namespace std::chrono_literals;
namespace json = boost::json;
using Kind = CycleOutcome::Kind;

struct E2E {
  FakeClock clock{std::chrono::system_clock::time_point(std::chrono::hours(1000))};
  client::FakeClient client{clock};
  client::InformerFactory informers{client};
  client::EventRecorder recorder{client, clock, "default-scheduler"};
  std::unique_ptr<Scheduler> sched;
  const api::KindInfo& pods = client::kind("", "Pod");
  const api::KindInfo& nodes = client::kind("", "Node");

  explicit E2E(std::function<void(SchedulerOptions&)> tweak = nullptr) {
    SchedulerOptions opts;
    opts.bind_workers = 0;
    opts.parallelism = 1;
    opts.seed = 1;
    if (tweak) tweak(opts);
    sched = std::make_unique<Scheduler>(client, informers, recorder, clock, opts);
  }
  ~E2E() { sched->stop(); }

  void addNode(const NodeBuilder& n) {
    informers.forKind(nodes).injectUpsert(client.add(nodes, n.raw()));
  }
  void addPod(const PodBuilder& p) {
    informers.forKind(pods).injectUpsert(client.add(pods, p.raw()));
  }
  // Delivers the FakeClient's current pods to the informer, as a watch would.
  void syncPods() {
    auto list = client.list(pods, "", {});
    ASSERT_TRUE(list.ok());
    std::set<std::string> keys;
    auto& inf = informers.forKind(pods);
    for (const auto& p : list->items) {
      keys.insert(client::keyOf(*p));
      inf.injectUpsert(p);
    }
    for (const auto& p : inf.list())
      if (!keys.count(client::keyOf(*p))) inf.injectDelete(client::keyOf(*p));
  }
  ObjectPtr pod(const std::string& name) {
    auto r = client.get(pods, "default", name);
    return r.ok() ? *r : nullptr;
  }
  std::string nodeOf(const std::string& name) {
    auto p = pod(name);
    return p ? api::strAt(*p, {"spec", "nodeName"}) : "";
  }
  // (type, reason, message) of the recorded events about a pod.
  std::vector<std::tuple<std::string, std::string, std::string>> events(const std::string& name) {
    recorder.flush();
    std::vector<std::tuple<std::string, std::string, std::string>> out;
    auto list = client.list(client::kind("", "Event"), "", {});
    for (const auto& e : list->items)
      if (api::strAt(*e, {"involvedObject", "name"}) == name)
        out.emplace_back(api::strAt(*e, {"type"}), api::strAt(*e, {"reason"}),
                         api::strAt(*e, {"message"}));
    return out;
  }
  json::object condition(const std::string& name) {
    auto p = pod(name);
    if (const json::array* conds = api::arrAt(*p, {"status", "conditions"}))
      for (const auto& c : *conds)
        if (api::strAt(c.as_object(), {"type"}) == "PodScheduled") return c.as_object();
    return {};
  }
  int statusPatches(const std::string& name) {
    int n = 0;
    for (const auto& a : client.writes())
      if (a.verb == "patch" && a.subresource == "status" && a.name == name) ++n;
    return n;
  }
};

TEST(SchedulerTest, BindsAPodAndRecordsTheEvent) {
  E2E e;
  e.addNode(NodeBuilder("n1"));
  e.addPod(PodBuilder("web").req("500m", "1Gi"));
  CycleOutcome out = e.sched->scheduleOne();
  EXPECT_EQ(out.kind, Kind::kScheduled);
  EXPECT_EQ(out.node, "n1");
  EXPECT_EQ(out.pod, "default/web");
  // The bind went through pods/binding with a core/v1 Binding.
  bool bound = false;
  for (const auto& a : e.client.writes())
    if (a.verb == "create-subresource" && a.subresource == "binding") {
      bound = true;
      EXPECT_EQ(api::strAt(*a.object, {"kind"}), "Binding");
      EXPECT_EQ(api::strAt(*a.object, {"target", "name"}), "n1");
      EXPECT_EQ(api::strAt(*a.object, {"target", "kind"}), "Node");
    }
  EXPECT_TRUE(bound);
  EXPECT_EQ(e.nodeOf("web"), "n1");
  EXPECT_TRUE(e.sched->cache().isAssumedPod("default-web-uid"));
  e.syncPods();
  EXPECT_FALSE(e.sched->cache().isAssumedPod("default-web-uid"));
  EXPECT_EQ(e.sched->cache().nodeInfo("n1")->requested().milli_cpu, 500);
  EXPECT_EQ(e.sched->queue().where("default-web-uid"), SchedulingQueue::Where::kNone);
  auto ev = e.events("web");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0], std::make_tuple(std::string("Normal"), std::string("Scheduled"),
                                   std::string("Successfully assigned default/web to n1")));
  EXPECT_EQ(e.sched->scheduledCount(), 1u);
  EXPECT_EQ(e.sched->scheduleOne().kind, Kind::kNone);
}

TEST(SchedulerTest, UnschedulablePodGetsConditionEventAndWaits) {
  E2E e;
  e.addNode(NodeBuilder("small1").capacity("1", "4Gi"));
  e.addNode(NodeBuilder("small2").capacity("1", "4Gi"));
  e.addNode(NodeBuilder("cp")
                .capacity("8", "4Gi")
                .taint("node-role.kubernetes.io/control-plane", "", "NoSchedule"));
  e.addPod(PodBuilder("big").req("2"));
  CycleOutcome out = e.sched->scheduleOne();
  EXPECT_EQ(out.kind, Kind::kUnschedulable);
  const std::string msg =
      "0/3 nodes are available: 1 node(s) had untolerated taint "
      "{node-role.kubernetes.io/control-plane: }, 2 "
      "Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for "
      "scheduling, 2 No "
      "preemption victims found for incoming pod.";
  EXPECT_EQ(out.message, msg);
  json::object cond = e.condition("big");
  EXPECT_EQ(api::strAt(cond, {"status"}), "False");
  EXPECT_EQ(api::strAt(cond, {"reason"}), "Unschedulable");
  EXPECT_EQ(api::strAt(cond, {"message"}), msg);
  EXPECT_FALSE(api::strAt(cond, {"lastTransitionTime"}).empty());
  auto ev = e.events("big");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0], std::make_tuple(std::string("Warning"), std::string("FailedScheduling"), msg));
  EXPECT_EQ(e.sched->queue().where("default-big-uid"), SchedulingQueue::Where::kUnschedulable);
  // Our own status write comes back as an update; it does not requeue.
  e.syncPods();
  EXPECT_EQ(e.sched->queue().where("default-big-uid"), SchedulingQueue::Where::kUnschedulable);

  // A node that fits arrives: the pod moves (after its 1s back-off) and binds.
  e.addNode(NodeBuilder("large").capacity("4", "8Gi"));
  EXPECT_EQ(e.sched->queue().where("default-big-uid"), SchedulingQueue::Where::kBackoff);
  e.clock.advance(1s);
  e.sched->flushQueues();
  out = e.sched->scheduleOne();
  EXPECT_EQ(out.kind, Kind::kScheduled);
  EXPECT_EQ(out.node, "large");
}

TEST(SchedulerTest, RepeatedFailureDoesNotRewriteAnUnchangedCondition) {
  E2E e;
  e.addNode(NodeBuilder("n1").capacity("1", "4Gi"));
  e.addPod(PodBuilder("big").req("2"));
  e.sched->scheduleOne();
  EXPECT_EQ(e.statusPatches("big"), 1);
  e.syncPods();
  e.clock.advance(6min);
  e.sched->flushQueues();
  EXPECT_EQ(e.sched->scheduleOne().kind, Kind::kUnschedulable);
  EXPECT_EQ(e.statusPatches("big"), 1);
  // The event is aggregated: one Event object with count 2.
  auto ev = e.events("big");
  EXPECT_EQ(ev.size(), 1u);
}

TEST(SchedulerTest, NoNodes) {
  E2E e;
  e.addPod(PodBuilder("p"));
  CycleOutcome out = e.sched->scheduleOne();
  EXPECT_EQ(out.kind, Kind::kUnschedulable);
  EXPECT_EQ(out.message, "no nodes available to schedule pods");
  EXPECT_EQ(api::strAt(e.condition("p"), {"reason"}), "Unschedulable");
  // Retried after back-off, not parked.
  EXPECT_EQ(e.sched->queue().where("default-p-uid"), SchedulingQueue::Where::kBackoff);
}

TEST(SchedulerTest, BindFailureForgetsAndRetries) {
  E2E e;
  e.addNode(NodeBuilder("n1"));
  e.addPod(PodBuilder("p").req("1"));
  bool fail = true;
  e.client.prependReactor("create-subresource", "pods", [&](const client::Action&) {
    std::optional<Result<ObjectPtr>> r;
    if (fail) r = Result<ObjectPtr>(makeError(ErrorCode::kInternal, "etcd is sad"));
    return r;
  });
  EXPECT_EQ(e.sched->scheduleOne().kind, Kind::kScheduled);
  EXPECT_EQ(e.sched->bindFailures(), 1u);
  EXPECT_FALSE(e.sched->cache().isAssumedPod("default-p-uid"));
  EXPECT_EQ(e.sched->cache().nodeInfo("n1")->requested().milli_cpu, 0);
  EXPECT_EQ(e.sched->queue().where("default-p-uid"), SchedulingQueue::Where::kBackoff);
  json::object cond = e.condition("p");
  EXPECT_EQ(api::strAt(cond, {"reason"}), "SchedulerError");
  EXPECT_EQ(api::strAt(cond, {"message"}), "running Bind plugin \"DefaultBinder\": etcd is sad");
  fail = false;
  e.syncPods();
  e.clock.advance(1s);
  e.sched->flushQueues();
  EXPECT_EQ(e.sched->scheduleOne().kind, Kind::kScheduled);
  EXPECT_EQ(e.nodeOf("p"), "n1");
}

TEST(SchedulerTest, LeastAllocatedSpreadsMostAllocatedPacks) {
  for (auto strategy : {ScoringStrategy::kLeastAllocated, ScoringStrategy::kMostAllocated}) {
    E2E e([&](SchedulerOptions& o) {
      o.profile.fit.strategy = strategy;
      o.profile.plugins = {{kNodeResourcesFit, 1}, {kDefaultBinder, 0}};
    });
    e.addNode(NodeBuilder("a").capacity("4", "16Gi"));
    e.addNode(NodeBuilder("b").capacity("4", "16Gi"));
    for (int i = 0; i < 4; ++i) e.addPod(PodBuilder("p" + std::to_string(i)).req("1", "1Gi"));
    std::map<std::string, int> per_node;
    for (int i = 0; i < 4; ++i) {
      CycleOutcome out = e.sched->scheduleOne();
      ASSERT_EQ(out.kind, Kind::kScheduled);
      per_node[out.node]++;
    }
    if (strategy == ScoringStrategy::kLeastAllocated) {
      EXPECT_EQ(per_node["a"], 2);
      EXPECT_EQ(per_node["b"], 2);
    } else {
      EXPECT_EQ(per_node.size(), 1u);
    }
  }
}

TEST(SchedulerTest, PreemptionEvictsAndThenBindsTheNominatedPod) {
  E2E e;
  e.addNode(NodeBuilder("n1").capacity("2", "4Gi"));
  e.addPod(PodBuilder("low").priority(1).req("2").node("n1").phase("Running"));
  e.addPod(PodBuilder("high").priority(100).req("2"));
  CycleOutcome out = e.sched->scheduleOne();
  EXPECT_EQ(out.kind, Kind::kUnschedulable);
  // Preemption succeeded: no "preemption:" part in the message.
  EXPECT_EQ(out.message, "0/1 nodes are available: 1 Insufficient cpu.");
  EXPECT_EQ(e.sched->nominator().nodeFor("default-high-uid"), "n1");
  EXPECT_EQ(api::strAt(*e.pod("high"), {"status", "nominatedNodeName"}), "n1");
  // The victim is terminating (graceful delete); an event tells why.
  EXPECT_NE(api::at(*e.pod("low"), {"metadata", "deletionTimestamp"}), nullptr);
  auto ev = e.events("low");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(std::get<1>(ev[0]), "Preempted");
  EXPECT_EQ(std::get<2>(ev[0]), "Preempted by pod default-high-uid on node n1");
  e.syncPods();
  // While the victim terminates the node is still full, and preemption does
  // not strike twice.
  e.clock.advance(6min);
  e.sched->flushQueues();
  out = e.sched->scheduleOne();
  EXPECT_EQ(out.kind, Kind::kUnschedulable);
  EXPECT_EQ(out.message,
            "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to a "
            "terminating pod on the "
            "nominated node.");
  // The agent finishes the victim; its deletion moves the preemptor back.
  client::DeleteOptions now;
  now.grace_period_seconds = 0;
  ASSERT_TRUE(e.client.remove(e.pods, "default", "low", now).ok());
  e.syncPods();
  e.clock.advance(20s);
  e.sched->flushQueues();
  out = e.sched->scheduleOne();
  EXPECT_EQ(out.kind, Kind::kScheduled);
  EXPECT_EQ(out.node, "n1");
  EXPECT_EQ(e.sched->nominator().nodeFor("default-high-uid"), "");
}

TEST(SchedulerTest, NominatedPodKeepsItsRoomFromLowerPriorityPods) {
  E2E e;
  e.addNode(NodeBuilder("n1").capacity("2", "4Gi"));
  e.addPod(PodBuilder("high").priority(100).req("2").nominated("n1").gate("wait"));
  EXPECT_EQ(e.sched->nominator().nodeFor("default-high-uid"), "n1");
  e.addPod(PodBuilder("low").priority(1).req("1"));
  CycleOutcome out = e.sched->scheduleOne();
  EXPECT_EQ(out.pod, "default/low");
  EXPECT_EQ(out.kind, Kind::kUnschedulable);
  EXPECT_EQ(out.message.rfind("0/1 nodes are available: 1 Insufficient cpu.", 0), 0u);
}

TEST(SchedulerTest, IgnoresOtherSchedulersAndBoundPods) {
  E2E e;
  e.addNode(NodeBuilder("n1"));
  e.addPod(PodBuilder("mine"));
  e.addPod(PodBuilder("theirs").schedulerName("other-scheduler"));
  e.addPod(PodBuilder("bound").node("n1").phase("Running").req("1"));
  EXPECT_EQ(e.sched->queue().pendingCount(), 1u);
  EXPECT_EQ(e.sched->cache().nodeInfo("n1")->requested().milli_cpu, 1000);
  EXPECT_EQ(e.sched->scheduleOne().pod, "default/mine");
  EXPECT_EQ(e.sched->scheduleOne().kind, Kind::kNone);
  // Finished pods free their node.
  auto done = PodBuilder("bound").node("n1").phase("Succeeded").req("1");
  done.meta()["resourceVersion"] = "99";
  e.informers.forKind(e.pods).injectUpsert(done.obj());
  EXPECT_EQ(e.sched->cache().nodeInfo("n1")->requested().milli_cpu, 0);
}

TEST(SchedulerTest, DeletedWhileQueuedIsNotScheduled) {
  E2E e;
  e.addNode(NodeBuilder("n1"));
  e.addPod(PodBuilder("p"));
  ASSERT_TRUE(e.client.remove(e.pods, "default", "p").ok());
  e.syncPods();
  EXPECT_EQ(e.sched->scheduleOne().kind, Kind::kNone);
}

TEST(SchedulerTest, NodeAffinityByNameReportsSkippedNodes) {
  E2E e;
  e.addNode(NodeBuilder("n1").capacity("1", "4Gi"));
  e.addNode(NodeBuilder("n2"));
  e.addNode(NodeBuilder("n3"));
  e.addPod(PodBuilder("p").req("2").affinity(
      "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
      json::object{
          {"nodeSelectorTerms",
           json::array{json::object{
               {"matchFields", json::array{json::object{{"key", "metadata.name"},
                                                        {"operator", "In"},
                                                        {"values", json::array{"n1"}}}}}}}}}));
  CycleOutcome out = e.sched->scheduleOne();
  EXPECT_EQ(out.message,
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) "
            "[NodeAffinity]. "
            "preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, "
            "2 Preemption is "
            "not helpful for scheduling.");
  EXPECT_EQ(out.evaluated_nodes, 3);
}

TEST(SchedulerTest, TopologySpreadAcrossNodes) {
  E2E e;
  e.addNode(NodeBuilder("a"));
  e.addNode(NodeBuilder("b"));
  for (int i = 0; i < 4; ++i)
    e.addPod(PodBuilder("p" + std::to_string(i))
                 .label("app", "x")
                 .spread(1, kLabelHostname, true, "app", "x"));
  std::map<std::string, int> per_node;
  for (int i = 0; i < 4; ++i) {
    CycleOutcome out = e.sched->scheduleOne();
    ASSERT_EQ(out.kind, Kind::kScheduled) << out.message;
    per_node[out.node]++;
  }
  EXPECT_EQ(per_node["a"], 2);
  EXPECT_EQ(per_node["b"], 2);
}

TEST(SchedulerTest, AntiAffinityKeepsReplicasApart) {
  E2E e;
  e.addNode(NodeBuilder("a"));
  e.addNode(NodeBuilder("b"));
  for (int i = 0; i < 3; ++i)
    e.addPod(PodBuilder("p" + std::to_string(i))
                 .label("app", "x")
                 .podAffinity(true, "app", "x", kLabelHostname));
  std::set<std::string> used;
  for (int i = 0; i < 2; ++i) {
    CycleOutcome out = e.sched->scheduleOne();
    ASSERT_EQ(out.kind, Kind::kScheduled) << out.message;
    used.insert(out.node);
  }
  EXPECT_EQ(used.size(), 2u);
  CycleOutcome third = e.sched->scheduleOne();
  EXPECT_EQ(third.kind, Kind::kUnschedulable);
  EXPECT_EQ(third.message.rfind(
                "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.", 0),
            0u);
}

TEST(SchedulerTest, PercentageOfNodesToScoreStopsEarly) {
  E2E e;
  for (int i = 0; i < 200; ++i) e.addNode(NodeBuilder("n" + std::to_string(i)));
  e.addPod(PodBuilder("p"));
  CycleOutcome out = e.sched->scheduleOne();
  ASSERT_EQ(out.kind, Kind::kScheduled);
  // 200 nodes: max(200 * (50 - 1) / 100, 100) = 100 feasible nodes are enough.
  EXPECT_EQ(out.feasible_nodes, 100);
  EXPECT_EQ(out.evaluated_nodes, 100);
}

TEST(SchedulerTest, StartAndStopWithThreads) {
  E2E e([](SchedulerOptions& o) {
    o.bind_workers = 4;
    o.parallelism = 2;
  });
  e.addNode(NodeBuilder("n1"));
  e.sched->start();
  for (int i = 0; i < 20; ++i) e.addPod(PodBuilder("p" + std::to_string(i)).req("10m"));
  // Wait (bounded by the scheduler's progress, not by time) for all binds.
  while (e.sched->scheduledCount() < 20) std::this_thread::yield();
  e.sched->waitForBinds();
  e.sched->stop();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(e.nodeOf("p" + std::to_string(i)), "n1");
}

TEST(SchedulerTest, RejectedNodesCountTowardsTheNextStartIndex) {
  // Only rejections are recorded per node; a cycle's processed nodes (the
  // feasible ones plus the rejected ones) move the next cycle's start, as
  // upstream's nextStartNodeIndex.
  E2E e;
  auto name = [](int i) {
    std::string s = std::to_string(i);
    return "n" + std::string(3 - s.size(), '0') + s;
  };
  for (int i = 0; i < 200; ++i) {
    NodeBuilder n(name(i));
    if (i < 50) n.unschedulable();
    e.addNode(n);
  }
  e.addPod(PodBuilder("p1"));
  CycleOutcome first = e.sched->scheduleOne();
  ASSERT_EQ(first.kind, Kind::kScheduled);
  // n000-n049 rejected, n050-n149 feasible (100 are enough at 200 nodes).
  EXPECT_EQ(first.feasible_nodes, 100);
  EXPECT_EQ(first.evaluated_nodes, 150);
  e.syncPods();
  e.addPod(PodBuilder("p2"));
  CycleOutcome second = e.sched->scheduleOne();
  ASSERT_EQ(second.kind, Kind::kScheduled);
  // From n150: n150-n199 feasible, n000-n049 rejected, n050-n099 feasible.
  EXPECT_EQ(second.feasible_nodes, 100);
  EXPECT_EQ(second.evaluated_nodes, 150);
}

TEST(SchedulerTest, EveryRejectedNodeIsInTheFitError) {
  E2E e;
  for (int i = 0; i < 150; ++i) {
    NodeBuilder n("n" + std::to_string(i));
    if (i % 3 == 0)
      n.unschedulable();
    else
      n.taint("dedicated", "infra", "NoSchedule");
    e.addNode(n);
  }
  e.addPod(PodBuilder("p"));
  CycleOutcome out = e.sched->scheduleOne();
  ASSERT_EQ(out.kind, Kind::kUnschedulable);
  EXPECT_EQ(out.evaluated_nodes, 150);
  EXPECT_EQ(out.message.rfind("0/150 nodes are available: 100 node(s) had untolerated taint "
                              "{dedicated: infra}, 50 node(s) were unschedulable.",
                              0),
            0u)
      << out.message;
}

}  // namespace
}  // namespace berth::scheduler
