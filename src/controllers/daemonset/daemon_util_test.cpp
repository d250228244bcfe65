#include "controllers/daemonset/daemon_util.h"

#include <gtest/gtest.h>

#include "api/kinds/access.h"
#include "api/object.h"
#include "controllers/daemonset/controller_history.h"

namespace berth::controllers {
namespace {

namespace json = boost::json;
using api::Object;

json::object obj(const char* text) { return json::parse(text).as_object(); }

Object node(const std::string& name, const char* labels = "{}", const char* taints = "[]") {
  Object n;
  n["apiVersion"] = "v1";
  n["kind"] = "Node";
  n["metadata"] = json::object{{"name", name}, {"labels", json::parse(labels)}};
  n["spec"] = json::object{{"taints", json::parse(taints)}};
  return n;
}

Object daemonSet(const char* template_spec) {
  Object ds;
  ds["apiVersion"] = "apps/v1";
  ds["kind"] = "DaemonSet";
  ds["metadata"] = json::object{{"name", "agent"}, {"namespace", "kube-system"}};
  ds["spec"] = json::object{{"template", json::object{{"spec", json::parse(template_spec)}}}};
  return ds;
}

TEST(Tolerations, ToleratesTaintFollowsKeyEffectAndOperator) {
  json::object taint = obj(R"({"key":"dedicated","value":"gpu","effect":"NoSchedule"})");
  EXPECT_TRUE(
      toleratesTaint(obj(R"({"key":"dedicated","operator":"Equal","value":"gpu"})"), taint));
  // An empty operator means Equal.
  EXPECT_TRUE(
      toleratesTaint(obj(R"({"key":"dedicated","value":"gpu","effect":"NoSchedule"})"), taint));
  EXPECT_FALSE(toleratesTaint(obj(R"({"key":"dedicated","value":"cpu"})"), taint));
  EXPECT_TRUE(toleratesTaint(obj(R"({"key":"dedicated","operator":"Exists"})"), taint));
  EXPECT_FALSE(toleratesTaint(
      obj(R"({"key":"dedicated","operator":"Exists","effect":"NoExecute"})"), taint));
  // An empty key with Exists tolerates everything.
  EXPECT_TRUE(toleratesTaint(obj(R"({"operator":"Exists"})"), taint));
  EXPECT_FALSE(toleratesTaint(obj(R"({"key":"other","operator":"Exists"})"), taint));
  EXPECT_FALSE(
      toleratesTaint(obj(R"({"key":"dedicated","operator":"Bogus","value":"gpu"})"), taint));
}

TEST(Tolerations, FindUntoleratedTaintHonoursTheFilter) {
  json::array taints =
      json::parse(R"([{"key":"a","effect":"PreferNoSchedule"},{"key":"b","effect":"NoSchedule"}])")
          .as_array();
  json::array tolerations = json::parse(R"([{"key":"a","operator":"Exists"}])").as_array();
  auto hard = [](const json::object& t) { return api::strAt(t, {"effect"}) != "PreferNoSchedule"; };
  auto found = findUntoleratedTaint(&taints, &tolerations, hard);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(api::strAt(*found, {"key"}), "b");
  json::array all = json::parse(R"([{"operator":"Exists"}])").as_array();
  EXPECT_FALSE(findUntoleratedTaint(&taints, &all, hard).has_value());
  EXPECT_FALSE(findUntoleratedTaint(nullptr, &tolerations, hard).has_value());
}

TEST(NodeAffinity, NodeSelectorAndRequiredTerms) {
  Object n = node("n1", R"({"zone":"a","disk":"ssd","cores":"8"})");
  EXPECT_TRUE(matchesRequiredNodeAffinity(obj(R"({})"), n));
  EXPECT_TRUE(matchesRequiredNodeAffinity(obj(R"({"nodeSelector":{"zone":"a"}})"), n));
  EXPECT_FALSE(matchesRequiredNodeAffinity(obj(R"({"nodeSelector":{"zone":"b"}})"), n));
  EXPECT_FALSE(matchesRequiredNodeAffinity(obj(R"({"nodeSelector":{"gpu":"yes"}})"), n));

  auto affinity = [](const char* terms) {
    return json::object{
        {"affinity",
         json::object{{"nodeAffinity",
                       json::object{{"requiredDuringSchedulingIgnoredDuringExecution",
                                     json::object{{"nodeSelectorTerms", json::parse(terms)}}}}}}}};
  };
  EXPECT_TRUE(matchesRequiredNodeAffinity(
      affinity(R"([{"matchExpressions":[{"key":"zone","operator":"In","values":["a","b"]}]}])"),
      n));
  EXPECT_FALSE(matchesRequiredNodeAffinity(
      affinity(R"([{"matchExpressions":[{"key":"zone","operator":"NotIn","values":["a"]}]}])"), n));
  // Terms are ORed, expressions within a term ANDed.
  EXPECT_TRUE(matchesRequiredNodeAffinity(
      affinity(R"([{"matchExpressions":[{"key":"zone","operator":"In","values":["b"]}]},
                   {"matchExpressions":[{"key":"disk","operator":"Exists"},
                                        {"key":"gpu","operator":"DoesNotExist"}]}])"),
      n));
  EXPECT_FALSE(matchesRequiredNodeAffinity(
      affinity(
          R"([{"matchExpressions":[{"key":"disk","operator":"Exists"},{"key":"zone","operator":"In","values":["c"]}]}])"),
      n));
  EXPECT_TRUE(matchesRequiredNodeAffinity(
      affinity(R"([{"matchExpressions":[{"key":"cores","operator":"Gt","values":["4"]}]}])"), n));
  EXPECT_FALSE(matchesRequiredNodeAffinity(
      affinity(R"([{"matchExpressions":[{"key":"cores","operator":"Lt","values":["4"]}]}])"), n));
  // Malformed requirements match nothing rather than everything.
  EXPECT_FALSE(matchesRequiredNodeAffinity(
      affinity(R"([{"matchExpressions":[{"key":"cores","operator":"Gt","values":["x"]}]}])"), n));
  EXPECT_FALSE(matchesRequiredNodeAffinity(
      affinity(R"([{"matchExpressions":[{"key":"zone","operator":"In","values":[]}]}])"), n));
  EXPECT_FALSE(matchesRequiredNodeAffinity(affinity(R"([{}])"), n));
  EXPECT_FALSE(matchesRequiredNodeAffinity(affinity(R"([])"), n));
  // matchFields on metadata.name.
  EXPECT_TRUE(matchesRequiredNodeAffinity(
      affinity(R"([{"matchFields":[{"key":"metadata.name","operator":"In","values":["n1"]}]}])"),
      n));
  EXPECT_FALSE(matchesRequiredNodeAffinity(
      affinity(R"([{"matchFields":[{"key":"metadata.name","operator":"In","values":["n2"]}]}])"),
      n));
  EXPECT_FALSE(matchesRequiredNodeAffinity(
      affinity(
          R"([{"matchFields":[{"key":"metadata.name","operator":"In","values":["n1","n2"]}]}])"),
      n));
  // nodeSelector and affinity both apply.
  json::object both = affinity(R"([{"matchExpressions":[{"key":"zone","operator":"Exists"}]}])");
  both["nodeSelector"] = json::object{{"disk", "hdd"}};
  EXPECT_FALSE(matchesRequiredNodeAffinity(both, n));
}

TEST(DaemonPodSpec, DefaultTolerationsAreAddedOnce) {
  json::object spec =
      obj(R"({"tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists",
                                             "effect":"NoExecute","tolerationSeconds":300}]})");
  addDaemonPodTolerations(spec);
  const json::array& tol = spec["tolerations"].as_array();
  ASSERT_EQ(tol.size(), 6u);
  // The matching toleration is replaced (no tolerationSeconds: forever).
  EXPECT_EQ(api::strAt(tol[0].as_object(), {"key"}), kTaintNodeNotReady);
  EXPECT_FALSE(tol[0].as_object().contains("tolerationSeconds"));
  std::set<std::string> keys;
  for (const auto& t : tol)
    keys.insert(api::strAt(t.as_object(), {"key"}) + ":" + api::strAt(t.as_object(), {"effect"}));
  EXPECT_TRUE(keys.count("node.kubernetes.io/unreachable:NoExecute"));
  EXPECT_TRUE(keys.count("node.kubernetes.io/disk-pressure:NoSchedule"));
  EXPECT_TRUE(keys.count("node.kubernetes.io/memory-pressure:NoSchedule"));
  EXPECT_TRUE(keys.count("node.kubernetes.io/pid-pressure:NoSchedule"));
  EXPECT_TRUE(keys.count("node.kubernetes.io/unschedulable:NoSchedule"));
  addDaemonPodTolerations(spec);
  EXPECT_EQ(spec["tolerations"].as_array().size(), 6u);

  json::object host = obj(R"({"hostNetwork":true})");
  addDaemonPodTolerations(host);
  EXPECT_EQ(host["tolerations"].as_array().size(), 7u);
}

