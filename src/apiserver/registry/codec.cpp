#include "apiserver/registry/codec.h"

#include "api/decode.h"
#include "api/object.h"
#include "api/patch.h"
#include "api/protobuf.h"
#include "api/yaml.h"
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

api::FieldValidation toApi(FieldValidation v) {
  switch (v) {
    case FieldValidation::kIgnore: return api::FieldValidation::kIgnore;
    case FieldValidation::kWarn: return api::FieldValidation::kWarn;
    case FieldValidation::kStrict: return api::FieldValidation::kStrict;
  }
  return api::FieldValidation::kStrict;
}

// Splits "apps/v1" into group and version ("v1" -> core).
void splitGroupVersion(std::string_view gv, std::string_view* group, std::string_view* version) {
  auto slash = gv.find('/');
  if (slash == std::string_view::npos) {
    *group = {};
    *version = gv;
  } else {
    *group = gv.substr(0, slash);
    *version = gv.substr(slash + 1);
  }
}

// Like upstream's decoder with the endpoint's GroupVersionKind as the
// default: a body without apiVersion/kind (the Python client omits them
// when the model leaves them unset) takes the endpoint's; a different one
// is refused.
Status checkTypeMeta(Object& obj, const api::KindInfo& kind) {
  std::string api_version = api::getString(obj, "apiVersion");
  std::string k = api::getString(obj, "kind");
  if (api_version.empty()) obj["apiVersion"] = api_version = kind.groupVersion();
  if (k.empty()) obj["kind"] = k = kind.kind;
  if (api_version != kind.groupVersion()) {
    return makeError(ErrorCode::kBadRequest, "the API version in the data (" + api_version +
                                                 ") does not match the expected API version (" +
                                                 kind.groupVersion() + ")");
  }
  if (k != kind.kind)
    return makeError(ErrorCode::kBadRequest,
                     "the kind in the data (" + k + ") does not match the expected kind (" + kind.kind + ")");
  return okStatus();
}
}  // namespace

Result<Object> decodeObject(std::string_view content_type, const std::string& body, const api::KindInfo& kind,
                            FieldValidation validation, std::vector<std::string>* warnings) {
  std::string_view mt = mediaType(content_type);
  const api::SchemaType* schema = schemaFor(kind);
  json::value v;
  if (mt == "application/json" || mt.empty()) {
    // Type errors and duplicates are checked against the schema here; the
    // unknown-field check runs after the kind check below.
    api::DecodeOptions opts;
    opts.validation = toApi(validation);
    opts.kind = kind.kind;
    opts.version = kind.version;
    BERTH_ASSIGN_OR_RETURN(auto decoded, api::decodeJson(body, schema, opts));
    v = std::move(decoded.value);
    if (!v.is_object())
      return makeError(ErrorCode::kBadRequest, "couldn't get version/kind; json parse error: expected an object");
    Object obj = std::move(v.get_object());
    BERTH_RETURN_IF_ERROR(checkTypeMeta(obj, kind));
    if (warnings && validation == FieldValidation::kWarn)
      for (auto& w : decoded.warnings) warnings->push_back(w);
    if (schema) {
      json::value tmp(std::move(obj));
      api::removeUnknownFields(tmp, *schema);
      obj = std::move(tmp.get_object());
    }
    return obj;
  } else if (mt == "application/yaml") {
    BERTH_ASSIGN_OR_RETURN(v, api::yamlToJson(body, validation == FieldValidation::kStrict));
  } else if (mt == "application/vnd.kubernetes.protobuf") {
    const auto& kinds = api::KindRegistry::builtin();
    auto lookup = [&kinds](std::string_view api_version, std::string_view k) -> std::shared_ptr<const api::SchemaType> {
      std::string_view g, ver;
      splitGroupVersion(api_version, &g, &ver);
      const auto* info = kinds.byKind(g, ver, k);
      if (!info) return nullptr;
      return api::SchemaRegistry::builtin().find(info->schema_type);
    };
    BERTH_ASSIGN_OR_RETURN(auto decoded, api::decodeKubernetesProtobuf(body, lookup));
    v = std::move(decoded.object);
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
  json::value v;
  if (mt == "application/json" || mt.empty()) {
    BERTH_ASSIGN_OR_RETURN(v, api::parseJsonLimited(body, "error decoding body"));
  } else if (mt == "application/yaml") {
    BERTH_ASSIGN_OR_RETURN(v, api::yamlToJson(body));
  } else {
    return unsupportedMedia(content_type);
  }
  if (!v.is_object()) return makeError(ErrorCode::kBadRequest, "error decoding body: expected an object");
  return std::move(v.get_object());
}

Status checkFields(Object& obj, const api::KindInfo& kind, FieldValidation validation,
                   std::vector<std::string>* warnings) {
  const api::SchemaType* schema = schemaFor(kind);
  if (!schema) return okStatus();
  json::value v(std::move(obj));
  auto found = api::checkJsonFields(v, *schema, toApi(validation), kind.kind, kind.version);
  if (!found.ok()) {
    obj = std::move(v.get_object());
    return found.error();
  }
  if (warnings && validation == FieldValidation::kWarn)
    for (auto& w : *found) warnings->push_back(w);
  // The stored object never carries fields its schema does not know.
  api::removeUnknownFields(v, *schema);
  obj = std::move(v.get_object());
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
