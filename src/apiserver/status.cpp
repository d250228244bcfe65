#include "apiserver/status.h"

namespace berth::apiserver {

boost::json::object statusObject(const Error& error) {
  boost::json::object s;
  s["kind"] = "Status";
  s["apiVersion"] = "v1";
  s["metadata"] = boost::json::object();
  s["status"] = "Failure";
  s["message"] = error.message;
  s["reason"] = statusReason(error.code);
  boost::json::object details;
  if (!error.name.empty()) details["name"] = error.name;
  if (!error.group.empty()) details["group"] = error.group;
  if (!error.kind.empty()) details["kind"] = error.kind;
  if (!error.causes.empty()) {
    boost::json::array causes;
    for (const auto& c : error.causes) {
      boost::json::object o;
      if (!c.reason.empty()) o["reason"] = c.reason;
      if (!c.message.empty()) o["message"] = c.message;
      if (!c.field.empty()) o["field"] = c.field;
      causes.push_back(std::move(o));
    }
    details["causes"] = std::move(causes);
  }
  if (error.retry_after_seconds > 0) details["retryAfterSeconds"] = error.retry_after_seconds;
  if (!details.empty()) s["details"] = std::move(details);
  s["code"] = httpStatus(error.code);
  return s;
}

Response errorResponse(const Error& error) {
  Response r = jsonResponse(httpStatus(error.code), boost::json::value(statusObject(error)));
  if (error.retry_after_seconds > 0)
    r.headers.emplace_back("Retry-After", std::to_string(error.retry_after_seconds));
  return r;
}

boost::json::object successStatus(const std::string& group, const std::string& kind, const std::string& name,
                                  const std::string& uid) {
  boost::json::object s;
  s["kind"] = "Status";
  s["apiVersion"] = "v1";
  s["metadata"] = boost::json::object();
  s["status"] = "Success";
  boost::json::object details;
  if (!name.empty()) details["name"] = name;
  if (!group.empty()) details["group"] = group;
  if (!kind.empty()) details["kind"] = kind;
  if (!uid.empty()) details["uid"] = uid;
  s["details"] = std::move(details);
  return s;
}

Response jsonResponse(int status, const boost::json::value& body) {
  return jsonResponse(status, boost::json::serialize(body));
}

Response jsonResponse(int status, std::string body, const std::string& content_type) {
  Response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", content_type);
  r.body = std::move(body);
  return r;
}

namespace {
std::string qualified(const std::string& group, const std::string& resource) {
  return group.empty() ? resource : resource + "." + group;
}
}  // namespace

Error notFound(const std::string& group, const std::string& resource, const std::string& name) {
  Error e = makeError(ErrorCode::kNotFound, qualified(group, resource) + " \"" + name + "\" not found");
  e.group = group;
  e.kind = resource;
  e.name = name;
  return e;
}

Error forbidden(const std::string& group, const std::string& resource, const std::string& name,
                const std::string& reason) {
  Error e = makeError(ErrorCode::kForbidden, qualified(group, resource) + " \"" + name + "\" is forbidden: " + reason);
  e.group = group;
  e.kind = resource;
  e.name = name;
  return e;
}

Error alreadyExists(const std::string& group, const std::string& resource, const std::string& name) {
  Error e = makeError(ErrorCode::kAlreadyExists, qualified(group, resource) + " \"" + name + "\" already exists");
  e.group = group;
  e.kind = resource;
  e.name = name;
  return e;
}

Error conflict(const std::string& group, const std::string& resource, const std::string& name,
               const std::string& detail) {
  Error e = makeError(ErrorCode::kConflict, "Operation cannot be fulfilled on " + qualified(group, resource) +
                                                " \"" + name + "\": " + detail);
  e.group = group;
  e.kind = resource;
  e.name = name;
  return e;
}

Error badRequest(const std::string& message) { return makeError(ErrorCode::kBadRequest, message); }
Error methodNotAllowed(const std::string& message) { return makeError(ErrorCode::kMethodNotAllowed, message); }
Error internalError(const std::string& message) { return makeError(ErrorCode::kInternal, message); }

}  // namespace berth::apiserver
