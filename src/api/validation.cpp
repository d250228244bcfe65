#include "api/validation.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "api/kinds/access.h"

namespace berth::api {

namespace json = boost::json;

namespace {

// Messages and formats from k8s.io/apimachinery/pkg/util/validation.
constexpr const char* kDns1123LabelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
constexpr const char* kDns1123SubdomainFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
constexpr const char* kDns1035LabelFmt = "[a-z]([-a-z0-9]*[a-z0-9])?";
constexpr const char* kQualifiedNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
constexpr const char* kLabelValueFmt = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
constexpr const char* kQualifiedNameErrMsg =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character";
constexpr size_t kTotalAnnotationSizeLimit = 256 * 1024;

std::string maxLenError(int n) { return "must be no more than " + std::to_string(n) + " characters"; }

// RegexError: msg (e.g. 'a',  or 'b', regex used for validation is 'fmt').
std::string regexError(const std::string& msg, const std::string& fmt, std::vector<std::string> examples) {
  if (examples.empty()) return msg + " (regex used for validation is '" + fmt + "')";
  std::string out = msg + " (e.g. ";
  for (size_t i = 0; i < examples.size(); ++i) {
    if (i) out += " or ";
    out += "'" + examples[i] + "', ";
  }
  return out + "regex used for validation is '" + fmt + "')";
}

bool lowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool alnum(char c) { return lowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool matchDns1123Label(std::string_view s) {
  if (s.empty() || !lowerAlnum(s.front()) || !lowerAlnum(s.back())) return false;
  for (char c : s)
    if (!lowerAlnum(c) && c != '-') return false;
  return true;
}

bool matchDns1123Subdomain(std::string_view s) {
  if (s.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view part = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!matchDns1123Label(part)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool matchQualifiedNamePart(std::string_view s) {
  if (s.empty() || !alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s)
    if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

std::vector<std::string> prefixEach(std::vector<std::string> msgs, const std::string& prefix) {
  for (auto& m : msgs) m = prefix + m;
  return msgs;
}

std::vector<std::string> isPathSegmentName(const std::string& name, bool prefix) {
  std::vector<std::string> errs;
  if (!prefix) {
    if (name == "." || name == "..") errs.push_back("may not be '" + name + "'");
  }
  if (name.find('/') != std::string::npos) errs.push_back("may not contain '/'");
  if (name.find('%') != std::string::npos) errs.push_back("may not contain '%'");
  return errs;
}

}  // namespace

std::vector<std::string> isDns1123Label(const std::string& value) {
  std::vector<std::string> errs;
  if (value.size() > 63) errs.push_back(maxLenError(63));
  if (!matchDns1123Label(value))
    errs.push_back(regexError(
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
        "and end with an alphanumeric character",
        kDns1123LabelFmt, {"my-name", "123-abc"}));
  return errs;
}

std::vector<std::string> isDns1123Subdomain(const std::string& value) {
  std::vector<std::string> errs;
  if (value.size() > 253) errs.push_back(maxLenError(253));
  if (!matchDns1123Subdomain(value))
    errs.push_back(regexError(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
        "must start and end with an alphanumeric character",
        kDns1123SubdomainFmt, {"example.com"}));
  return errs;
}

std::vector<std::string> isDns1035Label(const std::string& value) {
  std::vector<std::string> errs;
  if (value.size() > 63) errs.push_back(maxLenError(63));
  bool ok = matchDns1123Label(value) && value.front() >= 'a' && value.front() <= 'z';
  if (!ok)
    errs.push_back(regexError(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
        "character, and end with an alphanumeric character",
        kDns1035LabelFmt, {"my-name", "abc-123"}));
  return errs;
}

std::vector<std::string> isQualifiedName(const std::string& value) {
  std::vector<std::string> errs;
  std::string name;
  size_t slashes = std::count(value.begin(), value.end(), '/');
  if (slashes == 0) {
    name = value;
  } else if (slashes == 1) {
    size_t slash = value.find('/');
    std::string prefix = value.substr(0, slash);
    name = value.substr(slash + 1);
    if (prefix.empty()) {
      errs.push_back("prefix part must be non-empty");
    } else {
      auto msgs = isDns1123Subdomain(prefix);
      for (auto& m : prefixEach(msgs, "prefix part ")) errs.push_back(m);
    }
  } else {
    errs.push_back("a qualified name " +
                   regexError(kQualifiedNameErrMsg, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}) +
                   " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
    return errs;
  }
  if (name.empty()) errs.push_back("name part must be non-empty");
  else if (name.size() > 63) errs.push_back("name part " + maxLenError(63));
  if (!matchQualifiedNamePart(name))
    errs.push_back("name part " +
                   regexError(kQualifiedNameErrMsg, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}));
  return errs;
}

std::vector<std::string> isValidLabelValue(const std::string& value) {
  std::vector<std::string> errs;
  if (value.size() > 63) errs.push_back(maxLenError(63));
  if (!value.empty() && !matchQualifiedNamePart(value))
    errs.push_back(regexError(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
        "must start and end with an alphanumeric character",
        kLabelValueFmt, {"MyValue", "my_value", "12345"}));
  return errs;
}

std::vector<std::string> isCIdentifier(const std::string& value) {
  bool ok = !value.empty() && (std::isalpha(static_cast<unsigned char>(value[0])) || value[0] == '_');
  for (char c : value)
    if (!alnum(c) && c != '_') ok = false;
  if (ok) return {};
  return {regexError("a valid C identifier must start with alphabetic character or '_', followed by a string of "
                     "alphanumeric characters or '_'",
                     "[A-Za-z_][A-Za-z0-9_]*", {"my_name", "MY_NAME", "MyName"})};
}

std::vector<std::string> isEnvVarName(const std::string& value) {
  std::vector<std::string> errs;
  bool ok = !value.empty() && !(value[0] >= '0' && value[0] <= '9');
  for (char c : value)
    if (!alnum(c) && c != '_' && c != '-' && c != '.') ok = false;
  if (!ok)
    errs.push_back(regexError("a valid environment variable name must consist of alphabetic characters, digits, "
                              "'_', '-', or '.', and must not start with a digit",
                              "[-._a-zA-Z][-._a-zA-Z0-9]*", {"my.env-name", "MY_ENV.NAME", "MyEnvName1"}));
  return errs;
}

std::vector<std::string> isConfigMapKey(const std::string& value) {
  std::vector<std::string> errs;
  if (value.size() > 253) errs.push_back(maxLenError(253));
  bool ok = !value.empty();
  for (char c : value)
    if (!alnum(c) && c != '-' && c != '_' && c != '.') ok = false;
  if (!ok)
    errs.push_back(regexError("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                              "[-._a-zA-Z0-9]+", {"key.name", "KEY_NAME", "key-name"}));
  if (value == ".") errs.push_back("must not be '.'");
  else if (value == "..") errs.push_back("must not be '..'");
  else if (value.rfind("..", 0) == 0) errs.push_back("must not start with '..'");
  return errs;
}

std::vector<std::string> isValidPortName(const std::string& port) {
  std::vector<std::string> errs;
  if (port.size() > 15) errs.push_back(maxLenError(15));
  bool charset = !port.empty(), letter = false;
  for (char c : port) {
    if (!lowerAlnum(c) && c != '-') charset = false;
    if (c >= 'a' && c <= 'z') letter = true;
  }
  if (!charset) errs.push_back("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (!letter) errs.push_back("must contain at least one letter (a-z)");
  if (port.find("--") != std::string::npos) errs.push_back("must not contain consecutive hyphens");
  if (!port.empty() && (port.front() == '-' || port.back() == '-'))
    errs.push_back("must not begin or end with a hyphen");
  return errs;
}

std::vector<std::string> isValidPortNum(int64_t port) {
  if (port >= 1 && port <= 65535) return {};
  return {"must be between 1 and 65535, inclusive"};
}

bool isIpv4(const std::string& value) {
  in_addr a{};
  return inet_pton(AF_INET, value.c_str(), &a) == 1;
}

bool isIpv6(const std::string& value) {
  in6_addr a{};
  return value.find(':') != std::string::npos && inet_pton(AF_INET6, value.c_str(), &a) == 1;
}

std::vector<std::string> isValidIp(const std::string& value) {
  if (isIpv4(value) || isIpv6(value)) return {};
  return {"must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"};
}

std::vector<std::string> validateName(const std::string& value, NameRule rule, bool prefix) {
  std::string v = value;
  // maskTrailingDash: a generateName prefix may end in '-'.
  if (prefix && v.size() > 1 && v.back() == '-') v.pop_back();
  switch (rule) {
    case NameRule::kDns1123Subdomain: return isDns1123Subdomain(v);
    case NameRule::kDns1123Label: return isDns1123Label(v);
    case NameRule::kDns1035Label: return isDns1035Label(v);
    case NameRule::kPathSegment: return isPathSegmentName(value, prefix);
  }
  return {};
}

std::string goStringMapRepr(const std::map<std::string, std::string>& m) {
  std::string out = "map[string]string{";
  bool first = true;
  for (const auto& [k, v] : m) {
    if (!first) out += ", ";
    first = false;
    out += FieldErrors::quote(k) + ":" + FieldErrors::quote(v);
  }
  return out + "}";
}

std::string valueRepr(const json::value* v) {
  if (!v || v->is_null()) return "null";
  if (v->is_string()) return FieldErrors::quote(std::string(v->get_string()));
  if (v->is_bool()) return v->get_bool() ? "true" : "false";
  if (v->is_int64()) return std::to_string(v->get_int64());
  if (v->is_uint64()) return std::to_string(v->get_uint64());
  if (v->is_double()) {
    auto i = asInt(v);
    if (i) return std::to_string(*i);
    return json::serialize(*v);
  }
  if (v->is_object()) {
    bool all_strings = true;
    for (const auto& kv : v->get_object())
      if (!kv.value().is_string()) all_strings = false;
    if (all_strings) return goStringMapRepr(stringMap(v));
  }
  return json::serialize(*v);
}

bool jsonEqual(const json::value* a, const json::value* b) {
  bool an = !a || a->is_null(), bn = !b || b->is_null();
  if (an || bn) return an && bn;
  if (a->is_number() && b->is_number()) {
    auto ai = asInt(a), bi = asInt(b);
    if (ai && bi) return *ai == *bi;
    boost::system::error_code ec;
    double ad = a->to_number<double>(ec);
    double bd = b->to_number<double>(ec);
    return ad == bd;
  }
  if (a->kind() != b->kind()) return false;
  if (a->is_object()) {
    const auto& ao = a->get_object();
    const auto& bo = b->get_object();
    for (const auto& kv : ao) {
      auto it = bo.find(kv.key());
      if (!jsonEqual(&kv.value(), it == bo.end() ? nullptr : &it->value())) return false;
    }
    for (const auto& kv : bo)
      if (!ao.contains(kv.key()) && !kv.value().is_null()) return false;
    return true;
  }
  if (a->is_array()) {
    const auto& aa = a->get_array();
    const auto& ba = b->get_array();
    if (aa.size() != ba.size()) return false;
    for (size_t i = 0; i < aa.size(); ++i)
      if (!jsonEqual(&aa[i], &ba[i])) return false;
    return true;
  }
  return *a == *b;
}

void validateNonnegative(const json::value* v, const std::string& path, FieldErrors& errs) {
  auto i = asInt(v);
  if (i && *i < 0) errs.invalid(path, std::to_string(*i), "must be greater than or equal to 0");
}

void validateImmutable(const json::value* now, const json::value* old, const std::string& path,
                       FieldErrors& errs) {
  if (!jsonEqual(now, old)) errs.immutable(path, valueRepr(now));
}

void validateLabels(const json::value* labels, const std::string& path, FieldErrors& errs) {
  const json::object* o = asObj(labels);
  if (!o) return;
  for (const auto& kv : *o) {
    std::string k(kv.key());
    for (const auto& m : isQualifiedName(k)) errs.invalid(path, FieldErrors::quote(k), m);
    std::string v = asStr(&kv.value());
    for (const auto& m : isValidLabelValue(v)) errs.invalid(path, FieldErrors::quote(v), m);
  }
}

void validateAnnotations(const json::value* annotations, const std::string& path, FieldErrors& errs) {
  const json::object* o = asObj(annotations);
  if (!o) return;
  size_t total = 0;
  for (const auto& kv : *o) {
    std::string k(kv.key());
    std::string lower = k;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    for (const auto& m : isQualifiedName(lower)) errs.invalid(path, FieldErrors::quote(k), m);
    total += k.size() + asStr(&kv.value()).size();
  }
  if (total > kTotalAnnotationSizeLimit) errs.tooLong(path, "", static_cast<int>(kTotalAnnotationSizeLimit));
}

void validateLabelSelector(const json::value* selector, const std::string& path, FieldErrors& errs) {
  const json::object* sel = asObj(selector);
  if (!sel) return;
  validateLabels(at(*sel, {"matchLabels"}), path + ".matchLabels", errs);
  const json::array* exprs = arrAt(*sel, {"matchExpressions"});
  if (!exprs) return;
  for (size_t i = 0; i < exprs->size(); ++i) {
    std::string p = path + ".matchExpressions[" + std::to_string(i) + "]";
    const json::object* e = asObj(&(*exprs)[i]);
    if (!e) continue;
    std::string op = strAt(*e, {"operator"});
    const json::array* values = arrAt(*e, {"values"});
    size_t nvalues = values ? values->size() : 0;
    if (op == "In" || op == "NotIn") {
      if (nvalues == 0) errs.required(p + ".values", "must be specified when `operator` is 'In' or 'NotIn'");
    } else if (op == "Exists" || op == "DoesNotExist") {
      if (nvalues > 0)
        errs.forbidden(p + ".values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
    } else {
      errs.invalid(p + ".operator", FieldErrors::quote(op), "not a valid selector operator");
    }
    std::string key = strAt(*e, {"key"});
    for (const auto& m : isQualifiedName(key)) errs.invalid(p + ".key", FieldErrors::quote(key), m);
    if (values)
      for (size_t j = 0; j < values->size(); ++j) {
        std::string v = asStr(&(*values)[j]);
        for (const auto& m : isValidLabelValue(v))
          errs.invalid(p + ".values[" + std::to_string(j) + "]", FieldErrors::quote(v), m);
      }
  }
}

void validateObjectMeta(const json::object& obj, const json::object* old, bool namespaced, NameRule rule,
                        FieldErrors& errs) {
  static const json::object kEmpty;
  const json::object* mp = objAt(obj, {"metadata"});
  const json::object& m = mp ? *mp : kEmpty;
  std::string name = strAt(m, {"name"});
  std::string generate_name = strAt(m, {"generateName"});
  std::string ns = strAt(m, {"namespace"});

  if (!generate_name.empty())
    for (const auto& msg : validateName(generate_name, rule, true))
      errs.invalid("metadata.generateName", FieldErrors::quote(generate_name), msg);
  if (name.empty()) {
    errs.required("metadata.name", "name or generateName is required");
  } else {
    for (const auto& msg : validateName(name, rule, false))
      errs.invalid("metadata.name", FieldErrors::quote(name), msg);
  }
  if (namespaced) {
    if (ns.empty()) {
      errs.required("metadata.namespace");
    } else {
      for (const auto& msg : isDns1123Label(ns)) errs.invalid("metadata.namespace", FieldErrors::quote(ns), msg);
    }
  } else if (!ns.empty()) {
    errs.forbidden("metadata.namespace", "not allowed on this type");
  }
  validateNonnegative(at(m, {"generation"}), "metadata.generation", errs);
  validateLabels(at(m, {"labels"}), "metadata.labels", errs);
  validateAnnotations(at(m, {"annotations"}), "metadata.annotations", errs);

  // ValidateOwnerReferences: fields required; at most one controller.
  if (const json::array* refs = arrAt(m, {"ownerReferences"})) {
    int controllers = 0;
    for (const auto& r : *refs) {
      const json::object* ro = asObj(&r);
      if (!ro) continue;
      std::string api_version = strAt(*ro, {"apiVersion"});
      std::string version = api_version.substr(api_version.find('/') == std::string::npos ? 0
                                                                                            : api_version.find('/') + 1);
      if (version.empty())
        errs.invalid("metadata.ownerReferences.apiVersion", FieldErrors::quote(api_version),
                     "version must not be empty");
      std::string kind = strAt(*ro, {"kind"});
      if (kind.empty()) errs.invalid("metadata.ownerReferences.kind", "\"\"", "kind must not be empty");
      if (strAt(*ro, {"name"}).empty())
        errs.invalid("metadata.ownerReferences.name", "\"\"", "name must not be empty");
      if (strAt(*ro, {"uid"}).empty()) errs.invalid("metadata.ownerReferences.uid", "\"\"", "uid must not be empty");
      if (boolAt(*ro, {"controller"}).value_or(false)) ++controllers;
    }
    if (controllers > 1)
      errs.invalid("metadata.ownerReferences", valueRepr(at(m, {"ownerReferences"})),
                   "Only one reference can have Controller set to true");
  }
  if (const json::array* fins = arrAt(m, {"finalizers"})) {
    for (const auto& f : *fins) {
      std::string fs = asStr(&f);
      for (const auto& msg : isQualifiedName(fs)) errs.invalid("metadata.finalizers", FieldErrors::quote(fs), msg);
    }
  }

  if (!old) return;
  // ValidateObjectMetaUpdate.
  const json::object* omp = objAt(*old, {"metadata"});
  const json::object& om = omp ? *omp : kEmpty;
  if (at(om, {"deletionTimestamp"})) {
    // ValidateNoNewFinalizers.
    std::vector<std::string> old_fins;
    if (const json::array* a = arrAt(om, {"finalizers"}))
      for (const auto& f : *a) old_fins.push_back(asStr(&f));
    std::vector<std::string> extra;
    if (const json::array* a = arrAt(m, {"finalizers"}))
      for (const auto& f : *a)
        if (std::find(old_fins.begin(), old_fins.end(), asStr(&f)) == old_fins.end()) extra.push_back(asStr(&f));
    if (!extra.empty()) {
      std::string list = "[";
      for (size_t i = 0; i < extra.size(); ++i) list += (i ? " " : "") + extra[i];
      errs.forbidden("metadata.finalizers", "no new finalizers can be added if the object is being deleted, "
                                            "found new finalizers " + list + "]");
    }
  }
  auto gen = intAt(m, {"generation"}), ogen = intAt(om, {"generation"});
  if (gen && ogen && *gen < *ogen) errs.invalid("metadata.generation", std::to_string(*gen), "must not be decremented");
  validateImmutable(at(m, {"name"}), at(om, {"name"}), "metadata.name", errs);
  validateImmutable(at(m, {"namespace"}), at(om, {"namespace"}), "metadata.namespace", errs);
  validateImmutable(at(m, {"uid"}), at(om, {"uid"}), "metadata.uid", errs);
  validateImmutable(at(m, {"creationTimestamp"}), at(om, {"creationTimestamp"}), "metadata.creationTimestamp", errs);
  validateImmutable(at(m, {"deletionTimestamp"}), at(om, {"deletionTimestamp"}), "metadata.deletionTimestamp", errs);
  validateImmutable(at(m, {"deletionGracePeriodSeconds"}), at(om, {"deletionGracePeriodSeconds"}),
                    "metadata.deletionGracePeriodSeconds", errs);
}

}  // namespace berth::api
