#pragma once

// PodSpec / PodTemplateSpec defaulting and validation shared by Pod,
// PodTemplate, ReplicationController and the apps/batch workloads, after
// upstream's pkg/apis/core/v1/defaults.go and
// pkg/apis/core/validation/validation.go (ValidatePodSpec and friends).

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/field_errors.h"

namespace berth::api {

// SetDefaults_PodSpec plus the nested defaults (containers, ports, probes,
// volumes, env sources). Idempotent.
void defaultPodSpec(boost::json::object& spec);
// Defaults a PodTemplateSpec (the `template` object): its spec.
void defaultPodTemplate(boost::json::value& tmpl);
// SetDefaults_Pod on top of defaultPodSpec: enableServiceLinks, requests
// copied from limits, host-network ports, priority/preemptionPolicy (which
// upstream's Priority admission sets).
void defaultPod(boost::json::object& pod);

// ValidatePodSpec at `path` ("spec" for pods, "spec.template.spec" for workloads).
void validatePodSpec(const boost::json::object* spec, const std::string& path, FieldErrors& errs);
// ValidatePodTemplateSpec: metadata labels/annotations and the spec. A
// missing template is "Required value".
void validatePodTemplateSpec(const boost::json::value* tmpl, const std::string& path, FieldErrors& errs);
// ValidatePodUpdate's spec rule: only images, activeDeadlineSeconds,
// tolerations (additions), terminationGracePeriodSeconds, schedulingGates
// removal may change.
void validatePodSpecUpdate(const boost::json::object* spec, const boost::json::object* old_spec, FieldErrors& errs);

// For ReplicaSet, ReplicationController, Deployment, DaemonSet,
// StatefulSet: restartPolicy must be Always and activeDeadlineSeconds unset.
void validateTemplateForController(const boost::json::value* tmpl, const std::string& path, const std::string& kind,
                                   FieldErrors& errs);
// Selector checks shared by the apps workloads and Job: required,
// non-empty, valid, and matching spec.template.metadata.labels.
// `what` names the kind in "empty selector is invalid for <what>".
void validateSelectorMatchesTemplate(const boost::json::object& spec, const std::string& path,
                                     const std::string& what, FieldErrors& errs);

// Go's %#v of a metav1.LabelSelector, as upstream prints it in
// "field is immutable" errors:
//   v1.LabelSelector{MatchLabels:map[string]string{"app":"web"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}
std::string goLabelSelectorRepr(const boost::json::value* selector);
// spec.selector immutability of apps/v1 workloads.
void validateSelectorImmutable(const boost::json::object& obj, const boost::json::object& old, FieldErrors& errs);

// ValidatePositiveIntOrPercent + IsNotMoreThan100Percent for rollout knobs.
void validateIntOrPercent(const boost::json::value* v, const std::string& path, bool max100, FieldErrors& errs);
// The integer or percentage number of an IntOrString ("25%" -> 25).
int64_t intOrPercentValue(const boost::json::value* v);

// metav1.LabelSelector matching against a label set. A null selector
// matches nothing, an empty one everything.
bool labelSelectorMatches(const boost::json::value* selector, const std::map<std::string, std::string>& labels);

// qos.GetPodQOS: "Guaranteed", "Burstable" or "BestEffort".
std::string podQosClass(const boost::json::object& spec);

// A resource.Quantity as a number of base units (cores, bytes), or nullopt
// when malformed. Upstream's canonical grammar: sign, digits, optional
// fraction, suffix (n u m "" k M G T P E Ki Mi Gi Ti Pi Ei) or exponent.
std::optional<long double> parseQuantity(const std::string& s);

}  // namespace berth::api