TEST(DaemonPodSpec, NodeNameAffinityReplacesRequiredTermsAndIsReadBack) {
  json::object spec = obj(R"({"affinity":{"nodeAffinity":{
      "requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[
          {"key":"zone","operator":"In","values":["a"]}]}]},
      "preferredDuringSchedulingIgnoredDuringExecution":[{"weight":1,"preference":{}}]}}})");
  replaceNodeNameAffinity(spec, "worker-2");
  const json::array* terms =
      api::arrAt(spec, {"affinity", "nodeAffinity",
                        "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"});
  ASSERT_NE(terms, nullptr);
  ASSERT_EQ(terms->size(), 1u);
  EXPECT_EQ(json::serialize(terms->at(0)),
            R"({"matchFields":[{"key":"metadata.name","operator":"In","values":["worker-2"]}]})");
  // Preferred terms are left alone.
  EXPECT_NE(api::arrAt(spec, {"affinity", "nodeAffinity",
                              "preferredDuringSchedulingIgnoredDuringExecution"}),
            nullptr);

  Object pod;
  pod["spec"] = spec;
  EXPECT_EQ(targetNodeName(pod).value_or(""), "worker-2");
  pod["spec"].as_object()["nodeName"] = "worker-3";
  EXPECT_EQ(targetNodeName(pod).value_or(""), "worker-3");
  Object bare;
  bare["spec"] = json::object();
  EXPECT_FALSE(targetNodeName(bare).has_value());
}

