#include "api/kind.h"

namespace berth::api {

void KindRegistry::add(KindInfo info) { kinds_.push_back(std::make_shared<const KindInfo>(std::move(info))); }

const KindInfo* KindRegistry::byResource(std::string_view group, std::string_view version,
                                         std::string_view resource) const {
  for (const auto& k : kinds_)
    if (k->group == group && k->version == version && k->resource == resource) return k.get();
  return nullptr;
}

const KindInfo* KindRegistry::byKind(std::string_view group, std::string_view version,
                                     std::string_view kind) const {
  for (const auto& k : kinds_)
    if (k->group == group && k->version == version && k->kind == kind) return k.get();
  return nullptr;
}

const KindRegistry& KindRegistry::builtin() {
  static const KindRegistry registry = [] {
    KindRegistry r;
    registerCoreKinds(r);
    registerAppsKinds(r);
    registerBatchKinds(r);
    registerAutoscalingKinds(r);
    registerPolicyKinds(r);
    registerAuthKinds(r);
    registerRbacKinds(r);
    registerNetworkingKinds(r);
    registerStorageKinds(r);
    registerOtherKinds(r);
    return r;
  }();
  return registry;
}

}  // namespace berth::api
