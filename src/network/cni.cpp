#include "network/cni.h"

#include <boost/json.hpp>

#include "common/error.h"
#include "common/subprocess.h"

namespace berth::network {

namespace json = boost::json;

namespace {

constexpr char kCniVersion[] = "1.0.0";
constexpr char kIfName[] = "eth0";

// A failed plugin prints a CNI error object: {"code", "msg", "details"}.
Error pluginError(const std::string& plugin, const std::string& command,
                  const SubprocessResult& r) {
  std::string msg = r.out.empty() ? r.err : r.out;
  json::error_code ec;
  json::value v = json::parse(r.out, ec);
  if (!ec && v.is_object()) {
    const auto& o = v.as_object();
    if (auto* m = o.if_contains("msg"); m && m->is_string()) msg = std::string(m->as_string());
    if (auto* d = o.if_contains("details"); d && d->is_string() && !d->as_string().empty())
      msg += ": " + std::string(d->as_string());
  }
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  return makeError(ErrorCode::kInternal, "CNI " + plugin + " " + command + " failed: " + msg);
}

Result<SubprocessResult> invoke(const CniConfig& config, const std::string& plugin,
                                const std::string& command, const std::string& container_id,
                                const std::string& netns, const std::string& ifname,
                                const std::string& net_config) {
  SubprocessOptions o;
  o.stdin_data = net_config;
  o.replace_env = true;
  o.env = {"CNI_COMMAND=" + command,
           "CNI_CONTAINERID=" + container_id,
           "CNI_NETNS=" + netns,
           "CNI_IFNAME=" + ifname,
           "CNI_PATH=" + config.plugin_dir,
           "PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  BERTH_ASSIGN_OR_RETURN(auto r, runSubprocess({config.plugin_dir + "/" + plugin}, o));
  if (r.exit_code != 0) return pluginError(plugin, command, r);
  return r;
}

}  // namespace

std::string bridgeNetworkConfig(const CniConfig& config) {
  json::object ipam{{"type", "host-local"},
                    {"ranges", json::array{json::array{json::object{{"subnet", config.subnet}}}}},
                    {"routes", json::array{json::object{{"dst", "0.0.0.0/0"}}}}};
  if (!config.data_dir.empty()) ipam["dataDir"] = config.data_dir;
  json::object net{{"cniVersion", kCniVersion}, {"name", config.network_name}, {"type", "bridge"},
                   {"bridge", config.bridge},   {"isGateway", true},           {"ipMasq", false},
                   {"hairpinMode", true},       {"ipam", std::move(ipam)}};
  if (config.mtu > 0) net["mtu"] = config.mtu;
  return json::serialize(net);
}

Result<CniAttachment> parseCniResult(const std::string& text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object())
    return makeError(ErrorCode::kInternal, "CNI result is not JSON: " + text);
  const auto& o = v.as_object();
  CniAttachment a;
  a.raw_result = text;
  // The interface inside the namespace is the one with a "sandbox".
  int64_t pod_if = -1;
  if (auto* ifs = o.if_contains("interfaces"); ifs && ifs->is_array()) {
    const auto& arr = ifs->as_array();
    for (size_t i = 0; i < arr.size(); ++i) {
      if (!arr[i].is_object()) continue;
      const auto& itf = arr[i].as_object();
      if (itf.contains("sandbox") && !itf.at("sandbox").as_string().empty()) {
        pod_if = static_cast<int64_t>(i);
        if (auto* mac = itf.if_contains("mac"); mac && mac->is_string()) a.mac = mac->as_string();
      }
    }
  }
  if (auto* ips = o.if_contains("ips"); ips && ips->is_array()) {
    for (const auto& ipv : ips->as_array()) {
      if (!ipv.is_object()) continue;
      const auto& ip = ipv.as_object();
      if (pod_if >= 0) {
        auto* itf = ip.if_contains("interface");
        if (itf && itf->is_int64() && itf->as_int64() != pod_if) continue;
      }
      if (auto* addr = ip.if_contains("address"); addr && addr->is_string()) {
        a.prefix = addr->as_string();
        a.ip = a.prefix.substr(0, a.prefix.find('/'));
      }
      if (auto* gw = ip.if_contains("gateway"); gw && gw->is_string()) a.gateway = gw->as_string();
      break;
    }
  }
  if (a.ip.empty()) return makeError(ErrorCode::kInternal, "CNI result has no IP: " + text);
  return a;
}

Result<CniAttachment> cniAdd(const CniConfig& config, const std::string& container_id,
                             const std::string& netns_path) {
  if (config.subnet.empty()) return makeError(ErrorCode::kInvalid, "the node has no pod CIDR");
  // `lo` is up already (createNetns): the bridge plugin is the only one.
  BERTH_ASSIGN_OR_RETURN(auto r, invoke(config, "bridge", "ADD", container_id, netns_path, kIfName,
                                        bridgeNetworkConfig(config)));
  return parseCniResult(r.out);
}

Status cniDel(const CniConfig& config, const std::string& container_id,
              const std::string& netns_path) {
  // DEL must succeed for what is already gone (the spec); the namespace
  // may be deleted already, in which case the plugin only frees the address.
  BERTH_RETURN_IF_ERROR(invoke(config, "bridge", "DEL", container_id, netns_path, kIfName,
                               bridgeNetworkConfig(config)));
  return okStatus();
}

}  // namespace berth::network
