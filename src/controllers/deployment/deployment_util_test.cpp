#include "controllers/deployment/deployment_util.h"

#include <gtest/gtest.h>

#include "api/kinds/access.h"
#include "api/object.h"
#include "common/clock.h"

namespace berth::controllers::deploymentutil {
namespace {

namespace json = boost::json;
using api::Object;

Object deployment(int64_t replicas, json::value surge, json::value unavailable) {
  Object d = json::parse(R"({"metadata":{"name":"web","namespace":"default","generation":1},
    "spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{}}}})")
                 .as_object();
  d["spec"].as_object()["replicas"] = replicas;
  auto& ru = d["spec"].as_object()["strategy"].as_object()["rollingUpdate"].as_object();
  if (!surge.is_null()) ru["maxSurge"] = surge;
  if (!unavailable.is_null()) ru["maxUnavailable"] = unavailable;
  return d;
}

ObjectPtr rs(const std::string& name, int64_t replicas, const std::string& created,
             const std::string& revision = "", const std::string& max_replicas = "") {
  Object o;
  o["metadata"] =
      json::object{{"name", name}, {"uid", "uid-" + name}, {"creationTimestamp", created}};
  if (!revision.empty()) setAnnotation(o, kRevisionAnnotation, revision);
  if (!max_replicas.empty()) setAnnotation(o, kMaxReplicasAnnotation, max_replicas);
  o["spec"] = json::object{{"replicas", replicas}};
  return std::make_shared<const Object>(std::move(o));
}

std::vector<std::string> names(const std::vector<ObjectPtr>& rss) {
  std::vector<std::string> out;
  for (const auto& r : rss) out.push_back(api::name(*r));
  return out;
}

// The pod-template-hash. Upstream's ComputeHash is FNV-32a over a go-spew
// dump of the Go PodTemplateSpec struct (plus the collisionCount as 8
// little-endian bytes) rendered with rand.SafeEncodeString(fmt.Sprint(sum)).
// The spew dump is tied to the Go type layout of each Kubernetes release, so
// berth hashes the canonical JSON of the template with the same FNV-32a,
// collision bytes and encoding. The expected values below were computed
// from that algorithm independently (FNV-32a offset basis 2166136261, prime
// 16777619; alphabet "bcdfghjklmnpqrstvwxz2456789", byte % 27):
//   canonical JSON  {"metadata":{"labels":{"app":"web"}},"spec":{"containers":
//                    [{"image":"nginx:1.25","name":"web"}]}}
//   FNV-32a         1568151163 -> "59bd5955b7"
//   + collision 1   (bytes 01 00 00 00 00 00 00 00) 1930177466 -> "5f745cc8bb"
TEST(DeploymentUtil, HashMatchesTheUpstreamAlgorithm) {
  EXPECT_EQ(fnv32a(""), 0x811c9dc5u);
  EXPECT_EQ(fnv32a("a"), 0xe40c292cu);
  EXPECT_EQ(fnv32a("foobar"), 0xbf9cf968u);
  EXPECT_EQ(safeEncodeString("0123456789"), "456789bcdf");

  json::object tmpl = json::parse(R"({"spec":{"containers":[{"name":"web","image":"nginx:1.25"}]},
                                      "metadata":{"labels":{"app":"web"}}})")
                          .as_object();
  EXPECT_EQ(
      canonicalJson(tmpl),
      R"({"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"image":"nginx:1.25","name":"web"}]}})");
  EXPECT_EQ(computeHash(tmpl, std::nullopt), "59bd5955b7");
  EXPECT_EQ(computeHash(tmpl, 1), "5f745cc8bb");
  // Key order does not matter; content does.
  json::object reordered = json::parse(R"({"metadata":{"labels":{"app":"web"}},
                                          "spec":{"containers":[{"image":"nginx:1.25","name":"web"}]}})")
                               .as_object();
  EXPECT_EQ(computeHash(reordered, std::nullopt), "59bd5955b7");
  reordered["spec"].as_object()["containers"].as_array()[0].as_object()["image"] = "nginx:1.26";
  EXPECT_NE(computeHash(reordered, std::nullopt), "59bd5955b7");
  // Only characters of the safe alphabet's digit images appear.
  for (char c : computeHash(reordered, 7))
    EXPECT_NE(std::string("456789bcdf").find(c), std::string::npos);
}

