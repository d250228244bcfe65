#include "controllers/endpointslice/endpoint_slice_controller.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/kinds/access.h"
#include "api/object.h"
#include "client/fake_client.h"
#include "controllers/endpointslice/endpoint_slice_util.h"
#include "controllers/endpointslice/test_objects.h"

namespace berth::controllers {
namespace {

namespace json = boost::json;
using api::Object;
using api::strAt;
using client::ObjectPtr;

// The controller over a FakeClient, its informers fed by hand as watches
// would feed them; after each sync the fake's slices go back into the
// slice informer.
class EndpointSliceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const api::KindInfo* k : {&service_kind_, &pod_kind_, &slice_kind_})
      informers_.forKind(*k).markSynced();
    controller_ = std::make_unique<EndpointSliceController>(fake_, informers_);
  }
  void TearDown() override { controller_->stop(); }

  ObjectPtr seed(const api::KindInfo& kind, Object obj) {
    ObjectPtr stored = fake_.add(kind, std::move(obj));
    informers_.forKind(kind).injectUpsert(stored);
    return stored;
  }

  Object service(const std::string& extra_spec = "") { return testing::webService(extra_spec); }

  Object pod(const std::string& name, const std::string& ip, bool ready,
             const std::string& extra_spec = "", const std::string& phase = "Running") {
    return testing::webPod(name, ip, ready, extra_spec, phase);
  }

  // Syncs, then shows the slice informer what the fake holds.
  void sync() {
    ASSERT_TRUE(controller_->sync("default/web").ok());
    auto& inf = informers_.forKind(slice_kind_);
    for (const auto& old : inf.list()) inf.injectDelete(client::keyOf(*old));
    for (const auto& s : slices()) inf.injectUpsert(s);
  }
  std::vector<ObjectPtr> slices() {
    auto listed = fake_.list(slice_kind_, "default", {});
    EXPECT_TRUE(listed.ok());
    std::vector<ObjectPtr> out = listed->items;
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return api::name(*a) < api::name(*b); });
    return out;
  }
  static const json::object& endpoint(const ObjectPtr& slice, size_t i) {
    return slice->at("endpoints").as_array().at(i).as_object();
  }
  size_t writes() {
    size_t n = 0;
    for (const auto& a : fake_.writes())
      if (a.resource == "endpointslices") ++n;
    return n;
  }

  FakeClock clock_{std::chrono::system_clock::time_point(std::chrono::seconds(1767225600))};
  client::FakeClient fake_{clock_};
  client::InformerFactory informers_{fake_};
  const api::KindInfo& service_kind_ = client::kind("", "Service");
  const api::KindInfo& pod_kind_ = client::kind("", "Pod");
  const api::KindInfo& slice_kind_ = client::kind("discovery.k8s.io", "EndpointSlice");
  std::unique_ptr<EndpointSliceController> controller_;
};

