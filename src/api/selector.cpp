#include "api/selector.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <set>
#include <utility>

namespace berth::api {

namespace json = boost::json;

// ---------------------------------------------------------------------------
// Validation messages, as k8s.io/apimachinery/pkg/api/validate/content.

namespace {

constexpr const char* kLabelKeyFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
constexpr const char* kLabelKeyErrMsg =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
constexpr const char* kLabelValueFmt = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
constexpr const char* kLabelValueErrMsg =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character";
constexpr const char* kDns1123SubdomainFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
constexpr const char* kDns1123SubdomainErrMsg =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and "
    "end with an alphanumeric character";

std::string regexError(const std::string& msg, const std::string& re, std::initializer_list<const char*> examples) {
  std::string out = msg;
  if (examples.size() == 0) return out + " (regex used for validation is '" + re + "')";
  out += " (e.g. ";
  bool first = true;
  for (const char* ex : examples) {
    if (!first) out += " or ";
    first = false;
    out += "'" + std::string(ex) + "', ";
  }
  return out + "regex used for validation is '" + re + "')";
}

std::string maxLenError(int n) { return "must be no more than " + std::to_string(n) + " bytes"; }

bool isAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool matchesLabelKeyName(std::string_view s) {
  if (s.empty() || !isAlnum(s.front()) || !isAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return isAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool matchesDns1123Subdomain(std::string_view s) {
  if (s.empty()) return false;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || !isLowerAlnum(label.front()) || !isLowerAlnum(label.back())) return false;
    for (char c : label)
      if (!isLowerAlnum(c) && c != '-') return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::vector<std::string> dns1123SubdomainErrors(std::string_view v) {
  std::vector<std::string> errs;
  if (v.size() > 253) errs.push_back(maxLenError(253));
  if (!matchesDns1123Subdomain(v)) errs.push_back(regexError(kDns1123SubdomainErrMsg, kDns1123SubdomainFmt, {"example.com"}));
  return errs;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

// Go's %q for field error values.
std::string goQuote(std::string_view s) {
  static const char* kHex = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// field.Invalid(path, value, detail).Error()
std::string fieldInvalid(const std::string& path, std::string_view value, const std::string& detail) {
  return path + ": Invalid value: " + goQuote(value) + ": " + detail;
}

std::string jsonStringList(const std::vector<std::string>& values) {
  json::array a;
  for (const auto& v : values) a.emplace_back(v);
  return json::serialize(a);
}

// strconv.ParseInt(s, 10, 64)
std::optional<std::int64_t> parseInt64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool neg = false;
  std::size_t i = 0;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    i = 1;
  }
  if (i == s.size()) return std::nullopt;
  std::uint64_t n = 0;
  const std::uint64_t limit = neg ? std::uint64_t(std::numeric_limits<std::int64_t>::max()) + 1
                                  : std::uint64_t(std::numeric_limits<std::int64_t>::max());
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    n = n * 10 + std::uint64_t(s[i] - '0');
    if (n > limit) return std::nullopt;
  }
  if (neg) return n == limit ? std::numeric_limits<std::int64_t>::min() : -static_cast<std::int64_t>(n);
  return static_cast<std::int64_t>(n);
}

}  // namespace

std::vector<std::string> labelKeyErrors(std::string_view value) {
  std::vector<std::string> errs;
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = value.find('/', start);
    parts.push_back(value.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  std::string_view name;
  if (parts.size() == 1) {
    name = parts[0];
  } else if (parts.size() == 2) {
    std::string_view prefix = parts[0];
    name = parts[1];
    if (prefix.empty()) {
      errs.push_back("prefix part must be non-empty");
    } else {
      for (auto& m : dns1123SubdomainErrors(prefix)) errs.push_back("prefix part " + m);
    }
  } else {
    errs.push_back("a valid label key " + regexError(kLabelKeyErrMsg, kLabelKeyFmt, {"MyName", "my.name", "123-abc"}) +
                   " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
    return errs;
  }
  if (name.empty()) {
    errs.push_back("name part must be non-empty");
  } else if (name.size() > 63) {
    errs.push_back("name part " + maxLenError(63));
  }
  if (!matchesLabelKeyName(name))
    errs.push_back("name part " + regexError(kLabelKeyErrMsg, kLabelKeyFmt, {"MyName", "my.name", "123-abc"}));
  return errs;
}

std::vector<std::string> labelValueErrors(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > 63) errs.push_back(maxLenError(63));
  if (!value.empty() && !matchesLabelKeyName(value))
    errs.push_back(regexError(kLabelValueErrMsg, kLabelValueFmt, {"MyValue", "my_value", "12345"}));
  return errs;
}

// ---------------------------------------------------------------------------
// Requirements

bool LabelRequirement::matches(const std::function<std::optional<std::string_view>(std::string_view)>& lookup) const {
  auto has_value = [&](std::string_view v) { return std::find(values.begin(), values.end(), v) != values.end(); };
  auto val = lookup(key);
  switch (op) {
    case SelectorOp::kIn:
    case SelectorOp::kEquals:
    case SelectorOp::kDoubleEquals: return val && has_value(*val);
    case SelectorOp::kNotIn:
    case SelectorOp::kNotEquals: return !val || !has_value(*val);
    case SelectorOp::kExists: return val.has_value();
    case SelectorOp::kDoesNotExist: return !val.has_value();
    case SelectorOp::kGreaterThan:
    case SelectorOp::kLessThan: {
      if (!val || values.size() != 1) return false;
      auto lv = parseInt64(*val);
      auto rv = parseInt64(values[0]);
      if (!lv || !rv) return false;
      return op == SelectorOp::kGreaterThan ? *lv > *rv : *lv < *rv;
    }
  }
  return false;
}

std::string LabelRequirement::toString() const {
  std::string out;
  if (op == SelectorOp::kDoesNotExist) out += "!";
  out += key;
  switch (op) {
    case SelectorOp::kEquals: out += "="; break;
    case SelectorOp::kDoubleEquals: out += "=="; break;
    case SelectorOp::kNotEquals: out += "!="; break;
    case SelectorOp::kIn: out += " in "; break;
    case SelectorOp::kNotIn: out += " notin "; break;
    case SelectorOp::kGreaterThan: out += ">"; break;
    case SelectorOp::kLessThan: out += "<"; break;
    case SelectorOp::kExists:
    case SelectorOp::kDoesNotExist: return out;
  }
  bool set = op == SelectorOp::kIn || op == SelectorOp::kNotIn;
  if (set) out += "(";
  if (values.size() == 1) {
    out += values[0];
  } else {
    // Values are printed sorted, whatever their stored order.
    std::vector<std::string> sorted = values;
    std::sort(sorted.begin(), sorted.end());
    out += join(sorted, ",");
  }
  if (set) out += ")";
  return out;
}

namespace {

// labels.NewRequirement: validates and returns the aggregated field errors.
Result<LabelRequirement> newRequirement(std::string key, SelectorOp op, std::vector<std::string> values) {
  std::vector<std::string> errs;
  if (auto ke = labelKeyErrors(key); !ke.empty()) errs.push_back(fieldInvalid("key", key, join(ke, "; ")));
  switch (op) {
    case SelectorOp::kIn:
    case SelectorOp::kNotIn:
      if (values.empty())
        errs.push_back("values: Invalid value: " + jsonStringList(values) +
                       ": for 'in', 'notin' operators, values set can't be empty");
      break;
    case SelectorOp::kEquals:
    case SelectorOp::kDoubleEquals:
    case SelectorOp::kNotEquals:
      if (values.size() != 1)
        errs.push_back("values: Invalid value: " + jsonStringList(values) +
                       ": exact-match compatibility requires one single value");
      break;
    case SelectorOp::kExists:
    case SelectorOp::kDoesNotExist:
      if (!values.empty())
        errs.push_back("values: Invalid value: " + jsonStringList(values) +
                       ": values set must be empty for exists and does not exist");
      break;
    case SelectorOp::kGreaterThan:
    case SelectorOp::kLessThan:
      if (values.size() != 1)
        errs.push_back("values: Invalid value: " + jsonStringList(values) +
                       ": for 'Gt', 'Lt' operators, exactly one value is required");
      for (std::size_t i = 0; i < values.size(); ++i)
        if (!parseInt64(values[i]))
          errs.push_back(fieldInvalid("values[" + std::to_string(i) + "]", values[i],
                                      "for 'Gt', 'Lt' operators, the value must be an integer"));
      break;
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (auto ve = labelValueErrors(values[i]); !ve.empty())
      errs.push_back(fieldInvalid("values[" + std::to_string(i) + "][" + key + "]", values[i], join(ve, "; ")));
  }
  if (!errs.empty()) {
    // utilerrors aggregate: one message bare, several de-duplicated in [].
    std::vector<std::string> uniq;
    for (auto& e : errs)
      if (std::find(uniq.begin(), uniq.end(), e) == uniq.end()) uniq.push_back(e);
    std::string msg = uniq.size() == 1 ? uniq[0] : "[" + join(uniq, ", ") + "]";
    return makeError(ErrorCode::kBadRequest, msg);
  }
  return LabelRequirement{std::move(key), op, std::move(values)};
}

// --- labels.Parse lexer and parser -----------------------------------------

enum class Tok {
  kError, kEnd, kClosedPar, kComma, kDoesNotExist, kDoubleEquals, kEquals, kGreaterThan, kIdentifier, kIn,
  kLessThan, kNotEquals, kNotIn, kOpenPar,
};

std::optional<Tok> keywordToken(std::string_view s) {
  if (s == ")") return Tok::kClosedPar;
  if (s == ",") return Tok::kComma;
  if (s == "!") return Tok::kDoesNotExist;
  if (s == "==") return Tok::kDoubleEquals;
  if (s == "=") return Tok::kEquals;
  if (s == ">") return Tok::kGreaterThan;
  if (s == "in") return Tok::kIn;
  if (s == "<") return Tok::kLessThan;
  if (s == "!=") return Tok::kNotEquals;
  if (s == "notin") return Tok::kNotIn;
  if (s == "(") return Tok::kOpenPar;
  return std::nullopt;
}

bool isWhitespace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool isSpecial(char c) {
  return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

struct Item {
  Tok tok;
  std::string lit;
};

std::vector<Item> lex(std::string_view s) {
  // Go's lexer reads a NUL byte as the end of input.
  if (auto nul = s.find('\0'); nul != std::string_view::npos) s = s.substr(0, nul);
  std::vector<Item> items;
  std::size_t pos = 0;
  while (true) {
    while (pos < s.size() && isWhitespace(s[pos])) ++pos;
    if (pos >= s.size()) {
      items.push_back({Tok::kEnd, ""});
      return items;
    }
    if (isSpecial(s[pos])) {
      // Longest run of special characters that still forms a token.
      std::string buf;
      std::optional<Item> last;
      while (pos < s.size() && isSpecial(s[pos])) {
        buf += s[pos];
        if (auto t = keywordToken(buf)) {
          last = Item{*t, buf};
          ++pos;
        } else if (last) {
          break;
        } else {
          ++pos;
        }
      }
      if (!last) {
        items.push_back({Tok::kError, "error expected: keyword found '" + buf + "'"});
      } else {
        items.push_back(*last);
      }
      continue;
    }
    std::size_t start = pos;
    while (pos < s.size() && !isSpecial(s[pos]) && !isWhitespace(s[pos])) ++pos;
    std::string lit(s.substr(start, pos - start));
    auto t = keywordToken(lit);
    items.push_back({t ? *t : Tok::kIdentifier, lit});
  }
}

class Parser {
 public:
  explicit Parser(std::string_view s) : items_(lex(s)) {}

  Result<std::vector<LabelRequirement>> parse() {
    std::vector<LabelRequirement> reqs;
    while (true) {
      auto [tok, lit] = lookahead(true);
      if (tok == Tok::kIdentifier || tok == Tok::kDoesNotExist) {
        auto r = parseRequirement();
        if (!r.ok()) return makeError(ErrorCode::kBadRequest, "unable to parse requirement: " + r.error().message);
        reqs.push_back(std::move(*r));
        auto [t, l] = consume(true);
        if (t == Tok::kEnd) return reqs;
        if (t == Tok::kComma) {
          auto [t2, l2] = lookahead(true);
          if (t2 != Tok::kIdentifier && t2 != Tok::kDoesNotExist)
            return makeError(ErrorCode::kBadRequest, "found '" + l2 + "', expected: identifier after ','");
        } else {
          return makeError(ErrorCode::kBadRequest, "found '" + l + "', expected: ',' or 'end of string'");
        }
      } else if (tok == Tok::kEnd) {
        return reqs;
      } else {
        return makeError(ErrorCode::kBadRequest, "found '" + lit + "', expected: !, identifier, or 'end of string'");
      }
    }
  }

 private:
  // In the values context the keywords `in` and `notin` are identifiers.
  std::pair<Tok, std::string> lookahead(bool values) const {
    const Item& it = items_[std::min(pos_, items_.size() - 1)];
    Tok t = it.tok;
    if (values && (t == Tok::kIn || t == Tok::kNotIn)) t = Tok::kIdentifier;
    return {t, it.lit};
  }
  std::pair<Tok, std::string> consume(bool values) {
    auto r = lookahead(values);
    if (pos_ < items_.size() - 1) ++pos_;
    return r;
  }

  Result<LabelRequirement> parseRequirement() {
    std::optional<SelectorOp> op;
    auto [tok, lit] = consume(true);
    if (tok == Tok::kDoesNotExist) {
      op = SelectorOp::kDoesNotExist;
      std::tie(tok, lit) = consume(true);
    }
    if (tok != Tok::kIdentifier) return makeError(ErrorCode::kBadRequest, "found '" + lit + "', expected: identifier");
    if (auto ke = labelKeyErrors(lit); !ke.empty())
      return makeError(ErrorCode::kBadRequest, fieldInvalid("<nil>", lit, join(ke, "; ")));
    std::string key = lit;
    auto [next, next_lit] = lookahead(true);
    if ((next == Tok::kEnd || next == Tok::kComma) && !op) op = SelectorOp::kExists;
    if (op) return newRequirement(std::move(key), *op, {});

    auto [otok, olit] = consume(false);
    SelectorOp bop;
    switch (otok) {
      case Tok::kIn: bop = SelectorOp::kIn; break;
      case Tok::kEquals: bop = SelectorOp::kEquals; break;
      case Tok::kDoubleEquals: bop = SelectorOp::kDoubleEquals; break;
      case Tok::kGreaterThan: bop = SelectorOp::kGreaterThan; break;
      case Tok::kLessThan: bop = SelectorOp::kLessThan; break;
      case Tok::kNotIn: bop = SelectorOp::kNotIn; break;
      case Tok::kNotEquals: bop = SelectorOp::kNotEquals; break;
      default:
        return makeError(ErrorCode::kBadRequest, "found '" + olit + "', expected: in, notin, =, ==, !=, gt, lt");
    }
    std::set<std::string> values;
    if (bop == SelectorOp::kIn || bop == SelectorOp::kNotIn) {
      BERTH_RETURN_IF_ERROR(parseValues(values));
    } else {
      BERTH_RETURN_IF_ERROR(parseExactValue(values));
    }
    return newRequirement(std::move(key), bop, std::vector<std::string>(values.begin(), values.end()));
  }

  Status parseValues(std::set<std::string>& s) {
    auto [tok, lit] = consume(true);
    if (tok != Tok::kOpenPar) return makeError(ErrorCode::kBadRequest, "found '" + lit + "' expected: '('");
    std::tie(tok, lit) = lookahead(true);
    if (tok == Tok::kIdentifier || tok == Tok::kComma) {
      BERTH_RETURN_IF_ERROR(parseIdentifiersList(s));
      if (consume(true).first != Tok::kClosedPar)
        return makeError(ErrorCode::kBadRequest, "found '" + lit + "', expected: ')'");
      return okStatus();
    }
    if (tok == Tok::kClosedPar) {
      consume(true);
      s.insert("");
      return okStatus();
    }
    return makeError(ErrorCode::kBadRequest, "found '" + lit + "', expected: ',', ')' or identifier");
  }

  Status parseIdentifiersList(std::set<std::string>& s) {
    while (true) {
      auto [tok, lit] = consume(true);
      if (tok == Tok::kIdentifier) {
        s.insert(lit);
        auto [t2, l2] = lookahead(true);
        if (t2 == Tok::kComma) continue;
        if (t2 == Tok::kClosedPar) return okStatus();
        return makeError(ErrorCode::kBadRequest, "found '" + l2 + "', expected: ',' or ')'");
      }
      if (tok == Tok::kComma) {
        if (s.empty()) s.insert("");
        auto t2 = lookahead(true).first;
        if (t2 == Tok::kClosedPar) {
          s.insert("");
          return okStatus();
        }
        if (t2 == Tok::kComma) s.insert("");
        continue;
      }
      return makeError(ErrorCode::kBadRequest, "found '" + lit + "', expected: ',', or identifier");
    }
  }

  Status parseExactValue(std::set<std::string>& s) {
    auto t = lookahead(true).first;
    if (t == Tok::kEnd || t == Tok::kComma) {
      s.insert("");
      return okStatus();
    }
    auto [tok, lit] = consume(true);
    if (tok == Tok::kIdentifier) {
      s.insert(lit);
      return okStatus();
    }
    return makeError(ErrorCode::kBadRequest, "found '" + lit + "', expected: identifier");
  }

  std::vector<Item> items_;
  std::size_t pos_ = 0;
};

void sortByKey(std::vector<LabelRequirement>& reqs) {
  std::stable_sort(reqs.begin(), reqs.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
}

}  // namespace

// ---------------------------------------------------------------------------
// LabelSelector

LabelSelector LabelSelector::nothing() {
  LabelSelector s;
  s.nothing_ = true;
  return s;
}

Result<LabelSelector> LabelSelector::parse(std::string_view text) {
  Parser p(text);
  auto reqs = p.parse();
  if (!reqs.ok()) return std::move(reqs).error();
  LabelSelector s;
  s.requirements_ = std::move(*reqs);
  sortByKey(s.requirements_);
  return s;
}

Result<LabelSelector> LabelSelector::fromObject(const json::value* selector) {
  if (!selector || selector->is_null()) return nothing();
  const auto* obj = selector->if_object();
  if (!obj) return makeError(ErrorCode::kBadRequest, "label selector must be an object");
  const json::object* match_labels = nullptr;
  const json::array* exprs = nullptr;
  if (auto it = obj->find("matchLabels"); it != obj->end() && !it->value().is_null()) {
    match_labels = it->value().if_object();
    if (!match_labels) return makeError(ErrorCode::kBadRequest, "matchLabels must be an object");
  }
  if (auto it = obj->find("matchExpressions"); it != obj->end() && !it->value().is_null()) {
    exprs = it->value().if_array();
    if (!exprs) return makeError(ErrorCode::kBadRequest, "matchExpressions must be a list");
  }
  LabelSelector s;
  if ((!match_labels || match_labels->empty()) && (!exprs || exprs->empty())) return s;
  if (match_labels) {
    for (const auto& kv : *match_labels) {
      if (!kv.value().is_string()) return makeError(ErrorCode::kBadRequest, "matchLabels values must be strings");
      auto r = newRequirement(std::string(kv.key()), SelectorOp::kEquals, {std::string(kv.value().get_string())});
      if (!r.ok()) return std::move(r).error();
      s.requirements_.push_back(std::move(*r));
    }
  }
  if (exprs) {
    for (const auto& e : *exprs) {
      const auto* eo = e.if_object();
      if (!eo) return makeError(ErrorCode::kBadRequest, "matchExpressions entries must be objects");
      auto str = [&](std::string_view name) -> std::string {
        auto it = eo->find(name);
        return it != eo->end() && it->value().is_string() ? std::string(it->value().get_string()) : std::string();
      };
      std::string op_name = str("operator");
      SelectorOp op;
      if (op_name == "In") {
        op = SelectorOp::kIn;
      } else if (op_name == "NotIn") {
        op = SelectorOp::kNotIn;
      } else if (op_name == "Exists") {
        op = SelectorOp::kExists;
      } else if (op_name == "DoesNotExist") {
        op = SelectorOp::kDoesNotExist;
      } else {
        return makeError(ErrorCode::kBadRequest, goQuote(op_name) + " is not a valid label selector operator");
      }
      std::vector<std::string> values;
      if (auto it = eo->find("values"); it != eo->end() && it->value().is_array()) {
        for (const auto& v : it->value().get_array()) {
          if (!v.is_string()) return makeError(ErrorCode::kBadRequest, "matchExpressions values must be strings");
          values.emplace_back(v.get_string());
        }
      }
      auto r = newRequirement(str("key"), op, std::move(values));
      if (!r.ok()) return std::move(r).error();
      s.requirements_.push_back(std::move(*r));
    }
  }
  sortByKey(s.requirements_);
  return s;
}

LabelSelector LabelSelector::fromSet(const LabelMap& set) {
  LabelSelector s;
  for (const auto& [k, v] : set) s.requirements_.push_back({k, SelectorOp::kEquals, {v}});
  sortByKey(s.requirements_);
  return s;
}

bool LabelSelector::matches(const LabelMap& labels) const {
  if (nothing_) return false;
  auto lookup = [&](std::string_view k) -> std::optional<std::string_view> {
    auto it = labels.find(k);
    if (it == labels.end()) return std::nullopt;
    return std::string_view(it->second);
  };
  for (const auto& r : requirements_)
    if (!r.matches(lookup)) return false;
  return true;
}

bool LabelSelector::matches(const json::object* labels) const {
  if (nothing_) return false;
  auto lookup = [&](std::string_view k) -> std::optional<std::string_view> {
    if (!labels) return std::nullopt;
    auto it = labels->find(k);
    if (it == labels->end() || !it->value().is_string()) return std::nullopt;
    const auto& s = it->value().get_string();
    return std::string_view(s.data(), s.size());
  };
  for (const auto& r : requirements_)
    if (!r.matches(lookup)) return false;
  return true;
}

std::string LabelSelector::toString() const {
  std::vector<std::string> parts;
  for (const auto& r : requirements_) parts.push_back(r.toString());
  return join(parts, ",");
}

std::optional<std::string> LabelSelector::requiresExactMatch(std::string_view key) const {
  for (const auto& r : requirements_) {
    if (r.key != key) continue;
    if ((r.op == SelectorOp::kEquals || r.op == SelectorOp::kDoubleEquals || r.op == SelectorOp::kIn) &&
        r.values.size() == 1)
      return r.values[0];
    return std::nullopt;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// FieldSelector, after fields.ParseSelector.

namespace {

// splitTerms: commas split unless escaped; escapes stay in the terms.
std::vector<std::string_view> splitTerms(std::string_view s) {
  std::vector<std::string_view> terms;
  if (s.empty()) return terms;
  std::size_t start = 0;
  bool in_slash = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (in_slash) {
      in_slash = false;
    } else if (s[i] == '\\') {
      in_slash = true;
    } else if (s[i] == ',') {
      terms.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  terms.push_back(s.substr(start));
  return terms;
}

Result<std::string> unescapeValue(std::string_view s) {
  std::string out;
  bool in_slash = false;
  for (char c : s) {
    if (in_slash) {
      if (c == '\\' || c == ',' || c == '=') {
        out += c;
      } else {
        return makeError(ErrorCode::kBadRequest,
                         "invalid field selector: invalid escape sequence: \\" + std::string(1, c));
      }
      in_slash = false;
      continue;
    }
    if (c == '\\') {
      in_slash = true;
    } else if (c == ',' || c == '=') {
      // Go prints the rune with %v: its code point.
      return makeError(ErrorCode::kBadRequest,
                       "invalid field selector: unescaped character in value: " + std::to_string(int(c)));
    } else {
      out += c;
    }
  }
  if (in_slash) return makeError(ErrorCode::kBadRequest, "invalid field selector: invalid escape sequence: \\");
  return out;
}

std::string escapeValue(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == ',' || c == '=') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

Result<FieldSelector> FieldSelector::parse(std::string_view text) {
  auto parts = splitTerms(text);
  std::sort(parts.begin(), parts.end());
  FieldSelector s;
  for (auto part : parts) {
    if (part.empty()) continue;
    std::optional<std::pair<std::size_t, std::string_view>> split;
    for (std::size_t i = 0; i < part.size() && !split; ++i) {
      for (std::string_view op : {"!=", "==", "="}) {
        if (part.substr(i, op.size()) == op) {
          split = std::make_pair(i, op);
          break;
        }
      }
    }
    if (!split)
      return makeError(ErrorCode::kBadRequest, "invalid selector: '" + std::string(text) + "'; can't understand '" +
                                                   std::string(part) + "'");
    auto [i, op] = *split;
    auto value = unescapeValue(part.substr(i + op.size()));
    if (!value.ok()) return std::move(value).error();
    s.requirements_.push_back({std::string(part.substr(0, i)), op != "!=", std::move(*value)});
  }
  return s;
}

bool FieldSelector::matches(const std::function<std::string(std::string_view)>& get) const {
  for (const auto& r : requirements_) {
    bool eq = get(r.field) == r.value;
    if (eq != r.equals) return false;
  }
  return true;
}

bool FieldSelector::matches(const FieldMap& fields) const {
  return matches([&](std::string_view f) {
    auto it = fields.find(f);
    return it == fields.end() ? std::string() : it->second;
  });
}

std::vector<std::string> FieldSelector::fieldNames() const {
  std::vector<std::string> names;
  for (const auto& r : requirements_)
    if (std::find(names.begin(), names.end(), r.field) == names.end()) names.push_back(r.field);
  return names;
}

Status FieldSelector::checkSupported(const std::vector<std::string>& supported) const {
  for (const auto& r : requirements_)
    if (std::find(supported.begin(), supported.end(), r.field) == supported.end())
      return makeError(ErrorCode::kBadRequest, "field label not supported: " + r.field);
  return okStatus();
}

std::optional<std::string> FieldSelector::requiresExactMatch(std::string_view field) const {
  // andTerm.RequiresExactMatch: the first equality term on the field.
  for (const auto& r : requirements_)
    if (r.field == field && r.equals) return r.value;
  return std::nullopt;
}

std::string FieldSelector::toString() const {
  std::vector<std::string> parts;
  for (const auto& r : requirements_) parts.push_back(r.field + (r.equals ? "=" : "!=") + escapeValue(r.value));
  return join(parts, ",");
}

}  // namespace berth::api
