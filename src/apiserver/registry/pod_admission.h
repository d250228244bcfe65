#pragma once

#include "api/kind.h"
#include "common/result.h"

namespace berth::apiserver {

class Registry;

// The admission plugins upstream runs on pod create, in its order:
// - Priority (plugin/pkg/admission/priority): resolves
//   spec.priorityClassName (or the globalDefault class) into spec.priority
//   and spec.preemptionPolicy; an unknown class or a priority that differs
//   from the class's value is Forbidden.
// - DefaultTolerationSeconds: a pod that does not tolerate the
//   not-ready / unreachable NoExecute taints gets a 300 s toleration for
//   each, so pods on a dead node are evicted after five minutes, not at once.
Status admitPodCreate(Registry& registry, api::Object& pod);

}  // namespace berth::apiserver
