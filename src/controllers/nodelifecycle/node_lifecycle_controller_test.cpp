// The node lifecycle controller over a FakeClient with a FakeClock: nodes
// and leases are seeded and "renewed" by hand, informers are fed from the
// fake's synchronous watches, and monitorOnce() runs one pass, so a lease
// lapsing, the Unknown conditions and taints, pods marked NotReady, the
// evictions (at once or after tolerationSeconds) and recovery are all
// checked without sleeping. Zone tests start fleets of nodes whose kubelets
// renew their leases on every advance() until killed, to check the zone
// disruption states and the per-zone pace of the NoExecute taints.
#include "controllers/nodelifecycle/node_lifecycle_controller.h"

#include <gtest/gtest.h>

#include <set>

#include "api/kinds/access.h"
#include "api/object.h"
#include "client/fake_client.h"

namespace berth::controllers {
namespace {

namespace json = boost::json;
using api::strAt;
using client::ObjectPtr;
using nodelifecycle::ZoneState;
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
    for (const auto& name : alive_) renewLease(name);
    controller_->monitorOnce();
  }
  // Nodes "<prefix>-<i>" posted Ready whose kubelets renew their leases on
  // every advance() until kill()ed; labelled with region r1 and `zone` when
  // one is given.
  std::vector<std::string> startNodes(const std::string& prefix, int n,
                                      const std::string& zone = "") {
    std::vector<std::string> names;
    for (int i = 0; i < n; ++i) {
      std::string name = prefix + "-" + std::to_string(i);
      if (!zone.empty())
        fake_.add(nodes_, parse(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":")" + name +
                                R"(","labels":{"topology.kubernetes.io/region":"r1",
                        "topology.kubernetes.io/zone":")" +
                                zone + R"("}},"spec":{}})"));
      kubeletPosts(name);
      alive_.insert(name);
      names.push_back(name);
    }
    return names;
  }
  void kill(const std::vector<std::string>& names) {
    for (const auto& n : names) alive_.erase(n);
  }
  // The kubelet is back: posts Ready and renews from now on.
  void revive(const std::string& name) {
    kubeletPosts(name);
    alive_.insert(name);
  }
  bool hasNoExecuteTaint(const std::string& name) {
    for (const auto& t : taintsOf(*node(name)))
      if (t == "node.kubernetes.io/unreachable:NoExecute" ||
          t == "node.kubernetes.io/not-ready:NoExecute")
        return true;
    return false;
  }
  size_t noExecuteTainted(const std::vector<std::string>& names) {
    size_t n = 0;
    for (const auto& name : names) n += hasNoExecuteTaint(name) ? 1 : 0;
    return n;
  }
  std::optional<ZoneState> zone(const std::string& zone_name) {
    return controller_->zoneState(
        zone_name.empty() ? "" : "r1:" + std::string(1, '\0') + ":" + zone_name);
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
  std::set<std::string> alive_;
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
  // Healthy neighbours keep the zone out of full disruption: a cluster whose
  // every node goes silent is left untainted (master disruption mode).
  startNodes("ok", 2);
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
  // Healthy neighbours keep the zone out of full disruption: a cluster whose
  // every node goes silent is left untainted (master disruption mode).
  startNodes("ok", 2);
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
  // Healthy neighbours keep the zone out of full disruption: a cluster whose
  // every node goes silent is left untainted (master disruption mode).
  startNodes("ok", 2);
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
  // Healthy neighbours keep the zone out of full disruption: a cluster whose
  // every node goes silent is left untainted (master disruption mode).
  startNodes("ok", 2);
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
  // Healthy neighbours keep the zone out of full disruption: a cluster whose
  // every node goes silent is left untainted (master disruption mode).
  startNodes("ok", 2);
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

// --- zones and rate-limited NoExecute tainting -------------------------------

TEST_F(NodeLifecycleTest, NormalZoneTaintsOneNodePerTenSeconds) {
  auto nodes = startNodes("n", 10);
  addPod("a", "n-0");
  addPod("b", "n-1");
  controller_->monitorOnce();
  EXPECT_EQ(zone(""), ZoneState::kNormal);
  kill({"n-0", "n-1"});
  advance(seconds(41));
  // 2 of 10 not Ready: still Normal, so --node-eviction-rate (0.1/s, burst 1).
  EXPECT_EQ(zone(""), ZoneState::kNormal);
  EXPECT_EQ(condField(*node("n-0"), "Ready", "status"), "Unknown");
  EXPECT_EQ(condField(*node("n-1"), "Ready", "status"), "Unknown");
  EXPECT_EQ(noExecuteTainted(nodes), 1u);
  EXPECT_EQ(terminating("a") + terminating("b"), 1);
  // Both carry the NoSchedule taint at once: only NoExecute is paced.
  for (const char* n : {"n-0", "n-1"}) {
    auto t = taintsOf(*node(n));
    EXPECT_NE(std::find(t.begin(), t.end(), "node.kubernetes.io/unreachable:NoSchedule"), t.end());
  }
  advance(seconds(9));
  EXPECT_EQ(noExecuteTainted(nodes), 1u);
  advance(seconds(1));
  EXPECT_EQ(noExecuteTainted(nodes), 2u);
  EXPECT_TRUE(terminating("a"));
  EXPECT_TRUE(terminating("b"));
}

TEST_F(NodeLifecycleTest, PartialDisruptionOfLargeZoneUsesSecondaryRate) {
  // 60 nodes: more than --large-cluster-size-threshold (50).
  auto nodes = startNodes("n", 60);
  controller_->monitorOnce();
  std::vector<std::string> dead(nodes.begin(), nodes.begin() + 34);  // 57%
  kill(dead);
  advance(seconds(41));
  EXPECT_EQ(zone(""), ZoneState::kPartialDisruption);
  // The bucket still held its token when the rate changed: one goes now.
  EXPECT_EQ(noExecuteTainted(nodes), 1u);
  advance(seconds(10));
  EXPECT_EQ(noExecuteTainted(nodes), 1u);  // not the normal pace
  advance(seconds(89));
  EXPECT_EQ(noExecuteTainted(nodes), 1u);
  advance(seconds(1));  // 100 s: --secondary-node-eviction-rate 0.01/s
  EXPECT_EQ(noExecuteTainted(nodes), 2u);
  EXPECT_EQ(noExecuteTainted(std::vector<std::string>(nodes.begin() + 34, nodes.end())), 0u);
}

TEST_F(NodeLifecycleTest, PartialDisruptionOfSmallZoneStopsTainting) {
  auto nodes = startNodes("n", 10);
  addPod("a", "n-0");
  controller_->monitorOnce();
  std::vector<std::string> dead(nodes.begin(), nodes.begin() + 6);
  kill(dead);
  advance(seconds(41));
  EXPECT_EQ(zone(""), ZoneState::kPartialDisruption);
  for (int i = 0; i < 10; ++i) advance(seconds(60));
  EXPECT_EQ(noExecuteTainted(nodes), 0u);
  EXPECT_FALSE(terminating("a"));
  // The condition taints still keep new pods away.
  EXPECT_EQ(taintsOf(*node("n-0")),
            (std::vector<std::string>{"node.kubernetes.io/unreachable:NoSchedule"}));
}

TEST_F(NodeLifecycleTest, EveryNodeDownEntersMasterDisruptionAndUntaints) {
  auto nodes = startNodes("n", 10);
  addPod("tolerant", "n-0",
         R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute",
                              "tolerationSeconds":300}])");
  controller_->monitorOnce();
  kill({"n-0"});
  advance(seconds(41));
  ASSERT_TRUE(hasNoExecuteTaint("n-0"));
  ASSERT_TRUE(controller_->scheduledEviction("default/tolerant"));

  // Then every other lease lapses too: a control-plane problem, not ten
  // dead nodes. The taint already placed goes and nothing more is tainted.
  kill(nodes);
  advance(seconds(41));
  EXPECT_EQ(condField(*node("n-9"), "Ready", "status"), "Unknown");
  EXPECT_EQ(zone(""), ZoneState::kFullDisruption);
  EXPECT_EQ(noExecuteTainted(nodes), 0u);
  EXPECT_FALSE(controller_->scheduledEviction("default/tolerant"));
  for (int i = 0; i < 10; ++i) advance(seconds(60));
  EXPECT_EQ(noExecuteTainted(nodes), 0u);
  EXPECT_FALSE(terminating("tolerant"));
  EXPECT_EQ(taintsOf(*node("n-5")),
            (std::vector<std::string>{"node.kubernetes.io/unreachable:NoSchedule"}));
}

