#include "apiserver/registry/codec.h"

#include "api/object.h"
#include "api/patch.h"
#include "api/schema.h"
#include "api/strategic_merge.h"

namespace berth::apiserver {

namespace json = boost::json;
using api::Object;

namespace {
std::string_view mediaType(std::string_view content_type) {
  auto semi = content_type.find(';');
  if (semi != std::string_view::npos) content_type = content_type.substr(0, semi);
  while (!content_type.empty() && content_type.back() == ' ') content_type.remove_suffix(1);
  return content_type;
}

Error unsupportedMedia(std::string_view ct) {
  return makeError(ErrorCode::kUnsupportedMediaType,
                   "the body of the request was in an unknown format - accepted media types include: "
                   "application/json, application/yaml, application/vnd.kubernetes.protobuf");
}

const api::SchemaType* schemaFor(const api::KindInfo& kind) {
  if (kind.schema_type.empty()) return nullptr;
  auto s = api::SchemaRegistry::builtin().find(kind.schema_type);
  return s.get();
}

Status checkTypeMeta(const Object& obj, const api::KindInfo& kind) {
  std::string api_version = api::getString(obj, "apiVersion");
  std::string k = api::getString(obj, "kind");
  if (k.empty())
    return makeError(ErrorCode::kBadRequest, "Object 'Kind' is missing in '" + json::serialize(obj).substr(0, 200) + "'");
  if (api_version.empty())
    return makeError(ErrorCode::kBadRequest,
                     "Object 'apiVersion' is missing in '" + json::serialize(obj).substr(0, 200) + "'");
  if (api_version != kind.groupVersion() || k != kind.kind) {
    return makeError(ErrorCode::kBadRequest, "the API version in the data (" + api_version +
                                                 ") does not match the expected API version (" +
                                                 kind.groupVersion() + ")");
  }
  return okStatus();
}
}  // namespace

Result<Object> decodeObject(std::string_view content_type, const std::string& body, const api::KindInfo& kind,
                            FieldValidation validation, std::vector<std::string>* warnings) {
  std::string_view mt = mediaType(content_type);
  json::value v;
  if (mt == "application/json" || mt.empty()) {
    BERTH_ASSIGN_OR_RETURN(v, api::parseJsonLimited(body, "couldn't get version/kind; json parse error"));
  } else {
    return unsupportedMedia(content_type);
  }
  if (!v.is_object())
    return makeError(ErrorCode::kBadRequest, "couldn't get version/kind; json parse error: expected an object");
  Object obj = std::move(v.get_object());
  BERTH_RETURN_IF_ERROR(checkTypeMeta(obj, kind));
  BERTH_RETURN_IF_ERROR(checkFields(obj, kind, validation, warnings));
  return obj;
}

Result<Object> decodeAuxiliary(std::string_view content_type, const std::string& body) {
  std::string_view mt = mediaType(content_type);
  if (!(mt == "application/json" || mt.empty())) return unsupportedMedia(content_type);
  BERTH_ASSIGN_OR_RETURN(auto v, api::parseJsonLimited(body, "error decoding body"));
  if (!v.is_object()) return makeError(ErrorCode::kBadRequest, "error decoding body: expected an object");
  return std::move(v.get_object());
}

Status checkFields(Object& obj, const api::KindInfo& kind, FieldValidation validation,
                   std::vector<std::string>* warnings) {
  return okStatus();
}

Result<api::Value> applyPatch(PatchType type, const api::Value& doc, const std::string& patch,
                              const api::KindInfo& kind, Subresource sub) {
  switch (type) {
    case PatchType::kJson:
      return api::applyJsonPatch(doc, std::string_view(patch));
    case PatchType::kMerge:
      return api::applyMergePatchText(doc, patch);
    case PatchType::kStrategic: {
      const api::SchemaType* schema = sub == Subresource::kScale ? nullptr : schemaFor(kind);
      return api::applyStrategicMergePatchText(doc, patch, schema);
    }
    case PatchType::kApply:
      break;
  }
  return makeError(ErrorCode::kUnsupportedMediaType, "unsupported patch type");
}

}  // namespace berth::apiserver
