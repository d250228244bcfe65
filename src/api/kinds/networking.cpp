// networking.k8s.io/v1: NetworkPolicy and IngressClass (Ingress is in
// networking_ingress.cpp). Defaults follow pkg/apis/networking/v1/defaults.go,
// validation pkg/apis/networking/validation/validation.go, tables
// pkg/printers/internalversion/printers.go.

#include <arpa/inet.h>

#include <array>
#include <cstring>

#include "api/kind.h"
#include "api/kinds/access.h"
#include "api/kinds/networking_internal.h"
#include "api/kinds/printing.h"
#include "api/validation.h"

namespace berth::api {

namespace json = boost::json;

namespace {

constexpr const char* kCidrMessage = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

std::string idx(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

// ValidateNetworkPolicyPort.
void validatePolicyPort(const json::object& port, const std::string& path, FieldErrors& errs) {
  if (const json::value* proto = at(port, {"protocol"}); proto && !proto->is_null()) {
    std::string p = asStr(proto);
    if (p != "TCP" && p != "UDP" && p != "SCTP") errs.notSupported(path + ".protocol", FieldErrors::quote(p), {"TCP", "UDP", "SCTP"});
  }
  const json::value* port_v = at(port, {"port"});
  std::optional<int64_t> end_port = intAt(port, {"endPort"});
  if (port_v && !port_v->is_null()) {
    if (port_v->is_string()) {
      if (end_port)
        errs.invalid(path + ".endPort", std::to_string(*end_port), "may not be specified when `port` is non-numeric");
      std::string name(port_v->get_string());
      for (const auto& m : isValidPortName(name)) errs.invalid(path + ".port", FieldErrors::quote(name), m);
    } else {
      int64_t n = asInt(port_v).value_or(0);
      for (const auto& m : isValidPortNum(n)) errs.invalid(path + ".port", std::to_string(n), m);
      if (end_port) {
        // Upstream reports the start port as the bad value here.
        if (*end_port < n) errs.invalid(path + ".endPort", std::to_string(n), "must be greater than or equal to `port`");
        for (const auto& m : isValidPortNum(*end_port)) errs.invalid(path + ".endPort", std::to_string(*end_port), m);
      }
    }
  } else if (end_port) {
    errs.invalid(path + ".endPort", std::to_string(*end_port), "may not be specified when `port` is not specified");
  }
}

// ValidateIPBlock.
void validateIpBlock(const json::object& block, const std::string& path, FieldErrors& errs) {
  std::string cidr = strAt(block, {"cidr"});
  if (cidr.empty()) {
    errs.required(path + ".cidr");
    return;
  }
  auto net = parseCidr(cidr);
  if (!net) {
    errs.invalid(path + ".cidr", FieldErrors::quote(cidr), kCidrMessage);
    return;
  }
  const json::array* except = arrAt(block, {"except"});
  if (!except) return;
  for (size_t i = 0; i < except->size(); ++i) {
    std::string e = asStr(&(*except)[i]);
    auto en = parseCidr(e);
    if (!en) {
      errs.invalid(idx(path + ".except", i), FieldErrors::quote(e), kCidrMessage);
      continue;
    }
    if (!cidrContains(*net, *en) || net->prefix >= en->prefix)
      errs.invalid(idx(path + ".except", i), FieldErrors::quote(e), "must be a strict subset of `cidr`");
  }
}

// ValidateNetworkPolicyPeer.
void validatePeer(const json::object& peer, const std::string& path, FieldErrors& errs) {
  int peers = 0;
  bool has_ip_block = false;
  if (const json::value* s = at(peer, {"podSelector"}); s && !s->is_null()) {
    ++peers;
    validateLabelSelector(s, path + ".podSelector", errs);
  }
  if (const json::value* s = at(peer, {"namespaceSelector"}); s && !s->is_null()) {
    ++peers;
    validateLabelSelector(s, path + ".namespaceSelector", errs);
  }
  if (const json::object* b = objAt(peer, {"ipBlock"})) {
    ++peers;
    has_ip_block = true;
    validateIpBlock(*b, path + ".ipBlock", errs);
  }
  if (peers == 0) errs.required(path, "must specify a peer");
  else if (peers > 1 && has_ip_block) errs.forbidden(path, "may not specify both ipBlock and another peer");
}

void validateRules(const json::object& spec, const char* dir, const char* peers_key, FieldErrors& errs) {
  static const json::object kEmpty;
  const json::array* rules = arrAt(spec, {dir});
  if (!rules) return;
  for (size_t i = 0; i < rules->size(); ++i) {
    std::string rp = idx(std::string("spec.") + dir, i);
    const json::object* rule = asObj(&(*rules)[i]);
    if (!rule) continue;
    if (const json::array* ports = arrAt(*rule, {"ports"}))
      for (size_t j = 0; j < ports->size(); ++j) {
        const json::object* p = asObj(&(*ports)[j]);
        validatePolicyPort(p ? *p : kEmpty, idx(rp + ".ports", j), errs);
      }
    if (const json::array* ps = arrAt(*rule, {peers_key}))
      for (size_t j = 0; j < ps->size(); ++j) {
        const json::object* p = asObj(&(*ps)[j]);
        validatePeer(p ? *p : kEmpty, idx(rp + "." + peers_key, j), errs);
      }
  }
}

void validateNetworkPolicy(const json::object& obj, const json::object* old, FieldErrors& errs) {
  static const json::object kEmpty;
  validateObjectMeta(obj, old, true, NameRule::kDns1123Subdomain, errs);
  const json::object* sp = objAt(obj, {"spec"});
  const json::object& spec = sp ? *sp : kEmpty;
  validateLabelSelector(at(spec, {"podSelector"}), "spec.podSelector", errs);
  validateRules(spec, "ingress", "from", errs);
  validateRules(spec, "egress", "to", errs);
  if (const json::array* types = arrAt(spec, {"policyTypes"})) {
    if (types->size() > 2) {
      // Upstream prints the Go value: []networking.PolicyType{"Ingress", ...}.
      std::string repr = "[]networking.PolicyType{";
      for (size_t i = 0; i < types->size(); ++i) repr += (i ? ", " : "") + FieldErrors::quote(asStr(&(*types)[i]));
      errs.invalid("spec.policyTypes", repr + "}", "may not specify more than two policyTypes");
      return;
    }
    for (size_t i = 0; i < types->size(); ++i) {
      std::string t = asStr(&(*types)[i]);
      if (t != "Ingress" && t != "Egress")
        errs.notSupported(idx("spec.policyTypes", i), FieldErrors::quote(t), {"Ingress", "Egress"});
    }
  }
}

// SetDefaults_NetworkPolicy and SetDefaults_NetworkPolicyPort.
void defaultNetworkPolicy(json::object& obj) {
  json::object& spec = ensureObj(obj, "spec");
  // podSelector is a struct (not a pointer) upstream: it is always present.
  if (!spec.contains("podSelector") || spec["podSelector"].is_null()) spec["podSelector"] = json::object();
  for (const char* dir : {"ingress", "egress"}) {
    json::array* rules = spec.contains(dir) ? spec[dir].if_array() : nullptr;
    if (!rules) continue;
    for (auto& rule : *rules) {
      json::object* ro = rule.if_object();
      json::array* ports = ro && ro->contains("ports") ? (*ro)["ports"].if_array() : nullptr;
      if (!ports) continue;
      for (auto& p : *ports)
        if (json::object* po = p.if_object()) setDefault(*po, "protocol", "TCP");
    }
  }
  const json::array* types = arrAt(spec, {"policyTypes"});
  if (!types || types->empty()) {
    // A policy without policyTypes always isolates ingress, and egress only
    // when it has egress rules.
    json::array t{"Ingress"};
    const json::array* egress = arrAt(spec, {"egress"});
    if (egress && !egress->empty()) t.emplace_back("Egress");
    spec["policyTypes"] = std::move(t);
  }
}

// IsDomainPrefixedPath, for IngressClass spec.controller.
void validateDomainPrefixedPath(const std::string& path, const std::string& value, FieldErrors& errs) {
  if (value.empty()) {
    errs.required(path);
    return;
  }
  size_t slash = value.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == value.size()) {
    errs.invalid(path, FieldErrors::quote(value), "must be a domain-prefixed path (such as \"acme.io/foo\")");
    return;
  }
  std::string host = value.substr(0, slash);
  for (const auto& m : isDns1123Subdomain(host)) errs.invalid(path, FieldErrors::quote(host), m);
  std::string rest = value.substr(slash + 1);
  static const std::string kAllowed = "/-._~%!$&'()*+,;=:";
  for (char c : rest) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              kAllowed.find(c) != std::string::npos;
    if (!ok) {
      errs.invalid(path, FieldErrors::quote(rest),
                   "must be a valid path (regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')");
      return;
    }
  }
}

void validateIngressClass(const json::object& obj, const json::object* old, FieldErrors& errs) {
  validateObjectMeta(obj, old, false, NameRule::kDns1123Subdomain, errs);
  std::string controller = strAt(obj, {"spec", "controller"});
  if (controller.size() > 250) errs.tooLong("spec.controller", FieldErrors::quote(controller), 250);
  validateDomainPrefixedPath("spec.controller", controller, errs);
  if (const json::object* params = objAt(obj, {"spec", "parameters"})) {
    // validateIngressClassParametersReference.
    const std::string p = "spec.parameters";
    if (strAt(*params, {"kind"}).empty()) errs.required(p + ".kind", "kind is required");
    if (strAt(*params, {"name"}).empty()) errs.required(p + ".name", "name is required");
    std::string scope = strAt(*params, {"scope"});
    const json::value* ns = at(*params, {"namespace"});
    bool has_ns = ns && !ns->is_null();
    if (scope == "Cluster") {
      if (has_ns) errs.forbidden(p + ".namespace", "`parameters.scope` is set to 'Cluster'");
    } else if (scope == "Namespace") {
      if (!has_ns) errs.required(p + ".namespace", "`parameters.scope` is set to 'Namespace'");
      else
        for (const auto& m : isDns1123Label(asStr(ns))) errs.invalid(p + ".namespace", valueRepr(ns), m);
    } else {
      errs.notSupported(p + ".scope", FieldErrors::quote(scope), {"Cluster", "Namespace"});
    }
  }
  if (old) validateImmutable(at(obj, {"spec", "controller"}), at(*old, {"spec", "controller"}), "spec.controller", errs);
}

}  // namespace

