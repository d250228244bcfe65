#pragma once

// pods/{name}/log: the API server's half of `kubectl logs`. Mirrors
// upstream's LogREST (pkg/registry/core/pod/rest/log.go) and LogLocation
// (pkg/registry/core/pod/strategy.go): decode and validate PodLogOptions,
// pick the container, find the pod's node and its agent (the kubelet's
// port-10250 server), and stream the agent's
// GET /containerLogs/{ns}/{pod}/{container} answer back to the client, as
// genericrest.LocationStreamer does.
//
// AgentProxy is the kubelet client (pkg/kubelet/client): an HTTPS client
// with the API server's own client certificate, asynchronous so that a
// follower does not pin one of the API server's handler threads.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/kind.h"
#include "apiserver/auth/certs.h"
#include "apiserver/http.h"
#include "common/result.h"

namespace berth::apiserver {

// The user name (certificate CN) the API server presents to node agents,
// upstream's kube-apiserver-kubelet-client. Agents accept only this user.
inline constexpr std::string_view kAgentClientUser = "system:berth-apiserver";

// The kubelet's default port (KubeletConfiguration.port), used when a Node
// reports no status.daemonEndpoints.kubeletEndpoint.Port.
inline constexpr int kDefaultAgentPort = 10250;

// core/v1 PodLogOptions as the query parameters carry it.
struct PodLogOptions {
  std::string container;
  bool follow = false;
  bool previous = false;
  bool timestamps = false;
  std::optional<int64_t> since_seconds;
  std::optional<std::chrono::system_clock::time_point> since_time;
  std::optional<int64_t> tail_lines;
  std::optional<int64_t> limit_bytes;
  bool insecure_skip_tls_verify_backend = false;
};

// Decodes the query as upstream's parameter codec: booleans are true unless
// "false" or "0" (an empty value is true), integers must parse (400
// BadRequest with strconv's message), sinceTime is RFC 3339. The first
// value of a repeated key counts.
Result<PodLogOptions> decodePodLogOptions(
    const std::vector<std::pair<std::string, std::string>>& query);

// ValidatePodLogOptions (pkg/apis/core/validation): 422 Invalid on
// PodLogOptions "<pod>" for a negative tailLines, limitBytes < 1,
// sinceSeconds < 1, or both sinceSeconds and sinceTime.
Status validatePodLogOptions(const PodLogOptions& options, const std::string& pod_name);

// The query LogLocation sends to the agent (url.Values.Encode: keys
// sorted; only the options that are set; sinceTime in RFC 3339 seconds).
std::string agentLogQuery(const PodLogOptions& options);

// validateContainer: the requested container (init, regular or ephemeral),
// or the pod's only container; 400 BadRequest otherwise with upstream's
// messages ("a container name must be specified for pod NAME, choose one
// of: [a b]", "container X is not valid for pod NAME").
Result<std::string> podLogContainer(const api::Object& pod, const std::string& requested);

// NodeConnectionInfoGetter: the node's first address of the preferred types
// and its kubelet endpoint port (kDefaultAgentPort when unset). No address:
// an error whose message is upstream's NoMatchError text.
struct AgentAddress {
  std::string host;
  int port = kDefaultAgentPort;
};
Result<AgentAddress> nodeAgentAddress(const api::Object& node,
                                      const std::vector<std::string>& preferred_address_types);

struct AgentProxyOptions {
  // The client certificate the API server presents (kube-apiserver
  // --kubelet-client-certificate / --kubelet-client-key).
  std::string client_cert_pem;
  std::string client_key_pem;
  // CA the agents' serving certificates must chain to, with their address
  // in the certificate (--kubelet-certificate-authority). Empty: not
  // verified, as upstream without that flag (agents serve self-signed
  // certificates).
  std::string agent_ca_pem;
  // --kubelet-preferred-address-types; k3s's order, so that no name lookup
  // is needed when a node reports an InternalIP.
  std::vector<std::string> preferred_address_types = {"InternalIP", "ExternalIP", "Hostname"};
  // Connecting and the TLS handshake (--kubelet-timeout).
  std::chrono::milliseconds dial_timeout{std::chrono::seconds(5)};
  // Reading from the agent pauses while this much is queued for a slow
  // client.
  size_t max_pending_bytes = 1 << 20;
};

// Issues the certificate AgentProxyOptions presents: CN kAgentClientUser,
// clientAuth, signed by the cluster CA (which agents trust as client CA).
Result<auth::CertKeyPair> issueAgentClientCertificate(const auth::CertKeyPair& cluster_ca);

// The API server's client for node agents. Thread-safe. Requests run on its
// own I/O thread; stop() cuts those still streaming and joins it. Stop the
// HTTP transport that feeds it first.
class AgentProxy {
 public:
  explicit AgentProxy(AgentProxyOptions options);
  ~AgentProxy();  // stop()s
  AgentProxy(const AgentProxy&) = delete;
  AgentProxy& operator=(const AgentProxy&) = delete;

  // Loads the TLS settings and starts the I/O thread.
  Status start();
  void stop();

  const AgentProxyOptions& options() const { return options_; }

  // GET https://host:port{target}. A 2xx answer is streamed to `responder`
  // (200, text/plain) chunk by chunk as it arrives, until the agent ends it;
  // the client going away closes the agent connection. Non-2xx answers:
  // Status bodies pass through with their code, other bodies are wrapped as
  // upstream's GenericHttpResponseChecker does for pods/log `pod_name`.
  // Transport failures answer 500 with Go's url.Error text
  // (`Get "https://...": dial tcp ...: connect: connection refused`).
  struct Call {
    std::string host;
    int port = kDefaultAgentPort;
    std::string target;  // "/containerLogs/ns/pod/c?follow=true"
    std::string pod_name;
    // PodLogOptions.insecureSkipTLSVerifyBackend: skip the agent_ca_pem check.
    bool insecure_skip_tls_verify = false;
  };
  void get(Call call, std::shared_ptr<Responder> responder);

  // Proxied requests in progress (tests, metrics).
  size_t activeCount() const;

  class Impl;

 private:
  AgentProxyOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::apiserver
