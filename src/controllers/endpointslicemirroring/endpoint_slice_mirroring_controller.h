#pragma once

// The EndpointSlice mirroring controller, after upstream's
// pkg/controller/endpointslicemirroring: Endpoints that a user wrote for a
// Service without a selector are mirrored into EndpointSlices, so that
// consumers of slices (the service proxy, DNS) see them too. Mirrored only
// while the Service exists, has no selector, and the Endpoints do not
// carry endpointslice.kubernetes.io/skip-mirror=true; each subset becomes
// slices of its ports (addresses ready, notReadyAddresses not ready; at
// most kMaxAddressesPerSubset addresses of a subset), labelled with the
// Endpoints' labels and managed-by endpointslicemirroring-controller.k8s.io,
// owned by the Endpoints. Anything else it manages is deleted.

#include <string>

#include "client/informer.h"
#include "controllers/daemonset/sync_loop.h"
#include "controllers/endpointslice/endpoint_slice_util.h"

namespace berth::controllers {

class EndpointSliceMirroringController {
 public:
  static constexpr char kManagedBy[] = "endpointslicemirroring-controller.k8s.io";
  static constexpr char kSkipMirrorLabel[] = "endpointslice.kubernetes.io/skip-mirror";
  static constexpr size_t kMaxAddressesPerSubset = 1000;

  EndpointSliceMirroringController(client::Client& client, client::InformerFactory& informers,
                                   int workers = 1);
  ~EndpointSliceMirroringController();
  EndpointSliceMirroringController(const EndpointSliceMirroringController&) = delete;
  EndpointSliceMirroringController& operator=(const EndpointSliceMirroringController&) = delete;

  void start();
  void stop();

  // Syncs the Endpoints (and Service) "ns/name". Public for tests.
  Status sync(const std::string& key);

  // The slices the subsets of `endpoints` mirror into.
  static std::vector<endpointslice::DesiredSlice> mirroredSlices(const api::Object& endpoints);

 private:
  void onObject(const client::ObjectPtr& obj);
  void onUpdate(const client::ObjectPtr& old_obj, const client::ObjectPtr& obj);
  void onSlice(const client::ObjectPtr& slice);

  client::Client& client_;
  client::Informer& endpoints_informer_;
  client::Informer& service_informer_;
  client::Informer& slice_informer_;
  HandlerGate gate_;
  SyncLoop loop_;
};

}  // namespace berth::controllers
