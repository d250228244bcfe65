#include "agent/node/node_api.h"

#include "common/error.h"

namespace berth::agent::node {

namespace json = boost::json;

namespace {
struct ConditionText {
  const char* type;
  const char* true_reason;
  const char* true_message;
  const char* false_reason;
  const char* false_message;
};
// pkg/kubelet/nodestatus/setters.go.
constexpr ConditionText kConditions[4] = {
    {"MemoryPressure", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available",
     "KubeletHasSufficientMemory", "kubelet has sufficient memory available"},
    {"DiskPressure", "KubeletHasDiskPressure", "kubelet has disk pressure",
     "KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
    {"PIDPressure", "KubeletHasInsufficientPID", "kubelet has insufficient PID available",
     "KubeletHasSufficientPID", "kubelet has sufficient PID available"},
    {"Ready", "KubeletReady", "kubelet is posting ready status", "KubeletNotReady", ""},
};
}  // namespace

void NodeConditions::reset(TimePoint now) {
  transition_.fill(now);
  initialized_ = false;
}

json::array NodeConditions::update(const NodeHealth& health, TimePoint now) {
  const std::array<bool, 4> status = {health.memory_pressure, health.disk_pressure,
                                      health.pid_pressure, health.ready};
  json::array out;
  for (size_t i = 0; i < 4; ++i) {
    if (!initialized_) {
      if (transition_[i] == TimePoint{}) transition_[i] = now;
    } else if (status_[i] != status[i]) {
      transition_[i] = now;
    }
    status_[i] = status[i];
    const ConditionText& t = kConditions[i];
    std::string message = status[i] ? t.true_message : t.false_message;
    if (i == 3 && !status[i]) message = health.not_ready_message;
    out.push_back(json::object{{"type", t.type},
                               {"status", status[i] ? "True" : "False"},
                               {"lastHeartbeatTime", formatRfc3339(now)},
                               {"lastTransitionTime", formatRfc3339(transition_[i])},
                               {"reason", status[i] ? t.true_reason : t.false_reason},
                               {"message", message}});
  }
  initialized_ = true;
  return out;
}

api::Object leaseObject(const std::string& node_name, const std::string& node_uid,
                        int lease_duration_seconds, TimePoint renew) {
  json::object metadata{{"name", node_name}, {"namespace", kNodeLeaseNamespace}};
  if (!node_uid.empty())
    metadata["ownerReferences"] = json::array{json::object{
        {"apiVersion", "v1"}, {"kind", "Node"}, {"name", node_name}, {"uid", node_uid}}};
  return api::Object{{"apiVersion", "coordination.k8s.io/v1"},
                     {"kind", "Lease"},
                     {"metadata", std::move(metadata)},
                     {"spec", json::object{{"holderIdentity", node_name},
                                           {"leaseDurationSeconds", lease_duration_seconds},
                                           {"renewTime", formatRfc3339Micro(renew)}}}};
}

Result<client::ObjectPtr> renewLease(client::Client& client, const std::string& node_name,
                                     const std::string& node_uid, int lease_duration_seconds,
                                     TimePoint now, const client::ObjectPtr& cached,
                                     bool* conflicted) {
  const api::KindInfo& lease_kind = client::kind("coordination.k8s.io", "Lease");
  auto renewed = [&](const api::Object& base) {
    api::Object copy = base;
    json::object& spec = api::ensureObj(copy, "spec");
    spec["holderIdentity"] = node_name;
    spec["leaseDurationSeconds"] = lease_duration_seconds;
    spec["renewTime"] = formatRfc3339Micro(now);
    return copy;
  };
  auto updateCurrent = [&]() -> Result<client::ObjectPtr> {
    BERTH_ASSIGN_OR_RETURN(auto current, client.get(lease_kind, kNodeLeaseNamespace, node_name));
    return client.update(lease_kind, renewed(*current));
  };
  Result<client::ObjectPtr> result = makeError(ErrorCode::kNotFound, "no lease yet");
  if (cached) {
    result = client.update(lease_kind, renewed(*cached));
    if (!result.ok() && result.error().code == ErrorCode::kConflict) {
      if (conflicted) *conflicted = true;
      result = updateCurrent();
    }
  }
  if (!result.ok() && result.error().code == ErrorCode::kNotFound) {
    result =
        client.create(lease_kind, leaseObject(node_name, node_uid, lease_duration_seconds, now));
    if (!result.ok() && result.error().code == ErrorCode::kAlreadyExists) result = updateCurrent();
  }
  return result;
}

json::object realNodeStatus(const NodeReport& r, json::array conditions) {
  NodeResources cap = capacityOf(r.machine, r.usage, r.max_pods);
  NodeResources alloc = allocatableOf(r.machine, r.usage, r.max_pods, r.thresholds);
  auto list = [](const NodeResources& res) {
    return json::object{{"cpu", res.cpu},       {"ephemeral-storage", res.ephemeral_storage},
                        {"hugepages-1Gi", "0"}, {"hugepages-2Mi", "0"},
                        {"memory", res.memory}, {"pods", res.pods}};
  };
  json::array addresses;
  if (!r.internal_ip.empty())
    addresses.push_back(json::object{{"type", "InternalIP"}, {"address", r.internal_ip}});
  if (!r.hostname.empty())
    addresses.push_back(json::object{{"type", "Hostname"}, {"address", r.hostname}});
  return json::object{
      {"capacity", list(cap)},
      {"allocatable", list(alloc)},
      {"conditions", std::move(conditions)},
      {"addresses", std::move(addresses)},
      {"daemonEndpoints",
       json::object{{"kubeletEndpoint", json::object{{"Port", r.kubelet_port}}}}},
      {"nodeInfo", json::object{{"machineID", r.machine.machine_id},
                                {"systemUUID", r.machine.system_uuid},
                                {"bootID", r.machine.boot_id},
                                {"kernelVersion", r.machine.kernel_version},
                                {"osImage", r.machine.os_image},
                                {"containerRuntimeVersion", r.runtime_version},
                                {"kubeletVersion", r.kubelet_version},
                                {"kubeProxyVersion", ""},
                                {"operatingSystem", "linux"},
                                {"architecture", r.machine.architecture}}},
  };
}

NodeHealth realNodeHealth(const NodeReport& r, const std::string& not_ready_message) {
  Pressure p = evaluatePressure(r.usage, r.thresholds);
  NodeHealth h;
  h.memory_pressure = p.memory;
  h.disk_pressure = p.disk;
  h.pid_pressure = p.pid;
  h.ready = not_ready_message.empty();
  if (!h.ready) h.not_ready_message = not_ready_message;
  return h;
}

}  // namespace berth::agent::node
