#pragma once

#include <string>
#include <vector>

#include "agent/node_agent.h"

namespace berth::cmd {

// `berth agent ...`: joins a cluster as a node agent over HTTPS until
// SIGTERM / SIGINT: a real node that runs pods (agent::NodeAgent), or with
// `--hollow N` N simulated nodes (agent/hollow). Returns the exit code.
int runAgent(const std::vector<std::string>& args);

// The real node's flags, shared by `berth agent` and the agent `berth
// server` embeds: --node-name, --node-ip, --pod-cidr, --agent-data-dir,
// --cluster-dns, --max-pods, --runc, --cgroup-root. Consumes args[*i] (and
// its value) when it is one of them; false otherwise. Errors go to *error.
bool takeNodeFlag(const std::vector<std::string>& args, size_t* i, agent::NodeAgentOptions* o,
                  std::string* error);
// Defaults for what the flags left out: the node name (the host name,
// lower-cased), its IP (`default_ip`, else the first non-loopback IPv4).
void defaultNodeOptions(agent::NodeAgentOptions* o, const std::string& default_ip);

}  // namespace berth::cmd
