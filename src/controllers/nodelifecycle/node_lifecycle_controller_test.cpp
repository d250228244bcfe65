// The node lifecycle controller over a FakeClient with a FakeClock: nodes
// and leases are seeded and "renewed" by hand, informers are fed from the
// fake's synchronous watches, and monitorOnce() runs one pass, so a lease
// lapsing, the Unknown conditions and taints, pods marked NotReady, the
// evictions (at once or after tolerationSeconds) and recovery are all
// checked without sleeping.
#include "controllers/nodelifecycle/node_lifecycle_controller.h"

#include <gtest/gtest.h>

#include "api/kinds/access.h"
#include "api/object.h"
#include "client/fake_client.h"

namespace berth::controllers {
namespace {

namespace json = boost::json;
using api::strAt;
using client::ObjectPtr;
using std::chrono::seconds;
using TimePoint = std::chrono::system_clock::time_point;

// 2025-01-01T00:00:00Z
const TimePoint kT0 = std::chrono::system_clock::from_time_t(1735689600);

api::Object parse(const std::string& text) { return json::parse(text).as_object(); }

std::string condField(const api::Object& obj, const std::string& type, const char* field) {
  if (const json::array* conds = api::arrAt(obj, {"status", "conditions"}))
    for (const auto& c : *conds)
      if (strAt(c.as_object(), {"type"}) == type) return strAt(c.as_object(), {field});
  return "<none>";
}

// "key:effect" of each taint, in order.
std::vector<std::string> taintsOf(const api::Object& node) {
  std::vector<std::string> out;
  if (const json::array* taints = api::arrAt(node, {"spec", "taints"}))
    for (const auto& t : *taints)
      out.push_back(strAt(t.as_object(), {"key"}) + ":" + strAt(t.as_object(), {"effect"}));
  return out;
}

class NodeLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const api::KindInfo* k : {&nodes_, &leases_, &pods_}) {
      client::Informer& informer = informers_.forKind(*k);
      auto w = fake_.watch(*k, "", {}, [&informer](const client::Event& ev) {
        if (ev.type == client::EventType::kAdded || ev.type == client::EventType::kModified)
          informer.injectUpsert(ev.object);
        else if (ev.type == client::EventType::kDeleted)
          informer.injectDelete(client::keyOf(*ev.object));
      });
      ASSERT_TRUE(w.ok());
      watches_.push_back(std::move(w).value());
      informer.markSynced();
    }
    NodeLifecycleOptions o;
    controller_ =
        std::make_unique<NodeLifecycleController>(fake_, informers_, recorder_, clock_, o);
  }
  void TearDown() override {
    controller_.reset();
    for (auto& w : watches_) w->stop();
  }

  // A node as the kubelet posts it, with its lease renewed now.
  void kubeletPosts(const std::string& name, const std::string& ready = "True",
                    const std::string& extra_conds = "") {
    std::string now = formatRfc3339(clock_.now());
    ObjectPtr existing = node(name);
    api::Object n = existing ? *existing
                             : parse(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":")" +
                                     name + R"("},"spec":{}})");
    std::string transition = now;
    if (existing && condField(*existing, "Ready", "status") == ready)
      transition = condField(*existing, "Ready", "lastTransitionTime");
    n["status"] = parse(R"({"conditions":[{"type":"Ready","status":")" + ready +
                        R"(","lastHeartbeatTime":")" + now + R"(","lastTransitionTime":")" +
                        transition + R"(","reason":"KubeletReady"},
        {"type":"MemoryPressure","status":"False","lastHeartbeatTime":")" +
                        now + R"(","lastTransitionTime":")" + now + R"("})" + extra_conds + "]}");
    fake_.add(nodes_, std::move(n));
    renewLease(name);
  }
  void renewLease(const std::string& name) {
    fake_.add(
        leases_,
        parse(R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":")" +
              name + R"(","namespace":"kube-node-lease"},"spec":{"holderIdentity":")" + name +
              R"(","leaseDurationSeconds":40,"renewTime":")" + formatRfc3339Micro(clock_.now()) +
              R"("}})"));
  }
  void addPod(const std::string& name, const std::string& node,
              const std::string& tolerations = "[]") {
    fake_.add(pods_,
              parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
                    R"(","namespace":"default"},"spec":{"nodeName":")" + node +
                    R"(","containers":[{"name":"c","image":"i"}],"tolerations":)" + tolerations +
                    R"(},"status":{"phase":"Running","conditions":[
          {"type":"Ready","status":"True","lastTransitionTime":"2025-01-01T00:00:00Z"}]}})"));
  }
  ObjectPtr node(const std::string& name) {
    auto r = fake_.get(nodes_, "", name);
    return r.ok() ? *r : nullptr;
  }
  ObjectPtr pod(const std::string& name) {
    auto r = fake_.get(pods_, "default", name);
    return r.ok() ? *r : nullptr;
  }
  bool terminating(const std::string& name) {
    ObjectPtr p = pod(name);
    return !p || api::at(*p, {"metadata", "deletionTimestamp"});
  }
  void advance(seconds d) {
    clock_.advance(d);
    controller_->monitorOnce();
  }
  // "reason: message" of every Event written so far.
  std::vector<std::string> events() {
    recorder_.flush();
    std::vector<std::string> out;
    auto list = fake_.list(client::kind("", "Event"), "", {});
    if (list.ok())
      for (const auto& e : list->items)
        out.push_back(strAt(*e, {"reason"}) + ": " + strAt(*e, {"message"}));
    return out;
  }
  bool hasEvent(const std::string& text) {
    auto all = events();
    return std::find(all.begin(), all.end(), text) != all.end();
  }
  size_t writesTo(const std::string& resource) {
    size_t n = 0;
    for (const auto& a : fake_.writes())
      if (a.resource == resource) ++n;
    return n;
  }

  FakeClock clock_{kT0};
  client::FakeClient fake_{clock_};
  client::InformerFactory informers_{fake_};
  client::EventRecorder recorder_{fake_, clock_, "node-controller"};
  std::vector<std::unique_ptr<client::Watch>> watches_;
  std::unique_ptr<NodeLifecycleController> controller_;
  const api::KindInfo& nodes_ = client::kind("", "Node");
  const api::KindInfo& leases_ = client::kind("coordination.k8s.io", "Lease");
  const api::KindInfo& pods_ = client::kind("", "Pod");
};

