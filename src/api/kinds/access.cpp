#include "api/kinds/access.h"

#include <cmath>

namespace berth::api {

namespace json = boost::json;

const json::value* at(const json::value* v, std::initializer_list<std::string_view> path) {
  for (std::string_view key : path) {
    if (!v || !v->is_object()) return nullptr;
    const auto& o = v->get_object();
    auto it = o.find(key);
    if (it == o.end()) return nullptr;
    v = &it->value();
  }
  if (v && v->is_null()) return nullptr;
  return v;
}

const json::value* at(const json::object& o, std::initializer_list<std::string_view> path) {
  const json::value* v = nullptr;
  const json::object* cur = &o;
  for (std::string_view key : path) {
    if (!cur) return nullptr;
    auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    v = &it->value();
    cur = v->is_object() ? &v->get_object() : nullptr;
  }
  if (v && v->is_null()) return nullptr;
  return v;
}

const json::object* asObj(const json::value* v) { return v && v->is_object() ? &v->get_object() : nullptr; }
const json::array* asArr(const json::value* v) { return v && v->is_array() ? &v->get_array() : nullptr; }

std::string asStr(const json::value* v, std::string_view fallback) {
  if (v && v->is_string()) return std::string(v->get_string());
  return std::string(fallback);
}

std::optional<int64_t> asInt(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) {
    uint64_t u = v->get_uint64();
    if (u > static_cast<uint64_t>(INT64_MAX)) return INT64_MAX;
    return static_cast<int64_t>(u);
  }
  if (v->is_double()) {
    double d = v->get_double();
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.2e18) return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

const json::object* objAt(const json::object& o, std::initializer_list<std::string_view> path) {
  return asObj(at(o, path));
}
const json::array* arrAt(const json::object& o, std::initializer_list<std::string_view> path) {
  return asArr(at(o, path));
}
std::string strAt(const json::object& o, std::initializer_list<std::string_view> path, std::string_view fallback) {
  return asStr(at(o, path), fallback);
}
std::optional<int64_t> intAt(const json::object& o, std::initializer_list<std::string_view> path) {
  return asInt(at(o, path));
}
std::optional<bool> boolAt(const json::object& o, std::initializer_list<std::string_view> path) {
  const json::value* v = at(o, path);
  if (v && v->is_bool()) return v->get_bool();
  return std::nullopt;
}

std::map<std::string, std::string> stringMap(const json::value* v) {
  std::map<std::string, std::string> out;
  if (const auto* o = asObj(v))
    for (const auto& kv : *o)
      if (kv.value().is_string()) out[std::string(kv.key())] = std::string(kv.value().get_string());
  return out;
}

json::object& ensureObj(json::object& o, std::string_view key) {
  json::value& v = o[key];
  if (!v.is_object()) v = json::object();
  return v.get_object();
}

void setDefault(json::object& o, std::string_view key, json::value v) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) o[key] = std::move(v);
}

bool isZero(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end()) return true;
  const json::value& v = it->value();
  if (v.is_null()) return true;
  if (v.is_string()) return v.get_string().empty();
  if (v.is_bool()) return !v.get_bool();
  if (v.is_int64()) return v.get_int64() == 0;
  if (v.is_uint64()) return v.get_uint64() == 0;
  if (v.is_double()) return v.get_double() == 0;
  return false;
}

}  // namespace berth::api
