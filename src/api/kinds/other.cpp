#include "api/kind.h"

namespace berth::api {

void registerOtherKinds(KindRegistry& r) {}

}  // namespace berth::api
