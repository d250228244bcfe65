#pragma once

// Objects the Endpoints and EndpointSlice controller tests share: a Service
// "web" selecting app=web with port http 80 -> 8080, and its pods.

#include <boost/json.hpp>
#include <string>

#include "api/kind.h"

namespace berth::controllers::testing {

inline api::Object webService(const std::string& extra_spec = "") {
  return boost::json::parse(R"({"apiVersion": "v1", "kind": "Service",
      "metadata": {"name": "web", "namespace": "default", "uid": "svc-uid",
                   "labels": {"tier": "front"}},
      "spec": {)" + extra_spec +
                            R"("selector": {"app": "web"},
               "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})")
      .as_object();
}

// A pod of app=web on node n1 with container port web=8080; no IP when
// `ip` is empty.
inline api::Object webPod(const std::string& name, const std::string& ip, bool ready,
                          const std::string& extra_spec = "",
                          const std::string& phase = "Running") {
  api::Object p = boost::json::parse(R"({"apiVersion": "v1", "kind": "Pod",
      "metadata": {"name": ")" + name +
                                     R"(", "namespace": "default", "uid": "uid-)" + name +
                                     R"(", "labels": {"app": "web"}},
      "spec": {)" + extra_spec +
                                     R"("nodeName": "n1", "containers": [{"name": "c", "image": "i",
               "ports": [{"name": "web", "containerPort": 8080}]}]},
      "status": {"phase": ")" + phase +
                                     R"(",
                 "conditions": [{"type": "Ready", "status": ")" +
                                     (ready ? "True" : "False") + R"("}]}})")
                      .as_object();
  if (!ip.empty()) p["status"].as_object()["podIP"] = ip;
  return p;
}

}  // namespace berth::controllers::testing