TEST(NodeShouldRun, TaintsSelectorsAndNodeName) {
  Object ds = daemonSet(R"({"containers":[{"name":"c","image":"x"}]})");
  EXPECT_TRUE(nodeShouldRunDaemonPod(node("n1"), ds).should_run);
  // Conditions taints are tolerated by the default daemon tolerations.
  Object tainted =
      node("n2", "{}", R"([{"key":"node.kubernetes.io/unschedulable","effect":"NoSchedule"},
                                        {"key":"node.kubernetes.io/not-ready","effect":"NoExecute"},
                                        {"key":"node.kubernetes.io/memory-pressure","effect":"NoSchedule"}])");
  NodeShouldRun r = nodeShouldRunDaemonPod(tainted, ds);
  EXPECT_TRUE(r.should_run);
  EXPECT_TRUE(r.should_continue_running);
  // A user NoSchedule taint: no new pod, an existing one stays.
  Object dedicated =
      node("n3", "{}", R"([{"key":"dedicated","value":"db","effect":"NoSchedule"}])");
  r = nodeShouldRunDaemonPod(dedicated, ds);
  EXPECT_FALSE(r.should_run);
  EXPECT_TRUE(r.should_continue_running);
  // A NoExecute taint evicts.
  Object evicting = node("n4", "{}", R"([{"key":"dedicated","value":"db","effect":"NoExecute"}])");
  r = nodeShouldRunDaemonPod(evicting, ds);
  EXPECT_FALSE(r.should_run);
  EXPECT_FALSE(r.should_continue_running);
  // PreferNoSchedule does not matter.
  EXPECT_TRUE(
      nodeShouldRunDaemonPod(node("n5", "{}", R"([{"key":"x","effect":"PreferNoSchedule"}])"), ds)
          .should_run);
  // A toleration in the template lets the pod in.
  Object tolerant =
      daemonSet(R"({"tolerations":[{"key":"dedicated","operator":"Equal","value":"db"}]})");
  EXPECT_TRUE(nodeShouldRunDaemonPod(evicting, tolerant).should_run);
  // spec.nodeName pins the daemon set to one node.
  Object pinned = daemonSet(R"({"nodeName":"n1"})");
  EXPECT_TRUE(nodeShouldRunDaemonPod(node("n1"), pinned).should_run);
  r = nodeShouldRunDaemonPod(node("n2"), pinned);
  EXPECT_FALSE(r.should_run);
  EXPECT_FALSE(r.should_continue_running);
  // A node selector that does not match stops both.
  Object selective = daemonSet(R"({"nodeSelector":{"role":"edge"}})");
  r = nodeShouldRunDaemonPod(node("n1"), selective);
  EXPECT_FALSE(r.should_run);
  EXPECT_FALSE(r.should_continue_running);
  EXPECT_TRUE(nodeShouldRunDaemonPod(node("n1", R"({"role":"edge"})"), selective).should_run);
}

