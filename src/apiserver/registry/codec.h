#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/kind.h"
#include "apiserver/registry/registry.h"
#include "common/result.h"

namespace berth::apiserver {

// Request body decoding for one served kind: JSON (with strict / warn field
// validation against the kind's schema), YAML and Kubernetes protobuf.
// `warnings` receives unknown-field warnings for FieldValidation::kWarn.
Result<api::Object> decodeObject(std::string_view content_type, const std::string& body,
                                 const api::KindInfo& kind, FieldValidation validation,
                                 std::vector<std::string>* warnings);

// Decodes a body of a known auxiliary type (DeleteOptions, Scale, Eviction...)
// leniently: JSON or protobuf-free JSON only.
Result<api::Object> decodeAuxiliary(std::string_view content_type, const std::string& body);

// Checks `obj` against the kind's schema after a patch: unknown fields are an
// error (Strict), warnings (Warn) or dropped (Ignore). Always drops them.
Status checkFields(api::Object& obj, const api::KindInfo& kind, FieldValidation validation,
                   std::vector<std::string>* warnings);

// Applies a patch document of the given type to `doc`.
Result<api::Value> applyPatch(PatchType type, const api::Value& doc, const std::string& patch,
                              const api::KindInfo& kind, Subresource sub);

}  // namespace berth::apiserver
