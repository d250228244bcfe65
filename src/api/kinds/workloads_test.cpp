#include <gtest/gtest.h>

#include "api/kind.h"
#include "api/kinds/access.h"
#include "common/clock.h"

namespace berth::api {
namespace {

namespace json = boost::json;

const KindInfo& kind(const char* group, const char* version, const char* k) {
  const KindInfo* info = KindRegistry::builtin().byKind(group, version, k);
  if (!info) ADD_FAILURE() << "no kind " << k;
  return *info;
}

Object parse(const char* s) { return json::parse(s).as_object(); }

KindContext ctxAt(const char* now) {
  KindContext ctx;
  parseRfc3339(now, &ctx.now);
  return ctx;
}

std::vector<std::string> messages(const FieldErrors& errs) {
  std::vector<std::string> out;
  for (const auto& c : errs.causes()) out.push_back(c.field + ": " + c.message);
  return out;
}

constexpr const char* kDeployment = R"({"metadata":{"name":"web","namespace":"d","creationTimestamp":"2024-01-01T00:00:00Z"},
  "spec":{"selector":{"matchLabels":{"app":"web"}},
          "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"nginx","image":"nginx:1.25"}]}}}})";

TEST(AppsKinds, DeploymentDefaults) {
  const KindInfo& k = kind("apps", "v1", "Deployment");
  EXPECT_EQ(k.categories, std::vector<std::string>{"all"});
  EXPECT_EQ(k.schema_type, "apps.v1.Deployment");
  Object d = parse(kDeployment);
  k.defaults(d);
  EXPECT_EQ(intAt(d, {"spec", "replicas"}), 1);
  EXPECT_EQ(strAt(d, {"spec", "strategy", "type"}), "RollingUpdate");
  EXPECT_EQ(strAt(d, {"spec", "strategy", "rollingUpdate", "maxSurge"}), "25%");
  EXPECT_EQ(strAt(d, {"spec", "strategy", "rollingUpdate", "maxUnavailable"}), "25%");
  EXPECT_EQ(intAt(d, {"spec", "revisionHistoryLimit"}), 10);
  EXPECT_EQ(intAt(d, {"spec", "progressDeadlineSeconds"}), 600);
  EXPECT_EQ(strAt(d, {"spec", "template", "spec", "restartPolicy"}), "Always");
  EXPECT_FALSE(at(d, {"spec", "template", "spec", "enableServiceLinks"}));
  FieldErrors ok;
  k.validate(d, nullptr, ok);
  EXPECT_TRUE(ok.empty()) << messages(ok)[0];
}

TEST(AppsKinds, DeploymentValidationMessages) {
  const KindInfo& k = kind("apps", "v1", "Deployment");
  Object d = parse(kDeployment);
  k.defaults(d);
  d["spec"].as_object()["replicas"] = -1;
  d["spec"].as_object()["template"].as_object()["metadata"].as_object()["labels"] = json::object{{"app", "other"}};
  FieldErrors errs;
  k.validate(d, nullptr, errs);
  EXPECT_EQ(messages(errs),
            (std::vector<std::string>{
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does "
                "not match template `labels`"}));
  EXPECT_EQ(errs.toError("apps", "Deployment", "web").message.rfind("Deployment.apps \"web\" is invalid: [", 0), 0u);

  Object old = parse(kDeployment);
  k.defaults(old);
  Object now = old;
  now["spec"].as_object()["selector"] = json::parse(R"({"matchLabels":{"app":"web2"}})");
  now["spec"].as_object()["template"].as_object()["metadata"].as_object()["labels"] = json::object{{"app", "web2"}};
  FieldErrors imm;
  k.validate(now, &old, imm);
  EXPECT_EQ(messages(imm), std::vector<std::string>{
                               "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":"
                               "\"web2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"});

  Object nosel = parse(kDeployment);
  nosel["spec"].as_object().erase("selector");
  k.defaults(nosel);
  FieldErrors missing;
  k.validate(nosel, nullptr, missing);
  EXPECT_EQ(messages(missing), std::vector<std::string>{"spec.selector: Required value"});
}

TEST(AppsKinds, DeploymentCells) {
  const KindInfo& k = kind("apps", "v1", "Deployment");
  Object d = parse(kDeployment);
  k.defaults(d);
  d["status"] = json::parse(R"({"readyReplicas":1,"updatedReplicas":1,"availableReplicas":1})");
  EXPECT_EQ(k.cells(d, ctxAt("2024-01-03T00:00:00Z")),
            (json::array{"1/1", 1, 1, "2d", "nginx", "nginx:1.25", "app=web"}));
}

TEST(AppsKinds, StatefulSetAndDaemonSetDefaults) {
  const KindInfo& ss = kind("apps", "v1", "StatefulSet");
  Object s = parse(R"({"metadata":{"name":"db","namespace":"d"},"spec":{"serviceName":"db",
      "selector":{"matchLabels":{"app":"db"}},"template":{"metadata":{"labels":{"app":"db"}},
      "spec":{"containers":[{"name":"db","image":"postgres"}]}},
      "volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"]}}]}})");
  ss.defaults(s);
  EXPECT_EQ(strAt(s, {"spec", "podManagementPolicy"}), "OrderedReady");
  EXPECT_EQ(intAt(s, {"spec", "updateStrategy", "rollingUpdate", "partition"}), 0);
  EXPECT_EQ(strAt(s, {"spec", "persistentVolumeClaimRetentionPolicy", "whenDeleted"}), "Retain");
  EXPECT_EQ(intAt(s, {"spec", "replicas"}), 1);
  const json::object& vct = (*arrAt(s, {"spec", "volumeClaimTemplates"}))[0].as_object();
  EXPECT_EQ(strAt(vct, {"spec", "volumeMode"}), "Filesystem");
  FieldErrors ok;
  ss.validate(s, nullptr, ok);
  EXPECT_TRUE(ok.empty()) << messages(ok)[0];
  Object changed = s;
  changed["spec"].as_object()["serviceName"] = "other";
  FieldErrors bad;
  ss.validate(changed, &s, bad);
  ASSERT_EQ(bad.causes().size(), 1u);
  EXPECT_EQ(bad.causes()[0].message.rfind("Forbidden: updates to statefulset spec for fields other than", 0), 0u);

  const KindInfo& ds = kind("apps", "v1", "DaemonSet");
  Object d = parse(R"({"metadata":{"name":"agent","namespace":"d"},"spec":{"selector":{"matchLabels":{"app":"a"}},
      "template":{"metadata":{"labels":{"app":"a"}},"spec":{"containers":[{"name":"a","image":"a"}]}}}})");
  ds.defaults(d);
  EXPECT_EQ(intAt(d, {"spec", "updateStrategy", "rollingUpdate", "maxUnavailable"}), 1);
  EXPECT_EQ(intAt(d, {"spec", "updateStrategy", "rollingUpdate", "maxSurge"}), 0);
  EXPECT_EQ(ds.cells(d, ctxAt("2024-01-01T00:00:00Z"))[5], "<none>");
}