TEST(DeploymentUtil, FencepostsRoundSurgeUpAndUnavailableDown) {
  // 10 replicas, 25%/25%: surge ceil(2.5) = 3, unavailable floor(2.5) = 2.
  Object d = deployment(10, "25%", "25%");
  EXPECT_EQ(maxSurge(d), 3);
  EXPECT_EQ(maxUnavailable(d), 2);
  // Absent values default to 25%.
  EXPECT_EQ(maxSurge(deployment(10, nullptr, nullptr)), 3);
  // 1 replica, 25%/25%: 1 and 0.
  EXPECT_EQ(maxSurge(deployment(1, "25%", "25%")), 1);
  EXPECT_EQ(maxUnavailable(deployment(1, "25%", "25%")), 0);
  // Both 0 after rounding: maxUnavailable becomes 1.
  EXPECT_EQ(maxSurge(deployment(3, "10%", "10%")), 1);
  json::value zero(0), pct("10%");
  auto r = resolveFenceposts(&zero, &pct, 3);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first, 0);
  EXPECT_EQ(r->second, 1);
  // Integers as is; maxUnavailable capped at replicas; 0 replicas -> 0.
  EXPECT_EQ(maxSurge(deployment(4, 2, 1)), 2);
  EXPECT_EQ(maxUnavailable(deployment(4, 2, 9)), 4);
  EXPECT_EQ(maxUnavailable(deployment(0, 2, 1)), 0);
  // Recreate: no surge, no unavailability budget.
  Object recreate = deployment(4, 2, 1);
  recreate["spec"].as_object()["strategy"] = json::object{{"type", "Recreate"}};
  EXPECT_EQ(maxSurge(recreate), 0);
  EXPECT_EQ(maxUnavailable(recreate), 0);
  // Bad values.
  json::value bad("5"), bad2("x%");
  EXPECT_EQ(scaledValueFromIntOrPercent(&bad, 10, true).error().message,
            "invalid value for IntOrString: invalid type: string is not a percentage");
  EXPECT_FALSE(scaledValueFromIntOrPercent(&bad2, 10, true).ok());
}

TEST(DeploymentUtil, EqualIgnoreHash) {
  json::object a = json::parse(R"({"metadata":{"labels":{"app":"web","pod-template-hash":"abc"}},
                                   "spec":{"containers":[{"name":"c","image":"v1"}],"volumes":[]}})")
                       .as_object();
  json::object b = json::parse(R"({"metadata":{"labels":{"app":"web"}},
                                   "spec":{"containers":[{"name":"c","image":"v1"}]}})")
                       .as_object();
  EXPECT_TRUE(equalIgnoreHash(a, b));
  EXPECT_TRUE(equalIgnoreHash(b, a));
  b["metadata"].as_object()["labels"].as_object()["app"] = "other";
  EXPECT_FALSE(equalIgnoreHash(a, b));
  b["metadata"].as_object()["labels"].as_object()["app"] = "web";
  b["spec"].as_object()["containers"].as_array()[0].as_object()["image"] = "v2";
  EXPECT_FALSE(equalIgnoreHash(a, b));
  b["spec"].as_object()["containers"].as_array()[0].as_object()["image"] = "v1";
  b["metadata"].as_object()["annotations"] =
      json::object{{"kubectl.kubernetes.io/restartedAt", "now"}};
  EXPECT_FALSE(equalIgnoreHash(a, b));
}

