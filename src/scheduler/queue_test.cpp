#include "scheduler/queue.h"

#include <gtest/gtest.h>

#include <thread>

#include "scheduler/test_util.h"

namespace berth::scheduler {
namespace {

using testing::PodBuilder;
using namespace std::chrono_literals;
using Where = SchedulingQueue::Where;

struct QueueEnv {
  FakeClock clock{std::chrono::system_clock::time_point(std::chrono::hours(1000))};
  Nominator nominator;
  SchedulingQueue q{clock, nominator};

  QueueEnv() {
    q.setEventsByPlugin({
        {"NodeResourcesFit",
         {{EventResource::kPod, kDelete, ""},
          {EventResource::kNode, kAdd | kUpdateNodeAllocatable, ""}}},
        {"TaintToleration", {{EventResource::kNode, kAdd | kUpdate, ""}}},
        {"InterPodAffinity", {{EventResource::kPod, kAllActions, ""}}},
    });
  }

  // Pops the pod and fails it with `plugins` as the rejecting plugins.
  QueuedPodInfoPtr popAndFail(std::set<std::string> plugins) {
    auto info = q.tryPop();
    EXPECT_TRUE(info);
    if (!info) return nullptr;
    int64_t cycle = q.schedulingCycle();
    info->unschedulable_plugins = std::move(plugins);
    q.addUnschedulableIfNotPresent(info, cycle);
    return info;
  }
};

TEST(QueueTest, PopsByPriorityThenTimestamp) {
  QueueEnv env;
  env.q.add(PodBuilder("low-old").priority(1).info());
  env.clock.advance(1s);
  env.q.add(PodBuilder("high").priority(10).info());
  env.clock.advance(1s);
  env.q.add(PodBuilder("low-new").priority(1).info());
  EXPECT_EQ(env.q.tryPop()->pod->name, "high");
  EXPECT_EQ(env.q.tryPop()->pod->name, "low-old");
  auto last = env.q.tryPop();
  EXPECT_EQ(last->pod->name, "low-new");
  EXPECT_EQ(last->attempts, 1);
  EXPECT_EQ(env.q.schedulingCycle(), 3);
  EXPECT_EQ(env.q.tryPop(), nullptr);
  EXPECT_EQ(env.q.where(last->pod->uid), Where::kInFlight);
  env.q.done(last->pod->uid);
  EXPECT_EQ(env.q.where(last->pod->uid), Where::kNone);
}

TEST(QueueTest, BackoffDoublesUpToTheMaximum) {
  QueueEnv env;
  EXPECT_EQ(env.q.backoffDuration(1), 1s);
  EXPECT_EQ(env.q.backoffDuration(2), 2s);
  EXPECT_EQ(env.q.backoffDuration(3), 4s);
  EXPECT_EQ(env.q.backoffDuration(4), 8s);
  EXPECT_EQ(env.q.backoffDuration(5), 10s);
  EXPECT_EQ(env.q.backoffDuration(50), 10s);
}

TEST(QueueTest, ErrorsGoToBackoffAndReturnAfterIt) {
  QueueEnv env;
  auto pod = PodBuilder("p").info();
  env.q.add(pod);
  env.popAndFail({});  // no rejecting plugin: an error
  EXPECT_EQ(env.q.where(pod->uid), Where::kBackoff);
  env.clock.advance(999ms);
  env.q.flushBackoffQCompleted();
  EXPECT_EQ(env.q.where(pod->uid), Where::kBackoff);
  env.clock.advance(1ms);
  env.q.flushBackoffQCompleted();
  EXPECT_EQ(env.q.where(pod->uid), Where::kActive);
  // Second failure: 2s.
  env.popAndFail({});
  env.clock.advance(1500ms);
  env.q.flushBackoffQCompleted();
  EXPECT_EQ(env.q.where(pod->uid), Where::kBackoff);
  env.clock.advance(500ms);
  env.q.flushBackoffQCompleted();
  EXPECT_EQ(env.q.where(pod->uid), Where::kActive);
  EXPECT_EQ(env.q.tryPop()->attempts, 3);
}

TEST(QueueTest, MatchingEventMovesUnschedulablePods) {
  QueueEnv env;
  auto fit = PodBuilder("fit").info();
  auto taint = PodBuilder("taint").info();
  env.q.add(fit);
  env.q.add(taint);
  env.popAndFail({"NodeResourcesFit"});
  env.popAndFail({"TaintToleration"});
  EXPECT_EQ(env.q.unschedulableCount(), 2u);
  // A pod delete helps NodeResourcesFit only; the pod still backs off.
  env.q.moveAllToActiveOrBackoffQueue({EventResource::kPod, kDelete, "AssignedPodDelete"});
  EXPECT_EQ(env.q.where(fit->uid), Where::kBackoff);
  EXPECT_EQ(env.q.where(taint->uid), Where::kUnschedulable);
  // A node label update helps TaintToleration (Update) but not Fit.
  env.clock.advance(5s);
  env.q.moveAllToActiveOrBackoffQueue({EventResource::kNode, kUpdateNodeLabel, "NodeUpdate"});
  // Back-off (1s) is over: straight to activeQ.
  EXPECT_EQ(env.q.where(taint->uid), Where::kActive);
}

TEST(QueueTest, PreCheckFiltersMovedPods) {
  QueueEnv env;
  auto a = PodBuilder("a").info();
  auto b = PodBuilder("b").info();
  env.q.add(a);
  env.q.add(b);
  env.popAndFail({"NodeResourcesFit"});
  env.popAndFail({"NodeResourcesFit"});
  env.clock.advance(2s);
  env.q.moveAllToActiveOrBackoffQueue({EventResource::kNode, kAdd, "NodeAdd"},
                                      [&](const PodInfo& p) { return p.uid == a->uid; });
  EXPECT_EQ(env.q.where(a->uid), Where::kActive);
  EXPECT_EQ(env.q.where(b->uid), Where::kUnschedulable);
}

TEST(QueueTest, LeftoverUnschedulablePodsFlushAfterFiveMinutes) {
  QueueEnv env;
  auto pod = PodBuilder("p").info();
  env.q.add(pod);
  env.popAndFail({"TaintToleration"});
  env.clock.advance(4min);
  env.q.flushUnschedulablePodsLeftover();
  EXPECT_EQ(env.q.where(pod->uid), Where::kUnschedulable);
  env.clock.advance(61s);
  env.q.flushUnschedulablePodsLeftover();
  EXPECT_EQ(env.q.where(pod->uid), Where::kActive);
}

TEST(QueueTest, MoveRequestDuringTheCycleSendsTheFailureToBackoff) {
  QueueEnv env;
  auto pod = PodBuilder("p").info();
  env.q.add(pod);
  auto info = env.q.tryPop();
  int64_t cycle = env.q.schedulingCycle();
  // A node was added while the pod was being scheduled.
  env.q.moveAllToActiveOrBackoffQueue({EventResource::kNode, kAdd, "NodeAdd"});
  info->unschedulable_plugins = {"TaintToleration"};
  env.q.addUnschedulableIfNotPresent(info, cycle);
  EXPECT_EQ(env.q.where(pod->uid), Where::kBackoff);
}

TEST(QueueTest, UpdatesOfUnschedulablePods) {
  QueueEnv env;
  auto pod = PodBuilder("p").info();
  env.q.add(pod);
  env.popAndFail({"TaintToleration"});
  // A status-only change (our own condition write) keeps it where it is.
  auto status_only = PodBuilder("p").phase("Pending").nominated("n1").info();
  env.q.update(pod, status_only);
  EXPECT_EQ(env.q.where(pod->uid), Where::kUnschedulable);
  EXPECT_EQ(env.nominator.nodeFor(pod->uid), "n1");
  // A spec change (a new toleration) may make it schedulable.
  env.clock.advance(2s);
  auto changed = PodBuilder("p").nominated("n1").toleration("k", "Exists", "", "").info();
  env.q.update(status_only, changed);
  EXPECT_EQ(env.q.where(pod->uid), Where::kActive);
  EXPECT_EQ(env.q.tryPop()->pod->tolerations.size(), 1u);
}

TEST(QueueTest, UpdateWhileInFlightIsRememberedForTheFailure) {
  QueueEnv env;
  auto pod = PodBuilder("p").info();
  env.q.add(pod);
  auto info = env.q.tryPop();
  int64_t cycle = env.q.schedulingCycle();
  env.q.update(pod, PodBuilder("p").label("new", "label").info());
  EXPECT_EQ(env.q.where(pod->uid), Where::kInFlight);
  info->unschedulable_plugins = {"TaintToleration"};
  env.q.addUnschedulableIfNotPresent(info, cycle);
  EXPECT_EQ(env.q.where(pod->uid), Where::kBackoff);
}

TEST(QueueTest, DeleteRemovesEverywhere) {
  QueueEnv env;
  auto a = PodBuilder("a").nominated("n1").info();
  auto b = PodBuilder("b").info();
  env.q.add(a);
  EXPECT_EQ(env.nominator.nodeFor(a->uid), "n1");
  env.q.remove(a->uid);
  EXPECT_EQ(env.q.where(a->uid), Where::kNone);
  EXPECT_EQ(env.nominator.nodeFor(a->uid), "");
  EXPECT_EQ(env.q.activeCount(), 0u);
  // Deleted while in flight: the failure does not bring it back.
  env.q.add(b);
  auto info = env.q.tryPop();
  env.q.remove(b->uid);
  info->unschedulable_plugins = {"TaintToleration"};
  env.q.addUnschedulableIfNotPresent(info, env.q.schedulingCycle());
  EXPECT_EQ(env.q.where(b->uid), Where::kNone);
  EXPECT_EQ(env.q.pendingCount(), 0u);
}

TEST(QueueTest, SchedulingGatesHoldPodsUntilRemoved) {
  QueueEnv env;
  auto gated = PodBuilder("g").gate("example.com/wait").info();
  env.q.add(gated);
  EXPECT_EQ(env.q.where(gated->uid), Where::kGated);
  EXPECT_EQ(env.q.tryPop(), nullptr);
  // Events do not release gated pods.
  env.q.moveAllToActiveOrBackoffQueue({EventResource::kWildcard, kAllActions, "ForceActivate"});
  EXPECT_EQ(env.q.where(gated->uid), Where::kGated);
  env.q.update(gated, PodBuilder("g").info());
  EXPECT_EQ(env.q.where(gated->uid), Where::kActive);
}

TEST(QueueTest, AssignedPodAddMovesPodsWithMatchingAffinityOrSpread) {
  QueueEnv env;
  auto wants_db = PodBuilder("web").podAffinity(false, "app", "db", "zone").info();
  auto spreads =
      PodBuilder("spread").label("app", "db").spread(1, "zone", true, "app", "db").info();
  auto unrelated = PodBuilder("other").podAffinity(false, "app", "cache", "zone").info();
  for (auto& p : {wants_db, spreads, unrelated}) env.q.add(p);
  for (int i = 0; i < 3; ++i) env.popAndFail({"InterPodAffinity"});
  env.clock.advance(2s);
  env.q.assignedPodAdded(*PodBuilder("db").label("app", "db").node("n1").info());
  EXPECT_EQ(env.q.where(wants_db->uid), Where::kActive);
  EXPECT_EQ(env.q.where(spreads->uid), Where::kActive);
  EXPECT_EQ(env.q.where(unrelated->uid), Where::kUnschedulable);
}

TEST(QueueTest, PopBlocksUntilAddOrClose) {
  QueueEnv env;
  std::thread t([&] { env.q.add(PodBuilder("p").info()); });
  auto info = env.q.pop();
  t.join();
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->pod->name, "p");
  std::thread closer([&] { env.q.close(); });
  EXPECT_EQ(env.q.pop(), nullptr);
  closer.join();
}

}  // namespace
}  // namespace berth::scheduler
