// Answers to the create-only review kinds (api/kinds/auth.cpp). berth has
// no authorization layer yet: every authenticated caller may do everything,
// and the access reviews say so rather than pretend to evaluate RBAC.

#include "api/object.h"
#include "apiserver/api_server.h"
#include "apiserver/registry/codec.h"
#include "apiserver/status.h"

namespace berth::apiserver {

namespace json = boost::json;
using api::Object;

namespace {

constexpr const char* kAllowReason = "berth has no authorization layer yet: every authenticated user is allowed";

json::array toArray(const std::vector<std::string>& v) {
  json::array a;
  for (auto& s : v) a.emplace_back(s);
  return a;
}

}  // namespace

Result<Object> answerReview(const api::KindInfo& kind, Object review, const UserInfo& user) {
  api::FieldErrors errs;
  if (kind.validate) kind.validate(review, nullptr, errs);
  if (!errs.empty()) return errs.toError(kind.group, kind.kind, api::name(review));
  auto& md = api::mutableMetadata(review);
  md["creationTimestamp"] = nullptr;
  if (kind.kind == "SelfSubjectReview") {
    json::object info;
    info["username"] = user.name;
    if (!user.groups.empty()) info["groups"] = toArray(user.groups);
    review["status"] = json::object{{"userInfo", std::move(info)}};
  } else if (kind.kind == "SelfSubjectAccessReview") {
    review["status"] = json::object{{"allowed", true}, {"reason", kAllowReason}};
  } else if (kind.kind == "SelfSubjectRulesReview") {
    json::object status;
    status["resourceRules"] = json::array{json::object{
        {"verbs", json::array{"*"}}, {"apiGroups", json::array{"*"}}, {"resources", json::array{"*"}}}};
    status["nonResourceRules"] =
        json::array{json::object{{"verbs", json::array{"*"}}, {"nonResourceURLs", json::array{"*"}}}};
    status["incomplete"] = false;
    review["status"] = std::move(status);
  } else {
    return internalError("no answer for " + kind.kind);
  }
  return review;
}

Response ApiServer::handleReview(const Request& req, const ResourcePath& path) {
  if (req.method != "POST" || !path.name.empty() || !path.subresource.empty())
    return errorResponse(methodNotAllowed("the server does not allow this method on the requested resource"));
  auto fv = fieldValidation(req);
  if (!fv.ok()) return errorResponse(fv.error());
  auto obj = decodeObject(req.header("content-type"), req.body, *path.kind, *fv, &Registry::threadWarnings());
  if (!obj.ok()) return errorResponse(obj.error());
  auto answer = answerReview(*path.kind, std::move(obj).value(), req.user);
  if (!answer.ok()) return errorResponse(answer.error());
  return jsonResponse(201, json::value(std::move(answer).value()));
}

}  // namespace berth::apiserver
