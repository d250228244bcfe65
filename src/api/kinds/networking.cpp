#include "api/kind.h"

namespace berth::api {

void registerNetworkingKinds(KindRegistry& r) {}

}  // namespace berth::api