TEST_F(NodeLifecycleTest, HealthyNodeWithRenewedLeaseIsLeftAlone) {
  kubeletPosts("n1");
  controller_->monitorOnce();
  EXPECT_TRUE(hasEvent("RegisteredNode: Node n1 event: Registered Node n1 in Controller"));
  for (int i = 0; i < 12; ++i) {
    clock_.advance(seconds(10));
    renewLease("n1");  // status itself is not re-posted: the lease is the heartbeat
    controller_->monitorOnce();
  }
  EXPECT_EQ(condField(*node("n1"), "Ready", "status"), "True");
  EXPECT_TRUE(taintsOf(*node("n1")).empty());
  EXPECT_EQ(writesTo("nodes"), 0u);
}

TEST_F(NodeLifecycleTest, LeaseLapseMarksUnknownTaintsAndPodsNotReady) {
  kubeletPosts("n1");
  addPod("web", "n1",
         R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute",
                          "tolerationSeconds":300}])");
  controller_->monitorOnce();
  advance(seconds(40));  // exactly the grace period: not yet
  EXPECT_EQ(condField(*node("n1"), "Ready", "status"), "True");

  advance(seconds(1));
  ObjectPtr n = node("n1");
  EXPECT_EQ(condField(*n, "Ready", "status"), "Unknown");
  EXPECT_EQ(condField(*n, "Ready", "reason"), "NodeStatusUnknown");
  EXPECT_EQ(condField(*n, "Ready", "message"), "Kubelet stopped posting node status.");
  EXPECT_EQ(condField(*n, "Ready", "lastTransitionTime"), "2025-01-01T00:00:41Z");
  EXPECT_EQ(condField(*n, "Ready", "lastHeartbeatTime"), "2025-01-01T00:00:00Z");  // kept
  EXPECT_EQ(condField(*n, "MemoryPressure", "status"), "Unknown");
  // Conditions the kubelet never posted appear as never updated.
  EXPECT_EQ(condField(*n, "DiskPressure", "status"), "Unknown");
  EXPECT_EQ(condField(*n, "DiskPressure", "reason"), "NodeStatusNeverUpdated");
  EXPECT_EQ(condField(*n, "PIDPressure", "message"), "Kubelet never posted node status.");
  EXPECT_EQ(taintsOf(*n), (std::vector<std::string>{"node.kubernetes.io/unreachable:NoSchedule",
                                                    "node.kubernetes.io/unreachable:NoExecute"}));
  EXPECT_EQ(strAt(n->at("spec").at("taints").as_array()[1].as_object(), {"timeAdded"}),
            "2025-01-01T00:00:41Z");

  ObjectPtr p = pod("web");
  EXPECT_EQ(condField(*p, "Ready", "status"), "False");
  EXPECT_EQ(condField(*p, "Ready", "lastTransitionTime"), "2025-01-01T00:00:41Z");
  EXPECT_TRUE(hasEvent("NodeNotReady: Node n1 status is now: NodeNotReady"));
  EXPECT_TRUE(hasEvent("NodeNotReady: Node is not ready"));

  // Another pass changes nothing more.
  size_t writes = writesTo("nodes") + writesTo("pods");
  advance(seconds(5));
  EXPECT_EQ(writesTo("nodes") + writesTo("pods"), writes);
  EXPECT_EQ(condField(*node("n1"), "Ready", "lastTransitionTime"), "2025-01-01T00:00:41Z");
}

