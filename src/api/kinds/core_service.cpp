// core/v1 Service and Endpoints, after upstream SetDefaults_Service,
// ValidateService/ValidateServiceUpdate, printService and printEndpoints.

#include <set>

#include "api/kinds/access.h"
#include "api/kinds/core_kinds.h"
#include "api/kinds/printing.h"
#include "api/validation.h"

namespace berth::api {

namespace json = boost::json;

namespace {

std::string q(const std::string& s) { return FieldErrors::quote(s); }
std::string idx(const std::string& p, size_t i) { return p + "[" + std::to_string(i) + "]"; }

void defaultService(Object& svc) {
  json::object& spec = ensureObj(svc, "spec");
  if (isZero(spec, "sessionAffinity")) spec["sessionAffinity"] = "None";
  std::string affinity = strAt(spec, {"sessionAffinity"});
  if (affinity == "None") spec.erase("sessionAffinityConfig");
  if (affinity == "ClientIP" && !at(spec, {"sessionAffinityConfig", "clientIP", "timeoutSeconds"}))
    ensureObj(ensureObj(spec, "sessionAffinityConfig"), "clientIP")["timeoutSeconds"] = 10800;
  if (isZero(spec, "type")) spec["type"] = "ClusterIP";
  std::string type = strAt(spec, {"type"});
  if (auto it = spec.find("ports"); it != spec.end() && it->value().is_array())
    for (auto& p : it->value().get_array()) {
      if (!p.is_object()) continue;
      json::object& po = p.get_object();
      if (isZero(po, "protocol")) po["protocol"] = "TCP";
      if (isZero(po, "targetPort") && at(po, {"port"})) po["targetPort"] = po["port"];
    }
  if ((type == "NodePort" || type == "LoadBalancer") && isZero(spec, "externalTrafficPolicy"))
    spec["externalTrafficPolicy"] = "Cluster";
  if ((type == "NodePort" || type == "LoadBalancer" || type == "ClusterIP") && isZero(spec, "internalTrafficPolicy"))
    spec["internalTrafficPolicy"] = "Cluster";
  if (type == "LoadBalancer") setDefault(spec, "allocateLoadBalancerNodePorts", true);
  // The service REST storage fills the IP families (single-stack IPv4 here).
  if (type != "ExternalName") {
    if (isZero(spec, "ipFamilyPolicy")) spec["ipFamilyPolicy"] = "SingleStack";
    const json::array* fams = arrAt(spec, {"ipFamilies"});
    if (!fams || fams->empty()) {
      std::string ip = strAt(spec, {"clusterIP"});
      spec["ipFamilies"] = json::array{isIpv6(ip) ? "IPv6" : "IPv4"};
    }
    // clusterIPs mirrors clusterIP once one is known.
    std::string ip = strAt(spec, {"clusterIP"});
    const json::array* ips = arrAt(spec, {"clusterIPs"});
    if (!ip.empty() && (!ips || ips->empty())) spec["clusterIPs"] = json::array{ip};
    if (ip.empty() && ips && !ips->empty() && (*ips)[0].is_string()) spec["clusterIP"] = (*ips)[0];
  }
}

bool isHeadless(const json::object& spec) { return strAt(spec, {"clusterIP"}) == "None"; }

void validateServicePorts(const json::object& spec, const std::string& type, FieldErrors& errs) {
  const json::array* ports = arrAt(spec, {"ports"});
  if ((!ports || ports->empty()) && !isHeadless(spec) && type != "ExternalName") {
    errs.required("spec.ports");
    return;
  }
  if (!ports) return;
  std::set<std::string> names, keys;
  bool require_name = ports->size() > 1;
  for (size_t i = 0; i < ports->size(); ++i) {
    const json::object* p = asObj(&(*ports)[i]);
    if (!p) continue;
    std::string pp = idx("spec.ports", i);
    std::string name = strAt(*p, {"name"});
    if (require_name && name.empty()) errs.required(pp + ".name");
    if (!name.empty()) {
      for (const auto& m : isDns1123Label(name)) errs.invalid(pp + ".name", q(name), m);
      if (!names.insert(name).second) errs.duplicate(pp + ".name", q(name));
    }
    int64_t port = intAt(*p, {"port"}).value_or(0);
    for (const auto& m : isValidPortNum(port)) errs.invalid(pp + ".port", std::to_string(port), m);
    std::string proto = strAt(*p, {"protocol"});
    if (proto.empty()) errs.required(pp + ".protocol");
    else if (proto != "TCP" && proto != "UDP" && proto != "SCTP")
      errs.notSupported(pp + ".protocol", q(proto), {"SCTP", "TCP", "UDP"});
    const json::value* tp = at(*p, {"targetPort"});
    if (auto n = asInt(tp)) {
      for (const auto& m : isValidPortNum(*n)) errs.invalid(pp + ".targetPort", std::to_string(*n), m);
    } else if (tp && tp->is_string()) {
      for (const auto& m : isValidPortName(std::string(tp->get_string())))
        errs.invalid(pp + ".targetPort", valueRepr(tp), m);
    }
    if (auto np = intAt(*p, {"nodePort"}); np && *np != 0) {
      if (type == "ClusterIP") errs.forbidden(pp + ".nodePort", "may not be used when `type` is 'ClusterIP'");
      else
        for (const auto& m : isValidPortNum(*np)) errs.invalid(pp + ".nodePort", std::to_string(*np), m);
    }
    std::string key = proto + "/" + std::to_string(port);
    if (!keys.insert(key).second)
      errs.duplicate(pp, "core.ServicePort{Name:" + q(name) + ", Protocol:" + q(proto) +
                             ", Port:" + std::to_string(port) + "}");
  }
}

void validateService(const Object& svc, const Object* old, FieldErrors& errs) {
  validateObjectMeta(svc, old, true, NameRule::kDns1035Label, errs);
  static const json::object kEmpty;
  const json::object* sp = objAt(svc, {"spec"});
  const json::object& spec = sp ? *sp : kEmpty;
  std::string type = strAt(spec, {"type"});
  static const std::vector<std::string> kTypes = {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"};
  if (type.empty()) errs.required("spec.type");
  else if (std::find(kTypes.begin(), kTypes.end(), type) == kTypes.end()) errs.notSupported("spec.type", q(type), kTypes);
  std::string affinity = strAt(spec, {"sessionAffinity"});
  if (affinity.empty()) errs.required("spec.sessionAffinity");
  else if (affinity != "ClientIP" && affinity != "None")
    errs.notSupported("spec.sessionAffinity", q(affinity), {"ClientIP", "None"});
  validateServicePorts(spec, type, errs);
  validateLabels(at(spec, {"selector"}), "spec.selector", errs);
  std::string cluster_ip = strAt(spec, {"clusterIP"});
  if (type == "ExternalName") {
    std::string ext = strAt(spec, {"externalName"});
    if (ext.empty()) errs.required("spec.externalName");
    else
      for (const auto& m : isDns1123Subdomain(ext)) errs.invalid("spec.externalName", q(ext), m);
    if (!cluster_ip.empty()) errs.forbidden("spec.clusterIPs", "may not be set for ExternalName services");
  } else if (!cluster_ip.empty() && cluster_ip != "None") {
    for (const auto& m : isValidIp(cluster_ip))
      errs.invalid("spec.clusterIPs[0]", q(cluster_ip), m);
  }
  if (type == "ClusterIP" && !strAt(spec, {"externalTrafficPolicy"}).empty())
    errs.invalid("spec.externalTrafficPolicy", q(strAt(spec, {"externalTrafficPolicy"})),
                 "may only be set when `type` is 'NodePort' or 'LoadBalancer'");
  for (const char* f : {"externalTrafficPolicy", "internalTrafficPolicy"}) {
    std::string v = strAt(spec, {f});
    if (!v.empty() && v != "Cluster" && v != "Local")
      errs.notSupported(std::string("spec.") + f, q(v), {"Cluster", "Local"});
  }
  if (const json::array* ext_ips = arrAt(spec, {"externalIPs"}))
    for (size_t i = 0; i < ext_ips->size(); ++i) {
      std::string ip = asStr(&(*ext_ips)[i]);
      for (const auto& m : isValidIp(ip)) errs.invalid(idx("spec.externalIPs", i), q(ip), m);
    }
  if (old) {
    std::string old_type = strAt(*old, {"spec", "type"});
    std::string old_ip = strAt(*old, {"spec", "clusterIP"});
    if (old_type != "ExternalName" && type != "ExternalName" && !old_ip.empty() && cluster_ip != old_ip)
      errs.invalid("spec.clusterIPs[0]", q(cluster_ip), "may not change once set");
  }
}

// Carries allocated values a client omitted on update, like upstream's
// service REST patchAllocatedValues: clusterIP(s) and node ports.
void prepareService(Object& svc, const Object* old) {
  if (!old) return;
  json::object& spec = ensureObj(svc, "spec");
  std::string type = strAt(spec, {"type"}, "ClusterIP");
  std::string old_type = strAt(*old, {"spec", "type"}, "ClusterIP");
  if (type != "ExternalName" && old_type != "ExternalName" && isZero(spec, "clusterIP")) {
    if (const json::value* ip = at(*old, {"spec", "clusterIP"})) spec["clusterIP"] = *ip;
    if (const json::value* ips = at(*old, {"spec", "clusterIPs"})) spec["clusterIPs"] = *ips;
  }
  bool node_ports = type == "NodePort" || type == "LoadBalancer";
  bool old_node_ports = old_type == "NodePort" || old_type == "LoadBalancer";
  if (node_ports && old_node_ports) {
    const json::array* old_ports = arrAt(*old, {"spec", "ports"});
    auto it = spec.find("ports");
    if (old_ports && it != spec.end() && it->value().is_array())
      for (auto& p : it->value().get_array()) {
        if (!p.is_object() || !isZero(p.get_object(), "nodePort")) continue;
        for (const auto& op : *old_ports)
          if (const json::object* opo = asObj(&op);
              opo && jsonEqual(at(*opo, {"port"}), at(p.get_object(), {"port"})) &&
              strAt(*opo, {"protocol"}, "TCP") == strAt(p.get_object(), {"protocol"}, "TCP"))
            if (const json::value* np = at(*opo, {"nodePort"})) p.get_object()["nodePort"] = *np;
      }
    if (isZero(spec, "healthCheckNodePort"))
      if (const json::value* hc = at(*old, {"spec", "healthCheckNodePort"})) spec["healthCheckNodePort"] = *hc;
  }
}

std::string serviceExternalIp(const Object& svc) {
  std::string type = strAt(svc, {"spec", "type"});
  std::vector<std::string> ext;
  if (const json::array* a = arrAt(svc, {"spec", "externalIPs"}))
    for (const auto& x : *a) ext.push_back(asStr(&x));
  if (type == "ClusterIP" || type == "NodePort") return ext.empty() ? "<none>" : join(ext, ",");
  if (type == "LoadBalancer") {
    std::vector<std::string> lb;
    if (const json::array* ing = arrAt(svc, {"status", "loadBalancer", "ingress"}))
      for (const auto& i : *ing)
        if (const json::object* io = asObj(&i)) {
          if (!strAt(*io, {"ip"}).empty()) lb.push_back(strAt(*io, {"ip"}));
          else if (!strAt(*io, {"hostname"}).empty()) lb.push_back(strAt(*io, {"hostname"}));
        }
    for (auto& e : ext) lb.push_back(e);
    return lb.empty() ? "<pending>" : join(lb, ",");
  }
  if (type == "ExternalName") return strAt(svc, {"spec", "externalName"});
  return "<unknown>";
}

std::string servicePorts(const Object& svc) {
  std::vector<std::string> pieces;
  if (const json::array* ports = arrAt(svc, {"spec", "ports"}))
    for (const auto& p : *ports) {
      const json::object* po = asObj(&p);
      if (!po) continue;
      std::string port = std::to_string(intAt(*po, {"port"}).value_or(0));
      std::string proto = strAt(*po, {"protocol"});
      int64_t np = intAt(*po, {"nodePort"}).value_or(0);
      pieces.push_back(np > 0 ? port + ":" + std::to_string(np) + "/" + proto : port + "/" + proto);
    }
  return noneIfEmpty(join(pieces, ","));
}

std::string joinHostPort(const std::string& host, int64_t port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

}  // namespace

KindInfo serviceKind() {
  KindInfo k = makeKind("", "v1", "Service", "services", true, {"svc"}, {"all"});
  k.has_status = true;
  k.defaults = defaultService;
  k.validate = validateService;
  k.prepare = prepareService;
  k.columns = {
      column("Type", "string",
             "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, "
             "ClusterIP, NodePort, and LoadBalancer."),
      column("Cluster-IP", "string", "clusterIP is the IP address of the service and is usually assigned randomly."),
      column("External-IP", "string",
             "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for "
             "this service."),
      column("Port(s)", "string", "The list of ports that are exposed by this service."),
      ageColumn(),
      column("Selector", "string",
             "Route service traffic to pods with label keys and values matching this selector.", 1),
  };
  k.cells = [](const Object& svc, const KindContext& ctx) {
    std::string ip = "<none>";
    if (const json::array* ips = arrAt(svc, {"spec", "clusterIPs"}); ips && !ips->empty()) ip = asStr(&(*ips)[0]);
    else if (!strAt(svc, {"spec", "clusterIP"}).empty()) ip = strAt(svc, {"spec", "clusterIP"});
    return json::array{strAt(svc, {"spec", "type"}), ip, serviceExternalIp(svc), servicePorts(svc), ageCell(svc, ctx),
                       formatSelectorMap(at(svc, {"spec", "selector"}))};
  };
  k.selectable_fields = [](const Object& svc) {
    return std::map<std::string, std::string>{{"spec.clusterIP", strAt(svc, {"spec", "clusterIP"})},
                                              {"spec.type", strAt(svc, {"spec", "type"})}};
  };
  return k;
}

KindInfo endpointsKind() {
  KindInfo k = makeKind("", "v1", "Endpoints", "endpoints", true, {"ep"});
  k.singular = "endpoints";
  k.defaults = [](Object& ep) {
    auto it = ep.find("subsets");
    if (it == ep.end() || !it->value().is_array()) return;
    for (auto& s : it->value().get_array()) {
      if (!s.is_object()) continue;
      auto ports = s.get_object().find("ports");
      if (ports == s.get_object().end() || !ports->value().is_array()) continue;
      for (auto& p : ports->value().get_array())
        if (p.is_object() && isZero(p.get_object(), "protocol")) p.get_object()["protocol"] = "TCP";
    }
  };
  k.validate = [](const Object& ep, const Object* old, FieldErrors& errs) {
    validateObjectMeta(ep, old, true, NameRule::kDns1123Subdomain, errs);
    const json::array* subsets = arrAt(ep, {"subsets"});
    if (!subsets) return;
    for (size_t i = 0; i < subsets->size(); ++i) {
      const json::object* s = asObj(&(*subsets)[i]);
      if (!s) continue;
      std::string sp = idx("subsets", i);
      for (const char* list : {"addresses", "notReadyAddresses"})
        if (const json::array* addrs = arrAt(*s, {list}))
          for (size_t j = 0; j < addrs->size(); ++j) {
            const json::object* a = asObj(&(*addrs)[j]);
            if (!a) continue;
            std::string ip = strAt(*a, {"ip"});
            for (const auto& m : isValidIp(ip)) errs.invalid(idx(sp + "." + list, j) + ".ip", q(ip), m);
          }
      if (const json::array* ports = arrAt(*s, {"ports"}))
        for (size_t j = 0; j < ports->size(); ++j) {
          const json::object* p = asObj(&(*ports)[j]);
          if (!p) continue;
          std::string pp = idx(sp + ".ports", j);
          int64_t port = intAt(*p, {"port"}).value_or(0);
          for (const auto& m : isValidPortNum(port)) errs.invalid(pp + ".port", std::to_string(port), m);
          std::string proto = strAt(*p, {"protocol"});
          if (proto != "TCP" && proto != "UDP" && proto != "SCTP")
            errs.notSupported(pp + ".protocol", q(proto), {"SCTP", "TCP", "UDP"});
          if (ports->size() > 1 && strAt(*p, {"name"}).empty()) errs.required(pp + ".name");
        }
    }
  };
  k.columns = {column("Endpoints", "string", "Endpoints is the list of endpoints in this subset."), ageColumn()};
  k.cells = [](const Object& ep, const KindContext& ctx) {
    const json::array* subsets = arrAt(ep, {"subsets"});
    std::string cell;
    if (!subsets || subsets->empty()) {
      cell = "<none>";
    } else {
      // formatEndpoints: at most three entries, then "+ N more...".
      std::vector<std::string> list;
      const size_t max = 3;
      bool more = false;
      size_t count = 0;
      for (const auto& s : *subsets) {
        const json::object* so = asObj(&s);
        if (!so) continue;
        const json::array* addrs = arrAt(*so, {"addresses"});
        const json::array* ports = arrAt(*so, {"ports"});
        size_t naddr = addrs ? addrs->size() : 0;
        if (!ports || ports->empty()) {
          count += naddr;
          for (size_t i = 0; i < naddr; ++i) {
            if (list.size() == max) {
              more = true;
              break;
            }
            const json::object* a = asObj(&(*addrs)[i]);
            list.push_back(a ? strAt(*a, {"ip"}) : "");
          }
        } else {
          for (const auto& p : *ports) {
            count += naddr;
            const json::object* po = asObj(&p);
            int64_t port = po ? intAt(*po, {"port"}).value_or(0) : 0;
            for (size_t i = 0; i < naddr; ++i) {
              if (list.size() == max) {
                more = true;
                break;
              }
              const json::object* a = asObj(&(*addrs)[i]);
              list.push_back(joinHostPort(a ? strAt(*a, {"ip"}) : "", port));
            }
          }
        }
      }
      cell = join(list, ",");
      if (more) cell += " + " + std::to_string(count - max) + " more...";
    }
    return json::array{cell, ageCell(ep, ctx)};
  };
  return k;
}

}  // namespace berth::api
