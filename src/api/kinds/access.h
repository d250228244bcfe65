#pragma once

// Small read helpers over the JSON DOM for the kind hooks. They never throw
// and treat a missing or wrongly typed field as absent, because the hooks
// run on client input that has only been checked against the schema's JSON
// types, if at all.

#include <boost/json.hpp>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::api {

// The value at a path of object keys, or nullptr.
const boost::json::value* at(const boost::json::object& o, std::initializer_list<std::string_view> path);
const boost::json::value* at(const boost::json::value* v, std::initializer_list<std::string_view> path);

const boost::json::object* objAt(const boost::json::object& o, std::initializer_list<std::string_view> path);
const boost::json::array* arrAt(const boost::json::object& o, std::initializer_list<std::string_view> path);
// String at path, or `fallback` when absent or not a string.
std::string strAt(const boost::json::object& o, std::initializer_list<std::string_view> path,
                  std::string_view fallback = "");
// Integer at path (accepts integral doubles), or nullopt.
std::optional<int64_t> intAt(const boost::json::object& o, std::initializer_list<std::string_view> path);
std::optional<bool> boolAt(const boost::json::object& o, std::initializer_list<std::string_view> path);

std::optional<int64_t> asInt(const boost::json::value* v);
std::string asStr(const boost::json::value* v, std::string_view fallback = "");
const boost::json::object* asObj(const boost::json::value* v);
const boost::json::array* asArr(const boost::json::value* v);

// A map[string]string field (labels, selectors) as a sorted map; non-string
// values are skipped.
std::map<std::string, std::string> stringMap(const boost::json::value* v);

// Mutable access that creates intermediate objects as needed (replacing
// non-object values on the way). Used by defaulting.
boost::json::object& ensureObj(boost::json::object& o, std::string_view key);
// Sets o[key] = v only when key is absent or null (upstream defaulting sets
// nil pointers / zero values only).
void setDefault(boost::json::object& o, std::string_view key, boost::json::value v);
// True when o[key] is absent, null, "" or 0 / false (Go zero value).
bool isZero(const boost::json::object& o, std::string_view key);

}  // namespace berth::api
