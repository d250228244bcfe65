#pragma once

// The name-resolution files the kubelet writes for a pod: /etc/hosts
// (pkg/kubelet/kubelet_pods.go managedHostsFileContent, hostAliases) and
// /etc/resolv.conf for its dnsPolicy and dnsConfig
// (pkg/kubelet/network/dns: ClusterFirst, ClusterFirstWithHostNet,
// Default, None; at most 3 nameservers and 32 search domains).

#include <string>
#include <vector>

#include "api/kind.h"

namespace berth::agent {

struct ResolvConf {
  std::vector<std::string> nameservers;
  std::vector<std::string> searches;
  std::vector<std::string> options;  // "ndots:5", "edns0", ...
};

ResolvConf parseResolvConf(const std::string& text);
std::string formatResolvConf(const ResolvConf& conf);

struct ClusterDns {
  std::vector<std::string> servers;  // the cluster DNS Service IPs; empty: none yet
  std::string domain = "cluster.local";
};

// The pod's resolv.conf. `host` is the node's own; with no cluster DNS,
// ClusterFirst falls back to the node's (upstream does so with a
// MissingClusterDNS event, reported through *warning).
ResolvConf podResolvConf(const api::Object& pod, const ResolvConf& host, const ClusterDns& dns,
                         std::string* warning);

// The pod's /etc/hosts for the pod network; host_hosts is the node's own
// /etc/hosts (hostNetwork pods get it with upstream's header).
std::string podHostsFile(const api::Object& pod, const std::string& pod_ip,
                         const std::string& cluster_domain, const std::string& host_hosts);

// The pod's hostname: spec.hostname or its name, cut to 63 characters.
std::string podHostname(const api::Object& pod);

}  // namespace berth::agent