TEST_F(NodeLifecycleTest, IntolerantPodsEvictedAtOnce) {
  kubeletPosts("n1");
  kubeletPosts("n2");
  addPod("a", "n1");
  addPod("b", "n2");
  controller_->monitorOnce();
  clock_.advance(seconds(41));
  renewLease("n2");
  controller_->monitorOnce();
  ASSERT_EQ(condField(*node("n1"), "Ready", "status"), "Unknown");
  EXPECT_EQ(condField(*node("n2"), "Ready", "status"), "True");
  // a does not tolerate unreachable:NoExecute: deleted in the same pass,
  // after the DisruptionTarget condition is added.
  ObjectPtr a = pod("a");
  ASSERT_TRUE(a);  // bound and running: terminating until its kubelet confirms
  EXPECT_TRUE(api::at(*a, {"metadata", "deletionTimestamp"}));
  EXPECT_EQ(condField(*a, "DisruptionTarget", "status"), "True");
  EXPECT_EQ(condField(*a, "DisruptionTarget", "reason"), "DeletionByTaintManager");
  EXPECT_EQ(condField(*a, "DisruptionTarget", "message"),
            "Taint manager: deleting due to NoExecute taint");
  EXPECT_TRUE(hasEvent("TaintManagerEviction: Marking for deletion Pod default/a"));
  EXPECT_FALSE(terminating("b"));
  EXPECT_EQ(controller_->scheduledEvictions(), 0u);
}

TEST_F(NodeLifecycleTest, TolerationSecondsDelayEviction) {
  kubeletPosts("n1");
  addPod("tolerant", "n1",
         R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute",
                              "tolerationSeconds":300},
                             {"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute",
                              "tolerationSeconds":300}])");
  addPod("forever", "n1", R"([{"operator":"Exists"}])");
  addPod(
      "short", "n1",
      R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists","tolerationSeconds":30}])");
  controller_->monitorOnce();
  advance(seconds(41));
  auto at = controller_->scheduledEviction("default/tolerant");
  ASSERT_TRUE(at);
  EXPECT_EQ(*at, kT0 + seconds(41 + 300));
  EXPECT_FALSE(controller_->scheduledEviction("default/forever"));
  EXPECT_FALSE(terminating("tolerant"));

  advance(seconds(30));
  EXPECT_TRUE(terminating("short"));
  EXPECT_FALSE(terminating("tolerant"));
  advance(seconds(269));
  EXPECT_FALSE(terminating("tolerant"));
  advance(seconds(1));
  EXPECT_TRUE(terminating("tolerant"));
  EXPECT_FALSE(terminating("forever"));
  EXPECT_EQ(controller_->scheduledEvictions(), 0u);
}

TEST_F(NodeLifecycleTest, RecoveryRemovesTaintsAndCancelsEvictions) {
  kubeletPosts("n1");
  addPod("tolerant", "n1",
         R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute",
                              "tolerationSeconds":300}])");
  controller_->monitorOnce();
  advance(seconds(60));
  ASSERT_EQ(condField(*node("n1"), "Ready", "status"), "Unknown");
  ASSERT_TRUE(controller_->scheduledEviction("default/tolerant"));

  // The kubelet comes back: it posts Ready and renews its lease.
  clock_.advance(seconds(10));
  kubeletPosts("n1");
  controller_->monitorOnce();
  ObjectPtr n = node("n1");
  EXPECT_EQ(condField(*n, "Ready", "status"), "True");
  EXPECT_TRUE(taintsOf(*n).empty());
  EXPECT_FALSE(controller_->scheduledEviction("default/tolerant"));
  EXPECT_TRUE(hasEvent("TaintManagerEviction: Cancelling deletion of Pod default/tolerant"));
  advance(seconds(400));
  EXPECT_FALSE(terminating("tolerant"));
}

