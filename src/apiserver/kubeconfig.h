#pragma once

#include <string>

#include "common/result.h"

namespace berth::apiserver {

struct KubeconfigOptions {
  // Address the server listens on ("0.0.0.0", "::", "127.0.0.1", ...).
  // Unspecified addresses become 127.0.0.1 (or ::1 for "::").
  std::string host = "127.0.0.1";
  int port = 6443;
  std::string ca_pem;
  std::string token;
  // Alternatively or additionally, a client certificate (PEM).
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string cluster_name = "berth";
  std::string user_name = "admin";
  std::string context_name = "berth";
};

// The server URL a local client should use: https://HOST:PORT with IPv6
// literals bracketed and unspecified addresses replaced by loopback.
std::string kubeconfigServerUrl(const std::string& host, int port);

// A kubeconfig (clientcmd v1 Config) that kubectl uses as is: the cluster
// with certificate-authority-data (TLS verified, never insecure), the user
// with a bearer token and/or client certificate data, one context, current.
std::string renderKubeconfig(const KubeconfigOptions& options);

// Writes `path` atomically with mode 0600 (it holds credentials).
Status writeKubeconfig(const std::string& path, const KubeconfigOptions& options);

// Standard base64 (with padding), as kubeconfig's *-data fields expect.
std::string base64Encode(std::string_view data);

}  // namespace berth::apiserver
