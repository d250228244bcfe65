#include "agent/pod_worker.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "agent/fake_pod_runtime.h"
#include "api/kinds/access.h"
#include "client/fake_client.h"

namespace berth::agent {
namespace {

namespace json = boost::json;
using api::strAt;
using client::ObjectPtr;
using std::chrono::milliseconds;
using std::chrono::seconds;

class PodWorkersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The informer follows the fake's synchronous watch: every write (the
    // workers' own included) is in the cache when the call returns.
    auto w = fake_.watch(pods_, "", {}, [this](const client::Event& ev) {
      if (ev.type == client::EventType::kAdded || ev.type == client::EventType::kModified)
        informer_.injectUpsert(ev.object);
      else if (ev.type == client::EventType::kDeleted)
        informer_.injectDelete(client::keyOf(*ev.object));
    });
    ASSERT_TRUE(w.ok());
    watch_ = std::move(w).value();
    informer_.markSynced();
    PodWorkerOptions options;
    options.run_threads = false;
    PodWorkers::Hooks hooks;
    hooks.synced = [this](const api::Object& pod, const SyncOutcome& o) {
      synced_.push_back(api::name(pod) + ":" + std::to_string(o.running.size()));
    };
    hooks.removed = [this](const std::string& uid) { removed_.push_back(uid); };
    hooks.eviction = [this](const api::Object& pod) -> std::optional<std::string> {
      if (api::name(pod) == evict_ && strAt(pod, {"status", "phase"}) != "Failed")
        return std::string("The node was low on resource: memory. ");
      return std::nullopt;
    };
    workers_ = std::make_unique<PodWorkers>(fake_, informer_, syncer_, runtime_, recorder_, clock_,
                                            options, hooks);
    workers_->start();
  }
  void TearDown() override {
    workers_->stop();
    watch_->stop();
  }

  ObjectPtr addPod(const std::string& name, const std::string& policy = "Always") {
    api::Object p = json::parse(R"({"metadata": {"name": ")" + name + R"(", "namespace": "ns"},
        "spec": {"nodeName": "n1", "restartPolicy": ")" +
                                policy + R"(",
                 "containers": [{"name": "c", "image": "busybox:1"}]}})")
                        .as_object();
    return fake_.add(pods_, p);
  }
  ObjectPtr find(const std::string& name) { return fake_.find(pods_, "ns", name); }
  std::vector<client::Action> statusPatches() {
    std::vector<client::Action> out;
    for (auto& a : fake_.writes())
      if (a.verb == "patch" && a.subresource == "status") out.push_back(a);
    return out;
  }

  FakeClock clock_{std::chrono::system_clock::time_point(seconds(1767225600))};
  client::FakeClient fake_{clock_};
  const api::KindInfo& pods_ = client::kind("", "Pod");
  client::Informer informer_{fake_, pods_};
  client::EventRecorder recorder_{fake_, clock_, "kubelet", "n1"};
  FakeRuntime runtime_{clock_};
  PodSyncer syncer_{runtime_, clock_, "10.0.0.2"};
  std::unique_ptr<client::Watch> watch_;
  std::unique_ptr<PodWorkers> workers_;
  std::vector<std::string> synced_, removed_;
  std::string evict_;  // the pod the eviction hook picks
};

