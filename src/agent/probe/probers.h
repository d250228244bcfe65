#pragma once

// The network probes of a container, as upstream's probers do them
// (pkg/probe/tcp, pkg/probe/http): the agent runs in the node's network
// namespace, where pod IPs are routable, and connects to the pod's IP.
//
// tcpSocket: success when a connection opens within the timeout.
// httpGet: GET with the probe's headers plus User-Agent kube-probe/<v> and
// Accept */*; 200-399 is success; redirects to the same host are followed
// (at most 10), a redirect elsewhere counts as success with a warning; at
// most 10 KiB of the body is read for the failure output. HTTPS skips
// certificate verification, as upstream does.

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace berth::agent::probe {

enum class ProbeResult { kSuccess, kWarning, kFailure, kUnknown };

struct ProbeOutcome {
  ProbeResult result = ProbeResult::kUnknown;
  std::string output;  // what upstream puts in the event / log on failure
};

inline constexpr char kProbeUserAgent[] = "kube-probe/1.32";

ProbeOutcome probeTcp(const std::string& host, int port, std::chrono::milliseconds timeout);

struct HttpProbe {
  std::string scheme = "HTTP";  // HTTP | HTTPS
  std::string host;             // defaults to the pod IP (the caller fills it)
  int port = 0;
  std::string path = "/";
  std::vector<std::pair<std::string, std::string>> headers;
};

ProbeOutcome probeHttp(const HttpProbe& probe, std::chrono::milliseconds timeout);

}  // namespace berth::agent::probe
