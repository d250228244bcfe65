#include "api/kind.h"

namespace berth::api {

void registerPolicyKinds(KindRegistry& r) {}

}  // namespace berth::api
