// The smaller API groups: scheduling.k8s.io/v1 PriorityClass, node.k8s.io/v1
// RuntimeClass, coordination.k8s.io/v1 Lease, discovery.k8s.io/v1
// EndpointSlice; certificates.k8s.io/v1 (other_certificates.cpp) and
// events.k8s.io/v1 (events_v1.cpp) are registered from here too. Defaults,
// validation and tables follow upstream's pkg/apis/<group>/v1/defaults.go,
// pkg/apis/<group>/validation and pkg/printers/internalversion/printers.go.

#include <cctype>
#include <cstdio>
#include <set>

#include "api/kind.h"
#include "api/kinds/access.h"
#include "api/kinds/events_v1.h"
#include "api/kinds/other_internal.h"
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

KindInfo kindInfo(const std::string& group, const std::string& kind, const std::string& resource,
                  const std::string& singular, bool namespaced, const std::string& schema_group) {
  KindInfo k;
  k.group = group;
  k.version = "v1";
  k.kind = kind;
  k.resource = resource;
  k.singular = singular;
  k.namespaced = namespaced;
  k.schema_type = schema_group + ".v1." + kind;
  return k;
}

// ---- PriorityClass ----

constexpr int64_t kHighestUserDefinablePriority = 1000000000;

// scheduling.IsKnownSystemPriorityClass: the two built-in classes, with
// their fixed values, are the only names allowed to start with "system-".
std::string knownSystemPriorityClassError(const std::string& name, int64_t value, bool global_default) {
  int64_t want;
  if (name == "system-node-critical") want = 2000001000;
  else if (name == "system-cluster-critical") want = 2000000000;
  else return name + " is not a known system priority class";
  if (value != want) return "value of " + name + " PriorityClass must be " + std::to_string(want);
  if (global_default) return "globalDefault of " + name + " PriorityClass must be false";
  return "";
}

void validatePriorityClass(const json::object& obj, const json::object* old, FieldErrors& errs) {
  validateObjectMeta(obj, old, false, NameRule::kDns1123Subdomain, errs);
  std::string name = strAt(obj, {"metadata", "name"});
  int64_t value = intAt(obj, {"value"}).value_or(0);
  if (name.rfind("system-", 0) == 0) {
    std::string err = knownSystemPriorityClassError(name, value, boolAt(obj, {"globalDefault"}).value_or(false));
    if (!err.empty())
      errs.forbidden("metadata.name",
                     "priority class names with 'system-' prefix are reserved for system use only. error: " + err);
  } else if (value > kHighestUserDefinablePriority) {
    errs.forbidden("value", "maximum allowed value of a user defined priority is " +
                                std::to_string(kHighestUserDefinablePriority));
  }
  if (const json::value* p = at(obj, {"preemptionPolicy"}); p && !p->is_null()) {
    std::string s = asStr(p);
    if (s != "Never" && s != "PreemptLowerPriority")
      errs.notSupported("preemptionPolicy", FieldErrors::quote(s), {"Never", "PreemptLowerPriority"});
  }
  if (!old) return;
  if (value != intAt(*old, {"value"}).value_or(0)) errs.forbidden("value", "may not be changed in an update.");
  validateImmutable(at(obj, {"preemptionPolicy"}), at(*old, {"preemptionPolicy"}), "preemptionPolicy", errs);
}

// ---- RuntimeClass ----

void validateRuntimeClass(const json::object& obj, const json::object* old, FieldErrors& errs) {
  validateObjectMeta(obj, old, false, NameRule::kDns1123Subdomain, errs);
  std::string handler = strAt(obj, {"handler"});
  for (const auto& m : isDns1123Label(handler)) errs.invalid("handler", FieldErrors::quote(handler), m);
  if (const json::object* sched = objAt(obj, {"scheduling"})) {
    const json::value* ns = at(*sched, {"nodeSelector"});
    validateLabels(ns, "scheduling.nodeSelector", errs);
  }
  if (old) validateImmutable(at(obj, {"handler"}), at(*old, {"handler"}), "handler", errs);
}

