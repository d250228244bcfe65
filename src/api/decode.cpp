#include "api/decode.h"

#include <boost/json/basic_parser_impl.hpp>
#include <cmath>
#include <cstdio>
#include <unordered_set>

#include "api/patch.h"
#include "api/protobuf.h"

namespace berth::api {

namespace json = boost::json;

Result<FieldValidation> parseFieldValidation(std::string_view text) {
  if (text == "Strict") return FieldValidation::kStrict;
  if (text == "Warn" || text.empty()) return FieldValidation::kWarn;
  if (text == "Ignore") return FieldValidation::kIgnore;
  // Upstream validates the option with field.NotSupported.
  return makeError(ErrorCode::kBadRequest, "fieldValidation: Unsupported value: \"" + std::string(text) +
                                               "\": supported values: \"Ignore\", \"Strict\", \"Warn\"");
}

namespace {

// ---- Parsing with duplicate-key detection -----------------------------------

// Renders path segments: names joined by '.', list indexes appended as [i],
// as sigs.k8s.io/json names fields in strict decoding errors.
std::string renderPath(const std::vector<std::string>& segs, std::string_view last = {}) {
  std::string out;
  for (const auto& s : segs) {
    if (!s.empty() && s[0] != '[' && !out.empty()) out += '.';
    out += s;
  }
  if (!last.empty()) {
    if (!out.empty()) out += '.';
    out += last;
  }
  return out;
}

// A basic_parser handler that builds the DOM like boost::json::parse (the
// last of duplicate keys wins, as in Go) and records every duplicate key with
// its path, which boost::json::parse would silently merge.
class DupHandler {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  json::value_stack st;
  std::vector<std::string> duplicates;

  bool on_document_begin(boost::system::error_code&) {
    st.reset();
    return true;
  }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) {
    enterContainer();
    frames_.push_back(Frame{true, {}, 0});
    return true;
  }
  bool on_object_end(std::size_t n, boost::system::error_code&) {
    st.push_object(n);
    leaveContainer();
    return true;
  }
  bool on_array_begin(boost::system::error_code&) {
    enterContainer();
    frames_.push_back(Frame{false, {}, 0});
    return true;
  }
  bool on_array_end(std::size_t n, boost::system::error_code&) {
    st.push_array(n);
    leaveContainer();
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, boost::system::error_code&) {
    st.push_chars(s);
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, boost::system::error_code&) {
    st.push_key(s);
    key_.append(s.data(), s.size());
    if (!frames_.empty() && !frames_.back().keys.insert(key_).second)
      duplicates.push_back("duplicate field \"" + renderPath(path_, key_) + "\"");
    path_.push_back(std::move(key_));
    key_.clear();
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, boost::system::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, boost::system::error_code&) {
    st.push_string(s);
    valueDone();
    return true;
  }
  bool on_number_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t i, json::string_view, boost::system::error_code&) {
    st.push_int64(i);
    valueDone();
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, boost::system::error_code&) {
    st.push_uint64(u);
    valueDone();
    return true;
  }
  bool on_double(double d, json::string_view, boost::system::error_code&) {
    st.push_double(d);
    valueDone();
    return true;
  }
  bool on_bool(bool b, boost::system::error_code&) {
    st.push_bool(b);
    valueDone();
    return true;
  }
  bool on_null(boost::system::error_code&) {
    st.push_null();
    valueDone();
    return true;
  }
  bool on_comment_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(json::string_view, boost::system::error_code&) { return true; }

 private:
  struct Frame {
    bool is_object;
    std::unordered_set<std::string> keys;
    std::size_t index;
  };
  void enterContainer() {
    if (!frames_.empty() && !frames_.back().is_object) path_.push_back("[" + std::to_string(frames_.back().index) + "]");
  }
  void leaveContainer() {
    frames_.pop_back();
    if (!frames_.empty() && !frames_.back().is_object) path_.pop_back();
    valueDone();
  }
  // After a complete value: drop its key from the path, or advance the index.
  void valueDone() {
    if (frames_.empty()) return;
    if (frames_.back().is_object) {
      if (!path_.empty()) path_.pop_back();
    } else {
      ++frames_.back().index;
    }
  }

