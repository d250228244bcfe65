#pragma once

#include <string>
#include <vector>

namespace berth::bench {

// `berth bench api [flags]`: the API server macro-benchmark. Starts a
// server (a child process by default), drives create/get/list/patch/delete
// for ConfigMaps and Pods with N keep-alive HTTPS clients, an open-loop
// write rate, a watch fan-out, and prints ratios against a trivial endpoint
// of the same server measured in the same run. Returns the process exit code.
int runApiBench(const std::vector<std::string>& args);

}  // namespace berth::bench
