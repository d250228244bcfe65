#include "api/field_errors.h"

#include <boost/json.hpp>

namespace berth::api {

std::string FieldErrors::quote(const std::string& s) { return boost::json::serialize(boost::json::value(s)); }

void FieldErrors::required(const std::string& field, const std::string& detail) {
  std::string msg = "Required value";
  if (!detail.empty()) msg += ": " + detail;
  causes_.push_back({"FieldValueRequired", msg, field});
}

void FieldErrors::invalid(const std::string& field, const std::string& value_repr, const std::string& detail) {
  std::string msg = "Invalid value: " + value_repr;
  if (!detail.empty()) msg += ": " + detail;
  causes_.push_back({"FieldValueInvalid", msg, field});
}

void FieldErrors::notSupported(const std::string& field, const std::string& value_repr,
                               const std::vector<std::string>& valid) {
  std::string msg = "Unsupported value: " + value_repr;
  if (!valid.empty()) {
    msg += ": supported values: ";
    for (size_t i = 0; i < valid.size(); ++i) {
      if (i) msg += ", ";
      msg += quote(valid[i]);
    }
  }
  causes_.push_back({"FieldValueNotSupported", msg, field});
}

void FieldErrors::duplicate(const std::string& field, const std::string& value_repr) {
  causes_.push_back({"FieldValueDuplicate", "Duplicate value: " + value_repr, field});
}

void FieldErrors::forbidden(const std::string& field, const std::string& detail) {
  causes_.push_back({"FieldValueForbidden", "Forbidden: " + detail, field});
}

void FieldErrors::tooLong(const std::string& field, const std::string& value_repr, int max) {
  causes_.push_back({"FieldValueTooLong",
                     "Too long: may not be more than " + std::to_string(max) + " bytes", field});
}

void FieldErrors::tooMany(const std::string& field, int actual, int max) {
  causes_.push_back({"FieldValueTooMany",
                     "Too many: " + std::to_string(actual) + ": must have at most " +
                         std::to_string(max) + " items",
                     field});
}

void FieldErrors::immutable(const std::string& field, const std::string& value_repr) {
  std::string msg = "Invalid value: " + value_repr + ": field is immutable";
  causes_.push_back({"FieldValueInvalid", msg, field});
}

Error FieldErrors::toError(const std::string& group, const std::string& kind, const std::string& name) const {
  Error e;
  e.code = ErrorCode::kInvalid;
  e.group = group;
  e.kind = kind;
  e.name = name;
  e.causes = causes_;
  std::string qualified = group.empty() ? kind : kind + "." + group;
  std::string msg = qualified + " \"" + name + "\" is invalid: ";
  auto one = [](const Cause& c) { return c.field.empty() ? c.message : c.field + ": " + c.message; };
  if (causes_.size() == 1) {
    msg += one(causes_[0]);
  } else {
    msg += "[";
    for (size_t i = 0; i < causes_.size(); ++i) {
      if (i) msg += ", ";
      msg += one(causes_[i]);
    }
    msg += "]";
  }
  e.message = msg;
  return e;
}

}  // namespace berth::api
