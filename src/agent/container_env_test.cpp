#include "agent/container_env.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace berth::agent {
namespace {

namespace json = boost::json;
using api::Object;

Object parse(const char* text) { return json::parse(text).as_object(); }

class ContainerEnvTest : public ::testing::Test {
 protected:
  ContainerEnvTest() {
    sources_.config_maps =
        [this](const std::string& name) -> Result<std::shared_ptr<const Object>> {
      if (name == "cfg") return std::make_shared<const Object>(cfg_);
      return std::shared_ptr<const Object>();
    };
    sources_.secrets = [this](const std::string& name) -> Result<std::shared_ptr<const Object>> {
      if (name == "sec") return std::make_shared<const Object>(sec_);
      return std::shared_ptr<const Object>();
    };
    sources_.node = {"2", "4Gi", "10Gi"};
  }
  Result<EnvList> env(const char* container) {
    return makeEnvironment(pod_, parse(container), sources_);
  }

  Object cfg_ = parse(R"({"data": {"MODE": "fast", "bad key": "x", "1ST": "y", "a.b": "z"}})");
  Object sec_ = parse(R"({"data": {"PASSWORD": "aHVudGVyMg=="}})");
  Object pod_ = parse(R"({"metadata": {"name": "p", "namespace": "ns", "labels": {"app": "a"}},
                          "spec": {"containers": [{"name": "c", "resources": {"limits": {"memory": "64Mi"}}}]},
                          "status": {"podIP": "10.1.2.3"}})");
  EnvSources sources_;
};

TEST_F(ContainerEnvTest, EnvFromThenEnvWithExpansionAndOverrides) {
  auto e = env(R"({"name": "c",
    "envFrom": [{"configMapRef": {"name": "cfg"}}, {"prefix": "S_", "secretRef": {"name": "sec"}}],
    "env": [{"name": "MODE", "value": "slow"},
            {"name": "GREETING", "value": "mode=$(MODE) pw=$(S_PASSWORD) $(UNDEFINED) $$(MODE) $5"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
            {"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "MODE"}}},
            {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "PASSWORD"}}}]})");
  ASSERT_TRUE(e.ok()) << e.error().message;
  EnvList want = {{"MODE", "slow"},  // envFrom's value replaced in place
                  {"a.b", "z"},
                  {"S_PASSWORD", "hunter2"},
                  {"GREETING", "mode=slow pw=hunter2 $(UNDEFINED) $(MODE) $5"},
                  {"POD", "p"},
                  {"APP", "a"},
                  {"IP", "10.1.2.3"},
                  {"MEM", "64"},
                  {"CPU", "2"},
                  {"FROM_CM", "fast"},
                  {"FROM_SECRET", "hunter2"}};
  EXPECT_EQ(*e, want);
}

TEST_F(ContainerEnvTest, MissingSourcesFailUnlessOptional) {
  auto missing_cm = env(R"({"name": "c", "envFrom": [{"configMapRef": {"name": "nope"}}]})");
  ASSERT_FALSE(missing_cm.ok());
  EXPECT_EQ(missing_cm.error().message, "configmaps \"nope\" not found");
  EXPECT_TRUE(
      env(R"({"name": "c", "envFrom": [{"configMapRef": {"name": "nope", "optional": true}}]})")
          ->empty());
  auto missing_key = env(
      R"({"name": "c", "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "NOPE"}}}]})");
  ASSERT_FALSE(missing_key.ok());
  EXPECT_EQ(missing_key.error().message, "couldn't find key NOPE in Secret ns/sec");
  auto missing_secret = env(
      R"({"name": "c", "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "K"}}}]})");
  ASSERT_FALSE(missing_secret.ok());
  EXPECT_EQ(missing_secret.error().message, "secrets \"gone\" not found");
  EXPECT_TRUE(
      env(R"({"name": "c", "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "NOPE", "optional": true}}}]})")
          ->empty());
}

TEST_F(ContainerEnvTest, ExpansionCommandsAndImageMerge) {
  EnvList env = {{"A", "1"}, {"B", "two"}};
  EXPECT_EQ(expandAll({"echo", "$(A)-$(B)", "$(C)", "$$(A)", "$(A"}, env),
            (std::vector<std::string>{"echo", "1-two", "$(C)", "$(A)", "$(A"}));
  EXPECT_EQ(mergeImageEnv({"PATH=/bin", "A=old", "AB=x"}, env),
            (std::vector<std::string>{"PATH=/bin", "A=1", "AB=x", "B=two"}));
  EXPECT_TRUE(isEnvVarName("a.b-c_D"));
  EXPECT_FALSE(isEnvVarName("1abc"));
  EXPECT_FALSE(isEnvVarName("has space"));
  EXPECT_FALSE(isEnvVarName(""));
}

}  // namespace
}  // namespace berth::agent
