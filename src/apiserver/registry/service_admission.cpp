#include "apiserver/registry/service_admission.h"

#include "api/field_errors.h"
#include "api/object.h"

namespace berth::apiserver {

namespace json = boost::json;
using api::Object;

namespace {
bool needsNodePorts(const std::string& type) { return type == "NodePort" || type == "LoadBalancer"; }

Error invalid(const Object& svc, const std::string& field, const std::string& value, const std::string& detail) {
  api::FieldErrors errs;
  errs.invalid(field, value, detail);
  return errs.toError("", "Service", api::name(svc));
}

std::string ipsRepr(const std::string& ip) { return "[]string{\"" + ip + "\"}"; }
}  // namespace

Status admitServiceCreate(Allocators& alloc, Object& svc) {
  auto& spec = api::ensureObject(svc, "spec");
  std::string type = api::getString(spec, "type");
  if (type.empty()) type = "ClusterIP";
  std::string ip = api::getString(spec, "clusterIP");
  if (ip.empty()) {
    if (auto* ips = api::findArray(spec, "clusterIPs"); ips && !ips->empty() && (*ips)[0].is_string())
      ip = std::string((*ips)[0].get_string());
  }
  std::string allocated_ip;
  if (type != "ExternalName" && ip != "None") {
    if (ip.empty()) {
      auto r = alloc.service_ips.allocateNext();
      if (!r.ok()) return makeError(ErrorCode::kInternal, "failed to allocate a serviceIP: " + r.error().message);
      ip = *r;
    } else {
      auto st = alloc.service_ips.allocate(ip);
      if (!st.ok()) return invalid(svc, "spec.clusterIPs", ipsRepr(ip), st.error().message);
    }
    allocated_ip = ip;
    spec["clusterIP"] = ip;
    spec["clusterIPs"] = json::array{json::string(ip)};
  } else if (ip == "None") {
    spec["clusterIP"] = "None";
    spec["clusterIPs"] = json::array{json::string("None")};
  }
  std::vector<int> claimed;
  auto rollback = [&] {
    if (!allocated_ip.empty()) alloc.service_ips.release(allocated_ip);
    for (int p : claimed) alloc.node_ports.release(p);
  };
  if (needsNodePorts(type)) {
    if (auto* ports = spec.if_contains("ports"); ports && ports->is_array()) {
      int i = 0;
      for (auto& p : ports->get_array()) {
        if (!p.is_object()) continue;
        auto& po = p.get_object();
        int64_t np = api::getInt(po, "nodePort", 0);
        if (np == 0) {
          auto r = alloc.node_ports.allocateNext();
          if (!r.ok()) {
            rollback();
            return makeError(ErrorCode::kInternal, "failed to allocate a nodePort: " + r.error().message);
          }
          po["nodePort"] = *r;
          claimed.push_back(*r);
        } else {
          auto st = alloc.node_ports.allocate(static_cast<int>(np));
          if (!st.ok()) {
            rollback();
            return invalid(svc, "spec.ports[" + std::to_string(i) + "].nodePort", std::to_string(np),
                           st.error().message);
          }
          claimed.push_back(static_cast<int>(np));
        }
        ++i;
      }
    }
  }
  return okStatus();
}

Status admitServiceUpdate(Allocators& alloc, Object& svc, const Object& old, bool dry_run) {
  auto& spec = api::ensureObject(svc, "spec");
  const Object* ospec = api::findObject(old, "spec");
  if (!ospec) return okStatus();
  std::string type = api::getString(spec, "type");
  std::string otype = api::getString(*ospec, "type");
  // Carry the allocated cluster IP when the update leaves it out.
  if (api::getString(spec, "clusterIP").empty() && type != "ExternalName" && otype != "ExternalName") {
    if (auto* v = ospec->if_contains("clusterIP")) spec["clusterIP"] = *v;
    if (auto* v = ospec->if_contains("clusterIPs")) spec["clusterIPs"] = *v;
  }
  // Carry NodePorts by port number, then allocate or release per type.
  std::map<int64_t, int64_t> old_ports;
  if (auto* op = api::findArray(*ospec, "ports"))
    for (auto& p : *op)
      if (p.is_object()) old_ports[api::getInt(p.get_object(), "port")] = api::getInt(p.get_object(), "nodePort");
  std::set<int64_t> kept;
  if (needsNodePorts(type)) {
    if (auto* ports = spec.if_contains("ports"); ports && ports->is_array()) {
      for (auto& p : ports->get_array()) {
        if (!p.is_object()) continue;
        auto& po = p.get_object();
        int64_t np = api::getInt(po, "nodePort", 0);
        int64_t prev = needsNodePorts(otype) ? old_ports[api::getInt(po, "port")] : 0;
        if (np == 0 && prev != 0) np = prev, po["nodePort"] = prev;
        bool was_ours = false;
        for (auto& [port, onp] : old_ports)
          if (onp == np && needsNodePorts(otype)) was_ours = true;
        if (np == 0) {
          if (dry_run) continue;
          auto r = alloc.node_ports.allocateNext();
          if (!r.ok()) return makeError(ErrorCode::kInternal, "failed to allocate a nodePort: " + r.error().message);
          po["nodePort"] = *r;
          kept.insert(*r);
        } else if (!was_ours) {
          if (!dry_run) {
            auto st = alloc.node_ports.allocate(static_cast<int>(np));
            if (!st.ok()) return makeError(ErrorCode::kInvalid, st.error().message);
          }
          kept.insert(np);
        } else {
          kept.insert(np);
        }
      }
    }
  } else if (auto* ports = spec.if_contains("ports"); ports && ports->is_array()) {
    for (auto& p : ports->get_array())
      if (p.is_object()) p.get_object().erase("nodePort");
  }
  if (!dry_run && needsNodePorts(otype))
    for (auto& [port, onp] : old_ports)
      if (onp && !kept.count(onp)) alloc.node_ports.release(static_cast<int>(onp));
  return okStatus();
}

void releaseService(Allocators& alloc, const Object& svc) {
  const Object* spec = api::findObject(svc, "spec");
  if (!spec) return;
  std::string ip = api::getString(*spec, "clusterIP");
  if (!ip.empty() && ip != "None") alloc.service_ips.release(ip);
  if (auto* ports = api::findArray(*spec, "ports"))
    for (auto& p : *ports)
      if (p.is_object())
        if (int64_t np = api::getInt(p.get_object(), "nodePort", 0)) alloc.node_ports.release(static_cast<int>(np));
}

void claimService(Allocators& alloc, const Object& svc) {
  const Object* spec = api::findObject(svc, "spec");
  if (!spec) return;
  std::string ip = api::getString(*spec, "clusterIP");
  if (!ip.empty() && ip != "None") (void)alloc.service_ips.allocate(ip);
  if (auto* ports = api::findArray(*spec, "ports"))
    for (auto& p : *ports)
      if (p.is_object())
        if (int64_t np = api::getInt(p.get_object(), "nodePort", 0))
          (void)alloc.node_ports.allocate(static_cast<int>(np));
}

}  // namespace berth::apiserver
