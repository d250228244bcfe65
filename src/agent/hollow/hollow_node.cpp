#include "agent/hollow/hollow_node.h"

#include <cstdio>

namespace berth::agent::hollow {

namespace json = boost::json;

namespace {
constexpr uint32_t kNodeIpBase = (10u << 24) | (244u << 16);   // 10.244.0.0/16
constexpr uint32_t kPodCidrBase = (10u << 24) | (128u << 16);  // 10.128.0.0/9 minus 10.244/16
// /24 blocks from 10.128.0.0 up to (not into) 10.244.0.0.
constexpr int kPodCidrBlocks = (244 - 128) * 256;

std::string hex16(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

uint64_t fnv(const std::string& s, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

std::string ipv4(uint32_t addr) {
  return std::to_string(addr >> 24) + "." + std::to_string((addr >> 16) & 255) + "." +
         std::to_string((addr >> 8) & 255) + "." + std::to_string(addr & 255);
}

NodeIdentity makeNodeIdentity(const std::string& prefix, int index,
                              const std::vector<std::string>& zones, const std::string& region) {
  NodeIdentity id;
  id.index = index;
  id.name = prefix + std::to_string(index);
  if (!zones.empty()) id.zone = zones[static_cast<size_t>(index) % zones.size()];
  id.region = region;
  id.internal_ip = ipv4(kNodeIpBase + static_cast<uint32_t>(index % 65535) + 1);
  id.pod_base = kPodCidrBase + (static_cast<uint32_t>(index % kPodCidrBlocks) << 8);
  id.pod_cidr = ipv4(id.pod_base) + "/24";
  return id;
}

api::Object nodeObject(const NodeIdentity& id,
                       const std::map<std::string, std::string>& extra_labels) {
  json::object labels{{"beta.kubernetes.io/arch", "amd64"}, {"beta.kubernetes.io/os", "linux"},
                      {"kubernetes.io/arch", "amd64"},      {"kubernetes.io/hostname", id.name},
                      {"kubernetes.io/os", "linux"},        {kHollowNodeLabel, "true"}};
  if (!id.zone.empty()) labels["topology.kubernetes.io/zone"] = id.zone;
  if (!id.region.empty()) labels["topology.kubernetes.io/region"] = id.region;
  for (const auto& [k, v] : extra_labels) labels[k] = v;
  return api::Object{
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata",
       json::object{
           {"name", id.name},
           {"labels", std::move(labels)},
           {"annotations",
            json::object{{"node.alpha.kubernetes.io/ttl", "0"},
                         {"volumes.kubernetes.io/controller-managed-attach-detach", "true"}}}}},
      {"spec", json::object{{"podCIDR", id.pod_cidr},
                            {"podCIDRs", json::array{id.pod_cidr}},
                            {"providerID", "hollow://" + id.name}}},
  };
}

json::object nodeStatus(const NodeIdentity& id, const NodeResources& res, json::array conditions) {
  json::object capacity{{"cpu", res.cpu},       {"ephemeral-storage", res.ephemeral_storage},
                        {"hugepages-1Gi", "0"}, {"hugepages-2Mi", "0"},
                        {"memory", res.memory}, {"pods", res.pods}};
  uint64_t h = fnv(id.name, 0);
  std::string machine = hex16(h) + hex16(fnv(id.name, 1));
  std::string uuid = machine.substr(0, 8) + "-" + machine.substr(8, 4) + "-" +
                     machine.substr(12, 4) + "-" + machine.substr(16, 4) + "-" +
                     machine.substr(20, 12);
  return json::object{
      {"capacity", capacity},
      {"allocatable", capacity},
      {"conditions", std::move(conditions)},
      {"addresses", json::array{json::object{{"type", "InternalIP"}, {"address", id.internal_ip}},
                                json::object{{"type", "Hostname"}, {"address", id.name}}}},
      {"daemonEndpoints", json::object{{"kubeletEndpoint", json::object{{"Port", 10250}}}}},
      {"nodeInfo", json::object{{"machineID", machine},
                                {"systemUUID", uuid},
                                {"bootID", hex16(fnv(id.name, 2)) + hex16(fnv(id.name, 3))},
                                {"kernelVersion", "6.1.0-hollow"},
                                {"osImage", "berth hollow node"},
                                {"containerRuntimeVersion", kHollowRuntimeVersion},
                                {"kubeletVersion", kHollowKubeletVersion},
                                {"kubeProxyVersion", ""},
                                {"operatingSystem", "linux"},
                                {"architecture", "amd64"}}},
  };
}

}  // namespace berth::agent::hollow