TEST(DeploymentUtil, RevisionsAndAnnotations) {
  std::vector<ObjectPtr> rss{
      rs("a", 0, "2024-01-01T00:00:00Z", "3"), rs("b", 0, "2024-01-02T00:00:00Z", "7"),
      rs("c", 0, "2024-01-03T00:00:00Z", "bogus"), rs("d", 0, "2024-01-04T00:00:00Z")};
  EXPECT_EQ(maxRevision(rss), 7);
  EXPECT_EQ(lastRevision(rss), 3);
  EXPECT_FALSE(revision(*rss[2]).ok());
  EXPECT_EQ(*revision(*rss[3]), 0);

  Object d = deployment(3, 1, 0);
  setAnnotation(d, "kubernetes.io/change-cause", "kubectl set image");
  setAnnotation(d, kLastAppliedConfigAnnotation, "{}");
  setAnnotation(d, kRevisionAnnotation, "9");
  Object fresh = *rs("new", 0, "2024-01-05T00:00:00Z");
  EXPECT_TRUE(setNewReplicaSetAnnotations(d, fresh, "4", false));
  EXPECT_EQ(annotation(fresh, kRevisionAnnotation), "4");
  EXPECT_EQ(annotation(fresh, "kubernetes.io/change-cause"), "kubectl set image");
  EXPECT_EQ(annotation(fresh, kLastAppliedConfigAnnotation), "");
  EXPECT_EQ(annotation(fresh, kDesiredReplicasAnnotation), "3");
  EXPECT_EQ(annotation(fresh, kMaxReplicasAnnotation), "4");
  EXPECT_EQ(annotation(fresh, kRevisionHistoryAnnotation), "");
  // Same revision again: nothing changes.
  EXPECT_FALSE(setNewReplicaSetAnnotations(d, fresh, "4", true));
  // Reused for a rollback: the revision moves up and the old one is kept.
  EXPECT_TRUE(setNewReplicaSetAnnotations(d, fresh, "6", true));
  EXPECT_EQ(annotation(fresh, kRevisionAnnotation), "6");
  EXPECT_EQ(annotation(fresh, kRevisionHistoryAnnotation), "4");
  EXPECT_TRUE(setNewReplicaSetAnnotations(d, fresh, "8", true));
  EXPECT_EQ(annotation(fresh, kRevisionHistoryAnnotation), "4,6");
  // Never lowered.
  setNewReplicaSetAnnotations(d, fresh, "5", true);
  EXPECT_EQ(annotation(fresh, kRevisionAnnotation), "8");
  // The history is capped: the oldest entries go.
  Object capped = *rs("cap", 0, "2024-01-05T00:00:00Z", "10");
  setAnnotation(capped, kRevisionHistoryAnnotation, "1,2,3");
  EXPECT_TRUE(setNewReplicaSetAnnotations(d, capped, "11", true, 6));
  EXPECT_EQ(annotation(capped, kRevisionHistoryAnnotation), "2,3,10");

  // Rollback annotations: the deployment takes the RS's, keeping skipped keys.
  Object target = *rs("old", 0, "2024-01-01T00:00:00Z", "2");
  setAnnotation(target, "kubernetes.io/change-cause", "create");
  setDeploymentAnnotationsTo(d, target);
  EXPECT_EQ(annotation(d, "kubernetes.io/change-cause"), "create");
  EXPECT_EQ(annotation(d, kRevisionAnnotation), "9");
  EXPECT_EQ(annotation(d, kLastAppliedConfigAnnotation), "{}");

  setAnnotation(d, kRollbackToAnnotation, "0");
  EXPECT_EQ(rollbackTo(d), 0);
  setAnnotation(d, kRollbackToAnnotation, "x");
  EXPECT_FALSE(rollbackTo(d).has_value());
  clearRollbackTo(d);
  EXPECT_EQ(annotation(d, kRollbackToAnnotation), "");
}

TEST(DeploymentUtil, FindNewAndOldReplicaSets) {
  Object d = deployment(3, 1, 0);
  d["spec"].as_object()["template"] = json::parse(
      R"({"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"v2"}]}})");
  auto with_image = [](const std::string& name, const std::string& image, int64_t replicas,
                       const std::string& t) {
    Object o = *rs(name, replicas, t);
    o["spec"].as_object()["template"] =
        json::parse(R"({"metadata":{"labels":{"app":"web","pod-template-hash":")" + name +
                    R"("}},"spec":{"containers":[{"name":"c","image":")" + image + R"("}]}})");
    return std::make_shared<const Object>(std::move(o));
  };
  std::vector<ObjectPtr> rss{with_image("v2-late", "v2", 0, "2024-01-03T00:00:00Z"),
                             with_image("v1", "v1", 2, "2024-01-01T00:00:00Z"),
                             with_image("v2-early", "v2", 1, "2024-01-02T00:00:00Z"),
                             with_image("v0", "v0", 0, "2024-01-00T00:00:00Z")};
  // Two replica sets share the template: the oldest is the new one.
  ObjectPtr found = findNewReplicaSet(d, rss);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(api::name(*found), "v2-early");
  auto [with_pods, all_old] = findOldReplicaSets(d, rss);
  EXPECT_EQ(names(with_pods), (std::vector<std::string>{"v1"}));
  EXPECT_EQ(all_old.size(), 3u);
}

TEST(DeploymentUtil, SortsAndActiveOrLatest) {
  std::vector<ObjectPtr> rss{rs("b", 2, "2024-01-02T00:00:00Z", "2"),
                             rs("a", 2, "2024-01-01T00:00:00Z", "5"),
                             rs("c", 5, "2024-01-03T00:00:00Z", "1")};
  auto older = rss;
  sortBySizeOlder(older);
  EXPECT_EQ(names(older), (std::vector<std::string>{"c", "a", "b"}));
  auto newer = rss;
  sortBySizeNewer(newer);
  EXPECT_EQ(names(newer), (std::vector<std::string>{"c", "b", "a"}));
  auto by_rev = rss;
  sortByRevision(by_rev);
  EXPECT_EQ(names(by_rev), (std::vector<std::string>{"c", "b", "a"}));

  std::vector<ObjectPtr> olds{rs("o1", 0, "2024-01-01T00:00:00Z"),
                              rs("o2", 0, "2024-01-02T00:00:00Z")};
  EXPECT_EQ(api::name(*findActiveOrLatest(nullptr, olds)), "o2");  // none active: newest
  ObjectPtr new_rs = rs("n", 3, "2024-01-03T00:00:00Z");
  EXPECT_EQ(api::name(*findActiveOrLatest(new_rs, olds)), "n");
  std::vector<ObjectPtr> two{rs("o1", 1, "2024-01-01T00:00:00Z")};
  EXPECT_EQ(findActiveOrLatest(new_rs, two), nullptr);
}