TEST(BatchKinds, JobDefaultsPrepareValidate) {
  const KindInfo& k = kind("batch", "v1", "Job");
  Object job = parse(R"({"metadata":{"name":"pi","namespace":"d","uid":"u-1"},
      "spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"pi","image":"perl"}]}}}})");
  k.defaults(job);
  EXPECT_EQ(intAt(job, {"spec", "completions"}), 1);
  EXPECT_EQ(intAt(job, {"spec", "parallelism"}), 1);
  EXPECT_EQ(intAt(job, {"spec", "backoffLimit"}), 6);
  EXPECT_EQ(strAt(job, {"spec", "completionMode"}), "NonIndexed");
  EXPECT_EQ(boolAt(job, {"spec", "suspend"}), false);
  k.prepare(job, nullptr);
  EXPECT_EQ(strAt(job, {"spec", "selector", "matchLabels", "batch.kubernetes.io/controller-uid"}), "u-1");
  EXPECT_EQ(strAt(job, {"spec", "template", "metadata", "labels", "job-name"}), "pi");
  EXPECT_EQ(strAt(job, {"spec", "template", "metadata", "labels", "controller-uid"}), "u-1");
  EXPECT_EQ(strAt(job, {"metadata", "labels", "batch.kubernetes.io/job-name"}), "pi");
  FieldErrors ok;
  k.validate(job, nullptr, ok);
  EXPECT_TRUE(ok.empty()) << messages(ok)[0];

  Object always = parse(R"({"metadata":{"name":"pi","namespace":"d","uid":"u-1"},
      "spec":{"template":{"spec":{"containers":[{"name":"pi","image":"perl"}]}}}})");
  k.defaults(always);
  k.prepare(always, nullptr);
  FieldErrors errs;
  k.validate(always, nullptr, errs);
  EXPECT_EQ(messages(errs), std::vector<std::string>{
                                "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""});

  Object updated = job;
  updated["spec"].as_object()["template"].as_object()["spec"].as_object()["containers"].as_array()[0].as_object()["image"] =
      "perl:2";
  FieldErrors imm;
  k.validate(updated, &job, imm);
  ASSERT_EQ(imm.causes().size(), 1u);
  EXPECT_EQ(imm.causes()[0].field, "spec.template");

  job["status"] = json::parse(R"({"succeeded":1,"startTime":"2024-01-01T00:00:00Z",
      "completionTime":"2024-01-01T00:00:09Z","conditions":[{"type":"Complete","status":"True"}]})");
  json::array cells = k.cells(job, ctxAt("2024-01-01T00:10:00Z"));
  EXPECT_EQ(cells[0], "Complete");
  EXPECT_EQ(cells[1], "1/1");
  EXPECT_EQ(cells[2], "9s");
  EXPECT_EQ(cells[6], "batch.kubernetes.io/controller-uid=u-1");
  EXPECT_EQ(k.selectable_fields(job)["status.successful"], "1");
}

