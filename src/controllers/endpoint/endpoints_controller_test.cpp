#include "controllers/endpoint/endpoints_controller.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/kinds/access.h"
#include "api/object.h"
#include "client/fake_client.h"
#include "controllers/endpointslice/test_objects.h"

namespace berth::controllers {
namespace {

namespace json = boost::json;
using api::Object;
using api::strAt;
using client::ObjectPtr;

// The controller over a FakeClient, informers fed by hand; after each sync
// the fake's Endpoints go back into the informer.
class EndpointsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const api::KindInfo* k : {&service_kind_, &pod_kind_, &endpoints_kind_})
      informers_.forKind(*k).markSynced();
    controller_ = std::make_unique<EndpointsController>(fake_, informers_);
  }
  void TearDown() override { controller_->stop(); }

  ObjectPtr seed(const api::KindInfo& kind, Object obj) {
    ObjectPtr stored = fake_.add(kind, std::move(obj));
    informers_.forKind(kind).injectUpsert(stored);
    return stored;
  }
  Object service(const std::string& extra_spec = "") { return testing::webService(extra_spec); }

  Object pod(const std::string& name, const std::string& ip, bool ready) {
    return testing::webPod(name, ip, ready);
  }

  void sync() {
    ASSERT_TRUE(controller_->sync("default/web").ok());
    auto& inf = informers_.forKind(endpoints_kind_);
    if (ObjectPtr cur = fake_.find(endpoints_kind_, "default", "web"))
      inf.injectUpsert(cur);
    else
      inf.injectDelete("default/web");
  }
  ObjectPtr endpoints() { return fake_.find(endpoints_kind_, "default", "web"); }

  FakeClock clock_{std::chrono::system_clock::time_point(std::chrono::seconds(1767225600))};
  client::FakeClient fake_{clock_};
  client::InformerFactory informers_{fake_};
  const api::KindInfo& service_kind_ = client::kind("", "Service");
  const api::KindInfo& pod_kind_ = client::kind("", "Pod");
  const api::KindInfo& endpoints_kind_ = client::kind("", "Endpoints");
  std::unique_ptr<EndpointsController> controller_;
};

TEST_F(EndpointsTest, ReadyAndNotReadyAddressesOfTheSelectedPods) {
  seed(service_kind_, service());
  seed(pod_kind_, pod("b", "10.0.0.2", true));
  seed(pod_kind_, pod("a", "10.0.0.9", true));
  seed(pod_kind_, pod("c", "10.0.0.3", false));
  Object gone = pod("d", "10.0.0.4", true);
  gone["metadata"].as_object()["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  seed(pod_kind_, gone);  // terminating pods are not in Endpoints
  sync();
  ObjectPtr ep = endpoints();
  ASSERT_TRUE(ep);
  EXPECT_EQ(strAt(*ep, {"metadata", "labels", "tier"}), "front");
  EXPECT_EQ(ep->at("subsets"), json::parse(R"([{
      "addresses": [
        {"ip": "10.0.0.2", "nodeName": "n1",
         "targetRef": {"kind": "Pod", "namespace": "default", "name": "b", "uid": "uid-b"}},
        {"ip": "10.0.0.9", "nodeName": "n1",
         "targetRef": {"kind": "Pod", "namespace": "default", "name": "a", "uid": "uid-a"}}],
      "notReadyAddresses": [
        {"ip": "10.0.0.3", "nodeName": "n1",
         "targetRef": {"kind": "Pod", "namespace": "default", "name": "c", "uid": "uid-c"}}],
      "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}])"));
  // Unchanged: nothing written.
  fake_.clearActions();
  sync();
  EXPECT_TRUE(fake_.writes().empty());
  // publishNotReadyAddresses: every pod is an address.
  seed(service_kind_, service(R"("publishNotReadyAddresses": true, )"));
  sync();
  EXPECT_EQ(endpoints()->at("subsets").as_array()[0].at("addresses").as_array().size(), 3u);
  EXPECT_FALSE(endpoints()->at("subsets").as_array()[0].as_object().contains("notReadyAddresses"));
}

TEST_F(EndpointsTest, UserEndpointsOfServicesWithoutSelectorStayAndDeletedServicesLoseTheirs) {
  Object manual = service();
  manual["spec"].as_object().erase("selector");
  seed(service_kind_, manual);
  seed(endpoints_kind_, json::parse(R"({"apiVersion": "v1", "kind": "Endpoints",
      "metadata": {"name": "web", "namespace": "default"},
      "subsets": [{"addresses": [{"ip": "192.0.2.1"}]}]})")
                            .as_object());
  sync();
  EXPECT_EQ(
      strAt(endpoints()->at("subsets").as_array()[0].at("addresses").as_array()[0].as_object(),
            {"ip"}),
      "192.0.2.1");
  ASSERT_TRUE(fake_.remove(service_kind_, "default", "web").ok());
  informers_.forKind(service_kind_).injectDelete("default/web");
  sync();
  EXPECT_EQ(endpoints(), nullptr);
}

TEST_F(EndpointsTest, PodEventsEnqueueTheirServices) {
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
}

}  // namespace
}  // namespace berth::controllers
