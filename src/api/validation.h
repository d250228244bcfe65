#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "api/field_errors.h"

namespace berth::api {

// Shared validators, after k8s.io/apimachinery/pkg/util/validation and
// apimachinery's ValidateObjectMeta. Each returns the problems found as
// upstream's messages (empty = valid).
std::vector<std::string> isDns1123Subdomain(const std::string& value);  // max 253
std::vector<std::string> isDns1123Label(const std::string& value);      // max 63
std::vector<std::string> isDns1035Label(const std::string& value);      // services
std::vector<std::string> isQualifiedName(const std::string& value);     // label keys
std::vector<std::string> isValidLabelValue(const std::string& value);
std::vector<std::string> isCIdentifier(const std::string& value);       // env var names (upstream uses a relaxed check)

enum class NameRule { kDns1123Subdomain, kDns1123Label, kDns1035Label, kPathSegment };

// Validates metadata of a new (old == nullptr) or updated object:
// name/generateName per rule, namespace presence per scope, labels,
// annotations (256 KiB total), ownerReferences, finalizers, and on update
// the immutable fields (name, namespace, uid, creationTimestamp).
void validateObjectMeta(const boost::json::object& obj, const boost::json::object* old, bool namespaced,
                        NameRule rule, FieldErrors& errs);

// Validates a metav1.LabelSelector at `path`.
void validateLabelSelector(const boost::json::value* selector, const std::string& path, FieldErrors& errs);

// More validators from apimachinery's util/validation.
std::vector<std::string> isConfigMapKey(const std::string& value);  // ConfigMap/Secret data keys
std::vector<std::string> isEnvVarName(const std::string& value);
std::vector<std::string> isValidPortName(const std::string& value);  // IANA_SVC_NAME, max 15
std::vector<std::string> isValidPortNum(int64_t port);               // 1..65535
std::vector<std::string> isValidIp(const std::string& value);        // IPv4 or IPv6 literal
bool isIpv4(const std::string& value);
bool isIpv6(const std::string& value);
// Object names per rule; prefix = true for generateName (a trailing '-' is allowed).
std::vector<std::string> validateName(const std::string& value, NameRule rule, bool prefix = false);

// metav1 ValidateLabels / ValidateAnnotations on a map at `path`.
void validateLabels(const boost::json::value* labels, const std::string& path, FieldErrors& errs);
void validateAnnotations(const boost::json::value* annotations, const std::string& path, FieldErrors& errs);

// The value as upstream's field.Error prints a bad value: strings quoted,
// numbers and booleans bare, null as null, maps as Go's %#v of a
// map[string]string (map[string]string{"a":"b"}), others as compact JSON.
std::string valueRepr(const boost::json::value* v);
std::string goStringMapRepr(const std::map<std::string, std::string>& m);

// ValidateNonnegativeField: "must be greater than or equal to 0".
void validateNonnegative(const boost::json::value* v, const std::string& path, FieldErrors& errs);
// ValidateImmutableField: adds "field is immutable" when new != old (absent == null).
void validateImmutable(const boost::json::value* now, const boost::json::value* old, const std::string& path,
                       FieldErrors& errs);
// Deep equality that treats absent and null alike and compares numbers by value.
bool jsonEqual(const boost::json::value* a, const boost::json::value* b);

}  // namespace berth::api
