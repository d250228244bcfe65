#pragma once

#include <string>
#include <vector>

namespace berth::bench {

// `berth bench cluster --nodes N --pods M`: upstream's density test on
// hollow nodes. Starts `berth server` and `berth agent --hollow N` as child
// processes, waits for the nodes, creates M pods as Deployments, and
// reports the time until every pod is Running and Ready, API latency (an
// open-loop probe of get / list / patch) during the run against the same
// probe on the idle server before it, and the server's RSS and CPU time.
// Returns the process exit code.
int runClusterBench(const std::vector<std::string>& args);

}  // namespace berth::bench
