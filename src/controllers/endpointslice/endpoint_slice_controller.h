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

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "client/informer.h"
#include "common/clock.h"
#include "controllers/controller_util.h"

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
  WorkQueue& workQueue() { return queue_; }

 private:
  struct HandlerGuard;
  void registerHandlers();
  void onPod(const client::ObjectPtr& old_pod, const client::ObjectPtr& pod);
  void onSlice(const client::ObjectPtr& slice);
  void processKey(const std::string& key);
  std::vector<client::ObjectPtr> managedSlices(const std::string& ns,
                                               const std::string& service) const;

  client::Client& client_;
  client::Informer& service_informer_;
  client::Informer& pod_informer_;
  client::Informer& slice_informer_;
  const api::KindInfo& slice_kind_;
  int workers_count_;

  WorkQueue queue_;
  std::shared_ptr<HandlerGuard> guard_;
  std::mutex mu_;
  std::atomic<bool> stopping_{false};
  std::thread starter_;
  std::unique_ptr<WorkerPool> workers_;
  std::mutex failures_mu_;
  std::map<std::string, int> failures_;
};

}  // namespace berth::controllers