TEST_F(NodeLifecycleTest, WholeClusterDownFromTheStartIsNotTainted) {
  auto nodes = startNodes("n", 3);
  controller_->monitorOnce();
  kill(nodes);
  advance(seconds(41));
  EXPECT_EQ(zone(""), ZoneState::kFullDisruption);
  EXPECT_EQ(noExecuteTainted(nodes), 0u);
}

TEST_F(NodeLifecycleTest, RecoveryFromMasterDisruptionResumesNormalTainting) {
  auto nodes = startNodes("n", 10);
  controller_->monitorOnce();
  kill(nodes);
  advance(seconds(41));
  ASSERT_EQ(zone(""), ZoneState::kFullDisruption);
  advance(seconds(60));
  ASSERT_EQ(noExecuteTainted(nodes), 0u);

  // Nine kubelets come back; n-0 stays dead.
  clock_.advance(seconds(5));
  for (size_t i = 1; i < nodes.size(); ++i) revive(nodes[i]);
  controller_->monitorOnce();
  EXPECT_EQ(zone(""), ZoneState::kNormal);
  EXPECT_EQ(condField(*node("n-1"), "Ready", "status"), "True");
  // The limiter is back at 0.1/s but starts empty (it was stopped): the
  // first taint comes a full interval later.
  EXPECT_FALSE(hasNoExecuteTaint("n-0"));
  advance(seconds(9));
  EXPECT_FALSE(hasNoExecuteTaint("n-0"));
  advance(seconds(1));
  EXPECT_TRUE(hasNoExecuteTaint("n-0"));
  EXPECT_EQ(noExecuteTainted(nodes), 1u);
}

