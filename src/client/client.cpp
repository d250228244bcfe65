#include "client/client.h"

#include <cstdlib>
#include <map>
#include <utility>

#include "api/object.h"
#include "common/log.h"

namespace berth::client {

namespace {

// (group, kind) -> the first KindInfo registered for it, which is the
// preferred version (KindRegistry registration order, e.g. autoscaling/v2
// before autoscaling/v1). Built once; the builtin registry is read-only.
const std::map<std::pair<std::string, std::string>, const api::KindInfo*, std::less<>>&
preferredKinds() {
  static const auto table = [] {
    std::map<std::pair<std::string, std::string>, const api::KindInfo*, std::less<>> t;
    for (const auto& k : api::KindRegistry::builtin().all())
      t.emplace(std::make_pair(k->group, k->kind), k.get());
    return t;
  }();
  return table;
}

}  // namespace

const api::KindInfo& kind(std::string_view group, std::string_view kind_name) {
  const auto& table = preferredKinds();
  auto it = table.find(std::make_pair(std::string(group), std::string(kind_name)));
  if (it == table.end()) {
    BERTH_LOG(kError, "client") << "unknown kind group=" << group << " kind=" << kind_name;
    std::abort();
  }
  return *it->second;
}

std::string keyOf(const Object& obj) { return makeKey(api::namespaceOf(obj), api::name(obj)); }

std::string makeKey(const std::string& ns, const std::string& name) {
  if (ns.empty()) return name;
  std::string key;
  key.reserve(ns.size() + 1 + name.size());
  key.append(ns).append(1, '/').append(name);
  return key;
}

void splitKey(const std::string& key, std::string* ns, std::string* name) {
  // Names and namespaces never contain '/', so the first one separates them
  // (client-go's SplitMetaNamespaceKey).
  auto slash = key.find('/');
  if (slash == std::string::npos) {
    if (ns) ns->clear();
    if (name) *name = key;
    return;
  }
  if (ns) *ns = key.substr(0, slash);
  if (name) *name = key.substr(slash + 1);
}

}  // namespace berth::client
