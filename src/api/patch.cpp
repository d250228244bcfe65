#include "api/patch.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

namespace berth::api {

namespace json = boost::json;

// ---------------------------------------------------------------------------
// Shared helpers

Result<json::value> parseJsonLimited(std::string_view text, std::string_view what) {
  json::parse_options opts;
  opts.max_depth = kMaxJsonDepth;
  boost::system::error_code ec;
  json::value v;
  try {
    v = json::parse(json::string_view(text.data(), text.size()), ec, json::storage_ptr(), opts);
  } catch (const std::exception& e) {
    return makeError(ErrorCode::kBadRequest, std::string(what) + ": " + e.what());
  }
  if (ec) return makeError(ErrorCode::kBadRequest, std::string(what) + ": " + ec.message());
  return v;
}

std::size_t jsonDepth(const json::value& root, std::size_t limit) {
  // Iterative walk: deep input must not overflow the stack here either.
  struct Frame {
    const json::value* v;
    std::size_t depth;
  };
  std::vector<Frame> stack{{&root, 0}};
  std::size_t max_depth = 0;
  while (!stack.empty()) {
    Frame f = stack.back();
    stack.pop_back();
    if (f.v->is_object()) {
      std::size_t d = f.depth + 1;
      max_depth = std::max(max_depth, d);
      if (max_depth > limit) return max_depth;
      for (const auto& kv : f.v->get_object()) stack.push_back({&kv.value(), d});
    } else if (f.v->is_array()) {
      std::size_t d = f.depth + 1;
      max_depth = std::max(max_depth, d);
      if (max_depth > limit) return max_depth;
      for (const auto& e : f.v->get_array()) stack.push_back({&e, d});
    }
  }
  return max_depth;
}

namespace {

// Go's %v of a float64: shortest representation, exponent form when the
// exponent is < -4 or >= 21.
std::string goFloat(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  auto e_pos = sci.find('e');
  int exp = std::stoi(sci.substr(e_pos + 1));
  if (exp < -4 || exp >= 21) {
    std::string mant = sci.substr(0, e_pos);
    char sign = exp < 0 ? '-' : '+';
    int aexp = exp < 0 ? -exp : exp;
    std::string e = std::to_string(aexp);
    if (e.size() < 2) e = "0" + e;
    return mant + "e" + sign + e;
  }
  res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
  return std::string(buf, res.ptr);
}

void goFormatInto(const json::value& v, std::string& out, std::size_t depth) {
  if (depth > kMaxJsonDepth) {
    out += "...";
    return;
  }
  switch (v.kind()) {
    case json::kind::null: out += "<nil>"; break;
    case json::kind::bool_: out += v.get_bool() ? "true" : "false"; break;
    case json::kind::int64: out += std::to_string(v.get_int64()); break;
    case json::kind::uint64: out += std::to_string(v.get_uint64()); break;
    case json::kind::double_: out += goFloat(v.get_double()); break;
    case json::kind::string: out.append(v.get_string().data(), v.get_string().size()); break;
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ' ';
        first = false;
        goFormatInto(e, out, depth + 1);
      }
      out += ']';
      break;
    }
    case json::kind::object: {
      // Go prints map keys sorted.
      std::vector<const json::key_value_pair*> kvs;
      for (const auto& kv : v.get_object()) kvs.push_back(&kv);
      std::sort(kvs.begin(), kvs.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
      out += "map[";
      bool first = true;
      for (auto* kv : kvs) {
        if (!first) out += ' ';
        first = false;
        out.append(kv->key().data(), kv->key().size());
        out += ':';
        goFormatInto(kv->value(), out, depth + 1);
      }
      out += ']';
      break;
    }
  }
}

}  // namespace

std::string goFormat(const json::value& v) {
  std::string out;
  goFormatInto(v, out, 0);
  return out;
}

Error patchNotApplicableError() {
  // NewGenericServerResponse(422, ...) in upstream: reason Invalid, fixed
  // message, empty details.
  return makeError(ErrorCode::kInvalid, "the server rejected our request due to an error in our request");
}

// ---------------------------------------------------------------------------
// JSON Patch

namespace {

struct PatchFailure {
  std::string detail;
};

// Go's json type names, for decode errors that read like upstream's.
const char* goJsonTypeName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::object: return "object";
    case json::kind::array: return "array";
    case json::kind::string: return "string";
    case json::kind::bool_: return "bool";
    case json::kind::null: return "null";
    default: return "number";
  }
}

// strconv.Atoi: optional sign, decimal digits (leading zeros allowed).
std::optional<std::int64_t> goAtoi(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool neg = false;
  std::size_t i = 0;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    i = 1;
  }
  if (i == s.size()) return std::nullopt;
  std::int64_t n = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c < '0' || c > '9') return std::nullopt;
    if (n > (std::numeric_limits<std::int64_t>::max() - (c - '0')) / 10) return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return neg ? -n : n;
}

