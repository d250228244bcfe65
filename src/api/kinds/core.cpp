#include "api/kind.h"

namespace berth::api {

void registerCoreKinds(KindRegistry& r) {}

}  // namespace berth::api
