#pragma once

#include <boost/json.hpp>
#include <cstddef>
#include <string_view>

#include "common/result.h"

namespace berth::api {

// Upper bound on the nodes a YAML document may expand to through aliases
// (billion-laughs protection, like go-yaml's "excessive aliasing" check).
inline constexpr std::size_t kMaxYamlNodes = 1'000'000;

// Converts one YAML document (an application/yaml request body) to JSON the
// way sigs.k8s.io/yaml's YAMLToJSON does (go-yaml v2 typing, YAML 1.1-ish):
//   - plain scalars: ~/null/Null/NULL/"" are null; y/yes/on/true and
//     n/no/off/false (in their lower, Title and UPPER spellings) are bools;
//     integers in decimal, 0x hex, 0o/leading-0 octal, 0b binary, with `_`
//     separators; floats (1.5, 1e3, .5); everything else is a string, dates
//     included. Quoted and block scalars are always strings, as is `!!str`.
//   - a float with an integral value becomes an integer, as Go's JSON
//     round-trip of the float does; .inf/.nan are refused (JSON has none).
//   - mapping keys that are scalars become their string form (1 -> "1",
//     true -> "true"); null, mapping and sequence keys are refused.
//   - anchors and aliases expand (bounded by kMaxYamlNodes), `<<` merge keys
//     merge mappings; duplicate keys: last wins, or an error when `strict`
//     (YAMLToJSONStrict, used for fieldValidation=Strict).
//   - an empty document is null; more than one non-empty document, or nesting
//     deeper than kMaxJsonDepth, is refused.
// Errors are kBadRequest, "error converting YAML to JSON: yaml: line L,
// column C: <problem>".
Result<boost::json::value> yamlToJson(std::string_view text, bool strict = false);

}  // namespace berth::api
