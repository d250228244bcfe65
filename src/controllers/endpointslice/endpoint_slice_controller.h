#pragma once

// The EndpointSlice controller, after upstream's pkg/controller/endpointslice:
// keeps the EndpointSlices of every Service with a selector equal to what
// endpoint_slice_util.h says they should hold (the pods the selector
// matches, their readiness, serving and terminating conditions, the ports
// the Service's ports resolve to), writing only the slices that differ.
//
// Level-triggered: a Service change enqueues it; a pod change enqueues the
// Services of its namespace whose selector matches its old or new labels; a
// change to a slice this controller manages enqueues its Service (a slice
// edited or deleted by hand is put back). A Service without a selector (its
// Endpoints are the user's) or of type ExternalName has no managed slices;
// a deleted Service's slices are deleted.

#include <string>
#include <vector>

#include "client/informer.h"
#include "controllers/daemonset/sync_loop.h"

namespace berth::controllers {

class EndpointSliceController {
 public:
  EndpointSliceController(client::Client& client, client::InformerFactory& informers,
                          int workers = 2);
  ~EndpointSliceController();
  EndpointSliceController(const EndpointSliceController&) = delete;
  EndpointSliceController& operator=(const EndpointSliceController&) = delete;

  // Starts the workers once the informers have synced (in the background).
  void start();
  void stop();

  // Syncs the Service "ns/name". Public for tests.
  Status sync(const std::string& key);
  // The work queue (tests drain it to see what the handlers enqueued).
  WorkQueue& workQueue() { return loop_.queue(); }

 private:
  void onService(const client::ObjectPtr& service);
  void onServiceUpdate(const client::ObjectPtr& old_service, const client::ObjectPtr& service);
  void onPod(const client::ObjectPtr& pod);
  void onPodUpdate(const client::ObjectPtr& old_pod, const client::ObjectPtr& pod);
  void onSlice(const client::ObjectPtr& slice);
  void onSliceUpdate(const client::ObjectPtr& old_slice, const client::ObjectPtr& slice);

  client::Client& client_;
  client::Informer& service_informer_;
  client::Informer& pod_informer_;
  client::Informer& slice_informer_;
  const api::KindInfo& slice_kind_;
  HandlerGate gate_;
  SyncLoop loop_;
};

}  // namespace berth::controllers
