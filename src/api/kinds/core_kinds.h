#pragma once

// Builders of the core/v1 KindInfos, split over several files by kind;
// registerCoreKinds (core.cpp) adds them in discovery order.

#include "api/kind.h"

namespace berth::api {

KindInfo podKind();                    // core_pod.cpp
KindInfo serviceKind();                // core_service.cpp
KindInfo endpointsKind();              // core_service.cpp
KindInfo nodeKind();                   // core_cluster.cpp
KindInfo persistentVolumeKind();       // core_cluster.cpp
KindInfo persistentVolumeClaimKind();  // core_cluster.cpp
KindInfo resourceQuotaKind();          // core_cluster.cpp
KindInfo limitRangeKind();             // core_cluster.cpp
KindInfo replicationControllerKind();  // core_workload.cpp
KindInfo podTemplateKind();            // core_workload.cpp

// The PodStatus-derived cells of `kubectl get pods` (printPod): READY,
// STATUS, RESTARTS, AGE, IP, NODE, NOMINATED NODE, READINESS GATES.
boost::json::array podCells(const Object& pod, const KindContext& ctx);

// Fills the common identity fields of a KindInfo.
KindInfo makeKind(const std::string& group, const std::string& version, const std::string& kind,
                  const std::string& resource, bool namespaced, std::vector<std::string> short_names = {},
                  std::vector<std::string> categories = {});

}  // namespace berth::api