TEST(BatchKinds, CronJob) {
  const KindInfo& k = kind("batch", "v1", "CronJob");
  Object cj = parse(R"({"metadata":{"name":"hello","namespace":"d"},"spec":{"schedule":"*/5 * * * *",
      "jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"OnFailure","containers":[{"name":"h","image":"busybox"}]}}}}}})");
  k.defaults(cj);
  EXPECT_EQ(strAt(cj, {"spec", "concurrencyPolicy"}), "Allow");
  EXPECT_EQ(intAt(cj, {"spec", "successfulJobsHistoryLimit"}), 3);
  EXPECT_EQ(intAt(cj, {"spec", "failedJobsHistoryLimit"}), 1);
  FieldErrors ok;
  k.validate(cj, nullptr, ok);
  EXPECT_TRUE(ok.empty()) << messages(ok)[0];
  cj["spec"].as_object()["schedule"] = "bad";
  FieldErrors errs;
  k.validate(cj, nullptr, errs);
  EXPECT_EQ(messages(errs), std::vector<std::string>{
                                "spec.schedule: Invalid value: \"bad\": expected exactly 5 fields, found 1: [bad]"});
  json::array cells = k.cells(cj, ctxAt("2024-01-01T00:00:00Z"));
  EXPECT_EQ(cells[1], "<none>");
  EXPECT_EQ(cells[2], "False");
  EXPECT_EQ(cells[3], 0);
  EXPECT_EQ(cells[4], "<none>");
}

