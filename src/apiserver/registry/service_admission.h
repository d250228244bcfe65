#pragma once

#include "api/kind.h"
#include "apiserver/registry/allocator.h"
#include "common/result.h"

namespace berth::apiserver {

// Service REST specifics (upstream pkg/registry/core/service/storage):
// allocates spec.clusterIP(s) from the service CIDR and NodePorts for
// NodePort/LoadBalancer Services, rejecting duplicates with 422.
Status admitServiceCreate(Allocators& alloc, api::Object& svc);
// Carries allocated values over when the update omits them
// (patchAllocatedValues), allocates/releases NodePorts on type changes.
Status admitServiceUpdate(Allocators& alloc, api::Object& svc, const api::Object& old, bool dry_run);
void releaseService(Allocators& alloc, const api::Object& svc);
// Marks a stored Service's addresses and ports as in use (startup rebuild).
void claimService(Allocators& alloc, const api::Object& svc);

}  // namespace berth::apiserver
