#pragma once

#include <boost/json.hpp>
#include <string>

#include "apiserver/http.h"
#include "common/error.h"

namespace berth::apiserver {

// A meta/v1 Status object for a failure, as upstream's apierrors render it.
boost::json::object statusObject(const Error& error);
// The HTTP response carrying that Status (code, JSON body, Retry-After).
Response errorResponse(const Error& error);
// A Success Status (e.g. for deletecollection of some kinds).
boost::json::object successStatus(const std::string& group, const std::string& kind, const std::string& name,
                                  const std::string& uid);

Response jsonResponse(int status, const boost::json::value& body);
Response jsonResponse(int status, std::string body, const std::string& content_type = "application/json");

// Upstream's standard messages.
Error notFound(const std::string& group, const std::string& resource, const std::string& name);
Error alreadyExists(const std::string& group, const std::string& resource, const std::string& name);
// `<resource> "<name>" is forbidden: <reason>`, as apierrors.NewForbidden.
Error forbidden(const std::string& group, const std::string& resource, const std::string& name,
                const std::string& reason);
Error conflict(const std::string& group, const std::string& resource, const std::string& name,
               const std::string& detail);
Error badRequest(const std::string& message);
Error methodNotAllowed(const std::string& message);
Error internalError(const std::string& message);

}  // namespace berth::apiserver
