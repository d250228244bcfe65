#pragma once

// What a Service's EndpointSlices should hold, after upstream's
// pkg/controller/endpointslice (reconciler.go, utils.go) and
// pkg/api/v1/pod (FindPort): pure functions over API objects, so the
// controller only lists, compares and writes.
//
// A pod is an endpoint of a Service whose selector matches it once it has
// an IP and has not finished (terminating pods stay, with their
// conditions: ready = publishNotReadyAddresses || (Ready && !terminating),
// serving = Ready, terminating = being deleted). Endpoints are grouped by
// address family and by the ports the Service's ports resolve to on the
// pod (a named targetPort can resolve differently per pod), sorted by pod,
// at most kMaxEndpointsPerSlice per slice; a Service with a selector and no
// endpoints keeps one placeholder slice without endpoints.

#include <optional>
#include <string>
#include <vector>

#include "api/kind.h"
#include "api/selector.h"
#include "client/client.h"
#include "client/informer.h"
#include "common/result.h"

namespace berth::controllers::endpointslice {

inline constexpr char kServiceNameLabel[] = "kubernetes.io/service-name";
inline constexpr char kManagedByLabel[] = "endpointslice.kubernetes.io/managed-by";
inline constexpr char kControllerName[] = "endpointslice-controller.k8s.io";
inline constexpr char kHeadlessLabel[] = "service.kubernetes.io/headless";
inline constexpr size_t kMaxEndpointsPerSlice = 100;

// The selector of a Service that has one (a map of labels); nullopt for a
// Service without one (its endpoints are the user's, not a controller's).
std::optional<api::LabelSelector> serviceSelector(const api::Object& service);

// The keys ("ns/name") of the Services in the pod's namespace whose
// selector matches its labels now or (old_pod, may be null) before.
std::vector<std::string> servicesForPod(const client::Informer& services,
                                        const api::Object* old_pod, const api::Object& pod);

// ShouldPodBeInEndpoints: an IP, not Succeeded or Failed, and (unless
// include_terminating) not being deleted.
bool podInEndpoints(const api::Object& pod, bool include_terminating);

// podutil.FindPort: the container port a Service port reaches on `pod`
// (targetPort as a number, or the container port of that name and
// protocol; the Service port when targetPort is unset). NotFound when a
// named port is not on the pod.
Result<int64_t> findPort(const api::Object& pod, const boost::json::object& service_port);

// The port a Service port reaches on `pod` as an endpoint port {name,
// port, protocol, appProtocol when set}; NotFound as findPort.
Result<boost::json::object> endpointPort(const api::Object& pod,
                                         const boost::json::object& service_port);

// The endpoint `pod` is of `service`.
boost::json::object podEndpoint(const api::Object& service, const api::Object& pod);

struct DesiredSlice {
  std::string address_type;  // IPv4 or IPv6
  boost::json::array ports;
  boost::json::array endpoints;
};

// The slices `service` should have for `pods` (the pods of its namespace
// its selector matches).
std::vector<DesiredSlice> desiredSlices(const api::Object& service,
                                        const std::vector<client::ObjectPtr>& pods);

// Who a set of slices belongs to: their namespace, the name they are
// generated from, their labels (service-name and managed-by among them)
// and their owner reference.
struct SliceOwner {
  std::string ns;
  std::string name;
  boost::json::object labels;
  boost::json::object owner_ref;
};

// The owner of the slices of `service`: the Service's labels plus the
// controller's (and the headless label), owned by the Service.
SliceOwner serviceOwner(const api::Object& service);

// A new EndpointSlice of `owner` (generateName "<name>-").
api::Object newSlice(const SliceOwner& owner, const DesiredSlice& desired);

struct SlicePlan {
  std::vector<api::Object> create;
  std::vector<api::Object> update;  // existing slices with their new contents
  std::vector<std::string> remove;  // names
};

// How to get from the owner's slices `existing` to `desired`: slices of
// the same address type and ports are reused in order (updated only when
// their endpoints or labels differ), missing ones created, the rest
// deleted.
SlicePlan planSlices(const SliceOwner& owner, const std::vector<DesiredSlice>& desired,
                     const std::vector<client::ObjectPtr>& existing);

// Writes a plan: updates and creations first, deletions last, so that a
// reader never sees fewer endpoints than before or after.
Status applyPlan(client::Client& client, const std::string& ns, SlicePlan plan);

// The slices of the Service `service` in `ns` that `manager` (a managed-by
// value) manages.
std::vector<client::ObjectPtr> managedSlices(const client::Informer& slices, const std::string& ns,
                                             const std::string& service,
                                             const std::string& manager);

}  // namespace berth::controllers::endpointslice
