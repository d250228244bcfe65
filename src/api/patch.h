#pragma once

#include <boost/json.hpp>
#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"

namespace berth::api {

// JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7386), with the error
// codes and messages of upstream's apiserver PATCH handler
// (k8s.io/apiserver/pkg/endpoints/handlers/patch.go, jsonPatcher) on top of
// evanphx/json-patch v4.
//
// All decoders here and in strategic_merge.h / yaml.h refuse documents nested
// deeper than kMaxJsonDepth, so that recursion over any value they produce or
// accept stays far from the stack limit.
inline constexpr std::size_t kMaxJsonDepth = 512;

// Upstream's maxJSONPatchOperations.
inline constexpr std::size_t kMaxJsonPatchOperations = 10000;

// Upstream arms jsonpatch.AccumulatedCopySizeLimit with the request body limit
// (3 MiB) so that "copy" operations cannot blow up the document.
inline constexpr std::size_t kMaxJsonPatchCopyBytes = 3 * 1024 * 1024;

// Parses JSON with the depth limit. On failure returns kBadRequest whose
// message is `<what>: <reason>` (what = e.g. "error decoding patch").
Result<boost::json::value> parseJsonLimited(std::string_view text, std::string_view what);

// Nesting depth of a value (a scalar is 0, {} is 1). Iterative; stops
// counting at `limit` + 1 so it is cheap on hostile input.
std::size_t jsonDepth(const boost::json::value& v, std::size_t limit = kMaxJsonDepth);

// Formats a value the way Go's fmt "%v" prints the decoded interface{}
// (map[a:1 b:[x y]]), for error messages that mirror upstream's.
std::string goFormat(const boost::json::value& v);

// Applies an RFC 6902 patch document to `doc`.
// Errors, as upstream:
//   - patch is not valid JSON / not an array of objects: kBadRequest with the
//     decoder's message;
//   - more than kMaxJsonPatchOperations operations: kRequestEntityTooLarge
//     "The allowed maximum operations in a JSON patch is 10000, got N";
//   - any operation failing (test mismatch, missing path, bad index, unknown
//     op): kInvalid (422) "the server rejected our request due to an error in
//     our request" — upstream wraps every apply error in this generic
//     response, so the detail is not part of the API error. The detail is
//     written to *detail when given (for logs and tests).
Result<boost::json::value> applyJsonPatch(const boost::json::value& doc, std::string_view patch,
                                          std::string* detail = nullptr);
// Same, with an already decoded patch document.
Result<boost::json::value> applyJsonPatchValue(const boost::json::value& doc, const boost::json::value& patch,
                                          std::string* detail = nullptr);

// Applies an RFC 7386 merge patch. A patch that is neither an object nor an
// array (including null and invalid JSON) is kBadRequest "Invalid JSON
// Patch", as evanphx/json-patch's MergePatch; an array patch replaces the
// document (nulls inside pruned), which the caller's decoding then rejects.
Result<boost::json::value> applyMergePatch(const boost::json::value& doc, const boost::json::value& patch);
// Same, decoding the request body first (invalid JSON is "Invalid JSON Patch").
Result<boost::json::value> applyMergePatchText(const boost::json::value& doc, std::string_view patch);

// The generic 422 the apiserver answers for a patch that cannot be applied.
Error patchNotApplicableError();

}  // namespace berth::api
