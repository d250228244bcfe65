// networking.k8s.io/v1 Ingress: validation after ValidateIngressCreate /
// ValidateIngressSpec in pkg/apis/networking/validation/validation.go and
// the table after printIngress in pkg/printers/internalversion/printers.go.

#include <algorithm>
#include <set>

#include "api/kind.h"
#include "api/kinds/access.h"
#include "api/kinds/networking_internal.h"
#include "api/kinds/printing.h"
#include "api/validation.h"

namespace berth::api {

namespace json = boost::json;

namespace {

const json::object& orEmpty(const json::object* o) {
  static const json::object kEmpty;
  return o ? *o : kEmpty;
}

std::string idx(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

// IsWildcardDNS1123Subdomain.
std::vector<std::string> isWildcardDns1123Subdomain(const std::string& v) {
  std::vector<std::string> out;
  if (v.size() > 253) out.push_back("must be no more than 253 characters");
  bool ok = v.size() > 2 && v.compare(0, 2, "*.") == 0 && isDns1123Subdomain(v.substr(2)).empty();
  if (!ok)
    out.push_back(
        "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist "
        "of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. "
        "'*.example.com', regex used for validation is "
        "'\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
  return out;
}

// validateIngressBackend.
void validateBackend(const json::object& backend, const std::string& path, FieldErrors& errs) {
  const json::value* res = at(backend, {"resource"});
  const json::value* svc = at(backend, {"service"});
  bool has_res = res && !res->is_null();
  bool has_svc = svc && !svc->is_null();
  if (has_res && has_svc) {
    errs.invalid(path, "\"\"", "cannot set both resource and service backends");
    return;
  }
  if (has_res) {
    // validateIngressTypedLocalObjectReference.
    const json::object& r = orEmpty(asObj(res));
    if (const json::value* g = at(r, {"apiGroup"}); g && g->is_string() && !g->get_string().empty())
      for (const auto& m : isDns1123Subdomain(asStr(g))) errs.invalid(path + ".resource.apiGroup", valueRepr(g), m);
    if (strAt(r, {"kind"}).empty()) errs.required(path + ".resource.kind", "kind is required");
    if (strAt(r, {"name"}).empty()) errs.required(path + ".resource.name", "name is required");
    return;
  }
  if (!has_svc) {
    errs.invalid(path, "\"\"", "resource or service backend is required");
    return;
  }
  const json::object& s = orEmpty(asObj(svc));
  std::string name = strAt(s, {"name"});
  if (name.empty()) {
    errs.required(path + ".service.name");
  } else {
    for (const auto& m : isDns1035Label(name)) errs.invalid(path + ".service.name", FieldErrors::quote(name), m);
  }
  std::string port_name = strAt(s, {"port", "name"});
  int64_t port_number = intAt(s, {"port", "number"}).value_or(0);
  if (!port_name.empty() && port_number != 0) {
    errs.invalid(path, "\"\"", "cannot set both port name & port number");
  } else if (!port_name.empty()) {
    for (const auto& m : isValidPortName(port_name))
      errs.invalid(path + ".service.port.name", FieldErrors::quote(port_name), m);
  } else if (port_number != 0) {
    for (const auto& m : isValidPortNum(port_number))
      errs.invalid(path + ".service.port.number", std::to_string(port_number), m);
  } else {
    errs.required(path, "port name or number is required");
  }
}

// validateHTTPIngressPath.
void validatePath(const json::object& p, const std::string& path, FieldErrors& errs) {
  const json::value* type_v = at(p, {"pathType"});
  if (!type_v || type_v->is_null()) {
    errs.required(path + ".pathType", "pathType must be specified");
    return;
  }
  std::string type = asStr(type_v);
  std::string value = strAt(p, {"path"});
  std::string q = FieldErrors::quote(value);
  if (type == "Exact" || type == "Prefix") {
    if (value.empty() || value[0] != '/') errs.invalid(path + ".path", q, "must be an absolute path");
    if (!value.empty()) {
      for (const char* seq : {"//", "/./", "/../", "%2f", "%2F"})
        if (value.find(seq) != std::string::npos)
          errs.invalid(path + ".path", q, std::string("must not contain '") + seq + "'");
      for (std::string suffix : {"/..", "/."})
        if (value.size() >= suffix.size() && value.compare(value.size() - suffix.size(), suffix.size(), suffix) == 0)
          errs.invalid(path + ".path", q, "cannot end with '" + suffix + "'");
    }
  } else if (type == "ImplementationSpecific") {
    if (!value.empty() && value[0] != '/') errs.invalid(path + ".path", q, "must be an absolute path");
  } else {
    errs.notSupported(path + ".pathType", FieldErrors::quote(type), {"Exact", "ImplementationSpecific", "Prefix"});
  }
  validateBackend(orEmpty(objAt(p, {"backend"})), path + ".backend", errs);
}

void validateRules(const json::array& rules, FieldErrors& errs) {
  for (size_t i = 0; i < rules.size(); ++i) {
    std::string rp = idx("spec.rules", i);
    const json::object& rule = orEmpty(asObj(&rules[i]));
    std::string host = strAt(rule, {"host"});
    if (!host.empty()) {
      if (isIpv4(host) || isIpv6(host))
        errs.invalid(rp + ".host", FieldErrors::quote(host), "must be a DNS name, not an IP address");
      auto msgs = host.find('*') != std::string::npos ? isWildcardDns1123Subdomain(host) : isDns1123Subdomain(host);
      for (const auto& m : msgs) errs.invalid(rp + ".host", FieldErrors::quote(host), m);
    }
    if (const json::object* http = objAt(rule, {"http"})) {
      const json::array* paths = arrAt(*http, {"paths"});
      if (!paths || paths->empty()) errs.required(rp + ".http.paths");
      if (paths)
        for (size_t j = 0; j < paths->size(); ++j)
          validatePath(orEmpty(asObj(&(*paths)[j])), idx(rp + ".http.paths", j), errs);
    }
  }
}

// validateIngressTLS: wildcard hosts must be valid wildcard DNS names.
void validateTls(const json::array& tls, FieldErrors& errs) {
  for (size_t i = 0; i < tls.size(); ++i) {
    const json::array* hosts = arrAt(orEmpty(asObj(&tls[i])), {"hosts"});
    if (!hosts) continue;
    for (size_t j = 0; j < hosts->size(); ++j) {
      std::string host = asStr(&(*hosts)[j]);
      if (host.find('*') == std::string::npos) continue;
      for (const auto& m : isWildcardDns1123Subdomain(host))
        errs.invalid(idx(idx("spec.tls", i) + ".hosts", j), FieldErrors::quote(host), m);
    }
  }
}

void validateIngress(const json::object& obj, const json::object* old, FieldErrors& errs) {
  validateObjectMeta(obj, old, true, NameRule::kDns1123Subdomain, errs);
  const json::object& spec = orEmpty(objAt(obj, {"spec"}));
  const json::array* rules = arrAt(spec, {"rules"});
  const json::value* def = at(spec, {"defaultBackend"});
  bool has_default = def && !def->is_null();
  if ((!rules || rules->empty()) && !has_default)
    errs.invalid("spec", rules ? "[]networking.IngressRule{}" : "[]networking.IngressRule(nil)",
                 "either `defaultBackend` or `rules` must be specified");
  if (has_default) validateBackend(orEmpty(asObj(def)), "spec.defaultBackend", errs);
  if (rules) validateRules(*rules, errs);
  if (const json::array* tls = arrAt(spec, {"tls"})) validateTls(*tls, errs);
  if (const json::value* cls = at(spec, {"ingressClassName"}); cls && !cls->is_null())
    for (const auto& m : isDns1123Subdomain(asStr(cls))) errs.invalid("spec.ingressClassName", valueRepr(cls), m);
}

// formatHosts: at most four hosts, "*" when none.
std::string formatHosts(const json::array* rules) {
  std::vector<std::string> list;
  const size_t kMax = 4;
  bool more = false;
  size_t n = rules ? rules->size() : 0;
  for (size_t i = 0; i < n; ++i) {
    if (list.size() == kMax) more = true;
    std::string host = strAt(orEmpty(asObj(&(*rules)[i])), {"host"});
    if (!more && !host.empty()) list.push_back(host);
  }
  if (list.empty()) return "*";
  std::string ret = join(list, ",");
  if (more) return ret + " + " + std::to_string(n - kMax) + " more...";
  return ret;
}

// ingressLoadBalancerStatusStringer (wide: server-side tables are generated
// with Wide, so no truncation): sorted unique IPs or hostnames.
std::string formatAddress(const json::object& obj) {
  std::set<std::string> result;
  if (const json::array* ing = arrAt(obj, {"status", "loadBalancer", "ingress"}))
    for (const auto& e : *ing) {
      const json::object& eo = orEmpty(asObj(&e));
      std::string ip = strAt(eo, {"ip"});
      std::string hostname = strAt(eo, {"hostname"});
      if (!ip.empty()) result.insert(ip);
      else if (!hostname.empty()) result.insert(hostname);
    }
  return join(std::vector<std::string>(result.begin(), result.end()), ",");
}

}  // namespace

void registerIngressKind(KindRegistry& r) {
  KindInfo k;
  k.group = "networking.k8s.io";
  k.version = "v1";
  k.kind = "Ingress";
  k.resource = "ingresses";
  k.singular = "ingress";
  k.namespaced = true;
  k.short_names = {"ing"};
  k.has_status = true;
  k.schema_type = "networking.v1.Ingress";
  k.validate = validateIngress;
  k.columns = {column("Class", "string", "The name of the IngressClass resource that should be used for this Ingress"),
               column("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
               column("Address", "string", "Address is a list containing ingress points for the load-balancer"),
               column("Ports", "string", "Ports of TLS configurations that open"),
               ageColumn()};
  k.cells = [](const Object& obj, const KindContext& ctx) {
    std::string cls = "<none>";
    if (const json::value* c = at(obj, {"spec", "ingressClassName"}); c && c->is_string()) cls = asStr(c);
    const json::array* tls = arrAt(obj, {"spec", "tls"});
    return json::array{cls, formatHosts(arrAt(obj, {"spec", "rules"})), formatAddress(obj),
                       tls && !tls->empty() ? "80, 443" : "80", ageCell(obj, ctx)};
  };
  r.add(std::move(k));
}

}  // namespace berth::api