TEST_F(NodeLifecycleTest, NotReadyNodeGetsNotReadyTaintsThenUnreachable) {
  kubeletPosts("n1", "False");
  addPod("web", "n1");
  controller_->monitorOnce();
  ObjectPtr n = node("n1");
  EXPECT_EQ(taintsOf(*n), (std::vector<std::string>{"node.kubernetes.io/not-ready:NoSchedule",
                                                    "node.kubernetes.io/not-ready:NoExecute"}));
  EXPECT_TRUE(terminating("web"));
  // The kubelet then goes silent: the taints swap to unreachable.
  advance(seconds(41));
  EXPECT_EQ(taintsOf(*node("n1")),
            (std::vector<std::string>{"node.kubernetes.io/unreachable:NoSchedule",
                                      "node.kubernetes.io/unreachable:NoExecute"}));
}

TEST_F(NodeLifecycleTest, NodeThatNeverPostedStatusGetsStartupGrace) {
  fake_.add(nodes_,
            parse(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"},"spec":{}})"));
  controller_->monitorOnce();
  advance(seconds(60));
  EXPECT_EQ(condField(*node("n1"), "Ready", "status"), "<none>");
  advance(seconds(1));
  ObjectPtr n = node("n1");
  EXPECT_EQ(condField(*n, "Ready", "status"), "Unknown");
  EXPECT_EQ(condField(*n, "Ready", "reason"), "NodeStatusNeverUpdated");
  EXPECT_EQ(condField(*n, "Ready", "lastHeartbeatTime"), "2025-01-01T00:00:00Z");
}

TEST_F(NodeLifecycleTest, ConditionAndUnschedulableNoScheduleTaints) {
  kubeletPosts("n1", "True", R"(,{"type":"DiskPressure","status":"True"})");
  controller_->monitorOnce();
  EXPECT_EQ(taintsOf(*node("n1")),
            (std::vector<std::string>{"node.kubernetes.io/disk-pressure:NoSchedule"}));

  // Cordoned, pressure gone; a user taint is left alone.
  api::Object n = *node("n1");
  n["spec"] = parse(
      R"({"unschedulable":true,"taints":[{"key":"dedicated","value":"gpu","effect":"NoSchedule"},
      {"key":"node.kubernetes.io/disk-pressure","effect":"NoSchedule"}]})");
  json::array& conds = n["status"].as_object()["conditions"].as_array();
  conds.back().as_object()["status"] = "False";
  fake_.add(nodes_, std::move(n));
  controller_->monitorOnce();
  EXPECT_EQ(taintsOf(*node("n1")),
            (std::vector<std::string>{"dedicated:NoSchedule",
                                      "node.kubernetes.io/unschedulable:NoSchedule"}));
}

TEST_F(NodeLifecycleTest, PodArrivingOnTaintedNodeIsJudgedToo) {
  kubeletPosts("n1");
  controller_->monitorOnce();
  advance(seconds(41));
  ASSERT_EQ(taintsOf(*node("n1")).size(), 2u);
  addPod("late", "n1",
         R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute",
                          "tolerationSeconds":60}])");
  controller_->monitorOnce();
  auto at = controller_->scheduledEviction("default/late");
  ASSERT_TRUE(at);
  EXPECT_EQ(*at, kT0 + seconds(41 + 60));
  // Deleted by someone else meanwhile: the eviction is cancelled.
  ASSERT_TRUE(fake_
                  .remove(pods_, "default", "late",
                          [] {
                            client::DeleteOptions o;
                            o.grace_period_seconds = 0;
                            return o;
                          }())
                  .ok());
  controller_->monitorOnce();
  EXPECT_FALSE(controller_->scheduledEviction("default/late"));
}

TEST_F(NodeLifecycleTest, StartAndStopRunLoop) {
  kubeletPosts("n1");
  controller_->start();
  controller_->stop();
  controller_->stop();  // idempotent
  EXPECT_EQ(condField(*node("n1"), "Ready", "status"), "True");
}

}  // namespace
}  // namespace berth::controllers