// Splits an RFC 6901 pointer into unescaped reference tokens. The root
// pointer "" is refused: evanphx/json-patch v4 cannot address the root.
std::optional<std::vector<std::string>> splitPointer(std::string_view path) {
  if (path.empty() || path[0] != '/') return std::nullopt;
  std::vector<std::string> tokens;
  std::size_t start = 1;
  while (true) {
    std::size_t end = path.find('/', start);
    std::string_view raw = path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    std::string tok;
    tok.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
      // One left-to-right pass, like strings.NewReplacer("~1", "/", "~0", "~").
      if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        tok += raw[i + 1] == '1' ? '/' : '~';
        ++i;
      } else {
        tok += raw[i];
      }
    }
    tokens.push_back(std::move(tok));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return tokens;
}

// Index for reading/replacing/removing an existing array element; negative
// indices count from the end (v4's SupportNegativeIndices default).
std::optional<std::size_t> existingIndex(const std::string& tok, std::size_t size) {
  auto idx = goAtoi(tok);
  if (!idx) return std::nullopt;
  std::int64_t i = *idx;
  std::int64_t n = static_cast<std::int64_t>(size);
  if (i >= n) return std::nullopt;
  if (i < 0) {
    if (i < -n) return std::nullopt;
    i += n;
  }
  return static_cast<std::size_t>(i);
}

json::value* child(json::value* cur, const std::string& tok) {
  if (auto* obj = cur->if_object()) {
    auto it = obj->find(tok);
    return it == obj->end() ? nullptr : &it->value();
  }
  if (auto* arr = cur->if_array()) {
    auto idx = existingIndex(tok, arr->size());
    return idx ? &(*arr)[*idx] : nullptr;
  }
  return nullptr;
}

// The container holding the last token of `tokens`.
json::value* findParent(json::value& doc, const std::vector<std::string>& tokens) {
  json::value* cur = &doc;
  for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
    cur = child(cur, tokens[i]);
    if (!cur) return nullptr;
  }
  return cur;
}

// Numbers compare by value (Go decodes them all to float64).
bool jsonEqual(const json::value& a, const json::value& b, std::size_t depth = 0) {
  if (depth > kMaxJsonDepth) return false;
  auto is_num = [](const json::value& v) { return v.is_int64() || v.is_uint64() || v.is_double(); };
  if (is_num(a) && is_num(b)) return a.to_number<double>() == b.to_number<double>();
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case json::kind::object: {
      const auto& oa = a.get_object();
      const auto& ob = b.get_object();
      if (oa.size() != ob.size()) return false;
      for (const auto& kv : oa) {
        auto it = ob.find(kv.key());
        if (it == ob.end() || !jsonEqual(kv.value(), it->value(), depth + 1)) return false;
      }
      return true;
    }
    case json::kind::array: {
      const auto& aa = a.get_array();
      const auto& ab = b.get_array();
      if (aa.size() != ab.size()) return false;
      for (std::size_t i = 0; i < aa.size(); ++i)
        if (!jsonEqual(aa[i], ab[i], depth + 1)) return false;
      return true;
    }
    default: return a == b;
  }
}

std::optional<PatchFailure> addAt(json::value& doc, const std::vector<std::string>& tokens, json::value val,
                                  const std::string& path) {
  json::value* parent = findParent(doc, tokens);
  if (!parent) return PatchFailure{"add operation does not apply: doc is missing path: \"" + path + "\""};
  if (tokens.size() + jsonDepth(val) > kMaxJsonDepth) return PatchFailure{"add operation exceeds the depth limit"};
  const std::string& key = tokens.back();
  if (auto* obj = parent->if_object()) {
    (*obj)[key] = std::move(val);
    return std::nullopt;
  }
  if (auto* arr = parent->if_array()) {
    if (key == "-") {
      arr->push_back(std::move(val));
      return std::nullopt;
    }
    auto idx = goAtoi(key);
    if (!idx) return PatchFailure{"value was not a proper array index: '" + key + "'"};
    std::int64_t i = *idx;
    std::int64_t sz = static_cast<std::int64_t>(arr->size()) + 1;
    if (i >= sz || i < -sz) return PatchFailure{"Unable to access invalid index: " + std::to_string(i)};
    if (i < 0) i += sz;
    arr->insert(arr->begin() + i, std::move(val));
    return std::nullopt;
  }
  return PatchFailure{"add operation does not apply: doc is missing path: \"" + path + "\""};
}

