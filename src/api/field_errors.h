#pragma once

#include <string>
#include <vector>

#include "common/error.h"

namespace berth::api {

// Collects validation failures the way upstream's field.ErrorList does, and
// renders them into one 422 Invalid Error whose message and causes match
// what kubectl prints:
//   The Deployment "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0
class FieldErrors {
 public:
  // reason: FieldValueRequired, FieldValueInvalid, FieldValueNotSupported,
  // FieldValueDuplicate, FieldValueForbidden, FieldValueTooLong, FieldValueTooMany.
  void required(const std::string& field, const std::string& detail = "");
  // value_repr: the offending value as upstream prints it: strings quoted
  // ("\"Foo\""), numbers bare (-1).
  void invalid(const std::string& field, const std::string& value_repr, const std::string& detail);
  void notSupported(const std::string& field, const std::string& value_repr,
                    const std::vector<std::string>& valid);
  void duplicate(const std::string& field, const std::string& value_repr);
  void forbidden(const std::string& field, const std::string& detail);
  void tooLong(const std::string& field, const std::string& value_repr, int max);
  void tooMany(const std::string& field, int actual, int max);
  void immutable(const std::string& field, const std::string& value_repr);  // "field is immutable"

  bool empty() const { return causes_.empty(); }
  const std::vector<Cause>& causes() const { return causes_; }

  // The 422 Error for kind/name (group "" for core), e.g. kind "Deployment",
  // group "apps". Message: `<Kind>.<group> "<name>" is invalid: <cause>` or
  // `... is invalid: [<cause>, <cause>]`.
  Error toError(const std::string& group, const std::string& kind, const std::string& name) const;

  // Quotes a string value as upstream's field errors print it.
  static std::string quote(const std::string& s);

 private:
  std::vector<Cause> causes_;
};

}  // namespace berth::api