// ---- Lease ----

void validateLease(const json::object& obj, const json::object* old, FieldErrors& errs) {
  validateObjectMeta(obj, old, true, NameRule::kDns1123Subdomain, errs);
  if (auto d = intAt(obj, {"spec", "leaseDurationSeconds"}); d && *d <= 0)
    errs.invalid("spec.leaseDurationSeconds", std::to_string(*d), "must be greater than 0");
  if (auto t = intAt(obj, {"spec", "leaseTransitions"}); t && *t < 0)
    errs.invalid("spec.leaseTransitions", std::to_string(*t), "must be greater than or equal to 0");
}

// ---- EndpointSlice ----

// ValidateNonSpecialIP.
void validateNonSpecialIp(const std::string& ip, const std::string& path, FieldErrors& errs) {
  std::string q = FieldErrors::quote(ip);
  if (ip == "0.0.0.0" || ip == "::") {
    errs.invalid(path, q, "may not be unspecified (0.0.0.0)");
    return;
  }
  if (isIpv4(ip)) {
    int a = 0, b = 0, c = 0;
    std::sscanf(ip.c_str(), "%d.%d.%d", &a, &b, &c);
    if (a == 127) errs.invalid(path, q, "may not be in the loopback range (127.0.0.0/8, ::1/128)");
    else if (a == 169 && b == 254) errs.invalid(path, q, "may not be in the link-local range (169.254.0.0/16, fe80::/10)");
    else if (a == 224 && b == 0 && c == 0)
      errs.invalid(path, q, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)");
    return;
  }
  std::string l = ip;
  for (auto& ch : l) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (l == "::1") errs.invalid(path, q, "may not be in the loopback range (127.0.0.0/8, ::1/128)");
  else if (l.rfind("fe8", 0) == 0 || l.rfind("fe9", 0) == 0 || l.rfind("fea", 0) == 0 || l.rfind("feb", 0) == 0)
    errs.invalid(path, q, "may not be in the link-local range (169.254.0.0/16, fe80::/10)");
  else if (l.rfind("ff02:", 0) == 0)
    errs.invalid(path, q, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)");
}

