#pragma once

// Named network namespaces kept alive by a bind mount of their nsfs file,
// as `ip netns add` does (under <dir>/<name>), and running code inside one.
// Network namespace membership is per thread on Linux, so code runs in a
// namespace on a thread of its own; processes forked from that thread
// (CNI plugins) start there too.

#include <functional>
#include <string>

#include "common/result.h"

namespace berth::network {

// Creates <dir>/<name> holding a new network namespace with only `lo`,
// up (what CNI's loopback plugin would do, without running it).
// AlreadyExists when it is there.
Result<std::string> createNetns(const std::string& dir, const std::string& name);
// Unmounts and removes a namespace made by createNetns (no error when gone).
// Interfaces inside it disappear with it.
Status deleteNetns(const std::string& path);
// Runs `fn` on a thread that has joined the namespace at `path`.
Status runInNetns(const std::string& path, const std::function<Status()>& fn);

}  // namespace berth::network
