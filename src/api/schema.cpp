#include "api/schema.h"

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace berth::api {

// Defined in the file cmake/embed.cmake generates from src/api/types/*.schema.
const std::vector<std::pair<std::string_view, std::string_view>>& embeddedSchemaSources();

// ---- SchemaType lookups -----------------------------------------------------

const SchemaField* SchemaType::field(std::string_view json_name) const {
  if (indexed_) {
    auto it = by_name_.find(json_name);
    return it == by_name_.end() ? nullptr : &fields[it->second];
  }
  for (const auto& f : fields)
    if (f.json_name == json_name) return &f;
  return nullptr;
}

const SchemaField* SchemaType::fieldByNumber(int number) const {
  if (number <= 0) return nullptr;  // 0 marks JSON-only fields, never a wire number
  const auto& wire = proto_fields.empty() ? fields : proto_fields;
  if (indexed_) {
    auto it = by_number_.find(number);
    return it == by_number_.end() ? nullptr : &wire[it->second];
  }
  for (const auto& f : wire)
    if (f.proto_number == number && !f.no_proto) return &f;
  return nullptr;
}

void SchemaType::buildIndex() {
  by_name_.clear();
  by_number_.clear();
  for (std::size_t i = 0; i < fields.size(); ++i) by_name_.emplace(fields[i].json_name, i);
  const auto& wire = proto_fields.empty() ? fields : proto_fields;
  for (std::size_t i = 0; i < wire.size(); ++i)
    if (wire[i].proto_number > 0 && !wire[i].no_proto) by_number_.emplace(wire[i].proto_number, i);
  indexed_ = true;
}

// ---- Parsing ----------------------------------------------------------------

namespace {

// A named type reference seen while parsing, replaced by the named type in
// resolve(). Placeholders are recognisable by this marker name prefix, which
// can never be a real type name because it contains a space.
constexpr std::string_view kRefMarker = "ref ";

std::vector<std::string_view> splitWords(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

bool isIdentifier(std::string_view s, bool allow_dots) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              (allow_dots && c == '.') || c == '$' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::shared_ptr<SchemaType> scalarType(SchemaKind k) {
  auto t = std::make_shared<SchemaType>();
  t->kind = k;
  return t;
}

// Scalars are shared: they carry no per-use data.
std::shared_ptr<SchemaType> builtinScalar(std::string_view name) {
  static const std::map<std::string, std::shared_ptr<SchemaType>, std::less<>> scalars = [] {
    std::map<std::string, std::shared_ptr<SchemaType>, std::less<>> m;
    m["string"] = scalarType(SchemaKind::kString);
    m["int32"] = scalarType(SchemaKind::kInt32);
    m["int64"] = scalarType(SchemaKind::kInt64);
    m["bool"] = scalarType(SchemaKind::kBool);
    m["double"] = scalarType(SchemaKind::kDouble);
    m["bytes"] = scalarType(SchemaKind::kBytes);
    m["time"] = scalarType(SchemaKind::kTime);
    m["microtime"] = scalarType(SchemaKind::kMicroTime);
    m["quantity"] = scalarType(SchemaKind::kQuantity);
    m["intorstr"] = scalarType(SchemaKind::kIntOrString);
    m["duration"] = scalarType(SchemaKind::kDuration);
    m["any"] = scalarType(SchemaKind::kAny);
    return m;
  }();
  auto it = scalars.find(name);
  return it == scalars.end() ? nullptr : it->second;
}

// Parses a type expression: scalar, named type, []T or map[T] (nesting allowed).
std::shared_ptr<SchemaType> parseTypeExpr(std::string_view expr, std::string& err) {
  if (expr.substr(0, 2) == "[]") {
    auto elem = parseTypeExpr(expr.substr(2), err);
    if (!elem) return nullptr;
    auto t = std::make_shared<SchemaType>();
    t->kind = SchemaKind::kArray;
    t->elem = std::move(elem);
    return t;
  }
  if (expr.substr(0, 4) == "map[") {
    if (expr.size() < 6 || expr.back() != ']') {
      err = "malformed map type \"" + std::string(expr) + "\" (want map[T])";
      return nullptr;
    }
    auto elem = parseTypeExpr(expr.substr(4, expr.size() - 5), err);
    if (!elem) return nullptr;
    auto t = std::make_shared<SchemaType>();
    t->kind = SchemaKind::kMap;
    t->elem = std::move(elem);
    return t;
  }
  if (auto s = builtinScalar(expr)) return s;
  if (!isIdentifier(expr, true)) {
    err = "malformed type \"" + std::string(expr) + "\"";
    return nullptr;
  }
  auto ref = std::make_shared<SchemaType>();
  ref->kind = SchemaKind::kObject;
  ref->name = std::string(kRefMarker) + std::string(expr);
  return ref;
}

bool parseNumber(std::string_view s, int& out) {
  if (s.empty() || s.size() > 9) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

Error schemaError(std::string_view source, int line, const std::string& msg) {
  return makeError(ErrorCode::kInternal,
                   "schema " + std::string(source) + ":" + std::to_string(line) + ": " + msg);
}

}  // namespace

Status SchemaRegistry::add(std::string_view source_name, std::string_view text) {
  if (resolved_) return makeError(ErrorCode::kInternal, "schema registry: add() after resolve()");
  std::shared_ptr<SchemaType> current;
  std::set<std::string, std::less<>> names_in_type;
  std::set<int> numbers_in_type;
  int line_no = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto words = splitWords(line);
    if (words.empty()) continue;
    bool indented = line[0] == ' ' || line[0] == '\t';

    if (!indented) {
      if (words[0] != "type" || words.size() != 2)
        return schemaError(source_name, line_no, "expected \"type NAME\", got \"" + std::string(line) + "\"");
      if (!isIdentifier(words[1], true) || builtinScalar(words[1]))
        return schemaError(source_name, line_no, "invalid type name \"" + std::string(words[1]) + "\"");
      if (auto it = declared_at_.find(words[1]); it != declared_at_.end())
        return schemaError(source_name, line_no,
                           "type " + std::string(words[1]) + " already declared at " + it->second.source + ":" +
                               std::to_string(it->second.line));
      current = std::make_shared<SchemaType>();
      current->kind = SchemaKind::kObject;
      current->name = std::string(words[1]);
      types_.emplace(current->name, current);
      declared_at_.emplace(current->name, SourceLocation{std::string(source_name), line_no});
      names_in_type.clear();
      numbers_in_type.clear();
      continue;
    }

    if (!current) return schemaError(source_name, line_no, "field line outside of a type");
    if (words.size() < 3)
      return schemaError(source_name, line_no,
                         "expected \"jsonName type number [flags]\", got \"" + std::string(line) + "\"");
    SchemaField f;
    f.json_name = std::string(words[0]);
    if (!isIdentifier(words[0], false))
      return schemaError(source_name, line_no, "invalid field name \"" + f.json_name + "\"");
    std::string err;
    auto type = parseTypeExpr(words[1], err);
    if (!type) return schemaError(source_name, line_no, err);
    f.type = type;
    if (!parseNumber(words[2], f.proto_number))
      return schemaError(source_name, line_no, "invalid protobuf field number \"" + std::string(words[2]) + "\"");
    for (std::size_t i = 3; i < words.size(); ++i) {
      std::string_view flag = words[i];
      // Flags may be comma-joined, e.g. merge=name,retainKeys.
      while (!flag.empty()) {
        std::size_t comma = flag.find(',');
        std::string_view one = flag.substr(0, comma);
        flag = comma == std::string_view::npos ? std::string_view() : flag.substr(comma + 1);
        if (one == "keep") {
          f.keep_zero = true;
        } else if (one == "noproto") {
          f.no_proto = true;
        } else if (one == "inline") {
          f.is_inline = true;
        } else if (one == "retainKeys") {
          f.retain_keys = true;
        } else if (one == "merge") {
          f.merge = true;
        } else if (one.substr(0, 6) == "merge=" && one.size() > 6) {
          f.merge = true;
          f.merge_key = std::string(one.substr(6));
        } else {
          return schemaError(source_name, line_no, "unknown flag \"" + std::string(one) + "\"");
        }
      }
    }
    if (f.no_proto && f.proto_number != 0)
      return schemaError(source_name, line_no, "field " + f.json_name + " is noproto but has number " +
                                                   std::to_string(f.proto_number));
    if (!f.no_proto && f.proto_number == 0)
      return schemaError(source_name, line_no, "field " + f.json_name + " needs a protobuf number or noproto");
    if (!names_in_type.insert(f.json_name).second)
      return schemaError(source_name, line_no, "duplicate field " + f.json_name + " in " + current->name);
    if (f.proto_number != 0 && !numbers_in_type.insert(f.proto_number).second)
      return schemaError(source_name, line_no,
                         "duplicate protobuf number " + std::to_string(f.proto_number) + " in " + current->name);
    field_lines_[current->name + "." + f.json_name] = line_no;
    current->fields.push_back(std::move(f));
  }
  return okStatus();
}

// ---- Resolution -------------------------------------------------------------

namespace {

struct Resolver {
  const std::map<std::string, std::shared_ptr<SchemaType>, std::less<>>& types;

  // Replaces placeholders inside a type expression with the named types.
  Result<std::shared_ptr<const SchemaType>> resolveExpr(const std::shared_ptr<const SchemaType>& t) {
    if (!t) return makeError(ErrorCode::kInternal, "missing type");
    if (t->kind == SchemaKind::kObject && t->name.rfind(kRefMarker, 0) == 0) {
      std::string_view name = std::string_view(t->name).substr(kRefMarker.size());
      auto it = types.find(name);
      if (it == types.end()) return makeError(ErrorCode::kInternal, "unknown type \"" + std::string(name) + "\"");
      return std::shared_ptr<const SchemaType>(it->second);
    }
    if (t->kind == SchemaKind::kArray || t->kind == SchemaKind::kMap) {
      // Array and map nodes are created fresh per field by parseTypeExpr and
      // are not yet shared with anyone, so updating them in place is safe.
      BERTH_ASSIGN_OR_RETURN(auto elem, resolveExpr(t->elem));
      std::const_pointer_cast<SchemaType>(t)->elem = std::move(elem);
    }
    return t;
  }
};

}  // namespace

Status SchemaRegistry::resolve() {
  if (resolved_) return okStatus();
  Resolver r{types_};
  for (auto& [name, type] : types_) {
    const auto& at = declared_at_[name];
    for (auto& f : type->fields) {
      std::string where = "schema " + at.source + ":" + std::to_string(field_lines_[name + "." + f.json_name]) +
                          ": type " + name + " field " + f.json_name + ": ";
      auto resolved = r.resolveExpr(f.type);
      if (!resolved.ok()) return makeError(ErrorCode::kInternal, where + resolved.error().message);
      f.type = std::move(resolved).value();
      if (f.is_inline && f.type->kind != SchemaKind::kObject)
        return makeError(ErrorCode::kInternal, where + "inline needs a named object type");
    }
  }

  // Expand inline members into the JSON view. A type's inline members are
  // expanded before the type itself (depth-first, with cycle detection).
  std::unordered_map<const SchemaType*, int> state;  // 1 = in progress, 2 = done
  std::function<Status(SchemaType&)> flatten = [&](SchemaType& t) -> Status {
    int& s = state[&t];
    if (s == 2) return okStatus();
    if (s == 1) return makeError(ErrorCode::kInternal, "schema: inline cycle through type " + t.name);
    s = 1;
    bool has_inline = false;
    for (const auto& f : t.fields) has_inline |= f.is_inline;
    if (has_inline) {
      std::vector<SchemaField> json_fields;
      for (const auto& f : t.fields) {
        if (!f.is_inline) {
          json_fields.push_back(f);
          continue;
        }
        auto& inner = const_cast<SchemaType&>(*f.type);  // owned by types_, created non-const
        BERTH_RETURN_IF_ERROR(flatten(inner));
        for (const auto& g : inner.fields) json_fields.push_back(g);
      }
      std::set<std::string_view> seen;
      for (const auto& f : json_fields)
        if (!seen.insert(f.json_name).second)
          return makeError(ErrorCode::kInternal,
                           "schema: type " + t.name + " has JSON field " + f.json_name + " twice after inlining");
      t.proto_fields = std::move(t.fields);
      t.fields = std::move(json_fields);
    }
    t.buildIndex();
    state[&t] = 2;
    return okStatus();
  };
  for (auto& [name, type] : types_) BERTH_RETURN_IF_ERROR(flatten(*type));
  field_lines_.clear();
  resolved_ = true;
  return okStatus();
}

std::shared_ptr<const SchemaType> SchemaRegistry::find(std::string_view type_name) const {
  auto it = types_.find(type_name);
  return it == types_.end() ? nullptr : it->second;
}

std::vector<std::string> SchemaRegistry::typeNames() const {
  std::vector<std::string> out;
  out.reserve(types_.size());
  for (const auto& [name, t] : types_) out.push_back(name);
  return out;
}

const SchemaRegistry& SchemaRegistry::builtin() {
  // A function-local static is initialised exactly once, thread-safely.
  static const SchemaRegistry registry = [] {
    SchemaRegistry r;
    for (const auto& [name, text] : embeddedSchemaSources()) {
      auto st = r.add(name, text);
      if (!st.ok()) {
        std::fprintf(stderr, "berth: built-in API schema is broken (build defect): %s\n", st.error().message.c_str());
        std::abort();
      }
    }
    auto st = r.resolve();
    if (!st.ok()) {
      std::fprintf(stderr, "berth: built-in API schema is broken (build defect): %s\n", st.error().message.c_str());
      std::abort();
    }
    return r;
  }();
  return registry;
}

}  // namespace berth::api