TEST(AutoscalingKinds, HpaDefaultsAndConversion) {
  const KindInfo& v2 = kind("autoscaling", "v2", "HorizontalPodAutoscaler");
  const KindInfo& v1 = kind("autoscaling", "v1", "HorizontalPodAutoscaler");
  // v2 is registered first (preferred).
  const auto& all = KindRegistry::builtin().all();
  auto pos = [&](const KindInfo* p) {
    for (size_t i = 0; i < all.size(); ++i)
      if (all[i].get() == p) return i;
    return all.size();
  };
  EXPECT_LT(pos(&v2), pos(&v1));
  EXPECT_EQ(v1.storageResource(), v2.storageResource());

  Object h = parse(R"({"metadata":{"name":"web","namespace":"d"},"spec":{"maxReplicas":5,
      "scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"web"},"behavior":{"scaleDown":{}}}})");
  v2.defaults(h);
  EXPECT_EQ(intAt(h, {"spec", "minReplicas"}), 1);
  EXPECT_EQ(intAt(h, {"spec", "metrics"}).has_value(), false);
  EXPECT_EQ(json::serialize(*at(h, {"spec", "metrics"})),
            R"([{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":80}}}])");
  EXPECT_EQ(intAt(h, {"spec", "behavior", "scaleDown", "stabilizationWindowSeconds"}), 300);
  EXPECT_EQ(arrAt(h, {"spec", "behavior", "scaleUp", "policies"})->size(), 2u);
  FieldErrors ok;
  v2.validate(h, nullptr, ok);
  EXPECT_TRUE(ok.empty()) << messages(ok)[0];

  Object legacy = parse(R"({"apiVersion":"autoscaling/v1","kind":"HorizontalPodAutoscaler",
      "metadata":{"name":"web","namespace":"d"},"spec":{"maxReplicas":5,"minReplicas":2,
      "targetCPUUtilizationPercentage":50,"scaleTargetRef":{"kind":"Deployment","name":"web"}},
      "status":{"currentReplicas":2,"desiredReplicas":2,"currentCPUUtilizationPercentage":30}})");
  Object stored = v1.to_storage(legacy);
  EXPECT_EQ(strAt(stored, {"apiVersion"}), "autoscaling/v2");
  ASSERT_TRUE(arrAt(stored, {"spec", "metrics"}));
  EXPECT_EQ(intAt((*arrAt(stored, {"spec", "metrics"}))[0].as_object(), {"resource", "target", "averageUtilization"}), 50);
  EXPECT_EQ(v2.cells(stored, ctxAt("2024-01-01T00:00:00Z"))[1], "cpu: 30%/50%");
  EXPECT_EQ(v1.cells(legacy, ctxAt("2024-01-01T00:00:00Z"))[1], "cpu: 30%/50%");
  Object back = v1.from_storage(stored);
  EXPECT_EQ(intAt(back, {"spec", "targetCPUUtilizationPercentage"}), 50);
  EXPECT_EQ(intAt(back, {"status", "currentCPUUtilizationPercentage"}), 30);
  EXPECT_FALSE(at(back, {"spec", "metrics"}));
  EXPECT_FALSE(at(back, {"metadata", "annotations"}));

  // Memory metrics survive a v1 round trip through the annotation.
  Object mem = stored;
  mem["spec"].as_object()["metrics"].as_array().push_back(json::parse(
      R"({"type":"Resource","resource":{"name":"memory","target":{"type":"AverageValue","averageValue":"100Mi"}}})"));
  Object via_v1 = v1.from_storage(mem);
  EXPECT_TRUE(at(via_v1, {"metadata", "annotations", "autoscaling.alpha.kubernetes.io/metrics"}));
  EXPECT_EQ(json::serialize(*at(v1.to_storage(via_v1), {"spec", "metrics"})),
            json::serialize(*at(mem, {"spec", "metrics"})));

  Object bad = h;
  bad["spec"].as_object()["minReplicas"] = 7;
  FieldErrors errs;
  v2.validate(bad, nullptr, errs);
  EXPECT_EQ(messages(errs), std::vector<std::string>{
                                "spec.maxReplicas: Invalid value: 5: must be greater than or equal to `minReplicas`"});
}

TEST(PolicyKinds, Pdb) {
  const KindInfo& k = kind("policy", "v1", "PodDisruptionBudget");
  Object p = parse(R"({"metadata":{"name":"p","namespace":"d"},"spec":{"minAvailable":"50%","selector":{"matchLabels":{"a":"b"}}}})");
  FieldErrors ok;
  k.validate(p, nullptr, ok);
  EXPECT_TRUE(ok.empty());
  k.prepare(p, nullptr);
  EXPECT_EQ(k.cells(p, ctxAt("2024-01-01T00:00:00Z")), (json::array{"50%", "N/A", 0, "<unknown>"}));
  p["spec"].as_object()["maxUnavailable"] = 1;
  FieldErrors both;
  k.validate(p, nullptr, both);
  ASSERT_EQ(both.causes().size(), 1u);
  EXPECT_NE(both.causes()[0].message.find("minAvailable and maxUnavailable cannot be both set"), std::string::npos);
}

}  // namespace
}  // namespace berth::api
