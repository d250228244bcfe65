#include "controllers/bootstrap/bootstrap.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>

#include "api/object.h"
#include "apiserver/registry/service_admission.h"
#include "common/log.h"

namespace berth::controllers {

namespace json = boost::json;
using api::Object;

std::string defaultAdvertiseAddress() {
  ifaddrs* ifs = nullptr;
  std::string out = "127.0.0.1";
  if (getifaddrs(&ifs) != 0) return out;
  for (auto* i = ifs; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    if ((i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP)) continue;
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, buf, sizeof buf);
    out = buf;
    break;
  }
  freeifaddrs(ifs);
  return out;
}

namespace {
// Creates the object if missing; otherwise replaces its `field` when it differs.
Status ensure(apiserver::Registry& registry, const char* group, const char* version, const char* kind_name,
              const std::string& ns, Object obj, const char* field) {
  const auto* kind = registry.kinds().byKind(group, version, kind_name);
  if (!kind) return makeError(ErrorCode::kInternal, std::string("unknown kind ") + kind_name);
  std::string name = api::name(obj);
  auto cur = registry.get(*kind, ns, name);
  if (!cur.ok()) {
    if (cur.error().code != ErrorCode::kNotFound) return cur.error();
    auto r = registry.create(*kind, ns, std::move(obj), {});
    if (!r.ok() && r.error().code != ErrorCode::kAlreadyExists) return r.error();
    return okStatus();
  }
  if (!field) return okStatus();
  auto* want = obj.if_contains(field);
  auto* have = cur->if_contains(field);
  if (want && (!have || *want != *have)) {
    json::value w = *want;
    auto r = registry.mutate(*kind, ns, name, [&](Object& o) -> Status {
      o[field] = w;
      return okStatus();
    });
    if (!r.ok()) return r.error();
  }
  return okStatus();
}
}  // namespace

Status bootstrapCluster(apiserver::Registry& registry, const BootstrapConfig& config) {
  // Re-claim the addresses and ports of existing Services before anything allocates.
  if (const auto* svc_kind = registry.kinds().byKind("", "v1", "Service")) {
    auto page = registry.list(*svc_kind, "", {});
    if (!page.ok()) return page.error();
    for (auto& kv : page->items) {
      json::error_code ec;
      auto v = json::parse(*kv.value, ec);
      if (!ec && v.is_object()) apiserver::claimService(registry.allocators(), v.get_object());
    }
  }
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    Object obj{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", Object{{"name", ns}}}};
    BERTH_RETURN_IF_ERROR(ensure(registry, "", "v1", "Namespace", "", std::move(obj), nullptr));
  }
  const std::string ip = registry.allocators().service_ips.firstAddress();
  Object svc{{"apiVersion", "v1"},
             {"kind", "Service"},
             {"metadata", Object{{"name", "kubernetes"},
                                 {"labels", Object{{"component", "apiserver"}, {"provider", "kubernetes"}}}}},
             {"spec", Object{{"type", "ClusterIP"},
                             {"clusterIP", ip},
                             {"sessionAffinity", "None"},
                             {"ports", json::array{Object{{"name", "https"},
                                                          {"port", 443},
                                                          {"protocol", "TCP"},
                                                          {"targetPort", config.port}}}}}}};
  BERTH_RETURN_IF_ERROR(ensure(registry, "", "v1", "Service", "default", std::move(svc), nullptr));
  Object ep{{"apiVersion", "v1"},
            {"kind", "Endpoints"},
            {"metadata", Object{{"name", "kubernetes"},
                                {"labels", Object{{"endpointslice.kubernetes.io/skip-mirror", "true"}}}}},
            {"subsets", json::array{Object{
                            {"addresses", json::array{Object{{"ip", config.advertise_address}}}},
                            {"ports", json::array{Object{{"name", "https"}, {"port", config.port}, {"protocol", "TCP"}}}}}}}};
  BERTH_RETURN_IF_ERROR(ensure(registry, "", "v1", "Endpoints", "default", std::move(ep), "subsets"));
  Object slice{{"apiVersion", "discovery.k8s.io/v1"},
               {"kind", "EndpointSlice"},
               {"metadata", Object{{"name", "kubernetes"},
                                   {"labels", Object{{"kubernetes.io/service-name", "kubernetes"}}}}},
               {"addressType", "IPv4"},
               {"endpoints", json::array{Object{{"addresses", json::array{json::string(config.advertise_address)}},
                                                {"conditions", Object{{"ready", true}}}}}},
               {"ports", json::array{Object{{"name", "https"}, {"port", config.port}, {"protocol", "TCP"}}}}};
  BERTH_RETURN_IF_ERROR(ensure(registry, "discovery.k8s.io", "v1", "EndpointSlice", "default", std::move(slice),
                               "endpoints"));
  BERTH_RETURN_IF_ERROR(ensure(registry, "discovery.k8s.io", "v1", "EndpointSlice", "default",
                               Object{{"metadata", Object{{"name", "kubernetes"}}},
                                      {"ports", json::array{Object{{"name", "https"}, {"port", config.port}, {"protocol", "TCP"}}}}},
                               "ports"));
  // The system PriorityClasses upstream's apiserver creates at start
  // (pkg/apis/scheduling SystemPriorityClasses).
  struct SystemClass {
    const char* name;
    int64_t value;
    const char* description;
  };
  for (const SystemClass& pc :
       {SystemClass{"system-node-critical", 2000001000,
                    "Used for system critical pods that must not be moved from their current node."},
        SystemClass{"system-cluster-critical", 2000000000,
                    "Used for system critical pods that must run in the cluster, but can be moved to another node "
                    "if necessary."}}) {
    Object obj{{"apiVersion", "scheduling.k8s.io/v1"},
               {"kind", "PriorityClass"},
               {"metadata", Object{{"name", pc.name}}},
               {"value", pc.value},
               {"description", pc.description}};
    BERTH_RETURN_IF_ERROR(ensure(registry, "scheduling.k8s.io", "v1", "PriorityClass", "", std::move(obj), nullptr));
  }
  return okStatus();
}

}  // namespace berth::controllers