TEST_F(NodeLifecycleTest, ZonesComeFromTopologyLabels) {
  auto a = startNodes("a", 3, "a");
  auto b = startNodes("b", 10, "b");
  auto plain = startNodes("plain", 1);  // no labels: the "" zone
  controller_->monitorOnce();
  EXPECT_EQ(zone("a"), ZoneState::kNormal);
  EXPECT_EQ(zone("b"), ZoneState::kNormal);
  EXPECT_EQ(zone(""), ZoneState::kNormal);
  EXPECT_EQ(controller_->zoneState(nodelifecycle::zoneKey(*node("a-0"))), ZoneState::kNormal);

  kill(a);
  kill({"b-0"});
  advance(seconds(41));
  EXPECT_EQ(zone("a"), ZoneState::kFullDisruption);
  EXPECT_EQ(zone("b"), ZoneState::kNormal);
  // Each zone has its own limiter: b's dead node is tainted at once whatever
  // happens in a. A zone that is down while others are not is really down
  // (upstream's HealthyQPSFunc for FullDisruption): its nodes are tainted at
  // the normal pace, not all at once.
  EXPECT_TRUE(hasNoExecuteTaint("b-0"));
  EXPECT_EQ(noExecuteTainted(b), 1u);
  EXPECT_EQ(noExecuteTainted(a), 1u);
  advance(seconds(10));
  EXPECT_EQ(noExecuteTainted(a), 2u);
  advance(seconds(10));
  EXPECT_EQ(noExecuteTainted(a), 3u);
  EXPECT_EQ(noExecuteTainted(plain), 0u);
}

TEST_F(NodeLifecycleTest, ExcludedNodesDoNotCountTowardsTheirZone) {
  auto nodes = startNodes("n", 3);
  api::Object n0 = *node("n-0");
  n0["metadata"].as_object()["labels"] =
      json::object{{"node.kubernetes.io/exclude-disruption", ""}};
  fake_.add(nodes_, std::move(n0));
  controller_->monitorOnce();
  // n-1 and n-2 die; n-0 lives but is not counted: the zone is fully down,
  // as is the whole cluster, so nothing is tainted.
  kill({"n-1", "n-2"});
  advance(seconds(41));
  EXPECT_EQ(zone(""), ZoneState::kFullDisruption);
  EXPECT_EQ(noExecuteTainted(nodes), 0u);
}

TEST_F(NodeLifecycleTest, DisruptionOptionsAreHonoured) {
  NodeLifecycleOptions o;
  o.node_eviction_rate = 1;          // one node a second
  o.unhealthy_zone_threshold = 0.9;  // 6 of 10 is not a partial disruption
  controller_ = std::make_unique<NodeLifecycleController>(fake_, informers_, recorder_, clock_, o);
  auto nodes = startNodes("n", 10);
  controller_->monitorOnce();
  kill(std::vector<std::string>(nodes.begin(), nodes.begin() + 6));
  advance(seconds(41));
  EXPECT_EQ(zone(""), ZoneState::kNormal);
  EXPECT_EQ(noExecuteTainted(nodes), 1u);
  advance(seconds(1));
  EXPECT_EQ(noExecuteTainted(nodes), 2u);
  advance(seconds(4));
  EXPECT_EQ(noExecuteTainted(nodes), 3u);  // a token per second, burst 1: no catching up
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
