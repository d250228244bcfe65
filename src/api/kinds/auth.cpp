// The review kinds of authorization.k8s.io/v1 (SelfSubjectAccessReview,
// SelfSubjectRulesReview) and authentication.k8s.io/v1 (SelfSubjectReview):
// create-only questions the server answers and never stores. Validation
// follows upstream's pkg/apis/authorization/validation; the answers are
// built by the API server (apiserver/reviews.cpp), which knows the caller.

#include "api/kind.h"
#include "api/kinds/access.h"

namespace berth::api {

namespace json = boost::json;

namespace {

KindInfo reviewKind(const std::string& group, const std::string& schema_group, const std::string& kind,
                    const std::string& resource) {
  KindInfo k;
  k.group = group;
  k.version = "v1";
  k.kind = kind;
  k.resource = resource;
  k.singular = "";
  k.namespaced = false;
  k.verbs = {"create"};
  k.ephemeral = true;
  k.schema_type = schema_group + ".v1." + kind;
  return k;
}

const json::object* objectAt(const Object& obj, const char* a, const char* b) {
  auto* x = obj.if_contains(a);
  if (!x || !x->is_object()) return nullptr;
  auto* y = x->get_object().if_contains(b);
  return y && y->is_object() ? &y->get_object() : nullptr;
}

void validateSelfSubjectAccessReview(const Object& obj, const Object*, FieldErrors& errs) {
  const bool res = objectAt(obj, "spec", "resourceAttributes") != nullptr;
  const bool non_res = objectAt(obj, "spec", "nonResourceAttributes") != nullptr;
  if (res && non_res)
    errs.invalid("spec.nonResourceAttributes", "{...}", "cannot be specified in combination with resourceAttributes");
  if (!res && !non_res)
    errs.invalid("spec.resourceAttributes", "null",
                 "exactly one of nonResourceAttributes or resourceAttributes must be specified");
}

}  // namespace

void registerAuthKinds(KindRegistry& r) {
  {
    KindInfo k = reviewKind("authentication.k8s.io", "authentication", "SelfSubjectReview", "selfsubjectreviews");
    r.add(std::move(k));
  }
  {
    KindInfo k = reviewKind("authorization.k8s.io", "authorization", "SelfSubjectAccessReview",
                            "selfsubjectaccessreviews");
    k.validate = validateSelfSubjectAccessReview;
    r.add(std::move(k));
  }
  {
    KindInfo k =
        reviewKind("authorization.k8s.io", "authorization", "SelfSubjectRulesReview", "selfsubjectrulesreviews");
    r.add(std::move(k));
  }
}

}  // namespace berth::api
