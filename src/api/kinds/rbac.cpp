#include "api/kind.h"

namespace berth::api {

void registerRbacKinds(KindRegistry& r) {}

}  // namespace berth::api