std::optional<Cidr> parseCidr(const std::string& s) {
  size_t slash = s.find('/');
  if (slash == std::string::npos || slash + 1 >= s.size()) return std::nullopt;
  std::string ip = s.substr(0, slash);
  std::string bits = s.substr(slash + 1);
  for (char c : bits)
    if (c < '0' || c > '9') return std::nullopt;
  if (bits.size() > 3) return std::nullopt;
  Cidr c;
  int prefix = std::stoi(bits);
  if (ip.find(':') == std::string::npos) {
    in_addr a{};
    if (inet_pton(AF_INET, ip.c_str(), &a) != 1 || prefix > 32) return std::nullopt;
    c.v6 = false;
    std::memcpy(c.addr.data(), &a, 4);
  } else {
    in6_addr a{};
    if (inet_pton(AF_INET6, ip.c_str(), &a) != 1 || prefix > 128) return std::nullopt;
    c.v6 = true;
    std::memcpy(c.addr.data(), &a, 16);
  }
  c.prefix = prefix;
  return c;
}

bool cidrContains(const Cidr& net, const Cidr& inner) {
  if (net.v6 != inner.v6) return false;
  // Compare the first net.prefix bits of both addresses (net.IPNet.Contains).
  for (int bit = 0; bit < net.prefix; ++bit) {
    int byte = bit / 8, shift = 7 - bit % 8;
    if (((net.addr[byte] >> shift) & 1) != ((inner.addr[byte] >> shift) & 1)) return false;
  }
  return true;
}

