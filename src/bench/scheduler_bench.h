#pragma once

#include <string>
#include <vector>

namespace berth::bench {

// `berth bench scheduler --nodes N --pods M [--strategy most|least]
// [--clients C] [--timeout S] [--uniform]`: the scheduler macro-benchmark,
// after upstream's scheduler_perf SchedulingBasic, against the real server:
// a ClusterServer started in this process (`--scheduler-strategy`; its
// scheduler and controllers run as in `berth server`) hosts N Node objects
// of four shapes (or all 4c/16Gi with --uniform); the load goes through an
// in-process client on the server's Registry (the API minus HTTP).
//   floor     M plain pod creates from C clients (nobody schedules them):
//             the API write floor of this machine, measured in the run;
//   run       M pods with varied requests created concurrently for the
//             server's scheduler; pods bound per second from the first
//             create to the last bind a watch sees, and its ratio to the
//             floor; placement: nodes used against the bin-packing lower
//             bound (MostAllocated) or the spread of pods per node
//             (LeastAllocated);
//   backlog   M more pods created before their scheduler starts (a second
//             Scheduler with the server's options over the server's
//             Registry, since the server's own starts with the server): the
//             scheduler's own throughput from a full queue.
// Returns the process exit code.
int runSchedulerBench(const std::vector<std::string>& args);

}  // namespace berth::bench
