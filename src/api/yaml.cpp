#include "api/yaml.h"

#include <yaml.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/patch.h"

namespace berth::api {

namespace json = boost::json;

namespace {

constexpr const char* kPrefix = "error converting YAML to JSON: yaml: ";
constexpr std::string_view kTagStr = "tag:yaml.org,2002:str";
constexpr std::string_view kTagInt = "tag:yaml.org,2002:int";
constexpr std::string_view kTagFloat = "tag:yaml.org,2002:float";
constexpr std::string_view kTagBool = "tag:yaml.org,2002:bool";
constexpr std::string_view kTagNull = "tag:yaml.org,2002:null";

Error yamlError(const yaml_mark_t& mark, const std::string& problem) {
  return makeError(ErrorCode::kBadRequest, std::string(kPrefix) + "line " + std::to_string(mark.line + 1) +
                                               ", column " + std::to_string(mark.column + 1) + ": " + problem);
}

bool oneOf(std::string_view s, std::initializer_list<std::string_view> options) {
  for (auto o : options)
    if (s == o) return true;
  return false;
}

// strconv.ParseInt/ParseUint with base 0 on an underscore-free string.
struct IntParse {
  bool ok = false;
  bool negative = false;
  std::uint64_t magnitude = 0;
};

IntParse parseGoInt(std::string_view s) {
  IntParse r;
  if (s.empty()) return r;
  std::size_t i = 0;
  if (s[0] == '+' || s[0] == '-') {
    r.negative = s[0] == '-';
    i = 1;
  }
  std::string_view body = s.substr(i);
  int base = 10;
  if (body.size() >= 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
    base = 16;
    body.remove_prefix(2);
  } else if (body.size() >= 2 && body[0] == '0' && (body[1] == 'o' || body[1] == 'O')) {
    base = 8;
    body.remove_prefix(2);
  } else if (body.size() >= 2 && body[0] == '0' && (body[1] == 'b' || body[1] == 'B')) {
    base = 2;
    body.remove_prefix(2);
  } else if (body.size() >= 2 && body[0] == '0') {
    base = 8;
    body.remove_prefix(1);
  }
  if (body.empty()) return r;
  auto res = std::from_chars(body.data(), body.data() + body.size(), r.magnitude, base);
  if (res.ec != std::errc() || res.ptr != body.data() + body.size()) return r;
  r.ok = true;
  return r;
}

// go-yaml's yamlStyleFloat: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
bool isYamlStyleFloat(std::string_view s) {
  std::size_t i = 0;
  auto digits = [&] {
    std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i - start;
  };
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  } else {
    if (digits() == 0) return false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      digits();
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

// A float as Go's JSON round-trip leaves it: integral values read back as
// integers.
json::value floatValue(double d) {
  if (d == std::trunc(d) && std::fabs(d) < 9.2e18) return json::value(static_cast<std::int64_t>(d));
  return json::value(d);
}

enum class Resolved { kOk, kNotJson };

// go-yaml v2's resolve() for a plain scalar.
Resolved resolvePlain(std::string_view s, json::value& out) {
  if (oneOf(s, {"", "~", "null", "Null", "NULL"})) {
    out = nullptr;
    return Resolved::kOk;
  }
  if (oneOf(s, {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})) {
    out = true;
    return Resolved::kOk;
  }
  if (oneOf(s, {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})) {
    out = false;
    return Resolved::kOk;
  }
  if (oneOf(s, {".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"}))
    return Resolved::kNotJson;
  char c = s[0];
  if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.') {
    std::string plain;
    plain.reserve(s.size());
    for (char ch : s)
      if (ch != '_') plain += ch;
    IntParse ip = parseGoInt(plain);
    if (ip.ok) {
      constexpr std::uint64_t kMaxI = std::uint64_t(std::numeric_limits<std::int64_t>::max());
      if (!ip.negative && ip.magnitude <= kMaxI) {
        out = static_cast<std::int64_t>(ip.magnitude);
        return Resolved::kOk;
      }
      if (ip.negative && ip.magnitude <= kMaxI + 1) {
        out = ip.magnitude == kMaxI + 1 ? std::numeric_limits<std::int64_t>::min()
                                        : -static_cast<std::int64_t>(ip.magnitude);
        return Resolved::kOk;
      }
      if (!ip.negative) {
        out = ip.magnitude;  // ParseUint
        return Resolved::kOk;
      }
    }
    if (isYamlStyleFloat(plain)) {
      double d = 0;
      auto res = std::from_chars(plain.data() + (plain[0] == '+' ? 1 : 0), plain.data() + plain.size(), d);
      if (res.ec == std::errc() || res.ec == std::errc::result_out_of_range) {
        if (std::isinf(d) || std::isnan(d)) return Resolved::kNotJson;
        out = floatValue(d);
        return Resolved::kOk;
      }
    }
  }
  out = json::string(s);
  return Resolved::kOk;
}

std::string keyString(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string: return std::string(v.get_string());
    case json::kind::bool_: return v.get_bool() ? "true" : "false";
    case json::kind::int64: return std::to_string(v.get_int64());
    case json::kind::uint64: return std::to_string(v.get_uint64());
    case json::kind::double_: return goFormat(v);
    default: return "";
  }
}

std::size_t countNodes(const json::value& root) {
  std::size_t n = 0;
  std::vector<const json::value*> stack{&root};
  while (!stack.empty()) {
    const json::value* v = stack.back();
    stack.pop_back();
    ++n;
    if (const auto* o = v->if_object())
      for (const auto& kv : *o) stack.push_back(&kv.value());
    else if (const auto* a = v->if_array())
      for (const auto& e : *a) stack.push_back(&e);
  }
  return n;
}

struct Anchor {
  json::value value;
  std::size_t nodes = 0;
  std::size_t depth = 0;
};

struct Frame {
  json::value container;  // object or array
  std::string anchor;
  std::optional<std::string> key;  // mappings: the key awaiting its value
  bool merge_key = false;          // the pending key is a plain `<<`
  yaml_mark_t key_mark{};
};

class Converter {
 public:
  Converter(std::string_view text, bool strict) : text_(text), strict_(strict) {}
  ~Converter() {
    if (initialized_) yaml_parser_delete(&parser_);
  }

