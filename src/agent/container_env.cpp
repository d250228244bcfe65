#include "agent/container_env.h"

#include <map>

#include "common/error.h"

namespace berth::agent {

namespace json = boost::json;
using api::Object;

namespace {

bool optionalOf(const Object& ref) {
  const json::value* v = ref.if_contains("optional");
  return v && v->is_bool() && v->as_bool();
}

}  // namespace

bool isEnvVarName(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::string expandVars(std::string_view in,
                       const std::function<std::optional<std::string>(std::string_view)>& lookup) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '$' || i + 1 >= in.size()) {
      out += in[i];
      continue;
    }
    char next = in[i + 1];
    if (next == '$') {  // escaped
      out += '$';
      ++i;
      continue;
    }
    if (next != '(') {
      out += '$';
      continue;
    }
    size_t close = in.find(')', i + 2);
    if (close == std::string_view::npos) {  // unterminated: kept as written
      out.append(in.substr(i));
      break;
    }
    std::string_view name = in.substr(i + 2, close - i - 2);
    auto value = lookup(name);
    if (value) {
      out += *value;
    } else {
      out.append(in.substr(i, close - i + 1));
    }
    i = close;
  }
  return out;
}

Result<EnvList> makeEnvironment(const Object& pod, const Object& container,
                                const EnvSources& sources) {
  const std::string ns = api::namespaceOf(pod);
  std::map<std::string, std::string> defined;
  EnvList out;
  auto set = [&](const std::string& name, std::string value) {
    auto it = defined.find(name);
    if (it != defined.end()) {
      it->second = value;
      for (auto& [n, v] : out)
        if (n == name) v = std::move(value);
      return;
    }
    defined[name] = value;
    out.emplace_back(name, std::move(value));
  };
  auto lookupObject = [&](bool secret, const std::string& name) {
    return secret ? sources.secrets(name) : sources.config_maps(name);
  };

  if (const json::array* from = api::findArray(container, "envFrom")) {
    for (const auto& f : *from) {
      if (!f.is_object()) continue;
      const Object& src = f.get_object();
      std::string prefix = api::getString(src, "prefix");
      const Object* ref = api::findObject(src, "configMapRef");
      bool secret = false;
      if (!ref) {
        ref = api::findObject(src, "secretRef");
        secret = true;
      }
      if (!ref) continue;
      std::string name = api::getString(*ref, "name");
      BERTH_ASSIGN_OR_RETURN(auto obj, lookupObject(secret, name));
      if (!obj) {
        if (optionalOf(*ref)) continue;
        return makeError(ErrorCode::kNotFound,
                         (secret ? "secrets \"" : "configmaps \"") + name + "\" not found");
      }
      BERTH_ASSIGN_OR_RETURN(auto entries, volumes::objectEntries(*obj, secret));
      for (auto& [k, v] : entries) {
        std::string var = prefix + k;
        if (!isEnvVarName(var)) continue;  // upstream skips these with an event
        set(var, v);
      }
    }
  }

  auto lookup = [&](std::string_view name) -> std::optional<std::string> {
    auto it = defined.find(std::string(name));
    if (it == defined.end()) return std::nullopt;
    return it->second;
  };
  if (const json::array* env = api::findArray(container, "env")) {
    for (const auto& e : *env) {
      if (!e.is_object()) continue;
      const Object& var = e.get_object();
      std::string name = api::getString(var, "name");
      const Object* from = api::findObject(var, "valueFrom");
      if (!from) {
        set(name, expandVars(api::getString(var, "value"), lookup));
        continue;
      }
      if (const Object* field = api::findObject(*from, "fieldRef")) {
        BERTH_ASSIGN_OR_RETURN(auto v,
                               volumes::podFieldValue(pod, api::getString(*field, "fieldPath")));
        set(name, std::move(v));
      } else if (const Object* res = api::findObject(*from, "resourceFieldRef")) {
        std::string container_name = api::getString(*res, "containerName");
        if (container_name.empty()) container_name = api::getString(container, "name");
        std::string divisor;
        if (const json::value* d = res->if_contains("divisor"))
          divisor = d->is_string() ? std::string(d->get_string()) : json::serialize(*d);
        BERTH_ASSIGN_OR_RETURN(auto v, volumes::containerResourceValue(
                                           pod, container_name, api::getString(*res, "resource"),
                                           divisor, sources.node));
        set(name, std::move(v));
      } else {
        const Object* ref = api::findObject(*from, "configMapKeyRef");
        bool secret = false;
        if (!ref) {
          ref = api::findObject(*from, "secretKeyRef");
          secret = true;
        }
        if (!ref) continue;
        std::string obj_name = api::getString(*ref, "name");
        std::string key = api::getString(*ref, "key");
        BERTH_ASSIGN_OR_RETURN(auto obj, lookupObject(secret, obj_name));
        if (!obj) {
          if (optionalOf(*ref)) continue;
          return makeError(ErrorCode::kNotFound,
                           (secret ? "secrets \"" : "configmaps \"") + obj_name + "\" not found");
        }
        BERTH_ASSIGN_OR_RETURN(auto entries, volumes::objectEntries(*obj, secret));
        auto it = entries.find(key);
        if (it == entries.end()) {
          if (optionalOf(*ref)) continue;
          return makeError(ErrorCode::kNotFound, "couldn't find key " + key + " in " +
                                                     (secret ? "Secret " : "ConfigMap ") + ns +
                                                     "/" + obj_name);
        }
        set(name, it->second);
      }
    }
  }
  return out;
}

std::vector<std::string> expandAll(const std::vector<std::string>& in, const EnvList& env) {
  std::map<std::string, std::string, std::less<>> m(env.begin(), env.end());
  auto lookup = [&](std::string_view name) -> std::optional<std::string> {
    auto it = m.find(name);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
  std::vector<std::string> out;
  out.reserve(in.size());
  for (const auto& s : in) out.push_back(expandVars(s, lookup));
  return out;
}

std::vector<std::string> mergeImageEnv(const std::vector<std::string>& image_env,
                                       const EnvList& env) {
  std::vector<std::string> out = image_env;
  for (const auto& [name, value] : env) {
    bool replaced = false;
    for (auto& kv : out) {
      if (kv.compare(0, name.size(), name) == 0 && kv.size() > name.size() &&
          kv[name.size()] == '=') {
        kv = name + "=" + value;
        replaced = true;
        break;
      }
    }
    if (!replaced) out.push_back(name + "=" + value);
  }
  return out;
}

}  // namespace berth::agent
