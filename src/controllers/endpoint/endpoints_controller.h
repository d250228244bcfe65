#pragma once

// The Endpoints controller, after upstream's pkg/controller/endpoint: the
// legacy Endpoints object (named as its Service) of every Service with a
// selector, for clients that still read it. Its subsets group the pods the
// selector matches by the ports the Service's ports resolve to on them;
// ready pods are `addresses`, the others `notReadyAddresses` (all are
// addresses with publishNotReadyAddresses); pods being deleted or finished
// and pods without an IP are left out. A Service's labels are copied (plus
// service.kubernetes.io/headless for a headless one). A deleted Service's
// Endpoints are deleted; a Service without a selector keeps whatever
// Endpoints its user wrote.

#include <string>

#include "client/informer.h"
#include "controllers/daemonset/sync_loop.h"

namespace berth::controllers {

class EndpointsController {
 public:
  EndpointsController(client::Client& client, client::InformerFactory& informers, int workers = 2);
  ~EndpointsController();
  EndpointsController(const EndpointsController&) = delete;
  EndpointsController& operator=(const EndpointsController&) = delete;

  void start();
  void stop();

  // Syncs the Service "ns/name". Public for tests.
  Status sync(const std::string& key);
  WorkQueue& workQueue() { return loop_.queue(); }

  // The subsets of `service` for the pods of its namespace its selector
  // matches (EndpointSubset repacked: sorted, one subset per port set).
  static boost::json::array subsetsFor(const api::Object& service,
                                       const std::vector<client::ObjectPtr>& pods);

 private:
  void onService(const client::ObjectPtr& service);
  void onServiceUpdate(const client::ObjectPtr& old_service, const client::ObjectPtr& service);
  void onPod(const client::ObjectPtr& pod);
  void onPodUpdate(const client::ObjectPtr& old_pod, const client::ObjectPtr& pod);
  void onEndpoints(const client::ObjectPtr& endpoints);

  client::Client& client_;
  client::Informer& service_informer_;
  client::Informer& pod_informer_;
  client::Informer& endpoints_informer_;
  const api::KindInfo& endpoints_kind_;
  HandlerGate gate_;
  SyncLoop loop_;
};

}  // namespace berth::controllers
