#pragma once

// A container's environment as the kubelet makes it
// (pkg/kubelet/kubelet_pods.go makeEnvironmentVariables): envFrom sources
// in order (configMapRef / secretRef, prefix, optional; keys that are not
// valid variable names skipped), then env in order, each value expanded
// with $(VAR) against the variables defined so far
// (third_party/forked/golang/expansion), or taken from valueFrom
// (fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef). The image's
// own Env comes first and is overridden by these (the runtime merges).
// Service link variables (enableServiceLinks) come with Services (issue 5).

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/volumes/projection.h"

namespace berth::agent {

using EnvList = std::vector<std::pair<std::string, std::string>>;

struct EnvSources {
  volumes::ObjectLookup config_maps;
  volumes::ObjectLookup secrets;
  volumes::NodeAllocatable node;
};

// Errors carry the kubelet's messages; the agent reports them as the
// container's CreateContainerConfigError.
Result<EnvList> makeEnvironment(const api::Object& pod, const api::Object& container,
                                const EnvSources& sources);

// $(VAR) expansion: a defined VAR is replaced, an undefined one left as
// written, $$ is a literal $, anything else kept.
std::string expandVars(std::string_view in,
                       const std::function<std::optional<std::string>(std::string_view)>& lookup);

// Command and args with $(VAR) expanded against the container's environment
// (kubelet ExpandContainerCommandAndArgs).
std::vector<std::string> expandAll(const std::vector<std::string>& in, const EnvList& env);

// IsEnvVarName: letters, digits, '_', '-', '.', not starting with a digit.
bool isEnvVarName(std::string_view name);

// The image's Env ("K=V" strings) overridden by `env`, in the order the
// runtime passes it: image variables first (replaced in place), then new ones.
std::vector<std::string> mergeImageEnv(const std::vector<std::string>& image_env,
                                       const EnvList& env);

}  // namespace berth::agent