void registerNetworkingKinds(KindRegistry& r) {
  {
    KindInfo k;
    k.group = "networking.k8s.io";
    k.version = "v1";
    k.kind = "NetworkPolicy";
    k.resource = "networkpolicies";
    k.singular = "networkpolicy";
    k.namespaced = true;
    k.short_names = {"netpol"};
    k.schema_type = "networking.v1.NetworkPolicy";
    k.defaults = defaultNetworkPolicy;
    k.validate = validateNetworkPolicy;
    k.columns = {column("Pod-Selector", "string",
                        "podSelector selects the pods to which this NetworkPolicy object applies."),
                 ageColumn()};
    k.cells = [](const Object& obj, const KindContext& ctx) {
      return json::array{formatLabelSelector(at(obj, {"spec", "podSelector"})), ageCell(obj, ctx)};
    };
    r.add(std::move(k));
  }
  registerIngressKind(r);
  {
    KindInfo k;
    k.group = "networking.k8s.io";
    k.version = "v1";
    k.kind = "IngressClass";
    k.resource = "ingressclasses";
    k.singular = "ingressclass";
    k.namespaced = false;
    k.schema_type = "networking.v1.IngressClass";
    // SetDefaults_IngressClass: parameters.scope defaults to Cluster.
    k.defaults = [](Object& obj) {
      json::value* spec = obj.if_contains("spec");
      json::value* params = spec && spec->is_object() ? spec->get_object().if_contains("parameters") : nullptr;
      if (params && params->is_object()) setDefault(params->get_object(), "scope", "Cluster");
    };
    k.validate = validateIngressClass;
    k.columns = {column("Controller", "string", "Controller that is responsible for handling this class"),
                 column("Parameters", "string", "A reference to a resource with additional parameters"),
                 ageColumn()};
    k.cells = [](const Object& obj, const KindContext& ctx) {
      std::string parameters = "<none>";
      if (const json::object* p = objAt(obj, {"spec", "parameters"})) {
        parameters = strAt(*p, {"kind"});
        if (const json::value* g = at(*p, {"apiGroup"}); g && g->is_string())
          parameters += "." + std::string(g->get_string());
        parameters += "/" + strAt(*p, {"name"});
      }
      return json::array{strAt(obj, {"spec", "controller"}), parameters, ageCell(obj, ctx)};
    };
    r.add(std::move(k));
  }
}

}  // namespace berth::api
