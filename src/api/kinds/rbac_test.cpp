#include <gtest/gtest.h>

#include "api/kind.h"

namespace berth::api {
namespace {

namespace json = boost::json;

json::object parse(const char* s) { return json::parse(s).as_object(); }

const KindInfo& kind(const char* k) {
  static const KindRegistry reg = [] {
    KindRegistry r;
    registerRbacKinds(r);
    return r;
  }();
  const KindInfo* info = reg.byKind("rbac.authorization.k8s.io", "v1", k);
  EXPECT_NE(info, nullptr);
  return *info;
}

std::vector<std::string> errors(const KindInfo& k, const json::object& obj, const json::object* old = nullptr) {
  FieldErrors errs;
  k.validate(obj, old, errs);
  std::vector<std::string> out;
  for (const auto& c : errs.causes()) out.push_back(c.field + ": " + c.message);
  return out;
}

TEST(RbacKinds, Registered) {
  const KindInfo& role = kind("Role");
  EXPECT_EQ(role.resource, "roles");
  EXPECT_TRUE(role.namespaced);
  EXPECT_EQ(role.schema_type, "rbac.v1.Role");
  EXPECT_FALSE(kind("ClusterRoleBinding").namespaced);
}

TEST(RbacKinds, RoleRulesValidation) {
  auto obj = parse(R"({"metadata":{"name":"r","namespace":"ns"},"rules":[
      {"apiGroups":[""],"resources":["pods"],"verbs":["get"]},
      {"resources":["pods"]},
      {"verbs":["get"],"nonResourceURLs":["/healthz"]}]})");
  EXPECT_EQ(errors(kind("Role"), obj),
            (std::vector<std::string>{
                "rules[1].verbs: Required value: verbs must contain at least one value",
                "rules[1].apiGroups: Required value: resource rules must supply at least one api group",
                "rules[2].nonResourceURLs: Invalid value: []string{\"/healthz\"}: namespaced rules cannot apply to "
                "non-resource URLs"}));
  auto cr = parse(R"({"metadata":{"name":"system:thing"},"rules":[{"verbs":["get"],"nonResourceURLs":["/healthz"]}]})");
  EXPECT_TRUE(errors(kind("ClusterRole"), cr).empty());
}

TEST(RbacKinds, NamesArePathSegments) {
  auto obj = parse(R"({"metadata":{"name":"a/b","namespace":"ns"}})");
  auto errs = errors(kind("Role"), obj);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0], "metadata.name: Invalid value: \"a/b\": may not contain '/'");
}

TEST(RbacKinds, ClusterRoleAggregationRule) {
  auto obj = parse(R"({"metadata":{"name":"agg"},"aggregationRule":{}})");
  EXPECT_EQ(errors(kind("ClusterRole"), obj),
            (std::vector<std::string>{"aggregationRule.clusterRoleSelectors: Required value: at least one "
                                      "clusterRoleSelector required if aggregationRule is non-nil"}));
}

TEST(RbacKinds, BindingDefaultsAndValidation) {
  const KindInfo& rb = kind("RoleBinding");
  auto obj = parse(R"({"metadata":{"name":"b","namespace":"ns"},"roleRef":{"kind":"Role","name":"r"},
      "subjects":[{"kind":"User","name":"alice"},{"kind":"ServiceAccount","name":"default","namespace":"ns"},
                  {"kind":"Robot","name":"x"}]})");
  rb.defaults(obj);
  EXPECT_EQ(obj.at("roleRef").at("apiGroup"), "rbac.authorization.k8s.io");
  EXPECT_EQ(obj.at("subjects").at(0).at("apiGroup"), "rbac.authorization.k8s.io");
  EXPECT_EQ(obj.at("subjects").at(1).at("apiGroup"), "");
  EXPECT_EQ(errors(rb, obj), (std::vector<std::string>{"subjects[2].kind: Unsupported value: \"Robot\": supported "
                                                       "values: \"ServiceAccount\", \"User\", \"Group\""}));

  auto changed = obj;
  changed["roleRef"].as_object()["name"] = "other";
  EXPECT_EQ(errors(rb, changed, &obj),
            (std::vector<std::string>{
                "subjects[2].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", "
                "\"Group\"",
                "roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"Role\", "
                "Name:\"other\"}: cannot change roleRef"}));
}

TEST(RbacKinds, ClusterRoleBindingNeedsServiceAccountNamespace) {
  const KindInfo& crb = kind("ClusterRoleBinding");
  auto obj = parse(R"({"metadata":{"name":"b"},"roleRef":{"kind":"Role","name":"r"},
      "subjects":[{"kind":"ServiceAccount","name":"default"}]})");
  crb.defaults(obj);
  EXPECT_EQ(errors(crb, obj),
            (std::vector<std::string>{"roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"",
                                      "subjects[0].namespace: Required value"}));
}

TEST(RbacKinds, Tables) {
  KindContext ctx;
  auto obj = parse(R"({"metadata":{"name":"b","namespace":"ns","creationTimestamp":"2024-01-01T00:00:00Z"},
      "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},
      "subjects":[{"kind":"User","name":"alice"},{"kind":"User","name":"bob"},{"kind":"Group","name":"devs"},
                  {"kind":"ServiceAccount","name":"default","namespace":"kube-system"}]})");
  ctx.now = std::chrono::system_clock::from_time_t(1704067200 + 3 * 3600);
  const KindInfo& rb = kind("RoleBinding");
  ASSERT_EQ(rb.columns.size(), 5u);
  EXPECT_EQ(rb.columns[0].name, "Role");
  EXPECT_EQ(rb.columns[3].priority, 1);
  EXPECT_EQ(rb.cells(obj, ctx),
            (json::array{"ClusterRole/view", "3h", "alice, bob", "devs", "kube-system:default"}));
  EXPECT_EQ(kind("Role").columns[0].name, "Created At");
  EXPECT_EQ(kind("Role").cells(obj, ctx), (json::array{"2024-01-01T00:00:00Z"}));
}

}  // namespace
}  // namespace berth::api
