#pragma once

// Percent-encoding (RFC 3986: unreserved characters kept, every other byte
// as %XX), right both in a path segment and in a query value; shared by the
// API client and the image registry client.

#include <string>
#include <string_view>

namespace berth {

std::string percentEncode(std::string_view s);

}  // namespace berth