  Result<json::value> run() {
    if (!yaml_parser_initialize(&parser_)) return makeError(ErrorCode::kInternal, "yaml parser initialization failed");
    initialized_ = true;
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text_.data()), text_.size());
    while (true) {
      yaml_event_t event;
      if (!yaml_parser_parse(&parser_, &event)) {
        yaml_mark_t mark = parser_.problem_mark;
        std::string problem = parser_.problem ? parser_.problem : "unknown problem parsing YAML content";
        if (parser_.context) problem = std::string(parser_.context) + " " + problem;
        return yamlError(mark, problem);
      }
      std::unique_ptr<yaml_event_t, void (*)(yaml_event_t*)> guard(&event, yaml_event_delete);
      if (event.type == YAML_STREAM_END_EVENT) break;
      BERTH_RETURN_IF_ERROR(handle(event));
    }
    return std::move(root_);
  }

 private:
  Status handle(const yaml_event_t& ev) {
    switch (ev.type) {
      case YAML_DOCUMENT_START_EVENT:
        ++documents_;
        have_root_ = false;
        return okStatus();
      case YAML_DOCUMENT_END_EVENT:
        if (documents_ > 1 && !doc_root_.is_null())
          return yamlError(ev.start_mark, "multiple YAML documents are not supported in one request body");
        if (documents_ == 1) root_ = std::move(doc_root_);
        doc_root_ = nullptr;
        return okStatus();
      case YAML_MAPPING_START_EVENT:
      case YAML_SEQUENCE_START_EVENT: {
        if (expectingKey()) return yamlError(ev.start_mark, "unsupported map key: a mapping or sequence");
        if (stack_.size() + 1 > kMaxJsonDepth) return yamlError(ev.start_mark, "document nested too deeply");
        BERTH_RETURN_IF_ERROR(countNode(ev.start_mark, 1));
        Frame f;
        bool is_map = ev.type == YAML_MAPPING_START_EVENT;
        const yaml_char_t* anchor = is_map ? ev.data.mapping_start.anchor : ev.data.sequence_start.anchor;
        if (anchor) f.anchor = reinterpret_cast<const char*>(anchor);
        if (is_map) {
          f.container = json::object();
        } else {
          f.container = json::array();
        }
        stack_.push_back(std::move(f));
        return okStatus();
      }
      case YAML_MAPPING_END_EVENT:
      case YAML_SEQUENCE_END_EVENT: {
        Frame f = std::move(stack_.back());
        stack_.pop_back();
        if (!f.anchor.empty()) remember(f.anchor, f.container);
        return deliver(std::move(f.container), ev.start_mark, false);
      }
      case YAML_SCALAR_EVENT: return scalar(ev);
      case YAML_ALIAS_EVENT: {
        std::string name = reinterpret_cast<const char*>(ev.data.alias.anchor);
        auto it = anchors_.find(name);
        if (it == anchors_.end()) return yamlError(ev.start_mark, "unknown anchor '" + name + "' referenced");
        if (stack_.size() + it->second.depth > kMaxJsonDepth)
          return yamlError(ev.start_mark, "document nested too deeply");
        BERTH_RETURN_IF_ERROR(countNode(ev.start_mark, it->second.nodes));
        if (expectingKey()) {
          if (it->second.value.is_object() || it->second.value.is_array() || it->second.value.is_null())
            return yamlError(ev.start_mark, "unsupported map key");
          return setKey(keyString(it->second.value), false, ev.start_mark);
        }
        return deliver(it->second.value, ev.start_mark, false);
      }
      default: return okStatus();
    }
  }

  bool expectingKey() const {
    return !stack_.empty() && stack_.back().container.is_object() && !stack_.back().key;
  }

  Status countNode(const yaml_mark_t& mark, std::size_t n) {
    nodes_ += n;
    if (nodes_ > kMaxYamlNodes) return yamlError(mark, "document contains excessive aliasing");
    return okStatus();
  }

  void remember(const std::string& name, const json::value& v) {
    anchors_[name] = Anchor{v, countNodes(v), jsonDepth(v)};
  }

  Status setKey(std::string key, bool merge, const yaml_mark_t& mark) {
    Frame& f = stack_.back();
    f.key = std::move(key);
    f.merge_key = merge;
    f.key_mark = mark;
    return okStatus();
  }

  Status scalar(const yaml_event_t& ev) {
    std::string_view text(reinterpret_cast<const char*>(ev.data.scalar.value), ev.data.scalar.length);
    std::string_view tag = ev.data.scalar.tag ? reinterpret_cast<const char*>(ev.data.scalar.tag) : "";
    bool plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    BERTH_RETURN_IF_ERROR(countNode(ev.start_mark, 1));

    json::value v;
    if (tag == kTagStr || tag == "!" || (!plain && (tag.empty() || !startsWithYamlTag(tag)))) {
      v = json::string(text);
    } else {
      if (resolvePlain(text, v) == Resolved::kNotJson)
        return yamlError(ev.start_mark, "json: unsupported value: " + std::string(text));
      if (!tag.empty() && !checkTag(tag, v))
        return yamlError(ev.start_mark, "cannot decode " + std::string(tag) + " `" + std::string(text) + "`");
    }
    if (ev.data.scalar.anchor) remember(reinterpret_cast<const char*>(ev.data.scalar.anchor), v);
    if (expectingKey()) {
      if (v.is_null()) return yamlError(ev.start_mark, "unsupported map key: null");
      bool merge = plain && tag.empty() && text == "<<";
      return setKey(keyString(v), merge, ev.start_mark);
    }
    return deliver(std::move(v), ev.start_mark, true);
  }

  static bool startsWithYamlTag(std::string_view tag) { return tag.substr(0, 18) == "tag:yaml.org,2002:"; }

  // Explicitly tagged scalars must resolve to the tag's type.
  static bool checkTag(std::string_view tag, const json::value& v) {
    if (tag == kTagInt) return v.is_int64() || v.is_uint64();
    if (tag == kTagFloat) return v.is_number();
    if (tag == kTagBool) return v.is_bool();
    if (tag == kTagNull) return v.is_null();
    return true;
  }

  Status deliver(json::value v, const yaml_mark_t& mark, bool) {
    if (stack_.empty()) {
      doc_root_ = std::move(v);
      have_root_ = true;
      return okStatus();
    }
    Frame& f = stack_.back();
    if (auto* arr = f.container.if_array()) {
      arr->push_back(std::move(v));
      return okStatus();
    }
    json::object& obj = f.container.get_object();
    std::string key = std::move(*f.key);
    f.key.reset();
    if (f.merge_key) {
      // `<<: *base` or `<<: [*a, *b]` (earlier maps win in a list), applied
      // in place as go-yaml v2 does.
      if (v.is_object()) {
        for (auto& kv : v.get_object()) obj[kv.key()] = std::move(kv.value());
        return okStatus();
      }
      if (auto* list = v.if_array()) {
        for (auto it = list->rbegin(); it != list->rend(); ++it) {
          if (!it->is_object()) return yamlError(mark, "map merge requires map or sequence of maps as the value");
          for (auto& kv : it->get_object()) obj[kv.key()] = std::move(kv.value());
        }
        return okStatus();
      }
      return yamlError(mark, "map merge requires map or sequence of maps as the value");
    }
    if (strict_ && obj.contains(key)) return yamlError(f.key_mark, "key \"" + key + "\" already set in map");
    obj[key] = std::move(v);
    return okStatus();
  }

  std::string_view text_;
  bool strict_;
  yaml_parser_t parser_{};
  bool initialized_ = false;
  std::vector<Frame> stack_;
  std::map<std::string, Anchor> anchors_;
  std::size_t nodes_ = 0;
  int documents_ = 0;
  bool have_root_ = false;
  json::value doc_root_;
  json::value root_;
};

}  // namespace

Result<json::value> yamlToJson(std::string_view text, bool strict) {
  try {
    Converter c(text, strict);
    return c.run();
  } catch (const std::exception& e) {
    // boost::json allocation failures and the like.
    return makeError(ErrorCode::kBadRequest, std::string(kPrefix) + e.what());
  }
}

}  // namespace berth::api
