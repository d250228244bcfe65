#include "controllers/pod_control.h"

#include "api/kinds/access.h"
#include "api/object.h"
#include "common/log.h"
#include "controllers/pod_util.h"

namespace berth::controllers {

namespace json = boost::json;
using api::Object;
using client::ObjectPtr;

bool hasNamespaceTerminatingCause(const Error& err) {
  for (const auto& c : err.causes)
    if (c.reason == kNamespaceTerminatingCause) return true;
  return false;
}

json::object newControllerRef(const Object& owner, const api::KindInfo& owner_kind) {
  json::object ref;
  ref["apiVersion"] = owner_kind.groupVersion();
  ref["kind"] = owner_kind.kind;
  ref["name"] = api::name(owner);
  ref["uid"] = api::uid(owner);
  ref["controller"] = true;
  ref["blockOwnerDeletion"] = true;
  return ref;
}

namespace {

// IsDNS1123Subdomain, the rule of ValidatePodName.
bool isDnsSubdomain(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  size_t start = 0;
  while (start <= s.size()) {
    size_t dot = s.find('.', start);
    std::string label = s.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty() || !alnum(label.front()) || !alnum(label.back())) return false;
    for (char c : label)
      if (!alnum(c) && c != '-') return false;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return true;
}

// getPodsPrefix: "<name>-" when that is a valid generateName prefix (checked
// the way ValidatePodName(prefix, true) does, with the trailing dash masked).
std::string podsPrefix(const std::string& controller_name) {
  std::string prefix = controller_name + "-";
  std::string masked = prefix.size() > 1 ? prefix.substr(0, prefix.size() - 2) + "a" : prefix;
  return isDnsSubdomain(masked) ? prefix : controller_name;
}

Status validateControllerRef(const json::object& ref) {
  if (api::strAt(ref, {"apiVersion"}).empty())
    return makeError(ErrorCode::kInternal, "controllerRef has empty APIVersion");
  if (api::strAt(ref, {"kind"}).empty())
    return makeError(ErrorCode::kInternal, "controllerRef has empty Kind");
  if (!api::boolAt(ref, {"controller"}).value_or(false))
    return makeError(ErrorCode::kInternal, "controllerRef.Controller is not set to true");
  if (!api::boolAt(ref, {"blockOwnerDeletion"}).value_or(false))
    return makeError(ErrorCode::kInternal, "controllerRef.BlockOwnerDeletion is not set");
  return okStatus();
}

}  // namespace

Object podFromTemplate(const json::object& tmpl, const Object& owner,
                       const json::object* controller_ref) {
  Object pod;
  pod["apiVersion"] = "v1";
  pod["kind"] = "Pod";
  json::object meta;
  const json::object* tmeta = api::objAt(tmpl, {"metadata"});
  // Labels and annotations always present (upstream makes non-nil maps).
  json::object labels, annotations;
  if (tmeta) {
    if (const json::object* l = api::objAt(*tmeta, {"labels"})) labels = *l;
    if (const json::object* a = api::objAt(*tmeta, {"annotations"})) annotations = *a;
  }
  meta["labels"] = std::move(labels);
  meta["annotations"] = std::move(annotations);
  meta["generateName"] = podsPrefix(api::name(owner));
  if (tmeta) {
    if (const json::array* f = api::arrAt(*tmeta, {"finalizers"}); f && !f->empty())
      meta["finalizers"] = *f;
  }
  if (controller_ref) meta["ownerReferences"] = json::array{*controller_ref};
  pod["metadata"] = std::move(meta);
  if (const json::object* spec = api::objAt(tmpl, {"spec"}))
    pod["spec"] = *spec;
  else
    pod["spec"] = json::object();
  return pod;
}

Error aggregateErrors(const std::vector<Error>& errors) {
  if (errors.empty()) return makeError(ErrorCode::kInternal, "");
  if (errors.size() == 1) return errors.front();
  std::string msg = "[";
  for (size_t i = 0; i < errors.size(); ++i) {
    if (i) msg += ", ";
    msg += errors[i].message;
  }
  msg += "]";
  Error e = errors.front();
  e.message = std::move(msg);
  return e;
}

Result<ObjectPtr> PodControl::createPod(const std::string& ns, const json::object& tmpl,
                                        const Object& owner, const json::object& controller_ref,
                                        const std::string& generate_name) {
  BERTH_RETURN_IF_ERROR(validateControllerRef(controller_ref));
  Object pod = podFromTemplate(tmpl, owner, &controller_ref);
  if (!generate_name.empty()) api::mutableMetadata(pod)["generateName"] = generate_name;
  return createPodObject(ns, std::move(pod), owner);
}

Result<ObjectPtr> PodControl::createPodObject(const std::string& ns, Object pod,
                                              const Object& owner) {
  const json::object* labels = api::objAt(pod, {"metadata", "labels"});
  if (!labels || labels->empty())
    return makeError(ErrorCode::kInternal, "unable to create pods, no labels");
  api::mutableMetadata(pod)["namespace"] = ns;
  auto created = client_.create(client::kind("", "Pod"), std::move(pod));
  if (!created.ok()) {
    // A terminating namespace refuses every create; no event for that.
    if (!hasNamespaceTerminatingCause(created.error()))
      recorder_.record(owner, "Warning", kFailedCreatePodReason,
                       "Error creating: " + created.error().message);
    return created.error();
  }
  BERTH_LOG(kDebug, "controllers") << "controller created pod controller=" << api::name(owner)
                                   << " pod=" << ns << "/" << api::name(**created);
  recorder_.record(owner, "Normal", kSuccessfulCreatePodReason,
                   "Created pod: " + api::name(**created));
  return created;
}

Status PodControl::deletePod(const std::string& ns, const std::string& name, const Object& owner) {
  BERTH_LOG(kDebug, "controllers")
      << "deleting pod controller=" << api::name(owner) << " pod=" << ns << "/" << name;
  auto res = client_.remove(client::kind("", "Pod"), ns, name);
  if (!res.ok()) {
    if (res.error().code == ErrorCode::kNotFound) return res.error();
    recorder_.record(owner, "Warning", kFailedDeletePodReason,
                     "Error deleting: " + res.error().message);
    Error e = res.error();
    e.message = "unable to delete pods: " + e.message;
    return e;
  }
  recorder_.record(owner, "Normal", kSuccessfulDeletePodReason, "Deleted pod: " + name);
  return okStatus();
}

Status PodControl::patchPod(const std::string& ns, const std::string& name,
                            const std::string& patch) {
  auto res = client_.patch(client::kind("", "Pod"), ns, name, client::PatchType::kStrategic, patch);
  if (!res.ok()) return res.error();
  return okStatus();
}

CanAdoptFunc recheckDeletionTimestamp(std::function<Result<ObjectPtr>()> get_fresh) {
  return [get_fresh = std::move(get_fresh)]() -> Status {
    auto fresh = get_fresh();
    if (!fresh.ok()) {
      Error e = fresh.error();
      e.message = "can't recheck DeletionTimestamp: " + e.message;
      return e;
    }
    const Object& obj = **fresh;
    if (hasDeletionTimestamp(obj)) {
      return makeError(ErrorCode::kConflict,
                       api::namespaceOf(obj) + "/" + api::name(obj) + " has just been deleted at " +
                           api::strAt(obj, {"metadata", "deletionTimestamp"}));
    }
    return okStatus();
  };
}

ControllerRefManager::ControllerRefManager(client::Client& client, const Object& controller,
                                           const api::KindInfo& controller_kind,
                                           api::LabelSelector selector, CanAdoptFunc can_adopt,
                                           std::vector<std::string> finalizers)
    : client_(client),
      controller_(controller),
      controller_kind_(controller_kind),
      selector_(std::move(selector)),
      can_adopt_(std::move(can_adopt)),
      finalizers_(std::move(finalizers)) {}

Status ControllerRefManager::canAdopt() {
  if (!can_adopt_called_) {
    can_adopt_called_ = true;
    if (can_adopt_) can_adopt_status_ = can_adopt_();
  }
  return can_adopt_status_;
}

std::string ControllerRefManager::adoptPatch(const Object& obj) const {
  json::object meta;
  meta["ownerReferences"] = json::array{newControllerRef(controller_, controller_kind_)};
  meta["uid"] = api::uid(obj);
  if (!finalizers_.empty()) {
    json::array f;
    for (const auto& s : finalizers_) f.emplace_back(s);
    meta["finalizers"] = std::move(f);
  }
  json::object patch;
  patch["metadata"] = std::move(meta);
  return json::serialize(patch);
}

std::string ControllerRefManager::releasePatch(const Object& obj) const {
  json::object ref;
  ref["$patch"] = "delete";
  ref["uid"] = api::uid(controller_);
  json::object meta;
  meta["ownerReferences"] = json::array{ref};
  meta["uid"] = api::uid(obj);
  if (!finalizers_.empty()) {
    json::array f;
    for (const auto& s : finalizers_) f.emplace_back(s);
    meta["$deleteFromPrimitiveList/finalizers"] = std::move(f);
  }
  json::object patch;
  patch["metadata"] = std::move(meta);
  return json::serialize(patch);
}

Status ControllerRefManager::adopt(const api::KindInfo& kind, const Object& obj) {
  if (Status s = canAdopt(); !s.ok()) {
    Error e = s.error();
    e.message = "can't adopt " + kind.kind + " " + api::namespaceOf(obj) + "/" + api::name(obj) +
                " (" + api::uid(obj) + "): " + e.message;
    return e;
  }
  auto res = client_.patch(kind, api::namespaceOf(obj), api::name(obj),
                           client::PatchType::kStrategic, adoptPatch(obj));
  if (!res.ok()) return res.error();
  return okStatus();
}

Status ControllerRefManager::release(const api::KindInfo& kind, const Object& obj) {
  BERTH_LOG(kDebug, "controllers")
      << "releasing dependent kind=" << kind.kind << " name=" << api::namespaceOf(obj) << "/"
      << api::name(obj) << " controller=" << api::name(controller_);
  auto res = client_.patch(kind, api::namespaceOf(obj), api::name(obj),
                           client::PatchType::kStrategic, releasePatch(obj));
  if (!res.ok()) {
    ErrorCode c = res.error().code;
    // NotFound: gone. Invalid: no reference to delete, or the uid
    // precondition failed because the object was re-created.
    if (c == ErrorCode::kNotFound || c == ErrorCode::kInvalid) return okStatus();
    return res.error();
  }
  return okStatus();
}

Result<std::vector<ObjectPtr>> ControllerRefManager::claim(
    const api::KindInfo& kind, const std::vector<ObjectPtr>& objs,
    const std::function<bool(const Object&)>& filter) {
  std::vector<ObjectPtr> claimed;
  std::vector<Error> errors;
  const std::string my_uid = api::uid(controller_);
  const bool controller_deleting = hasDeletionTimestamp(controller_);
  auto match = [&](const Object& o) {
    if (!selector_.matches(api::objAt(o, {"metadata", "labels"}))) return false;
    return !filter || filter(o);
  };
  for (const auto& p : objs) {
    if (!p) continue;
    const Object& obj = *p;
    if (const json::object* ref = controllerRef(obj)) {
      if (api::strAt(*ref, {"uid"}) != my_uid) continue;  // Owned by someone else.
      if (match(obj)) {
        // Already ours; fine even while the controller is being deleted.
        claimed.push_back(p);
        continue;
      }
      if (controller_deleting) continue;
      if (Status s = release(kind, obj); !s.ok()) errors.push_back(s.error());
      continue;
    }
    // An orphan.
    if (controller_deleting || !match(obj)) continue;
    if (hasDeletionTimestamp(obj)) continue;
    std::string ns = api::namespaceOf(controller_);
    if (!ns.empty() && ns != api::namespaceOf(obj)) continue;
    Status s = adopt(kind, obj);
    if (!s.ok()) {
      if (s.error().code != ErrorCode::kNotFound) errors.push_back(s.error());
      continue;
    }
    claimed.push_back(p);
  }
  if (!errors.empty()) return aggregateErrors(errors);
  return claimed;
}

Result<std::vector<ObjectPtr>> ControllerRefManager::claimPods(
    const std::vector<ObjectPtr>& pods, const std::function<bool(const Object&)>& filter) {
  return claim(client::kind("", "Pod"), pods, filter);
}

}  // namespace berth::controllers
