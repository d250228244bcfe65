#pragma once

#include <string>
#include <vector>

namespace berth::bench {

// `berth bench pods [--counts 1,10,100]`: pod start-up on a real node (issue
// 4). As root it builds a lab (a network namespace of its own with the node
// IP on a veth pair, a busybox image packed into a temp data dir, a cgroup
// root of its own), measures `runc run -d` of the image's rootfs as the
// floor, then starts `berth server` with its embedded agent inside the lab
// and, for each N, creates N pods at once and times each from its create
// call returning to the watch event showing it Running and Ready; then
// deletes them and times that too. Ends with the server's idle RSS and CPU
// next to a --disable-agent server's. Everything it creates is removed at
// the end, also after a failure or SIGINT. Returns the process exit code.
int runPodBench(const std::vector<std::string>& args);

}  // namespace berth::bench
