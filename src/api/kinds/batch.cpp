#include "api/kind.h"

namespace berth::api {

void registerBatchKinds(KindRegistry& r) {}

}  // namespace berth::api
