#include "controllers/endpointslicemirroring/endpoint_slice_mirroring_controller.h"

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

class MirroringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const api::KindInfo* k : {&service_kind_, &endpoints_kind_, &slice_kind_})
      informers_.forKind(*k).markSynced();
    controller_ = std::make_unique<EndpointSliceMirroringController>(fake_, informers_);
  }
  void TearDown() override { controller_->stop(); }

  void seed(const api::KindInfo& kind, Object obj) {
    informers_.forKind(kind).injectUpsert(fake_.add(kind, std::move(obj)));
  }
  Object manualService() {
    Object s = testing::webService();
    s["spec"].as_object().erase("selector");
    return s;
  }
  Object endpoints(size_t ready, size_t not_ready, const std::string& labels = "{}") {
    Object e = json::parse(R"({"apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "web", "namespace": "default", "uid": "ep-uid", "labels": )" +
                           labels + R"(},
        "subsets": [{"ports": [{"name": "x", "port": 9000}]}]})")
                   .as_object();
    json::object& subset = e["subsets"].as_array()[0].as_object();
    for (size_t i = 0; i < ready + not_ready; ++i) {
      json::object a{
          {"ip", "192.0." + std::to_string(2 + i / 250) + "." + std::to_string(1 + i % 250)}};
      json::array& list = api::ensureArray(subset, i < ready ? "addresses" : "notReadyAddresses");
      list.push_back(std::move(a));
    }
    return e;
  }
  void sync() {
    ASSERT_TRUE(controller_->sync("default/web").ok());
    auto& inf = informers_.forKind(slice_kind_);
    for (const auto& old : inf.list()) inf.injectDelete(client::keyOf(*old));
    auto listed = fake_.list(slice_kind_, "default", {});
    ASSERT_TRUE(listed.ok());
    for (const auto& s : listed->items) inf.injectUpsert(s);
  }
  std::vector<ObjectPtr> slices() { return fake_.list(slice_kind_, "default", {})->items; }

  FakeClock clock_{std::chrono::system_clock::time_point(std::chrono::seconds(1767225600))};
  client::FakeClient fake_{clock_};
  client::InformerFactory informers_{fake_};
  const api::KindInfo& service_kind_ = client::kind("", "Service");
  const api::KindInfo& endpoints_kind_ = client::kind("", "Endpoints");
  const api::KindInfo& slice_kind_ = client::kind("discovery.k8s.io", "EndpointSlice");
  std::unique_ptr<EndpointSliceMirroringController> controller_;
};

TEST_F(MirroringTest, HandMadeEndpointsOfASelectorlessServiceAreMirrored) {
  seed(service_kind_, manualService());
  seed(endpoints_kind_, endpoints(2, 1, R"({"team": "a"})"));
  sync();
  auto all = slices();
  ASSERT_EQ(all.size(), 1u);
  const ObjectPtr& s = all[0];
  EXPECT_EQ(strAt(*s, {"metadata", "labels", "endpointslice.kubernetes.io/managed-by"}),
            "endpointslicemirroring-controller.k8s.io");
  EXPECT_EQ(strAt(*s, {"metadata", "labels", "kubernetes.io/service-name"}), "web");
  EXPECT_EQ(strAt(*s, {"metadata", "labels", "team"}), "a");
  EXPECT_EQ(strAt(s->at("metadata").at("ownerReferences").as_array()[0].as_object(), {"kind"}),
            "Endpoints");
  EXPECT_EQ(s->at("ports"), json::parse(R"([{"name": "x", "port": 9000, "protocol": "TCP"}])"));
  const auto& eps = s->at("endpoints").as_array();
  ASSERT_EQ(eps.size(), 3u);
  EXPECT_EQ(eps[0], json::parse(R"({"addresses": ["192.0.2.1"], "conditions": {"ready": true}})"));
  EXPECT_FALSE(eps[2].at("conditions").at("ready").as_bool());
  // Unchanged: nothing written.
  fake_.clearActions();
  sync();
  EXPECT_TRUE(fake_.writes().empty());
}

TEST_F(MirroringTest, SkipMirrorASelectorOrNoServiceMeanNoMirroredSlices) {
  seed(endpoints_kind_, endpoints(1, 0));
  sync();
  EXPECT_TRUE(slices().empty());  // no Service
  seed(service_kind_, manualService());
  sync();
  EXPECT_EQ(slices().size(), 1u);
  seed(endpoints_kind_, endpoints(1, 0, R"({"endpointslice.kubernetes.io/skip-mirror": "true"})"));
  sync();
  EXPECT_TRUE(slices().empty());
  seed(endpoints_kind_, endpoints(1, 0));
  sync();
  EXPECT_EQ(slices().size(), 1u);
  seed(service_kind_, testing::webService());  // a selector: the Endpoints are a controller's
  sync();
  EXPECT_TRUE(slices().empty());
}

TEST_F(MirroringTest, AtMostAThousandAddressesOfASubsetInSlicesOfAHundred) {
  seed(service_kind_, manualService());
  seed(endpoints_kind_, endpoints(1100, 100));
  sync();
  auto all = slices();
  ASSERT_EQ(all.size(), 10u);
  size_t total = 0;
  for (const auto& s : all) total += s->at("endpoints").as_array().size();
  EXPECT_EQ(total, 1000u);
}

}  // namespace
}  // namespace berth::controllers
