#pragma once

// The plugin registry (upstream's frameworkruntime.Registry and
// plugins.NewInTreeRegistry): plugin name -> factory. Built explicitly by
// inTreeRegistry(); callers may add their own entries before creating a
// Framework.

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/result.h"
#include "scheduler/config.h"
#include "scheduler/framework.h"

namespace berth::scheduler {

using PluginFactory =
    std::function<Result<std::shared_ptr<Plugin>>(const ProfileConfig& config, Handle& handle)>;
using Registry = std::map<std::string, PluginFactory, std::less<>>;

Registry inTreeRegistry();

}  // namespace berth::scheduler
