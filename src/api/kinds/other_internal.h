#pragma once

// Registration functions of the files behind registerOtherKinds; not part of
// the api component's public surface.

#include "api/kind.h"

namespace berth::api {

// certificates.k8s.io/v1 CertificateSigningRequest (other_certificates.cpp).
void registerCertificateKinds(KindRegistry& r);

}  // namespace berth::api
