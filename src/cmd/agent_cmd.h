#pragma once

#include <string>
#include <vector>

namespace berth::cmd {

// `berth agent ...`: joins a cluster as a node agent. Today only the hollow
// mode exists: `--hollow N` runs N simulated nodes (agent/hollow) over the
// HTTPS client until SIGTERM / SIGINT. Returns the process exit code.
int runAgent(const std::vector<std::string>& args);

}  // namespace berth::cmd