  std::vector<Frame> frames_;
  std::vector<std::string> path_;
  std::string key_;
};

// ---- Schema checks ----------------------------------------------------------

std::string goTypeName(const SchemaType& t) {
  switch (t.kind) {
    case SchemaKind::kString: return "string";
    case SchemaKind::kInt32: return "int32";
    case SchemaKind::kInt64: return "int64";
    case SchemaKind::kBool: return "bool";
    case SchemaKind::kDouble: return "float64";
    case SchemaKind::kBytes: return "[]uint8";
    case SchemaKind::kTime: return "v1.Time";
    case SchemaKind::kMicroTime: return "v1.MicroTime";
    case SchemaKind::kQuantity: return "resource.Quantity";
    case SchemaKind::kIntOrString: return "intstr.IntOrString";
    case SchemaKind::kDuration: return "v1.Duration";
    case SchemaKind::kAny: return "runtime.RawExtension";
    case SchemaKind::kArray: return "[]" + (t.elem ? goTypeName(*t.elem) : std::string("interface {}"));
    case SchemaKind::kMap: return "map[string]" + (t.elem ? goTypeName(*t.elem) : std::string("interface {}"));
    case SchemaKind::kObject: {
      // "apps.v1.DeploymentSpec" -> "v1.DeploymentSpec", as Go prints package.Type.
      auto last = t.name.rfind('.');
      if (last == std::string::npos || last == 0) return t.name;
      auto prev = t.name.rfind('.', last - 1);
      return prev == std::string::npos ? t.name : t.name.substr(prev + 1);
    }
  }
  return "interface {}";
}

std::string structName(const SchemaType& t) {
  auto last = t.name.rfind('.');
  return last == std::string::npos ? t.name : t.name.substr(last + 1);
}

const char* jsonKindName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string: return "string";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return "number";
    case json::kind::bool_: return "bool";
    case json::kind::array: return "array";
    case json::kind::object: return "object";
    case json::kind::null: return "null";
  }
  return "value";
}

std::string numberText(const json::value& v) {
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v.get_double());
  return buf;
}

// Kubernetes' quantity grammar (resource.ParseQuantity): a signed decimal
// number and a suffix that is a binary SI suffix, a decimal SI suffix or a
// decimal exponent.
bool validQuantity(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  std::size_t digits = 0, dots = 0;
  while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) {
    (s[i] == '.' ? dots : digits)++;
    ++i;
  }
  if (digits == 0 || dots > 1) return false;
  std::string_view suffix = s.substr(i);
  static constexpr std::string_view kSuffixes[] = {"",   "n",  "u",  "m",  "k",  "M",  "G",  "T", "P",
                                                   "E",  "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  for (auto k : kSuffixes)
    if (suffix == k) return true;
  if (suffix[0] == 'e' || suffix[0] == 'E') {
    std::size_t j = 1;
    if (j < suffix.size() && (suffix[j] == '+' || suffix[j] == '-')) ++j;
    if (j == suffix.size()) return false;
    for (; j < suffix.size(); ++j)
      if (suffix[j] < '0' || suffix[j] > '9') return false;
    return true;
  }
  return false;
}