std::optional<PatchFailure> removeAt(json::value& doc, const std::vector<std::string>& tokens, const std::string& path,
                                     json::value* removed) {
  json::value* parent = findParent(doc, tokens);
  if (!parent) return PatchFailure{"remove operation does not apply: doc is missing path: \"" + path + "\""};
  const std::string& key = tokens.back();
  if (auto* obj = parent->if_object()) {
    auto it = obj->find(key);
    if (it == obj->end()) return PatchFailure{"Unable to remove nonexistent key: " + key + ": missing value"};
    if (removed) *removed = std::move(it->value());
    obj->erase(it);
    return std::nullopt;
  }
  if (auto* arr = parent->if_array()) {
    auto idx = existingIndex(key, arr->size());
    if (!idx) return PatchFailure{"Unable to access invalid index: " + key};
    if (removed) *removed = std::move((*arr)[*idx]);
    arr->erase(arr->begin() + static_cast<std::ptrdiff_t>(*idx));
    return std::nullopt;
  }
  return PatchFailure{"remove operation does not apply: doc is missing path: \"" + path + "\""};
}

// Reads an optional string member the way v4's Operation accessors do:
// absent or not a string reads as "unknown".
std::string opString(const json::object& op, std::string_view name) {
  auto it = op.find(name);
  if (it == op.end() || !it->value().is_string()) return "unknown";
  return std::string(it->value().get_string());
}

std::optional<PatchFailure> applyOne(json::value& doc, const json::value& opv, std::size_t& copied_bytes) {
  static const json::object kEmpty;
  const json::object& op = opv.is_object() ? opv.get_object() : kEmpty;
  std::string kind = opString(op, "op");
  std::string path = opString(op, "path");
  auto value_it = op.find("value");
  json::value value = value_it == op.end() ? json::value() : value_it->value();

  auto tokens = splitPointer(path);
  if (kind != "add" && kind != "remove" && kind != "replace" && kind != "move" && kind != "copy" && kind != "test")
    return PatchFailure{"Unexpected kind: " + kind};
  if (!tokens) return PatchFailure{kind + " operation does not apply: doc is missing path: \"" + path + "\""};

  if (kind == "add") return addAt(doc, *tokens, std::move(value), path);
  if (kind == "remove") return removeAt(doc, *tokens, path, nullptr);
  if (kind == "replace") {
    json::value* parent = findParent(doc, *tokens);
    json::value* target = parent ? child(parent, tokens->back()) : nullptr;
    if (!target) return PatchFailure{"replace operation does not apply: doc is missing key: " + path + ": missing value"};
    if (tokens->size() + jsonDepth(value) > kMaxJsonDepth) return PatchFailure{"replace exceeds the depth limit"};
    *target = std::move(value);
    return std::nullopt;
  }
  if (kind == "test") {
    json::value* parent = findParent(doc, *tokens);
    if (!parent) return PatchFailure{"test operation does not apply: is missing path: " + path};
    json::value* target = nullptr;
    if (auto* obj = parent->if_object()) {
      auto it = obj->find(tokens->back());
      if (it != obj->end()) target = &it->value();
    } else if (auto* arr = parent->if_array()) {
      auto idx = existingIndex(tokens->back(), arr->size());
      if (!idx) return PatchFailure{"error in test for path: '" + path + "'"};
      target = &(*arr)[*idx];
    } else {
      return PatchFailure{"test operation does not apply: is missing path: " + path};
    }
    // v4 treats a JSON null like a missing member on both sides.
    bool target_null = !target || target->is_null();
    if (target_null && value.is_null()) return std::nullopt;
    if (target_null || value.is_null() || !jsonEqual(*target, value))
      return PatchFailure{"testing value " + path + " failed: test failed"};
    return std::nullopt;
  }
  // move and copy read "from".
  std::string from = opString(op, "from");
  auto from_tokens = splitPointer(from);
  if (!from_tokens) return PatchFailure{kind + " operation does not apply: doc is missing from path: " + from};
  if (kind == "move") {
    json::value moved;
    if (auto f = removeAt(doc, *from_tokens, from, &moved)) {
      f->detail = "move operation does not apply: doc is missing from path: " + from;
      return f;
    }
    return addAt(doc, *tokens, std::move(moved), path);
  }
  // copy
  json::value* parent = findParent(doc, *from_tokens);
  json::value* source = parent ? child(parent, from_tokens->back()) : nullptr;
  if (!source) return PatchFailure{"copy operation does not apply: doc is missing from path: " + from};
  json::value copy = *source;
  copied_bytes += json::serialize(copy).size();
  if (copied_bytes > kMaxJsonPatchCopyBytes)
    return PatchFailure{"Unable to complete the copy, the accumulated size increase of copy is " +
                        std::to_string(copied_bytes) + ", exceeding the limit " +
                        std::to_string(kMaxJsonPatchCopyBytes)};
  return addAt(doc, *tokens, std::move(copy), path);
}

}  // namespace

