#include "api/object.h"

namespace berth::api {

const boost::json::value* find(const boost::json::object& obj, std::string_view key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &it->value();
}

const boost::json::object* findObject(const boost::json::object& obj, std::string_view key) {
  auto* v = find(obj, key);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

const boost::json::array* findArray(const boost::json::object& obj, std::string_view key) {
  auto* v = find(obj, key);
  return v && v->is_array() ? &v->get_array() : nullptr;
}

const boost::json::value* findPath(const boost::json::object& obj, std::string_view path) {
  const boost::json::object* cur = &obj;
  while (true) {
    auto dot = path.find('.');
    auto part = path.substr(0, dot);
    auto* v = find(*cur, part);
    if (!v || dot == std::string_view::npos) return v;
    if (!v->is_object()) return nullptr;
    cur = &v->get_object();
    path = path.substr(dot + 1);
  }
}

std::string getString(const boost::json::object& obj, std::string_view key) {
  auto* v = find(obj, key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::string getStringPath(const boost::json::object& obj, std::string_view path) {
  auto* v = findPath(obj, path);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

int64_t getInt(const boost::json::object& obj, std::string_view key, int64_t fallback) {
  auto* v = find(obj, key);
  if (!v) return fallback;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return fallback;
}

bool getBool(const boost::json::object& obj, std::string_view key, bool fallback) {
  auto* v = find(obj, key);
  return v && v->is_bool() ? v->get_bool() : fallback;
}

boost::json::object& ensureObject(boost::json::object& obj, std::string_view key) {
  auto& v = obj[key];
  if (!v.is_object()) v = boost::json::object();
  return v.get_object();
}

boost::json::array& ensureArray(boost::json::object& obj, std::string_view key) {
  auto& v = obj[key];
  if (!v.is_array()) v = boost::json::array();
  return v.get_array();
}

const boost::json::object* metadata(const boost::json::object& obj) { return findObject(obj, "metadata"); }
boost::json::object& mutableMetadata(boost::json::object& obj) { return ensureObject(obj, "metadata"); }

std::string name(const boost::json::object& obj) {
  auto* m = metadata(obj);
  return m ? getString(*m, "name") : std::string();
}

std::string namespaceOf(const boost::json::object& obj) {
  auto* m = metadata(obj);
  return m ? getString(*m, "namespace") : std::string();
}

std::string uid(const boost::json::object& obj) {
  auto* m = metadata(obj);
  return m ? getString(*m, "uid") : std::string();
}

std::map<std::string, std::string> labels(const boost::json::object& obj) {
  auto* m = metadata(obj);
  return m ? stringMap(find(*m, "labels")) : std::map<std::string, std::string>();
}

std::string valueRepr(const boost::json::value& v) {
  if (v.is_string()) return boost::json::serialize(v);
  return boost::json::serialize(v);
}

}  // namespace berth::api
