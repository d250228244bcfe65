#include "api/kind.h"

namespace berth::api {

void registerAppsKinds(KindRegistry& r) {}

}  // namespace berth::api
