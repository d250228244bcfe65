#pragma once

#include <string>
#include <utility>
#include <vector>

namespace berth {

// Error codes mirror the Kubernetes API's Status reasons so that the API
// server can map any error to an HTTP status and a Status object mechanically.
enum class ErrorCode {
  kBadRequest,             // 400 BadRequest
  kUnauthorized,           // 401 Unauthorized
  kForbidden,              // 403 Forbidden
  kNotFound,               // 404 NotFound
  kMethodNotAllowed,       // 405 MethodNotAllowed
  kNotAcceptable,          // 406 NotAcceptable
  kAlreadyExists,          // 409 AlreadyExists
  kConflict,               // 409 Conflict
  kExpired,                // 410 Expired (Gone)
  kRequestEntityTooLarge,  // 413 RequestEntityTooLarge
  kUnsupportedMediaType,   // 415 UnsupportedMediaType
  kInvalid,                // 422 Invalid
  kTooManyRequests,        // 429 TooManyRequests
  kInternal,               // 500 InternalError
  kUnavailable,            // 503 ServiceUnavailable
  kTimeout,                // 504 Timeout
};

// One entry of Status.details.causes.
struct Cause {
  std::string reason;  // e.g. FieldValueRequired, FieldValueInvalid, FieldValueDuplicate
  std::string message;
  std::string field;  // e.g. metadata.name, spec.containers[0].image
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::vector<Cause> causes;
  // Status.details: the object the error is about, when known.
  std::string group;
  std::string kind;
  std::string name;
  int retry_after_seconds = 0;
};

inline Error makeError(ErrorCode code, std::string message) {
  Error e;
  e.code = code;
  e.message = std::move(message);
  return e;
}

// HTTP status code for an error code.
int httpStatus(ErrorCode code);
// Status.reason for an error code ("NotFound", "AlreadyExists", ...).
const char* statusReason(ErrorCode code);
const char* errorCodeName(ErrorCode code);

}  // namespace berth
