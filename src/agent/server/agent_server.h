#pragma once

// The node agent's HTTPS server, in the role of the kubelet's port-10250
// server (pkg/kubelet/server/server.go): the API server reaches it for
// `kubectl logs` (GET /containerLogs/{ns}/{pod}/{container}) and later for
// exec, attach and port-forward.
//
// Only the API server may call it. As the kubelet with
// --client-ca-file and webhook authorization, the server verifies client
// certificates against the cluster CA and accepts only the API server's
// identity (apiserver::kAgentClientUser, "system:berth-apiserver", the CN
// of the certificate apiserver::issueAgentClientCertificate issues); other
// users get 403, requests without a valid certificate 401, both as Status.
// GET /healthz is open, as the kubelet's healthz port.
//
// Without a serving certificate the server makes a self-signed one at
// start() (a throwaway CA "<host>-ca@<unix time>" and a leaf signed by it),
// as the kubelet does without --tls-cert-file; the API server does not
// verify agents' serving certificates unless it is given their CA.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace berth::agent::server {

struct ContainerLogRef {
  std::string path;  // the CRI log file (runtime/logs/cri_log.h)
  bool running = false;
};

class ContainerLogSource {
 public:
  virtual ~ContainerLogSource() = default;
  // The CRI log of the container's current attempt (previous: the one before).
  // NotFound / BadRequest errors carry upstream's messages (the API server normally answers those
  // first).
  virtual Result<ContainerLogRef> containerLog(const std::string& ns, const std::string& pod,
                                               const std::string& container, bool previous) = 0;
};

struct AgentServerOptions {
  // host:port; port 0 picks a free one (AgentServer::port()).
  std::string listen = "0.0.0.0:10250";
  // The cluster CA (PEM) whose client certificates are accepted
  // (kubelet --client-ca-file). Required.
  std::string client_ca_pem;
  // Serving certificate chain and key (PEM). Empty: self-signed at start().
  std::string cert_pem;
  std::string key_pem;
  // Extra IP literals the self-signed certificate names besides loopback
  // and a specific listen address (the node's InternalIP).
  std::vector<std::string> serving_ips;
  // Not owned; must outlive the server (stop() waits for every reader).
  ContainerLogSource* source = nullptr;
  // HTTP handler threads. Each log stream reads on a thread of its own.
  int threads = 2;
  // Log streams at once; more are refused with 429.
  int max_log_streams = 256;
  // Reading pauses while this much output is queued for a slow reader.
  size_t max_pending_bytes = 4 << 20;
  // While following, how often the source is asked whether the container
  // still runs (the kubelet's stateCheckPeriod, shorter).
  std::chrono::milliseconds state_check_period{std::chrono::milliseconds(250)};
  // sinceSeconds is measured against this clock; null: the real one.
  Clock* clock = nullptr;
};

class AgentServer {
 public:
  explicit AgentServer(AgentServerOptions options);
  ~AgentServer();  // stop()s
  AgentServer(const AgentServer&) = delete;
  AgentServer& operator=(const AgentServer&) = delete;

  // Makes the serving certificate if needed, binds and serves; returns the
  // bound port.
  Result<int> start();
  // Stops accepting, ends every log stream (their readers return within a
  // state check period) and joins all threads. Idempotent.
  void stop();

  int port() const;
  // The CA of the self-signed serving certificate (empty when one was
  // given), for clients that want to verify it.
  const std::string& servingCaPem() const;
  // Log streams being served.
  size_t activeLogStreams() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace berth::agent::server