void validateEndpointSlice(const json::object& obj, const json::object* old, FieldErrors& errs) {
  validateObjectMeta(obj, old, true, NameRule::kDns1123Subdomain, errs);
  std::string type = strAt(obj, {"addressType"});
  if (type.empty()) errs.required("addressType");
  else if (type != "IPv4" && type != "IPv6" && type != "FQDN")
    errs.notSupported("addressType", FieldErrors::quote(type), {"FQDN", "IPv4", "IPv6"});

  if (const json::array* eps = arrAt(obj, {"endpoints"})) {
    if (eps->size() > 1000) {
      errs.tooMany("endpoints", static_cast<int>(eps->size()), 1000);
    } else {
      for (size_t i = 0; i < eps->size(); ++i) {
        std::string ep = idx("endpoints", i);
        const json::object& e = orEmpty(asObj(&(*eps)[i]));
        const json::array* addrs = arrAt(e, {"addresses"});
        if (!addrs || addrs->empty()) errs.required(ep + ".addresses", "must contain at least 1 address");
        else if (addrs->size() > 100) errs.tooMany(ep + ".addresses", static_cast<int>(addrs->size()), 100);
        if (addrs)
          for (size_t j = 0; j < addrs->size(); ++j) {
            std::string a = asStr(&(*addrs)[j]);
            std::string ap = idx(ep + ".addresses", j);
            if (type == "IPv4") {
              if (!isIpv4(a)) errs.invalid(ap, FieldErrors::quote(a), "must be a valid IPv4 address");
              else validateNonSpecialIp(a, ap, errs);
            } else if (type == "IPv6") {
              if (!isIpv6(a)) errs.invalid(ap, FieldErrors::quote(a), "must be a valid IPv6 address");
              else validateNonSpecialIp(a, ap, errs);
            } else if (type == "FQDN") {
              std::string n = a;
              if (!n.empty() && n.back() == '.') n.pop_back();
              if (n.empty()) {
                errs.required(ap);
              } else {
                for (const auto& m : isDns1123Subdomain(n)) errs.invalid(ap, FieldErrors::quote(n), m);
                if (n.find('.') == std::string::npos)
                  errs.invalid(ap, FieldErrors::quote(n), "should be a domain with at least two segments separated by dots");
              }
            }
          }
        if (const json::value* node = at(e, {"nodeName"}); node && node->is_string())
          for (const auto& m : isDns1123Subdomain(asStr(node))) errs.invalid(ep + ".nodeName", valueRepr(node), m);
        if (const json::value* h = at(e, {"hostname"}); h && h->is_string())
          for (const auto& m : isDns1123Label(asStr(h))) errs.invalid(ep + ".hostname", valueRepr(h), m);
      }
    }
  }

  if (const json::array* ports = arrAt(obj, {"ports"})) {
    if (ports->size() > 20000) {
      errs.tooMany("ports", static_cast<int>(ports->size()), 20000);
    } else {
      std::set<std::string> names;
      for (size_t i = 0; i < ports->size(); ++i) {
        std::string pp = idx("ports", i);
        const json::object& p = orEmpty(asObj(&(*ports)[i]));
        std::string name = strAt(p, {"name"});
        if (!name.empty())
          for (const auto& m : isDns1123Label(name)) errs.invalid(pp + ".name", FieldErrors::quote(name), m);
        if (!names.insert(name).second) errs.duplicate(pp + ".name", FieldErrors::quote(name));
        const json::value* proto = at(p, {"protocol"});
        if (!proto || proto->is_null()) errs.required(pp + ".protocol");
        else if (asStr(proto) != "TCP" && asStr(proto) != "UDP" && asStr(proto) != "SCTP")
          errs.notSupported(pp + ".protocol", valueRepr(proto), {"SCTP", "TCP", "UDP"});
        if (const json::value* ap = at(p, {"appProtocol"}); ap && ap->is_string())
          for (const auto& m : isQualifiedName(asStr(ap))) errs.invalid(pp + ".appProtocol", valueRepr(ap), m);
      }
    }
  }
  if (old) validateImmutable(at(obj, {"addressType"}), at(*old, {"addressType"}), "addressType", errs);
}

// SetDefaults_EndpointPort: name "" and protocol TCP.
void defaultEndpointSlice(json::object& obj) {
  json::value* ports = obj.if_contains("ports");
  if (!ports || !ports->is_array()) return;
  for (auto& p : ports->get_array())
    if (json::object* po = p.if_object()) {
      setDefault(*po, "name", "");
      setDefault(*po, "protocol", "TCP");
    }
}

// listWithMoreString: at most three items, then "+ N more...".
std::string listWithMore(const std::vector<std::string>& list, bool more, size_t count, size_t max) {
  std::string ret = join(list, ",");
  if (more) return ret + " + " + std::to_string(count - max) + " more...";
  return ret.empty() ? "<unset>" : ret;
}

