#pragma once

#include <boost/json.hpp>
#include <map>
#include <string>
#include <string_view>

#include "api/kinds/access.h"  // stringMap

namespace berth::api {

// Small accessors over boost::json objects in the Kubernetes object shape.
// Missing or mistyped values read as empty; nothing here throws.

const boost::json::value* find(const boost::json::object& obj, std::string_view key);
const boost::json::object* findObject(const boost::json::object& obj, std::string_view key);
const boost::json::array* findArray(const boost::json::object& obj, std::string_view key);
// Dotted path lookup: "metadata.labels", "spec.replicas".
const boost::json::value* findPath(const boost::json::object& obj, std::string_view dotted_path);

std::string getString(const boost::json::object& obj, std::string_view key);
std::string getStringPath(const boost::json::object& obj, std::string_view dotted_path);
int64_t getInt(const boost::json::object& obj, std::string_view key, int64_t fallback = 0);
bool getBool(const boost::json::object& obj, std::string_view key, bool fallback = false);

// Returns obj[key] as an object, replacing a missing or non-object value with {}.
boost::json::object& ensureObject(boost::json::object& obj, std::string_view key);
boost::json::array& ensureArray(boost::json::object& obj, std::string_view key);

// metadata accessors.
const boost::json::object* metadata(const boost::json::object& obj);
boost::json::object& mutableMetadata(boost::json::object& obj);
std::string name(const boost::json::object& obj);
std::string namespaceOf(const boost::json::object& obj);
std::string uid(const boost::json::object& obj);
std::map<std::string, std::string> labels(const boost::json::object& obj);

// Formats a JSON scalar the way upstream error messages print values.
std::string valueRepr(const boost::json::value& v);

}  // namespace berth::api