// RFC 3339 as Go's time.Parse(time.RFC3339, ...) accepts it.
bool validRfc3339(std::string_view s) {
  auto digits = [&](std::size_t at, std::size_t n) {
    if (at + n > s.size()) return false;
    for (std::size_t k = at; k < at + n; ++k)
      if (s[k] < '0' || s[k] > '9') return false;
    return true;
  };
  if (!digits(0, 4) || s.size() < 20 || s[4] != '-' || !digits(5, 2) || s[7] != '-' || !digits(8, 2) ||
      (s[10] != 'T' && s[10] != 't') || !digits(11, 2) || s[13] != ':' || !digits(14, 2) || s[16] != ':' ||
      !digits(17, 2))
    return false;
  auto num = [&](std::size_t at) { return (s[at] - '0') * 10 + (s[at + 1] - '0'); };
  if (num(5) < 1 || num(5) > 12 || num(8) < 1 || num(8) > 31 || num(11) > 23 || num(14) > 59 || num(17) > 59)
    return false;
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    ++i;
    std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return false;
  }
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) return i + 1 == s.size();
  if (i < s.size() && (s[i] == '+' || s[i] == '-'))
    return i + 6 == s.size() && digits(i + 1, 2) && s[i + 3] == ':' && digits(i + 4, 2) && num(i + 1) <= 23 &&
           num(i + 4) <= 59;
  return false;
}

std::size_t base64ErrorOffset(std::string_view s) {
  std::size_t i = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
              c == '\r' || c == '\n';
    if (!ok) break;
  }
  return i;
}

class Checker {
 public:
  Checker(FieldValidation mode, bool normalize) : mode_(mode), normalize_(normalize) {}

  std::vector<std::string> strict;  // unknown field findings, document order
  std::string type_error;           // the first one, as Go reports it

  void walk(json::value& v, const SchemaType& t, const SchemaType* owner) {
    if (!type_error.empty()) return;
    switch (t.kind) {
      case SchemaKind::kAny: return;
      case SchemaKind::kObject: {
        if (!v.is_object()) return typeError(v, t, owner, false);
        auto& obj = v.get_object();
        std::vector<std::string> drop;
        for (auto& kv : obj) {
          std::string_view key(kv.key().data(), kv.key().size());
          const SchemaField* f = t.field(key);
          if (!f || !f->type) {
            if (mode_ != FieldValidation::kIgnore) strict.push_back("unknown field \"" + renderPath(path_, key) + "\"");
            drop.emplace_back(key);
            continue;
          }
          if (kv.value().is_null() && f->type->kind != SchemaKind::kAny) {
            // Go leaves the field at its zero value: the same as absent.
            drop.emplace_back(key);
            continue;
          }
          path_.emplace_back(key);
          go_fields_.emplace_back(key);
          walk(kv.value(), *f->type, &t);
          go_fields_.pop_back();
          path_.pop_back();
          if (!type_error.empty()) return;
        }
        for (const auto& k : drop) obj.erase(k);
        return;
      }
      case SchemaKind::kArray: {
        if (v.is_null()) return;
        if (!v.is_array()) return typeError(v, t, owner, false);
        auto& arr = v.get_array();
        for (std::size_t i = 0; i < arr.size(); ++i) {
          path_.push_back("[" + std::to_string(i) + "]");
          // A null element decodes to the element's zero value in Go.
          if (!arr[i].is_null()) walk(arr[i], *t.elem, owner);
          path_.pop_back();
          if (!type_error.empty()) return;
        }
        return;
      }
      case SchemaKind::kMap: {
        if (v.is_null()) return;
        if (!v.is_object()) return typeError(v, t, owner, false);
        for (auto& kv : v.get_object()) {
          if (kv.value().is_null()) continue;  // Go stores the element's zero value
          path_.emplace_back(kv.key().data(), kv.key().size());
          walk(kv.value(), *t.elem, owner);
          path_.pop_back();
          if (!type_error.empty()) return;
        }
        return;
      }
      default: scalar(v, t, owner); return;
    }
  }

