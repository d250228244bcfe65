#include "api/kind.h"

namespace berth::api {

void registerStorageKinds(KindRegistry& r) {}

}  // namespace berth::api
