#pragma once

// Reading a member of a serialized JSON object without parsing the rest.
// The store keeps objects as JSON text; a few hot paths need one member
// (metadata) or must add resourceVersion to every value the watch cache
// serves. A full parse (and re-serialization) of a 3-9 KB pod for that was
// a measurable share of the store writer's time per write.
//
// These scanners check structure only as far as they walk (strings,
// nesting, separators); they do not validate numbers or literals. Callers
// fall back to a full parse when they return nullopt.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace berth::api {

// The raw text of the value of `key` in the top-level object of `text`
// ("{...}" for an object member), or nullopt when text is not an object,
// the key is absent, or a key before it is written with escapes (it could
// equal `key` once unescaped). The first occurrence wins where Boost.JSON's
// parser keeps the last: callers use this on objects serialized from parsed
// JSON, where keys are unique.
std::optional<std::string_view> findTopLevelMember(std::string_view text, std::string_view key);

// The raw texts of several members of the top-level object of `text` in one
// walk: values[i] is the value of keys[i], or empty when absent. False when
// that cannot be told (not an object, malformed, or a key written with
// escapes); values are then unspecified.
bool findTopLevelMembers(std::string_view text, std::span<const std::string_view> keys,
                         std::span<std::string_view> values);

// `text` (a serialized object) with metadata.resourceVersion set to
// `revision`, inserted as the first member of metadata; nullopt when there
// is no metadata object or it already has a resourceVersion.
std::optional<std::string> withResourceVersion(std::string_view text, int64_t revision);

}  // namespace berth::api