 private:
  void scalar(json::value& v, const SchemaType& t, const SchemaType* owner) {
    if (v.is_null()) return;
    switch (t.kind) {
      case SchemaKind::kString:
        if (!v.is_string()) typeError(v, t, owner, false);
        return;
      case SchemaKind::kBool:
        if (!v.is_bool()) typeError(v, t, owner, false);
        return;
      case SchemaKind::kDouble:
        if (!v.is_number()) typeError(v, t, owner, false);
        return;
      case SchemaKind::kInt32:
      case SchemaKind::kInt64: {
        if (!v.is_number()) return typeError(v, t, owner, false);
        bool ok = v.is_int64() ? (t.kind == SchemaKind::kInt64 ||
                                  (v.get_int64() >= INT32_MIN && v.get_int64() <= INT32_MAX))
                               : false;  // a fraction, an exponent or beyond int64
        if (!ok) typeError(v, t, owner, true);
        return;
      }
      case SchemaKind::kBytes: {
        if (!v.is_string()) return typeError(v, t, owner, false);
        std::string_view s(v.get_string().data(), v.get_string().size());
        if (!base64Decode(s, nullptr))
          type_error = "illegal base64 data at input byte " + std::to_string(base64ErrorOffset(s));
        return;
      }
      case SchemaKind::kTime:
      case SchemaKind::kMicroTime:
      case SchemaKind::kDuration: {
        // metav1.Time/MicroTime/Duration.UnmarshalJSON decode a string first.
        if (!v.is_string()) {
          type_error = std::string("json: cannot unmarshal ") + jsonKindName(v) + " into Go value of type string";
          return;
        }
        std::string_view s(v.get_string().data(), v.get_string().size());
        if (t.kind == SchemaKind::kDuration) {
          if (s.empty()) type_error = "time: invalid duration \"\"";
          return;
        }
        if (!validRfc3339(s))
          type_error = "parsing time \"" + std::string(s) + "\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"" +
                       std::string(s) + "\" as RFC 3339";
        return;
      }
      case SchemaKind::kQuantity: {
        std::string text;
        if (v.is_string()) {
          text = std::string(v.get_string());
        } else if (v.is_number()) {
          text = numberText(v);
        } else {
          text = "?";
        }
        if (!validQuantity(text)) {
          type_error = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
          return;
        }
        // resource.Quantity always serializes as a string.
        if (normalize_ && v.is_number()) v = json::string(text);
        return;
      }
      case SchemaKind::kIntOrString: {
        if (v.is_string()) return;
        if (v.is_int64() && v.get_int64() >= INT32_MIN && v.get_int64() <= INT32_MAX) return;
        // IntOrString.UnmarshalJSON decodes a non-string as int32.
        type_error = std::string("json: cannot unmarshal ") + jsonKindName(v) +
                     (v.is_number() ? " " + numberText(v) : std::string()) + " into Go value of type int32";
        return;
      }
      default: return;
    }
  }

  // Go's json.UnmarshalTypeError: "json: cannot unmarshal <value> into Go
  // struct field <Struct>.<field path> of type <type>"; the field path names
  // struct fields only (no list indexes or map keys).
  void typeError(const json::value& v, const SchemaType& t, const SchemaType* owner, bool with_literal) {
    if (!type_error.empty()) return;
    std::string value = jsonKindName(v);
    if (with_literal && v.is_number()) value += " " + numberText(v);
    if (!owner || go_fields_.empty()) {
      type_error = "json: cannot unmarshal " + value + " into Go value of type " + goTypeName(t);
      return;
    }
    std::string field_path;
    for (const auto& f : go_fields_) {
      if (!field_path.empty()) field_path += '.';
      field_path += f;
    }
    type_error = "json: cannot unmarshal " + value + " into Go struct field " + structName(*owner) + "." +
                 field_path + " of type " + goTypeName(t);
  }

  FieldValidation mode_;
  bool normalize_;
  std::vector<std::string> path_;
  std::vector<std::string> go_fields_;
};

constexpr std::size_t kMaxStrictFindings = 100;

std::string kindPrefix(std::string_view kind, std::string_view version) {
  if (kind.empty()) return "";
  return std::string(kind) + " in version \"" + std::string(version) + "\" cannot be handled as a " +
         std::string(kind) + ": ";
}

std::string joinStrict(const std::vector<std::string>& errs) {
  std::string out = "strict decoding error: ";
  for (std::size_t i = 0; i < errs.size(); ++i) {
    if (i) out += ", ";
    out += errs[i];
  }
  return out;
}

