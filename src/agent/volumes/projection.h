#pragma once

// The payloads of the volumes whose files come from API objects, as
// upstream's volume plugins build them before handing them to the
// AtomicWriter: configMap (pkg/volume/configmap MakePayload), secret
// (pkg/volume/secret), downwardAPI (pkg/volume/downwardapi
// CollectData, pkg/fieldpath) and projected (pkg/volume/projected).

#include <functional>
#include <map>
#include <memory>

#include "agent/volumes/atomic_writer.h"
#include "api/kind.h"
#include "api/object.h"
#include "common/result.h"

namespace berth::agent::volumes {

// Looks up a ConfigMap or Secret of the pod's namespace by name; nullptr
// when it does not exist (an error for other failures).
using ObjectLookup =
    std::function<Result<std::shared_ptr<const api::Object>>(const std::string& name)>;

// The node's allocatable (cpu, memory, ephemeral-storage quantities), what
// a resourceFieldRef reads for a container without that limit.
struct NodeAllocatable {
  std::string cpu = "0";
  std::string memory = "0";
  std::string ephemeral_storage = "0";
};

// The entries of a ConfigMap (data, and binaryData decoded) or of a Secret
// (data decoded); Invalid when a value is not base64.
Result<std::map<std::string, std::string>> objectEntries(const api::Object& obj, bool secret);

// A ConfigMapVolumeSource / SecretVolumeSource over the object it names
// (nullptr: not found).
Result<Payload> configMapPayload(const api::Object& source, const api::Object* config_map);
Result<Payload> secretPayload(const api::Object& source, const api::Object* secret);

// A DownwardAPIVolumeSource's items for `pod`. `default_mode` applies to
// items without a mode.
Result<Payload> downwardApiPayload(const api::Object& source, const api::Object& pod,
                                   const NodeAllocatable& node, int default_mode);

// A ProjectedVolumeSource: its sources merged in order. serviceAccountToken
// sources are answered by `token` (nullptr: refused with an error).
using TokenSource =
    std::function<Result<std::string>(const api::Object& service_account_token_projection)>;
Result<Payload> projectedPayload(const api::Object& source, const api::Object& pod,
                                 const NodeAllocatable& node, const ObjectLookup& config_maps,
                                 const ObjectLookup& secrets, const TokenSource& token);

// One downward API field (fieldRef.fieldPath) of `pod` as upstream formats
// it (labels and annotations as sorted key="value" lines).
Result<std::string> podFieldValue(const api::Object& pod, const std::string& field_path);

// One resourceFieldRef value (limits.cpu, requests.memory, ...) of the
// named container, divided by `divisor` and rounded up.
Result<std::string> containerResourceValue(const api::Object& pod, const std::string& container,
                                           const std::string& resource, const std::string& divisor,
                                           const NodeAllocatable& node);

}  // namespace berth::agent::volumes