TEST_F(PodWorkersTest, RunsAPodAndPatchesItsStatusOnlyWhenItChanges) {
  addPod("web");
  workers_->step();
  ASSERT_EQ(runtime_.all.size(), 1u);
  ObjectPtr pod = find("web");
  EXPECT_EQ(strAt(*pod, {"status", "phase"}), "Running");
  EXPECT_EQ(strAt(*pod, {"status", "podIP"}), "10.244.1.7");
  EXPECT_EQ(statusPatches().size(), 1u);
  EXPECT_EQ(synced_, std::vector<std::string>{"web:1"});
  // Its own status write comes back as an update: no second sync.
  workers_->step();
  EXPECT_EQ(workers_->stats().syncs, 1u);

  // A container exit, told by enqueue(): restarted, status patched again.
  runtime_.exit("c-0", 1);
  workers_->enqueue("ns/web");
  workers_->step();
  EXPECT_EQ(runtime_.all.size(), 2u);
  EXPECT_EQ(find("web")->at("status").at("containerStatuses").at(0).at("restartCount").as_int64(),
            1);
  EXPECT_EQ(statusPatches().size(), 2u);
  // A sync that changes nothing writes nothing.
  workers_->enqueue("ns/web");
  workers_->step();
  EXPECT_EQ(statusPatches().size(), 2u);
  EXPECT_EQ(workers_->stats().syncs, 3u);

  recorder_.flush();
  auto events = fake_.list(client::kind("", "Event"), "ns", {});
  ASSERT_TRUE(events.ok());
  bool started = false;
  for (const auto& e : events->items)
    started |= strAt(*e, {"reason"}) == "Started" && strAt(*e, {"source", "host"}) == "n1";
  EXPECT_TRUE(started);
}

TEST_F(PodWorkersTest, ABackOffEndsWithASyncAtItsTime) {
  addPod("crash");
  workers_->step();
  runtime_.exit("c-0", 1);
  workers_->enqueue("ns/crash");
  workers_->step();  // restarted at once
  runtime_.exit("c-1", 1);
  workers_->enqueue("ns/crash");
  workers_->step();  // CrashLoopBackOff for 10 s
  EXPECT_EQ(runtime_.all.size(), 2u);
  EXPECT_EQ(strAt(find("crash")->at("status").at("containerStatuses").at(0).as_object(),
                  {"state", "waiting", "reason"}),
            "CrashLoopBackOff");
  clock_.advance(seconds(9));
  workers_->step();
  EXPECT_EQ(runtime_.all.size(), 2u);
  clock_.advance(seconds(1));
  workers_->step();
  EXPECT_EQ(runtime_.all.size(), 3u);
}

TEST_F(PodWorkersTest, ADeletedPodStopsAndIsDeletedWithZeroGraceGuardedByItsUid) {
  ObjectPtr pod = addPod("web");
  workers_->step();
  // The API marks it for deletion (graceful): the agent stops it and
  // confirms with grace 0.
  client::DeleteOptions graceful;
  graceful.grace_period_seconds = 5;
  ASSERT_TRUE(fake_.remove(pods_, "ns", "web", graceful).ok());
  ASSERT_TRUE(find("web"));
  workers_->step();
  EXPECT_EQ(runtime_.last_grace, std::chrono::milliseconds(5000));
  EXPECT_FALSE(runtime_.all[0].state.running);
  EXPECT_EQ(find("web"), nullptr);
  bool confirmed = false;
  for (const auto& a : fake_.writes())
    if (a.verb == "delete" && a.name == "web") confirmed = true;
  EXPECT_TRUE(confirmed);
  EXPECT_EQ(workers_->stats().deletions, 1u);
  workers_->step();
  EXPECT_TRUE(runtime_.podUids().empty());
  EXPECT_EQ(removed_, std::vector<std::string>{api::uid(*pod)});
}

TEST_F(PodWorkersTest, APodThatTakesItsTimeToStopHoldsNoWorker) {
  // Run mode with a single worker: a deleted pod stops on a thread of its
  // own, so another pod starts while the first is still within its grace.
  std::mutex mu;
  std::condition_variable cv;
  bool release = false, b_running = false;
  runtime_.stopping = [&](const std::string&) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, seconds(30), [&] { return release; });
  };
  PodWorkerOptions options;
  options.workers = 1;
  PodWorkers::Hooks hooks;
  hooks.synced = [&](const api::Object& pod, const SyncOutcome& o) {
    if (api::name(pod) != "b" || o.running.empty()) return;
    std::lock_guard lock(mu);
    b_running = true;
    cv.notify_all();
  };
  PodWorkers run(fake_, informer_, syncer_, runtime_, recorder_, clock_, options, hooks);
  run.start();
  auto waitUntil = [&](const std::function<bool()>& done) {
    for (int i = 0; i < 1000 && !done(); ++i) std::this_thread::sleep_for(milliseconds(10));
    return done();
  };
  addPod("a");
  ASSERT_TRUE(waitUntil([&] { return strAt(*find("a"), {"status", "phase"}) == "Running"; }));
  client::DeleteOptions graceful;
  graceful.grace_period_seconds = 30;
  ASSERT_TRUE(fake_.remove(pods_, "ns", "a", graceful).ok());
  addPod("b");
  {
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, seconds(10), [&] { return b_running; }));
    release = true;
    cv.notify_all();
  }
  EXPECT_TRUE(waitUntil([&] { return find("a") == nullptr; }));  // stopped, then deleted
  run.stop();
}

