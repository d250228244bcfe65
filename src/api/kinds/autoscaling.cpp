#include "api/kind.h"

namespace berth::api {

void registerAutoscalingKinds(KindRegistry& r) {}

}  // namespace berth::api