TEST_F(EndpointSliceTest, ReadyAndUnreadyPodsOfTheSelectorWithTheirConditions) {
  seed(service_kind_, service());
  seed(pod_kind_, pod("a", "10.0.0.1", true, R"("hostname": "a0", "subdomain": "web", )"));
  seed(pod_kind_, pod("b", "10.0.0.2", false));
  seed(pod_kind_, pod("c", "", true));                            // no IP yet
  seed(pod_kind_, pod("d", "10.0.0.4", false, "", "Succeeded"));  // finished
  Object other = pod("e", "10.0.0.5", true);
  other["metadata"].as_object()["labels"] = json::object{{"app", "db"}};  // not selected
  seed(pod_kind_, other);
  sync();
  auto all = slices();
  ASSERT_EQ(all.size(), 1u);
  const ObjectPtr& s = all[0];
  EXPECT_EQ(strAt(*s, {"addressType"}), "IPv4");
  EXPECT_EQ(api::name(*s).rfind("web-", 0), 0u);  // generateName
  EXPECT_EQ(strAt(*s, {"metadata", "labels", "kubernetes.io/service-name"}), "web");
  EXPECT_EQ(strAt(*s, {"metadata", "labels", "endpointslice.kubernetes.io/managed-by"}),
            "endpointslice-controller.k8s.io");
  EXPECT_EQ(strAt(*s, {"metadata", "labels", "tier"}), "front");  // the Service's labels
  const auto& owner = s->at("metadata").at("ownerReferences").as_array()[0].as_object();
  EXPECT_EQ(strAt(owner, {"kind"}), "Service");
  EXPECT_EQ(strAt(owner, {"uid"}), "svc-uid");
  EXPECT_TRUE(owner.at("controller").as_bool());
  EXPECT_EQ(s->at("ports"), json::parse(R"([{"name": "http", "port": 8080, "protocol": "TCP"}])"));
  ASSERT_EQ(s->at("endpoints").as_array().size(), 2u);
  EXPECT_EQ(endpoint(s, 0), json::parse(R"({"addresses": ["10.0.0.1"],
      "conditions": {"ready": true, "serving": true, "terminating": false}, "hostname": "a0",
      "targetRef": {"kind": "Pod", "namespace": "default", "name": "a", "uid": "uid-a"},
      "nodeName": "n1"})"));
  EXPECT_EQ(endpoint(s, 1).at("conditions"),
            json::parse(R"({"ready": false, "serving": false, "terminating": false})"));
}

TEST_F(EndpointSliceTest, TerminatingPodsServeButAreNotReadyUnlessNotReadyAddressesArePublished) {
  seed(service_kind_, service());
  Object a = pod("a", "10.0.0.1", true);
  a["metadata"].as_object()["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  seed(pod_kind_, a);
  seed(pod_kind_, pod("b", "10.0.0.2", false));
  sync();
  ObjectPtr s = slices().at(0);
  EXPECT_EQ(endpoint(s, 0).at("conditions"),
            json::parse(R"({"ready": false, "serving": true, "terminating": true})"));
  // publishNotReadyAddresses: every endpoint counts as ready.
  seed(service_kind_, service(R"("publishNotReadyAddresses": true, )"));
  sync();
  s = slices().at(0);
  EXPECT_TRUE(endpoint(s, 0).at("conditions").at("ready").as_bool());
  EXPECT_TRUE(endpoint(s, 1).at("conditions").at("ready").as_bool());
  EXPECT_FALSE(endpoint(s, 1).at("conditions").at("serving").as_bool());
}

TEST_F(EndpointSliceTest, ANamedTargetPortResolvesPerPod) {
  Object svc = service();
  svc["spec"].as_object()["ports"] =
      json::parse(R"([{"name": "http", "port": 80, "targetPort": "web", "appProtocol": "http"}])");
  seed(service_kind_, svc);
  seed(pod_kind_, pod("a", "10.0.0.1", true));
  Object b = pod("b", "10.0.0.2", true);
  b["spec"].as_object()["containers"].as_array()[0].as_object()["ports"] =
      json::parse(R"([{"name": "web", "containerPort": 9090}])");
  seed(pod_kind_, b);
  sync();
  auto all = slices();
  ASSERT_EQ(all.size(), 2u);
  std::set<int64_t> ports;
  for (const auto& s : all) {
    ASSERT_EQ(s->at("endpoints").as_array().size(), 1u);
    ports.insert(s->at("ports").as_array()[0].at("port").as_int64());
    EXPECT_EQ(strAt(s->at("ports").as_array()[0].as_object(), {"appProtocol"}), "http");
  }
  EXPECT_EQ(ports, (std::set<int64_t>{8080, 9090}));
}

TEST_F(EndpointSliceTest, AHundredEndpointsPerSliceAndAPlaceholderWhenThereAreNone) {
  seed(service_kind_, service());
  sync();
  auto all = slices();
  ASSERT_EQ(all.size(), 1u);  // the placeholder
  EXPECT_TRUE(all[0]->at("endpoints").as_array().empty());
  for (int i = 0; i < 150; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "p%03d", i);
    seed(pod_kind_,
         pod(name, "10.0." + std::to_string(i / 200) + "." + std::to_string(i + 1), true));
  }
  sync();
  all = slices();
  ASSERT_EQ(all.size(), 2u);
  size_t total = 0, largest = 0;
  for (const auto& s : all) {
    total += s->at("endpoints").as_array().size();
    largest = std::max(largest, s->at("endpoints").as_array().size());
  }
  EXPECT_EQ(total, 150u);
  EXPECT_EQ(largest, 100u);
}

