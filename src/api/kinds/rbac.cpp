// rbac.authorization.k8s.io/v1: Role, RoleBinding, ClusterRole,
// ClusterRoleBinding. Defaults follow pkg/apis/rbac/v1/defaults.go,
// validation pkg/apis/rbac/validation/validation.go, tables
// pkg/printers/internalversion/printers.go. RBAC object names are path
// segments (ValidateRBACName = path.IsValidPathSegmentName), not DNS names.

#include "api/kind.h"
#include "api/kinds/access.h"
#include "api/kinds/printing.h"
#include "api/validation.h"

namespace berth::api {

namespace json = boost::json;

namespace {

constexpr const char* kRbacGroup = "rbac.authorization.k8s.io";

size_t arrSize(const json::object& o, std::string_view key) {
  const json::array* a = arrAt(o, {key});
  return a ? a->size() : 0;
}

// Go's %#v of a []string, which field.Invalid prints for slice values.
std::string goStringSliceRepr(const json::value* v) {
  const json::array* a = asArr(v);
  if (!a) return "[]string(nil)";
  std::string out = "[]string{";
  for (size_t i = 0; i < a->size(); ++i) {
    if (i) out += ", ";
    out += FieldErrors::quote(asStr(&(*a)[i]));
  }
  return out + "}";
}

// ValidatePolicyRule.
void validatePolicyRule(const json::object& rule, bool namespaced, const std::string& path, FieldErrors& errs) {
  if (arrSize(rule, "verbs") == 0) errs.required(path + ".verbs", "verbs must contain at least one value");
  if (arrSize(rule, "nonResourceURLs") > 0) {
    std::string repr = goStringSliceRepr(at(rule, {"nonResourceURLs"}));
    if (namespaced)
      errs.invalid(path + ".nonResourceURLs", repr, "namespaced rules cannot apply to non-resource URLs");
    if (arrSize(rule, "apiGroups") > 0 || arrSize(rule, "resources") > 0 || arrSize(rule, "resourceNames") > 0)
      errs.invalid(path + ".nonResourceURLs", repr, "rules cannot apply to both regular resources and non-resource URLs");
    return;
  }
  if (arrSize(rule, "apiGroups") == 0)
    errs.required(path + ".apiGroups", "resource rules must supply at least one api group");
  if (arrSize(rule, "resources") == 0)
    errs.required(path + ".resources", "resource rules must supply at least one resource");
}

void validateRules(const json::object& obj, bool namespaced, FieldErrors& errs) {
  const json::array* rules = arrAt(obj, {"rules"});
  if (!rules) return;
  for (size_t i = 0; i < rules->size(); ++i) {
    static const json::object kEmpty;
    const json::object* r = asObj(&(*rules)[i]);
    validatePolicyRule(r ? *r : kEmpty, namespaced, "rules[" + std::to_string(i) + "]", errs);
  }
}

// ValidateRoleBindingSubject.
void validateSubject(const json::object& s, bool namespaced, const std::string& path, FieldErrors& errs) {
  std::string name = strAt(s, {"name"});
  std::string kind = strAt(s, {"kind"});
  std::string api_group = strAt(s, {"apiGroup"});
  if (name.empty()) errs.required(path + ".name");
  if (kind == "ServiceAccount") {
    if (!name.empty())
      for (const auto& m : isDns1123Subdomain(name)) errs.invalid(path + ".name", FieldErrors::quote(name), m);
    if (!api_group.empty()) errs.notSupported(path + ".apiGroup", FieldErrors::quote(api_group), {""});
    if (!namespaced && strAt(s, {"namespace"}).empty()) errs.required(path + ".namespace");
  } else if (kind == "User" || kind == "Group") {
    if (api_group != kRbacGroup) errs.notSupported(path + ".apiGroup", FieldErrors::quote(api_group), {kRbacGroup});
  } else {
    errs.notSupported(path + ".kind", FieldErrors::quote(kind), {"ServiceAccount", "User", "Group"});
  }
}

// ValidateRoleBinding / ValidateClusterRoleBinding (after ObjectMeta).
void validateBinding(const json::object& obj, const json::object* old, bool namespaced, FieldErrors& errs) {
  static const json::object kEmpty;
  const json::object* rr = objAt(obj, {"roleRef"});
  const json::object& ref = rr ? *rr : kEmpty;
  std::string api_group = strAt(ref, {"apiGroup"});
  std::string kind = strAt(ref, {"kind"});
  std::string name = strAt(ref, {"name"});
  if (api_group != kRbacGroup) errs.notSupported("roleRef.apiGroup", FieldErrors::quote(api_group), {kRbacGroup});
  if (namespaced) {
    if (kind != "Role" && kind != "ClusterRole")
      errs.notSupported("roleRef.kind", FieldErrors::quote(kind), {"Role", "ClusterRole"});
  } else if (kind != "ClusterRole") {
    errs.notSupported("roleRef.kind", FieldErrors::quote(kind), {"ClusterRole"});
  }
  if (name.empty()) {
    errs.required("roleRef.name");
  } else {
    for (const auto& m : validateName(name, NameRule::kPathSegment)) errs.invalid("roleRef.name", FieldErrors::quote(name), m);
  }
  if (const json::array* subjects = arrAt(obj, {"subjects"}))
    for (size_t i = 0; i < subjects->size(); ++i) {
      const json::object* s = asObj(&(*subjects)[i]);
      validateSubject(s ? *s : kEmpty, namespaced, "subjects[" + std::to_string(i) + "]", errs);
    }
  if (old) {
    // ValidateRoleBindingUpdate: the roleRef may never change; a binding to a
    // different role is a new binding.
    const json::object* orr = objAt(*old, {"roleRef"});
    const json::object& oref = orr ? *orr : kEmpty;
    if (strAt(oref, {"apiGroup"}) != api_group || strAt(oref, {"kind"}) != kind || strAt(oref, {"name"}) != name) {
      std::string repr = "rbac.RoleRef{APIGroup:" + FieldErrors::quote(api_group) + ", Kind:" + FieldErrors::quote(kind) +
                         ", Name:" + FieldErrors::quote(name) + "}";
      errs.invalid("roleRef", repr, "cannot change roleRef");
    }
  }
}

// SetDefaults_RoleBinding / SetDefaults_ClusterRoleBinding / SetDefaults_Subject.
void defaultBinding(json::object& obj) {
  json::object& ref = ensureObj(obj, "roleRef");
  if (isZero(ref, "apiGroup")) ref["apiGroup"] = kRbacGroup;
  if (json::array* subjects = obj.if_contains("subjects") ? obj["subjects"].if_array() : nullptr) {
    for (auto& s : *subjects) {
      json::object* so = s.if_object();
      if (!so || !isZero(*so, "apiGroup")) continue;
      std::string kind = strAt(*so, {"kind"});
      if (kind == "User" || kind == "Group") (*so)["apiGroup"] = kRbacGroup;
      else if (kind == "ServiceAccount") (*so)["apiGroup"] = "";
    }
  }
}

// rbac.SubjectsStrings: users, groups and "namespace:name" service accounts.
json::array bindingCells(const json::object& obj, const KindContext& ctx) {
  std::vector<std::string> users, groups, sas;
  if (const json::array* subjects = arrAt(obj, {"subjects"}))
    for (const auto& s : *subjects) {
      const json::object* so = asObj(&s);
      if (!so) continue;
      std::string kind = strAt(*so, {"kind"});
      std::string name = strAt(*so, {"name"});
      if (kind == "User") users.push_back(name);
      else if (kind == "Group") groups.push_back(name);
      else if (kind == "ServiceAccount") sas.push_back(strAt(*so, {"namespace"}) + ":" + name);
    }
  json::array cells;
  cells.emplace_back(strAt(obj, {"roleRef", "kind"}) + "/" + strAt(obj, {"roleRef", "name"}));
  cells.emplace_back(ageCell(obj, ctx));
  cells.emplace_back(join(users, ", "));
  cells.emplace_back(join(groups, ", "));
  cells.emplace_back(join(sas, ", "));
  return cells;
}

std::vector<PrinterColumn> bindingColumns(const std::string& what) {
  return {column("Role", "string", "RoleRef can reference a Role in the current namespace or a ClusterRole in the "
                                   "global namespace. If the RoleRef cannot be resolved, the Authorizer must "
                                   "return an error."),
          ageColumn(),
          column("Users", "string", "Users in the " + what, 1),
          column("Groups", "string", "Groups in the " + what, 1),
          column("ServiceAccounts", "string", "ServiceAccounts in the " + what, 1)};
}

// printRole / printClusterRole show the creation time itself, not an age.
json::array roleCells(const json::object& obj, const KindContext&) {
  json::array cells;
  cells.emplace_back(strAt(obj, {"metadata", "creationTimestamp"}));
  return cells;
}

std::vector<PrinterColumn> roleColumns() {
  return {column("Created At", "date",
                 "CreationTimestamp is a timestamp representing the server time when this object was created.")};
}

KindInfo rbacKind(const std::string& kind, const std::string& resource, const std::string& singular, bool namespaced) {
  KindInfo k;
  k.group = kRbacGroup;
  k.version = "v1";
  k.kind = kind;
  k.resource = resource;
  k.singular = singular;
  k.namespaced = namespaced;
  k.schema_type = "rbac.v1." + kind;
  return k;
}

}  // namespace

void registerRbacKinds(KindRegistry& r) {
  {
    KindInfo k = rbacKind("Role", "roles", "role", true);
    k.validate = [](const Object& obj, const Object* old, FieldErrors& errs) {
      validateObjectMeta(obj, old, true, NameRule::kPathSegment, errs);
      validateRules(obj, true, errs);
    };
    k.columns = roleColumns();
    k.cells = roleCells;
    r.add(std::move(k));
  }
  {
    KindInfo k = rbacKind("RoleBinding", "rolebindings", "rolebinding", true);
    k.defaults = defaultBinding;
    k.validate = [](const Object& obj, const Object* old, FieldErrors& errs) {
      validateObjectMeta(obj, old, true, NameRule::kPathSegment, errs);
      validateBinding(obj, old, true, errs);
    };
    k.columns = bindingColumns("roleBinding");
    k.cells = bindingCells;
    r.add(std::move(k));
  }
  {
    KindInfo k = rbacKind("ClusterRole", "clusterroles", "clusterrole", false);
    k.validate = [](const Object& obj, const Object* old, FieldErrors& errs) {
      validateObjectMeta(obj, old, false, NameRule::kPathSegment, errs);
      validateRules(obj, false, errs);
      if (const json::value* agg = at(obj, {"aggregationRule"}); agg && !agg->is_null()) {
        const json::array* selectors = asObj(agg) ? arrAt(*asObj(agg), {"clusterRoleSelectors"}) : nullptr;
        if (!selectors || selectors->empty())
          errs.required("aggregationRule.clusterRoleSelectors",
                        "at least one clusterRoleSelector required if aggregationRule is non-nil");
        if (selectors)
          for (size_t i = 0; i < selectors->size(); ++i)
            validateLabelSelector(&(*selectors)[i], "aggregationRule.clusterRoleSelectors[" + std::to_string(i) + "]",
                                  errs);
      }
    };
    k.columns = roleColumns();
    k.cells = roleCells;
    r.add(std::move(k));
  }
  {
    KindInfo k = rbacKind("ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding", false);
    k.defaults = defaultBinding;
    k.validate = [](const Object& obj, const Object* old, FieldErrors& errs) {
      validateObjectMeta(obj, old, false, NameRule::kPathSegment, errs);
      validateBinding(obj, old, false, errs);
    };
    k.columns = bindingColumns("clusterRoleBinding");
    k.cells = bindingCells;
    r.add(std::move(k));
  }
}

}  // namespace berth::api