TEST(IntOrPercent, ScaledValues) {
  json::value three = 3, pct = "25%", bad = "25", junk = "x%";
  EXPECT_EQ(*scaledValueFromIntOrPercent(&three, 10, true), 3);
  EXPECT_EQ(*scaledValueFromIntOrPercent(&pct, 10, true), 3);
  EXPECT_EQ(*scaledValueFromIntOrPercent(&pct, 10, false), 2);
  EXPECT_EQ(*scaledValueFromIntOrPercent(&pct, 0, true), 0);
  EXPECT_FALSE(scaledValueFromIntOrPercent(&bad, 10, true).ok());
  EXPECT_FALSE(scaledValueFromIntOrPercent(&junk, 10, true).ok());
  EXPECT_FALSE(scaledValueFromIntOrPercent(nullptr, 10, true).ok());

  Object ds = daemonSet("{}");
  json::object& spec = ds["spec"].as_object();
  spec["updateStrategy"] =
      obj(R"({"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"50%","maxSurge":1}})");
  EXPECT_EQ(*unavailableCount(ds, 5), 3);
  EXPECT_EQ(*surgeCount(ds, 5), 1);
  spec["updateStrategy"] = obj(R"({"type":"OnDelete"})");
  EXPECT_EQ(*unavailableCount(ds, 5), 0);
  EXPECT_EQ(*surgeCount(ds, 5), 0);
}

TEST(ControllerHistory, HashesAreStableAndSafe) {
  EXPECT_EQ(safeEncodeString("0123456789"), "456789bcdf");
  json::value a =
      json::parse(R"({"metadata":{"labels":{"app":"x","tier":"y"}},"spec":{"containers":[]}})");
  json::value b =
      json::parse(R"({"spec":{"containers":[]},"metadata":{"labels":{"tier":"y","app":"x"}}})");
  EXPECT_EQ(canonicalJson(a), canonicalJson(b));
  EXPECT_EQ(computeTemplateHash(a, std::nullopt), computeTemplateHash(b, std::nullopt));
  EXPECT_NE(computeTemplateHash(a, std::nullopt), computeTemplateHash(a, 1));
  EXPECT_NE(computeTemplateHash(a, 1), computeTemplateHash(a, 2));
  std::string h = computeTemplateHash(a, std::nullopt);
  for (char c : h) EXPECT_NE(std::string("bcdfghjklmnpqrstvwxz2456789").find(c), std::string::npos);
  EXPECT_EQ(controllerRevisionName("web", "abc"), "web-abc");
  EXPECT_EQ(controllerRevisionName(std::string(300, 'x'), "abc").size(), 227u);
}

TEST(ControllerHistory, TemplatePatchRoundTripsThroughApplyRevision) {
  Object set;
  set["metadata"] = json::object{{"name", "web"}, {"namespace", "default"}, {"uid", "u1"}};
  set["spec"] = obj(
      R"({"replicas":3,"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"v1"}]}}})");
  json::object patch = templatePatch(set);
  EXPECT_EQ(api::strAt(patch, {"spec", "template", "$patch"}), "replace");
  EXPECT_EQ(api::strAt(patch, {"spec", "template", "metadata", "labels", "app"}), "web");
  Object rev = newControllerRevision(set, client::kind("apps", "StatefulSet"),
                                     *api::objAt(set, {"spec", "template", "metadata", "labels"}),
                                     patch, 4, 0);
  EXPECT_EQ(revisionNumber(rev), 4);
  std::string hash = api::strAt(rev, {"metadata", "labels", kControllerRevisionHashLabel});
  EXPECT_FALSE(hash.empty());
  EXPECT_EQ(api::name(rev), "web-" + hash);
  EXPECT_EQ(api::strAt(rev, {"metadata", "labels", "app"}), "web");
  const json::array* refs = api::arrAt(rev, {"metadata", "ownerReferences"});
  ASSERT_NE(refs, nullptr);
  ASSERT_EQ(refs->size(), 1u);
  EXPECT_EQ(api::strAt(refs->at(0).as_object(), {"kind"}), "StatefulSet");
  EXPECT_EQ(api::strAt(refs->at(0).as_object(), {"uid"}), "u1");

  Object changed = set;
  changed["spec"].as_object()["template"].as_object()["spec"] =
      obj(R"({"containers":[{"name":"c","image":"v2"}]})");
  Object restored = applyRevision(changed, rev);
  EXPECT_EQ(json::serialize(restored["spec"].as_object()["template"]),
            json::serialize(set["spec"].as_object()["template"]));
  EXPECT_EQ(api::intAt(restored, {"spec", "replicas"}).value_or(0), 3);

  Object other = newControllerRevision(changed, client::kind("apps", "StatefulSet"), {},
                                       templatePatch(changed), 5, 0);
  EXPECT_FALSE(equalRevision(rev, other));
  Object same =
      newControllerRevision(set, client::kind("apps", "StatefulSet"), {}, templatePatch(set), 9, 0);
  EXPECT_TRUE(equalRevision(rev, same));
  EXPECT_EQ(api::name(rev), api::name(same));
}

}  // namespace
}  // namespace berth::controllers
