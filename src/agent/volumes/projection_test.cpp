#include "agent/volumes/projection.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace berth::agent::volumes {
namespace {

namespace json = boost::json;
using api::Object;

Object parse(const char* text) { return json::parse(text).as_object(); }

const char* kPod = R"({
  "metadata": {"name": "web-1", "namespace": "prod", "uid": "u-1",
               "labels": {"app": "web", "tier": "a \"b\""}, "annotations": {"x": "1"}},
  "spec": {"nodeName": "n1", "containers": [
    {"name": "c", "resources": {"limits": {"cpu": "1500m", "memory": "256Mi"},
                                "requests": {"cpu": "250m", "memory": "100Mi"}}},
    {"name": "bare"}]},
  "status": {"podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}]}
})";

TEST(ProjectionTest, ConfigMapAllKeysItemsAndOptional) {
  Object cm = parse(R"({"data": {"a": "1", "b": "2"}, "binaryData": {"bin": "AAEC"}})");
  auto all = configMapPayload(parse(R"({"name": "cm"})"), &cm);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ(all->at("a").data, "1");
  EXPECT_EQ(all->at("bin").data, std::string("\x00\x01\x02", 3));
  EXPECT_EQ(all->at("a").mode, 0644);

  auto items = configMapPayload(
      parse(R"({"name": "cm", "defaultMode": 256, "items": [{"key": "a", "path": "dir/x"},
               {"key": "b", "path": "y", "mode": 384}]})"),
      &cm);
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 2u);
  EXPECT_EQ(items->at("dir/x").mode, 0400);
  EXPECT_EQ(items->at("y").mode, 0600);

  auto missing_key =
      configMapPayload(parse(R"({"name": "cm", "items": [{"key": "z", "path": "z"}]})"), &cm);
  ASSERT_FALSE(missing_key.ok());
  EXPECT_EQ(missing_key.error().message, "configmap references non-existent config key: z");
  EXPECT_TRUE(
      configMapPayload(
          parse(R"({"name": "cm", "optional": true, "items": [{"key": "z", "path": "z"}]})"), &cm)
          ->empty());

  auto absent = configMapPayload(parse(R"({"name": "gone"})"), nullptr);
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.error().message, "configmaps \"gone\" not found");
  EXPECT_TRUE(configMapPayload(parse(R"({"name": "gone", "optional": true})"), nullptr)->empty());
}

TEST(ProjectionTest, SecretDecodesData) {
  Object secret = parse(R"({"data": {"password": "aHVudGVyMg=="}})");
  auto p = secretPayload(parse(R"({"secretName": "s"})"), &secret);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->at("password").data, "hunter2");
  Object bad = parse(R"({"data": {"k": "!!"}})");
  EXPECT_FALSE(secretPayload(parse(R"({"secretName": "s"})"), &bad).ok());
  auto absent = secretPayload(parse(R"({"secretName": "s"})"), nullptr);
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.error().message, "secrets \"s\" not found");
}

TEST(ProjectionTest, DownwardApiFields) {
  Object pod = parse(kPod);
  EXPECT_EQ(*podFieldValue(pod, "metadata.name"), "web-1");
  EXPECT_EQ(*podFieldValue(pod, "metadata.namespace"), "prod");
  EXPECT_EQ(*podFieldValue(pod, "metadata.uid"), "u-1");
  EXPECT_EQ(*podFieldValue(pod, "metadata.labels"), "app=\"web\"\ntier=\"a \\\"b\\\"\"");
  EXPECT_EQ(*podFieldValue(pod, "metadata.labels['app']"), "web");
  EXPECT_EQ(*podFieldValue(pod, "metadata.annotations['x']"), "1");
  EXPECT_EQ(*podFieldValue(pod, "metadata.annotations['none']"), "");
  EXPECT_EQ(*podFieldValue(pod, "status.podIPs"), "10.0.0.5,fd00::5");
  EXPECT_EQ(*podFieldValue(pod, "spec.nodeName"), "n1");
  EXPECT_FALSE(podFieldValue(pod, "spec.nothing").ok());
}

TEST(ProjectionTest, ResourceFieldsRoundUpAndFallBackToAllocatable) {
  Object pod = parse(kPod);
  NodeAllocatable node{"4", "8Gi", "100Gi"};
  EXPECT_EQ(*containerResourceValue(pod, "c", "limits.cpu", "", node), "2");  // 1.5 rounded up
  EXPECT_EQ(*containerResourceValue(pod, "c", "limits.cpu", "1m", node), "1500");
  EXPECT_EQ(*containerResourceValue(pod, "c", "requests.cpu", "1m", node), "250");
  EXPECT_EQ(*containerResourceValue(pod, "c", "limits.memory", "", node), "268435456");
  EXPECT_EQ(*containerResourceValue(pod, "c", "limits.memory", "1Mi", node), "256");
  EXPECT_EQ(*containerResourceValue(pod, "c", "requests.memory", "1Gi", node), "1");
  EXPECT_EQ(*containerResourceValue(pod, "bare", "limits.cpu", "", node), "4");
  EXPECT_EQ(*containerResourceValue(pod, "bare", "limits.memory", "1Gi", node), "8");
  EXPECT_EQ(*containerResourceValue(pod, "bare", "requests.memory", "", node), "0");
  EXPECT_FALSE(containerResourceValue(pod, "nope", "limits.cpu", "", node).ok());
  EXPECT_FALSE(containerResourceValue(pod, "c", "limits.gpu", "", node).ok());
  EXPECT_FALSE(containerResourceValue(pod, "c", "limits.cpu", "0", node).ok());
}

TEST(ProjectionTest, ProjectedMergesSourcesWithTheVolumeMode) {
  Object pod = parse(kPod);
  Object cm = parse(R"({"data": {"ca.crt": "CA"}})");
  Object secret = parse(R"({"data": {"token": "dG9r"}})");
  auto cms = [&](const std::string& name) -> Result<std::shared_ptr<const Object>> {
    if (name == "root-ca") return std::make_shared<const Object>(cm);
    return std::shared_ptr<const Object>();
  };
  auto secrets = [&](const std::string& name) -> Result<std::shared_ptr<const Object>> {
    if (name == "s") return std::make_shared<const Object>(secret);
    return std::shared_ptr<const Object>();
  };
  Object source = parse(R"({"defaultMode": 288, "sources": [
    {"configMap": {"name": "root-ca", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
    {"secret": {"name": "s"}},
    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
    {"configMap": {"name": "absent", "optional": true}}]})");
  auto p = projectedPayload(source, pod, {}, cms, secrets, nullptr);
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_EQ(p->size(), 3u);
  EXPECT_EQ(p->at("ca.crt").data, "CA");
  EXPECT_EQ(p->at("token").data, "tok");
  EXPECT_EQ(p->at("namespace").data, "prod");
  for (auto& [path, f] : *p) EXPECT_EQ(f.mode, 0440) << path;

  Object with_token = parse(R"({"sources": [{"serviceAccountToken": {"path": "token"}}]})");
  EXPECT_FALSE(projectedPayload(with_token, pod, {}, cms, secrets, nullptr).ok());
  auto token = [](const Object&) -> Result<std::string> { return std::string("jwt"); };
  auto t = projectedPayload(with_token, pod, {}, cms, secrets, token);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->at("token").data, "jwt");
  Object missing = parse(R"({"sources": [{"configMap": {"name": "absent"}}]})");
  EXPECT_FALSE(projectedPayload(missing, pod, {}, cms, secrets, nullptr).ok());
}

}  // namespace
}  // namespace berth::agent::volumes