TEST_F(EndpointSliceTest, OnlyWhatChangedIsWrittenAndSlicesAreUpdatedInPlace) {
  seed(service_kind_, service());
  seed(pod_kind_, pod("a", "10.0.0.1", true));
  seed(pod_kind_, pod("b", "10.0.0.2", false));
  sync();
  const std::string name = api::name(*slices().at(0));
  fake_.clearActions();
  sync();
  EXPECT_EQ(writes(), 0u);  // nothing changed, nothing written
  seed(pod_kind_, pod("b", "10.0.0.2", true));
  sync();
  ASSERT_EQ(slices().size(), 1u);
  EXPECT_EQ(api::name(*slices().at(0)), name);
  EXPECT_TRUE(endpoint(slices().at(0), 1).at("conditions").at("ready").as_bool());
  ASSERT_EQ(writes(), 1u);
  EXPECT_EQ(fake_.writes().back().verb, "update");
}

TEST_F(EndpointSliceTest, ServicesWithoutASelectorOrGoneHaveNoManagedSlices) {
  seed(service_kind_, service());
  seed(pod_kind_, pod("a", "10.0.0.1", true));
  sync();
  ASSERT_EQ(slices().size(), 1u);
  // A hand-made slice of another manager is left alone.
  seed(slice_kind_, json::parse(R"({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
      "metadata": {"name": "mine", "namespace": "default",
                   "labels": {"kubernetes.io/service-name": "web"}},
      "addressType": "IPv4", "endpoints": []})")
                        .as_object());
  Object no_selector = service();
  no_selector["spec"].as_object().erase("selector");
  seed(service_kind_, no_selector);
  sync();
  auto all = slices();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(api::name(*all[0]), "mine");
  seed(service_kind_, service());
  sync();
  EXPECT_EQ(slices().size(), 2u);
  ASSERT_TRUE(fake_.remove(service_kind_, "default", "web").ok());
  informers_.forKind(service_kind_).injectDelete("default/web");
  sync();
  ASSERT_EQ(slices().size(), 1u);
  EXPECT_EQ(api::name(*slices().at(0)), "mine");
}

TEST_F(EndpointSliceTest, PodAndSliceEventsEnqueueTheirService) {
  seed(service_kind_, service());
  std::string key;
  auto drain = [&] {
    std::vector<std::string> keys;
    while (controller_->workQueue().size() > 0 && controller_->workQueue().get(&key)) {
      keys.push_back(key);
      controller_->workQueue().done(key);
    }
    return keys;
  };
  drain();
  seed(pod_kind_, pod("a", "10.0.0.1", true));
  EXPECT_EQ(drain(), std::vector<std::string>{"default/web"});
  Object other = pod("z", "10.0.0.9", true);
  other["metadata"].as_object()["labels"] = json::object{{"app", "db"}};
  seed(pod_kind_, other);
  EXPECT_TRUE(drain().empty());
  sync();
  drain();
  // A managed slice deleted by hand: its Service syncs again.
  informers_.forKind(slice_kind_).injectDelete(client::keyOf(*slices().at(0)));
  EXPECT_EQ(drain(), std::vector<std::string>{"default/web"});
}

}  // namespace
}  // namespace berth::controllers