// Runs the checker; `pre_findings` are duplicate-field findings from parsing.
Result<std::vector<std::string>> runChecks(json::value& value, const SchemaType* type, FieldValidation mode,
                                           std::vector<std::string> pre_findings, std::string_view kind,
                                           std::string_view version) {
  Checker c(mode, true);
  if (type) c.walk(value, *type, nullptr);
  if (!c.type_error.empty()) return makeError(ErrorCode::kBadRequest, kindPrefix(kind, version) + c.type_error);
  std::vector<std::string> findings;
  if (mode != FieldValidation::kIgnore) {
    // As sigs.k8s.io/json's saveStrictError: identical findings once, at most 100.
    std::unordered_set<std::string> seen;
    for (auto* list : {&c.strict, &pre_findings})
      for (auto& f : *list)
        if (findings.size() < kMaxStrictFindings && seen.insert(f).second) findings.push_back(std::move(f));
  }
  if (mode == FieldValidation::kStrict && !findings.empty())
    return makeError(ErrorCode::kBadRequest, kindPrefix(kind, version) + joinStrict(findings));
  if (mode == FieldValidation::kWarn) return findings;
  return std::vector<std::string>{};
}

}  // namespace

Result<DecodedJson> decodeJson(std::string_view body, const SchemaType* type, const DecodeOptions& options) {
  if (body.size() > options.max_bytes)
    return makeError(ErrorCode::kRequestEntityTooLarge,
                     "Request entity too large: limit is " + std::to_string(options.max_bytes));
  try {
    json::parse_options popts;
    popts.max_depth = kMaxJsonDepth;
    json::basic_parser<DupHandler> parser(popts);
    boost::system::error_code ec;
    std::size_t n = parser.write_some(false, body.data(), body.size(), ec);
    if (!ec && n < body.size()) ec = json::error::extra_data;
    if (ec)
      return makeError(ErrorCode::kBadRequest, "couldn't get version/kind; json parse error: " + ec.message());
    DecodedJson out;
    out.value = parser.handler().st.release();
    BERTH_ASSIGN_OR_RETURN(out.warnings, runChecks(out.value, type, options.validation,
                                                   std::move(parser.handler().duplicates), options.kind,
                                                   options.version));
    return out;
  } catch (const std::exception& e) {  // allocation failure or a limit inside boost::json
    return makeError(ErrorCode::kBadRequest, std::string("couldn't get version/kind; json parse error: ") + e.what());
  }
}

Result<std::vector<std::string>> checkJsonFields(json::value& value, const SchemaType& type,
                                                 FieldValidation validation, std::string_view kind,
                                                 std::string_view version) {
  if (jsonDepth(value) > kMaxJsonDepth) return makeError(ErrorCode::kBadRequest, "object nested too deeply");
  try {
    return runChecks(value, &type, validation, {}, kind, version);
  } catch (const std::exception& e) {
    return makeError(ErrorCode::kInternal, e.what());
  }
}

void removeUnknownFields(json::value& value, const SchemaType& type) {
  switch (type.kind) {
    case SchemaKind::kObject: {
      if (!value.is_object()) return;
      auto& obj = value.get_object();
      std::vector<std::string> drop;
      for (auto& kv : obj) {
        const SchemaField* f = type.field(std::string_view(kv.key().data(), kv.key().size()));
        if (!f || !f->type) {
          drop.emplace_back(kv.key());
          continue;
        }
        removeUnknownFields(kv.value(), *f->type);
      }
      for (const auto& k : drop) obj.erase(k);
      return;
    }
    case SchemaKind::kArray:
      if (value.is_array())
        for (auto& e : value.get_array()) removeUnknownFields(e, *type.elem);
      return;
    case SchemaKind::kMap:
      if (value.is_object())
        for (auto& kv : value.get_object()) removeUnknownFields(kv.value(), *type.elem);
      return;
    default: return;
  }
}

}  // namespace berth::api