json::array endpointSliceCells(const json::object& obj, const KindContext& ctx) {
  const size_t kMax = 3;
  std::vector<std::string> ports;
  bool more = false;
  size_t count = 0;
  if (const json::array* ps = arrAt(obj, {"ports"}))
    for (const auto& p : *ps) {
      const json::object& po = orEmpty(asObj(&p));
      if (ports.size() < kMax) {
        std::string s = "*";
        if (auto n = intAt(po, {"port"})) s = std::to_string(*n);
        else if (const json::value* name = at(po, {"name"}); name && name->is_string()) s = asStr(name);
        ports.push_back(s);
      } else if (ports.size() == kMax) {
        more = true;
      }
      ++count;
    }
  std::string ports_s = listWithMore(ports, more, count, kMax);
  std::vector<std::string> addrs;
  more = false;
  count = 0;
  if (const json::array* eps = arrAt(obj, {"endpoints"}))
    for (const auto& e : *eps)
      if (const json::array* as = arrAt(orEmpty(asObj(&e)), {"addresses"}))
        for (const auto& a : *as) {
          if (addrs.size() < kMax) addrs.push_back(asStr(&a));
          else if (addrs.size() == kMax) more = true;
          ++count;
        }
  return json::array{strAt(obj, {"addressType"}), ports_s, listWithMore(addrs, more, count, kMax), ageCell(obj, ctx)};
}

}  // namespace

void registerOtherKinds(KindRegistry& r) {
  {
    KindInfo k = kindInfo("scheduling.k8s.io", "PriorityClass", "priorityclasses", "priorityclass", false, "scheduling");
    k.short_names = {"pc"};
    // SetDefaults_PriorityClass.
    k.defaults = [](Object& obj) { setDefault(obj, "preemptionPolicy", "PreemptLowerPriority"); };
    k.validate = validatePriorityClass;
    k.columns = {column("Value", "integer",
                        "value represents the integer value of this priority class. This is the actual priority "
                        "that pods receive when they have the name of this class in their pod spec."),
                 column("Global-Default", "boolean",
                        "globalDefault specifies whether this PriorityClass should be considered as the default "
                        "priority for pods that do not have any priority class."),
                 ageColumn(),
                 column("PreemptionPolicy", "string",
                        "preemptionPolicy is the Policy for preempting pods with lower priority.")};
    k.cells = [](const Object& obj, const KindContext& ctx) {
      return json::array{intAt(obj, {"value"}).value_or(0), boolAt(obj, {"globalDefault"}).value_or(false),
                         ageCell(obj, ctx), strAt(obj, {"preemptionPolicy"})};
    };
    r.add(std::move(k));
  }
  {
    KindInfo k = kindInfo("node.k8s.io", "RuntimeClass", "runtimeclasses", "runtimeclass", false, "node");
    k.validate = validateRuntimeClass;
    k.columns = {column("Handler", "string",
                        "handler specifies the underlying runtime and configuration that the CRI implementation "
                        "will use to handle pods of this class."),
                 ageColumn()};
    k.cells = [](const Object& obj, const KindContext& ctx) {
      return json::array{strAt(obj, {"handler"}), ageCell(obj, ctx)};
    };
    r.add(std::move(k));
  }
  {
    KindInfo k = kindInfo("coordination.k8s.io", "Lease", "leases", "lease", true, "coordination");
    k.validate = validateLease;
    k.columns = {column("Holder", "string", "holderIdentity contains the identity of the holder of a current lease."),
                 ageColumn()};
    k.cells = [](const Object& obj, const KindContext& ctx) {
      return json::array{strAt(obj, {"spec", "holderIdentity"}), ageCell(obj, ctx)};
    };
    r.add(std::move(k));
  }
  {
    KindInfo k = kindInfo("discovery.k8s.io", "EndpointSlice", "endpointslices", "endpointslice", true, "discovery");
    k.defaults = defaultEndpointSlice;
    k.validate = validateEndpointSlice;
    k.columns = {column("AddressType", "string", "addressType specifies the type of address carried by this EndpointSlice."),
                 column("Ports", "string", "ports specifies the list of network ports exposed by each endpoint in this slice."),
                 column("Endpoints", "string", "endpoints is a list of unique endpoints in this slice."),
                 ageColumn()};
    k.cells = endpointSliceCells;
    r.add(std::move(k));
  }
  registerCertificateKinds(r);
  registerEventsV1Kind(r);
}

}  // namespace berth::api
