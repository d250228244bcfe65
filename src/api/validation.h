#pragma once

#include <boost/json.hpp>
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

}  // namespace berth::api