TEST_F(PodWorkersTest, WhatThePodsGoneFromTheAPILeftIsCleanedUp) {
  // A pod force-deleted from the API: its containers go at once.
  ObjectPtr pod = addPod("web");
  workers_->step();
  client::DeleteOptions now;
  now.grace_period_seconds = 0;
  ASSERT_TRUE(fake_.remove(pods_, "ns", "web", now).ok());
  workers_->step();
  EXPECT_FALSE(runtime_.all[0].state.running);
  EXPECT_EQ(runtime_.last_grace, std::chrono::milliseconds(0));
  EXPECT_EQ(removed_, std::vector<std::string>{api::uid(*pod)});

  // A sandbox of a pod this agent never saw (deleted while it was down).
  api::Object stray = json::parse(R"({"metadata": {"uid": "stray"}})").as_object();
  ASSERT_TRUE(runtime_.ensureSandbox(stray).ok());
  workers_->step();  // the sweep
  EXPECT_TRUE(runtime_.podUids().empty());
  EXPECT_EQ(removed_.back(), "stray");
}

TEST_F(PodWorkersTest, FailedStatusWritesAreRetried) {
  int failures = 2;
  fake_.prependReactor("patch", "pods",
                       [&](const client::Action&) -> std::optional<Result<ObjectPtr>> {
                         if (failures-- > 0)
                           return Result<ObjectPtr>(makeError(ErrorCode::kInternal, "etcd down"));
                         return std::nullopt;
                       });
  addPod("web");
  workers_->step();
  EXPECT_EQ(strAt(*find("web"), {"status", "phase"}), "");
  clock_.advance(seconds(1));
  workers_->step();
  clock_.advance(seconds(1));
  workers_->step();
  EXPECT_EQ(strAt(*find("web"), {"status", "phase"}), "Running");
  EXPECT_EQ(runtime_.all.size(), 1u);  // retries sync again; nothing started twice
  EXPECT_EQ(workers_->stats().errors, 2u);
}

TEST_F(PodWorkersTest, AnEvictedPodIsKilledAndFailsWithReasonEvicted) {
  addPod("hog");
  workers_->step();
  ASSERT_TRUE(runtime_.all[0].state.running);
  evict_ = "hog";
  workers_->enqueue("ns/hog");
  workers_->step();
  EXPECT_FALSE(runtime_.all[0].state.running);
  ObjectPtr pod = find("hog");
  EXPECT_EQ(strAt(*pod, {"status", "phase"}), "Failed");
  EXPECT_EQ(strAt(*pod, {"status", "reason"}), "Evicted");
  EXPECT_EQ(strAt(*pod, {"status", "message"}), "The node was low on resource: memory. ");
  // Failed for good: later syncs restart nothing.
  workers_->enqueue("ns/hog");
  workers_->step();
  EXPECT_EQ(runtime_.all.size(), 1u);
  EXPECT_EQ(strAt(*find("hog"), {"status", "phase"}), "Failed");
  EXPECT_EQ(strAt(*find("hog"), {"status", "reason"}), "Evicted");
  recorder_.flush();
  auto events = fake_.list(client::kind("", "Event"), "ns", {});
  ASSERT_TRUE(events.ok());
  bool evicted = false;
  for (const auto& e : events->items) evicted |= strAt(*e, {"reason"}) == "Evicted";
  EXPECT_TRUE(evicted);
}

}  // namespace
}  // namespace berth::agent