Result<json::value> applyJsonPatchValue(const json::value& doc, const json::value& patch, std::string* detail) {
  // Decoding, as json.Unmarshal into jsonpatch.Patch ([]map[string]*RawMessage).
  if (patch.is_null()) return doc;
  if (!patch.is_array())
    return makeError(ErrorCode::kBadRequest,
                     std::string("json: cannot unmarshal ") + goJsonTypeName(patch) +
                         " into Go value of type jsonpatch.Patch");
  const auto& ops = patch.get_array();
  for (const auto& op : ops) {
    if (!op.is_object() && !op.is_null())
      return makeError(ErrorCode::kBadRequest,
                       std::string("json: cannot unmarshal ") + goJsonTypeName(op) +
                           " into Go value of type jsonpatch.Operation");
  }
  if (ops.size() > kMaxJsonPatchOperations)
    return makeError(ErrorCode::kRequestEntityTooLarge,
                     "The allowed maximum operations in a JSON patch is " + std::to_string(kMaxJsonPatchOperations) +
                         ", got " + std::to_string(ops.size()));
  if (jsonDepth(doc) > kMaxJsonDepth || jsonDepth(patch) > kMaxJsonDepth) {
    if (detail) *detail = "document nested too deeply";
    return patchNotApplicableError();
  }
  json::value out = doc;
  std::size_t copied_bytes = 0;
  for (const auto& op : ops) {
    if (auto failure = applyOne(out, op, copied_bytes)) {
      if (detail) *detail = std::move(failure->detail);
      return patchNotApplicableError();
    }
  }
  return out;
}

Result<json::value> applyJsonPatch(const json::value& doc, std::string_view patch, std::string* detail) {
  auto parsed = parseJsonLimited(patch, "error decoding patch");
  if (!parsed.ok()) return std::move(parsed).error();
  return applyJsonPatchValue(doc, *parsed, detail);
}

// ---------------------------------------------------------------------------
// JSON Merge Patch, as evanphx/json-patch v4 MergePatch.

namespace {

void pruneNulls(json::value& v);

void pruneObjectNulls(json::object& obj) {
  for (auto it = obj.begin(); it != obj.end();) {
    if (it->value().is_null()) {
      it = obj.erase(it);
    } else {
      pruneNulls(it->value());
      ++it;
    }
  }
}

// Arrays keep their null elements; objects inside them lose null members.
void pruneNulls(json::value& v) {
  if (auto* obj = v.if_object()) {
    pruneObjectNulls(*obj);
  } else if (auto* arr = v.if_array()) {
    for (auto& e : *arr)
      if (!e.is_null()) pruneNulls(e);
  }
}

void mergeDocs(json::object& doc, const json::object& patch);

json::value mergeValue(json::value cur, const json::value& patch) {
  if (!cur.is_object()) {
    json::value p = patch;
    pruneNulls(p);
    return p;
  }
  if (!patch.is_object()) return patch;
  mergeDocs(cur.get_object(), patch.get_object());
  return cur;
}

void mergeDocs(json::object& doc, const json::object& patch) {
  for (const auto& kv : patch) {
    if (kv.value().is_null()) {
      doc.erase(kv.key());
      continue;
    }
    auto it = doc.find(kv.key());
    if (it == doc.end() || it->value().is_null()) {
      json::value v = kv.value();
      pruneNulls(v);
      doc[kv.key()] = std::move(v);
    } else {
      it->value() = mergeValue(std::move(it->value()), kv.value());
    }
  }
}

}  // namespace

Result<json::value> applyMergePatch(const json::value& doc, const json::value& patch) {
  if (!patch.is_object() && !patch.is_array()) return makeError(ErrorCode::kBadRequest, "Invalid JSON Patch");
  if (jsonDepth(patch) > kMaxJsonDepth || jsonDepth(doc) > kMaxJsonDepth)
    return makeError(ErrorCode::kBadRequest, "Invalid JSON Patch");
  if (patch.is_array()) {
    json::value p = patch;
    pruneNulls(p);
    return p;
  }
  if (!doc.is_object()) {
    json::value p = patch;
    pruneNulls(p);
    return p;
  }
  json::value out = doc;
  mergeDocs(out.get_object(), patch.get_object());
  return out;
}

Result<json::value> applyMergePatchText(const json::value& doc, std::string_view patch) {
  auto parsed = parseJsonLimited(patch, "Invalid JSON Patch");
  if (!parsed.ok()) return makeError(ErrorCode::kBadRequest, "Invalid JSON Patch");
  return applyMergePatch(doc, *parsed);
}

}  // namespace berth::api
