#pragma once

#include <boost/json.hpp>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "api/schema.h"
#include "common/result.h"

namespace berth::api {

// JSON request body decoding against a SchemaType, with Kubernetes' server
// side field validation (the `fieldValidation` query parameter, KEP 2885):
//   Strict  unknown or duplicate fields fail the request (400) with
//           `strict decoding error: unknown field "spec.foo", duplicate field "metadata.name"`
//   Warn    the same findings come back as warnings (the server sends each as
//           a `Warning: 299 - "..."` header) and the request goes on
//   Ignore  they are silently dropped
// In every mode unknown fields are removed from the decoded value, as
// upstream's decoding into Go structs drops them: the stored object never
// contains them. Wrong JSON types (a string where an int32 is expected, an
// int32 out of range, a malformed time, quantity or base64 string) fail the
// request in every mode, as Go's json.Unmarshal does, with a message in the
// spirit of Go's:
//   json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32

enum class FieldValidation { kIgnore, kWarn, kStrict };

// Parses the query parameter: "Strict", "Warn", "Ignore"; "" is upstream's
// server default, Warn (kubectl sends Strict explicitly). Anything else is
// kBadRequest with upstream's NotSupported wording.
Result<FieldValidation> parseFieldValidation(std::string_view text);

struct DecodeOptions {
  FieldValidation validation = FieldValidation::kStrict;
  // Upstream's request body limit for JSON (apiserver MaxRequestBodyBytes).
  std::size_t max_bytes = 3 * 1024 * 1024;
  // When set, errors read `<kind> in version "<version>" cannot be handled as
  // a <kind>: <reason>`, as upstream's create/update handlers word them.
  std::string kind;
  std::string version;
};

struct DecodedJson {
  boost::json::value value;
  // Warn mode: `unknown field "spec.foo"`, `duplicate field "metadata.name"`.
  std::vector<std::string> warnings;
};

// Parses `body` and checks it against `type` (nullptr: parse only, with
// duplicate-key detection). Syntax errors, bodies over max_bytes
// (kRequestEntityTooLarge), nesting deeper than kMaxJsonDepth and the errors
// described above give an Error; never throws.
Result<DecodedJson> decodeJson(std::string_view body, const SchemaType* type, const DecodeOptions& options = {});

// Checks an already decoded value (e.g. the result of a patch) against the
// schema: type errors fail; unknown fields fail (Strict), come back as
// warnings (Warn) or are ignored (Ignore); in every mode they are removed
// from `value`. Duplicate keys cannot occur in a DOM.
Result<std::vector<std::string>> checkJsonFields(boost::json::value& value, const SchemaType& type,
                                                 FieldValidation validation, std::string_view kind = {},
                                                 std::string_view version = {});

// Removes every field the schema does not know, recursively (maps and lists
// included; `any` values are left alone).
void removeUnknownFields(boost::json::value& value, const SchemaType& type);

}  // namespace berth::api
