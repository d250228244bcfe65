#include "apiserver/http.h"

namespace berth::apiserver {

std::string_view Request::header(std::string_view lowercase_name) const {
  for (const auto& [k, v] : headers)
    if (k == lowercase_name) return v;
  return {};
}

bool Request::hasQuery(std::string_view key) const {
  for (const auto& [k, v] : query)
    if (k == key) return true;
  return false;
}

std::string_view Request::queryParam(std::string_view key) const {
  for (const auto& [k, v] : query)
    if (k == key) return v;
  return {};
}

std::vector<std::string_view> Request::queryParams(std::string_view key) const {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : query)
    if (k == key) out.push_back(v);
  return out;
}

}  // namespace berth::apiserver
