#include "api/json_scan.h"

namespace berth::api {

namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

void skipSpace(std::string_view t, size_t* i) {
  while (*i < t.size() && isSpace(t[*i])) ++*i;
}

// At an opening quote: moves past the closing one. *escaped says whether
// the string held a backslash.
bool skipString(std::string_view t, size_t* i, bool* escaped) {
  ++*i;
  while (*i < t.size()) {
    char c = t[*i];
    if (c == '"') {
      ++*i;
      return true;
    }
    if (c == '\\') {
      if (escaped) *escaped = true;
      *i += 2;
      continue;
    }
    ++*i;
  }
  return false;
}

// At the first character of a value: moves past it.
bool skipValue(std::string_view t, size_t* i) {
  if (*i >= t.size()) return false;
  char c = t[*i];
  if (c == '"') return skipString(t, i, nullptr);
  if (c == '{' || c == '[') {
    int depth = 0;
    while (*i < t.size()) {
      char d = t[*i];
      if (d == '"') {
        if (!skipString(t, i, nullptr)) return false;
        continue;
      }
      if (d == '{' || d == '[') ++depth;
      if (d == '}' || d == ']') {
        if (--depth == 0) {
          ++*i;
          return true;
        }
      }
      ++*i;
    }
    return false;
  }
  // A number or literal: up to the next separator.
  size_t start = *i;
  while (*i < t.size() && t[*i] != ',' && t[*i] != '}' && t[*i] != ']' && !isSpace(t[*i])) ++*i;
  return *i > start;
}

// Walks the members of the object `text` starting at offset 0, calling
// visit(key, value_text) until it returns true (found). kFound, kEnd (no
// more members), or kUnknown: malformed, or a key written with escapes
// (which might equal a wanted key once unescaped).
enum class Walk { kFound, kEnd, kUnknown };

template <class Visit>
Walk walkMembers(std::string_view text, Visit visit) {
  size_t i = 0;
  skipSpace(text, &i);
  if (i >= text.size() || text[i] != '{') return Walk::kUnknown;
  ++i;
  skipSpace(text, &i);
  if (i < text.size() && text[i] == '}') return Walk::kEnd;
  while (i < text.size()) {
    if (text[i] != '"') return Walk::kUnknown;
    size_t key_start = i + 1;
    bool escaped = false;
    if (!skipString(text, &i, &escaped) || escaped) return Walk::kUnknown;
    std::string_view key = text.substr(key_start, i - 1 - key_start);
    skipSpace(text, &i);
    if (i >= text.size() || text[i] != ':') return Walk::kUnknown;
    ++i;
    skipSpace(text, &i);
    size_t value_start = i;
    if (!skipValue(text, &i)) return Walk::kUnknown;
    if (visit(key, text.substr(value_start, i - value_start))) return Walk::kFound;
    skipSpace(text, &i);
    if (i < text.size() && text[i] == '}') return Walk::kEnd;
    if (i >= text.size() || text[i] != ',') return Walk::kUnknown;
    ++i;
    skipSpace(text, &i);
  }
  return Walk::kUnknown;
}

}  // namespace

std::optional<std::string_view> findTopLevelMember(std::string_view text, std::string_view key) {
  std::string_view found;
  auto visit = [&](std::string_view k, std::string_view v) {
    if (k != key) return false;
    found = v;
    return true;
  };
  if (walkMembers(text, visit) != Walk::kFound) return std::nullopt;
  return found;
}

bool findTopLevelMembers(std::string_view text, std::span<const std::string_view> keys,
                         std::span<std::string_view> values) {
  for (auto& v : values) v = {};
  auto visit = [&](std::string_view k, std::string_view v) {
    for (size_t i = 0; i < keys.size() && i < values.size(); ++i)
      if (keys[i] == k) values[i] = v;
    return false;
  };
  return walkMembers(text, visit) == Walk::kEnd;
}

std::optional<std::string> withResourceVersion(std::string_view text, int64_t revision) {
  auto md = findTopLevelMember(text, "metadata");
  if (!md || md->empty() || md->front() != '{') return std::nullopt;
  bool empty = true;
  auto visit = [&](std::string_view k, std::string_view) {
    empty = false;
    return k == "resourceVersion";
  };
  // A resourceVersion already there, or anything unclear: the slow path.
  if (walkMembers(*md, visit) != Walk::kEnd) return std::nullopt;
  const size_t at = static_cast<size_t>(md->data() - text.data()) + 1;
  std::string member = "\"resourceVersion\":\"" + std::to_string(revision) + "\"";
  if (!empty) member += ',';
  std::string out;
  out.reserve(text.size() + member.size());
  out.append(text.substr(0, at));
  out.append(member);
  out.append(text.substr(at));
  return out;
}

}  // namespace berth::api