TEST(DeploymentUtil, NewReplicasAndProportions) {
  Object d = deployment(10, 3, 2);
  Object new_rs = *rs("n", 0, "2024-01-02T00:00:00Z");
  std::vector<ObjectPtr> all{rs("o", 10, "2024-01-01T00:00:00Z"),
                             std::make_shared<const Object>(new_rs)};
  // 10 running, room for 3 more.
  EXPECT_EQ(*newRSNewReplicas(d, all, new_rs), 3);
  std::vector<ObjectPtr> full{rs("o", 13, "2024-01-01T00:00:00Z"),
                              std::make_shared<const Object>(new_rs)};
  EXPECT_EQ(*newRSNewReplicas(d, full, new_rs), 0);
  Object recreate = d;
  recreate["spec"].as_object()["strategy"] = json::object{{"type", "Recreate"}};
  EXPECT_EQ(*newRSNewReplicas(recreate, all, new_rs), 10);

  // Scaling 10 -> 20 (surge 3: 23 allowed) with replica sets sized 8 and 5
  // under max-replicas 13.
  Object scaled = deployment(20, 3, 2);
  ObjectPtr big = rs("big", 8, "2024-01-01T00:00:00Z", "", "13");
  ObjectPtr small = rs("small", 5, "2024-01-02T00:00:00Z", "", "13");
  int64_t to_add = 23 - 13;
  int64_t p1 = getProportion(*big, scaled, to_add, 0);  // round(8*23/13)=14 -> +6
  EXPECT_EQ(p1, 6);
  int64_t p2 = getProportion(*small, scaled, to_add, p1);  // round(5*23/13)=9 -> +4
  EXPECT_EQ(p2, 4);
  // Scaling to 0 removes whole replica sets.
  EXPECT_EQ(getProportion(*big, deployment(0, 3, 2), -13, 0), -8);
}

TEST(DeploymentUtil, ConditionsAndProgress) {
  TimePoint t0;
  parseRfc3339("2024-03-01T10:00:00Z", &t0);
  json::object status;
  setCondition(status, newCondition("Progressing", "True", kNewReplicaSetReason, "Created", t0));
  setCondition(status, newCondition("Progressing", "True", kNewReplicaSetReason, "again",
                                    t0 + std::chrono::hours(1)));
  EXPECT_EQ(api::strAt(*getCondition(status, "Progressing"), {"message"}),
            "Created");  // same status and reason
  setCondition(status, newCondition("Progressing", "True", kReplicaSetUpdatedReason, "upd",
                                    t0 + std::chrono::hours(1)));
  const json::object* c = getCondition(status, "Progressing");
  EXPECT_EQ(api::strAt(*c, {"reason"}), kReplicaSetUpdatedReason);
  EXPECT_EQ(api::strAt(*c, {"lastTransitionTime"}), "2024-03-01T10:00:00Z");  // status unchanged
  EXPECT_EQ(api::strAt(*c, {"lastUpdateTime"}), "2024-03-01T11:00:00Z");
  removeCondition(status, "Progressing");
  EXPECT_EQ(getCondition(status, "Progressing"), nullptr);

  Object d = deployment(3, 1, 0);
  d["spec"].as_object()["progressDeadlineSeconds"] = 60;
  json::object s;
  s["observedGeneration"] = 1;
  s["replicas"] = 3;
  s["updatedReplicas"] = 3;
  s["availableReplicas"] = 3;
  EXPECT_TRUE(deploymentComplete(d, s));
  s["availableReplicas"] = 2;
  EXPECT_FALSE(deploymentComplete(d, s));
  EXPECT_TRUE(deploymentProgressing(d, s));  // more available than the (empty) old status
  setCondition(s, newCondition("Progressing", "True", kReplicaSetUpdatedReason, "x", t0));
  EXPECT_FALSE(deploymentTimedOut(d, s, t0 + std::chrono::seconds(60)));
  EXPECT_TRUE(deploymentTimedOut(d, s, t0 + std::chrono::seconds(61)));
  setCondition(s, newCondition("Progressing", "True", kNewRSAvailableReason, "done", t0));
  EXPECT_FALSE(deploymentTimedOut(d, s, t0 + std::chrono::hours(5)));
}

}  // namespace
}  // namespace berth::controllers::deploymentutil
