#include "agent/volumes/projection.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "api/kinds/pod_spec.h"
#include "api/protobuf.h"
#include "common/error.h"

namespace berth::agent::volumes {

namespace json = boost::json;
using api::Object;

namespace {

constexpr int kDefaultMode = 0644;

int modeOf(const Object& o, const char* field, int fallback) {
  const json::value* v = o.if_contains(field);
  return v && v->is_int64() ? static_cast<int>(v->as_int64()) : fallback;
}

bool optionalOf(const Object& source) {
  const json::value* v = source.if_contains("optional");
  return v && v->is_bool() && v->as_bool();
}

// Go's %q for the label and annotation values of FormatMap.
std::string goQuote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\v':
        out += "\\v";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// fieldpath.FormatMap: sorted key="value" lines, no trailing newline.
std::string formatMap(const Object* m) {
  std::string out;
  if (!m) return out;
  std::map<std::string, std::string> sorted;
  for (const auto& [k, v] : *m)
    if (v.is_string()) sorted[std::string(k)] = std::string(v.get_string());
  for (const auto& [k, v] : sorted) {
    if (!out.empty()) out += '\n';
    out += k + "=" + goQuote(v);
  }
  return out;
}

// "metadata.labels['key']" -> "key" when `path` has that form for `prefix`.
std::optional<std::string> subscript(const std::string& path, const std::string& prefix) {
  if (path.size() < prefix.size() + 4 || path.compare(0, prefix.size(), prefix) != 0) return {};
  std::string rest = path.substr(prefix.size());
  if (rest.size() < 4 || rest.substr(0, 2) != "['" || rest.substr(rest.size() - 2) != "']")
    return {};
  return rest.substr(2, rest.size() - 4);
}

// The items of a configMap or secret source over the object's entries
// (key -> decoded bytes).
Result<Payload> keyedPayload(const Object& source,
                             const std::map<std::string, std::string>& entries,
                             const std::string& missing_key_message) {
  Payload payload;
  const int default_mode = modeOf(source, "defaultMode", kDefaultMode);
  const json::array* items = api::findArray(source, "items");
  if (!items || items->empty()) {
    for (const auto& [k, v] : entries) payload[k] = FileProjection{v, default_mode};
    return payload;
  }
  for (const auto& item : *items) {
    if (!item.is_object()) continue;
    const Object& it = item.get_object();
    std::string key = api::getString(it, "key");
    auto found = entries.find(key);
    if (found == entries.end()) {
      if (optionalOf(source)) continue;
      return makeError(ErrorCode::kInvalid, missing_key_message + key);
    }
    payload[api::getString(it, "path")] =
        FileProjection{found->second, modeOf(it, "mode", default_mode)};
  }
  return payload;
}

// Rounds up, treating values within floating-point noise of an integer as
// that integer (0.001 * 1000 is not quite 1 in binary).
long double ceilClean(long double x) {
  long double r = std::round(x);
  if (std::fabs(x - r) <= 1e-9L * std::max<long double>(1, std::fabs(x))) return r;
  return std::ceil(x);
}

const Object* findContainer(const Object& pod, const std::string& name) {
  const Object* spec = api::findObject(pod, "spec");
  if (!spec) return nullptr;
  for (const char* list : {"containers", "initContainers"})
    if (const json::array* cs = api::findArray(*spec, list))
      for (const auto& c : *cs)
        if (c.is_object() && api::getString(c.get_object(), "name") == name) return &c.get_object();
  return nullptr;
}

}  // namespace

Result<std::map<std::string, std::string>> objectEntries(const Object& obj, bool secret) {
  std::map<std::string, std::string> out;
  if (!secret)
    if (const Object* data = api::findObject(obj, "data"))
      for (const auto& [k, v] : *data)
        if (v.is_string()) out[std::string(k)] = std::string(v.get_string());
  if (const Object* data = api::findObject(obj, secret ? "data" : "binaryData"))
    for (const auto& [k, v] : *data) {
      if (!v.is_string()) continue;
      std::string decoded;
      if (!api::base64Decode(v.get_string(), &decoded))
        return makeError(ErrorCode::kInvalid, "key " + std::string(k) + " is not valid base64");
      out[std::string(k)] = std::move(decoded);
    }
  return out;
}

Result<Payload> configMapPayload(const Object& source, const Object* config_map) {
  if (!config_map) {
    if (optionalOf(source)) return Payload{};
    return makeError(ErrorCode::kNotFound,
                     "configmaps \"" + api::getString(source, "name") + "\" not found");
  }
  BERTH_ASSIGN_OR_RETURN(auto entries, objectEntries(*config_map, false));
  return keyedPayload(source, entries, "configmap references non-existent config key: ");
}

Result<Payload> secretPayload(const Object& source, const Object* secret) {
  if (!secret) {
    if (optionalOf(source)) return Payload{};
    return makeError(ErrorCode::kNotFound,
                     "secrets \"" + api::getString(source, "secretName") + "\" not found");
  }
  BERTH_ASSIGN_OR_RETURN(auto entries, objectEntries(*secret, true));
  return keyedPayload(source, entries, "secret references non-existent secret key: ");
}

Result<std::string> podFieldValue(const Object& pod, const std::string& path) {
  const Object* md = api::metadata(pod);
  const Object empty;
  const Object& m = md ? *md : empty;
  if (path == "metadata.name") return api::getString(m, "name");
  if (path == "metadata.namespace") return api::getString(m, "namespace");
  if (path == "metadata.uid") return api::getString(m, "uid");
  if (path == "metadata.labels") return formatMap(api::findObject(m, "labels"));
  if (path == "metadata.annotations") return formatMap(api::findObject(m, "annotations"));
  for (const char* field : {"labels", "annotations"}) {
    if (auto key = subscript(path, std::string("metadata.") + field)) {
      const Object* map = api::findObject(m, field);
      return map ? api::getString(*map, *key) : std::string();
    }
  }
  if (path == "spec.nodeName") return api::getStringPath(pod, "spec.nodeName");
  if (path == "spec.serviceAccountName") return api::getStringPath(pod, "spec.serviceAccountName");
  if (path == "status.hostIP") return api::getStringPath(pod, "status.hostIP");
  if (path == "status.podIP") return api::getStringPath(pod, "status.podIP");
  for (const char* list : {"podIPs", "hostIPs"}) {
    if (path != std::string("status.") + list) continue;
    std::string out;
    if (const Object* status = api::findObject(pod, "status"))
      if (const json::array* ips = api::findArray(*status, list))
        for (const auto& ip : *ips)
          if (ip.is_object()) {
            if (!out.empty()) out += ',';
            out += api::getString(ip.get_object(), "ip");
          }
    return out;
  }
  return makeError(ErrorCode::kInvalid, "unsupported fieldPath: " + path);
}

Result<std::string> containerResourceValue(const Object& pod, const std::string& container,
                                           const std::string& resource,
                                           const std::string& divisor_text,
                                           const NodeAllocatable& node) {
  const Object* c = findContainer(pod, container);
  if (!c) return makeError(ErrorCode::kInvalid, "container " + container + " not found");
  size_t dot = resource.find('.');
  if (dot == std::string::npos)
    return makeError(ErrorCode::kInvalid, "unsupported container resource: " + resource);
  std::string kind = resource.substr(0, dot);  // limits | requests
  std::string name = resource.substr(dot + 1);
  if ((kind != "limits" && kind != "requests") ||
      (name != "cpu" && name != "memory" && name != "ephemeral-storage"))
    return makeError(ErrorCode::kInvalid, "unsupported container resource: " + resource);
  std::string quantity = "0";
  const Object* resources = api::findObject(*c, "resources");
  const Object* list = resources ? api::findObject(*resources, kind) : nullptr;
  if (list && list->contains(name)) {
    const json::value& q = list->at(name);
    quantity = q.is_string() ? std::string(q.get_string()) : json::serialize(q);
  } else if (kind == "limits") {
    // MergeContainerResourceLimits: a missing limit reads as the node's allocatable.
    quantity = name == "cpu" ? node.cpu : name == "memory" ? node.memory : node.ephemeral_storage;
  }
  auto value = api::parseQuantity(quantity);
  auto divisor = api::parseQuantity(divisor_text.empty() ? "1" : divisor_text);
  if (!value || !divisor || *divisor <= 0)
    return makeError(ErrorCode::kInvalid, "invalid quantity for " + resource);
  long double result;
  if (name == "cpu") {
    // convertResourceCPUToString: milli-values, rounded up.
    long double milli = ceilClean(*value * 1000);
    long double div_milli = ceilClean(*divisor * 1000);
    if (div_milli <= 0) return makeError(ErrorCode::kInvalid, "invalid divisor for " + resource);
    result = ceilClean(milli / div_milli);
  } else {
    long double div = ceilClean(*divisor);
    if (div <= 0) return makeError(ErrorCode::kInvalid, "invalid divisor for " + resource);
    result = ceilClean(ceilClean(*value) / div);
  }
  return std::to_string(static_cast<long long>(result));
}

Result<Payload> downwardApiPayload(const Object& source, const Object& pod,
                                   const NodeAllocatable& node, int default_mode) {
  Payload payload;
  const json::array* items = api::findArray(source, "items");
  if (!items) return payload;
  for (const auto& item : *items) {
    if (!item.is_object()) continue;
    const Object& it = item.get_object();
    std::string value;
    if (const Object* field = api::findObject(it, "fieldRef")) {
      BERTH_ASSIGN_OR_RETURN(value, podFieldValue(pod, api::getString(*field, "fieldPath")));
    } else if (const Object* res = api::findObject(it, "resourceFieldRef")) {
      std::string divisor;
      if (const json::value* d = res->if_contains("divisor"))
        divisor = d->is_string() ? std::string(d->get_string()) : json::serialize(*d);
      BERTH_ASSIGN_OR_RETURN(
          value, containerResourceValue(pod, api::getString(*res, "containerName"),
                                        api::getString(*res, "resource"), divisor, node));
    } else {
      continue;
    }
    payload[api::getString(it, "path")] = FileProjection{value, modeOf(it, "mode", default_mode)};
  }
  return payload;
}

Result<Payload> projectedPayload(const Object& source, const Object& pod,
                                 const NodeAllocatable& node, const ObjectLookup& config_maps,
                                 const ObjectLookup& secrets, const TokenSource& token) {
  Payload payload;
  const int default_mode = modeOf(source, "defaultMode", kDefaultMode);
  const json::array* sources = api::findArray(source, "sources");
  if (!sources) return payload;
  auto merge = [&](Payload part) {
    for (auto& [path, file] : part) payload[path] = std::move(file);
  };
  for (const auto& s : *sources) {
    if (!s.is_object()) continue;
    const Object& src = s.get_object();
    if (const Object* cm = api::findObject(src, "configMap")) {
      // Projections carry no defaultMode of their own: the volume's applies.
      Object with_mode = *cm;
      with_mode["defaultMode"] = default_mode;
      BERTH_ASSIGN_OR_RETURN(auto obj, config_maps(api::getString(*cm, "name")));
      BERTH_ASSIGN_OR_RETURN(auto part, configMapPayload(with_mode, obj.get()));
      merge(std::move(part));
    } else if (const Object* sec = api::findObject(src, "secret")) {
      Object with_mode = *sec;
      with_mode["defaultMode"] = default_mode;
      with_mode["secretName"] = api::getString(*sec, "name");
      BERTH_ASSIGN_OR_RETURN(auto obj, secrets(api::getString(*sec, "name")));
      BERTH_ASSIGN_OR_RETURN(auto part, secretPayload(with_mode, obj.get()));
      merge(std::move(part));
    } else if (const Object* dapi = api::findObject(src, "downwardAPI")) {
      BERTH_ASSIGN_OR_RETURN(auto part, downwardApiPayload(*dapi, pod, node, default_mode));
      merge(std::move(part));
    } else if (const Object* sat = api::findObject(src, "serviceAccountToken")) {
      if (!token)
        return makeError(ErrorCode::kInvalid, "serviceAccountToken projections are not supported");
      BERTH_ASSIGN_OR_RETURN(auto value, token(*sat));
      payload[api::getString(*sat, "path")] = FileProjection{value, default_mode};
    }
  }
  return payload;
}

}  // namespace berth::agent::volumes
