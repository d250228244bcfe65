#pragma once

#include <string>
#include <vector>

namespace berth::bench {

// `berth bench scheduler --nodes N --pods M [--strategy most|least]
// [--clients C] [--parallelism P] [--binders B] [--timeout S] [--uniform]`:
// the scheduler macro-benchmark, after upstream's scheduler_perf
// SchedulingBasic. An in-process API stack (SQLite store, watch cache,
// registry, in-process client) hosts N Node objects of four shapes (or all
// 4c/16Gi with --uniform); the scheduler runs on the in-process client.
//   floor     M plain pod creates from C clients (nobody schedules them):
//             the API write floor of this machine, measured in the run;
//   run       M pods with varied requests created concurrently while the
//             scheduler runs; pods bound per second from the first create
//             to the last bind a watch sees, and its ratio to the floor;
//             placement: nodes used against the bin-packing lower bound
//             (MostAllocated) or the spread of pods per node
//             (LeastAllocated);
//   backlog   M more pods created before their scheduler starts: the
//             scheduler's own throughput from a full queue.
// Returns the process exit code.
int runSchedulerBench(const std::vector<std::string>& args);

}  // namespace berth::bench
