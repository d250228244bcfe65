#pragma once

#include <string>
#include <vector>

namespace berth::bench {

// `berth bench scheduler --nodes N --pods M [--strategy most|least]
// [--clients C] [--parallelism P] [--binders B] [--timeout S]`: the
// scheduler macro-benchmark, after upstream's scheduler_perf
// SchedulingBasic. An in-process API stack (SQLite store, watch cache,
// registry, in-process client) hosts N Node objects of a few shapes; the
// scheduler runs on the in-process client; M pods with varied requests are
// created concurrently and the run ends when a watch has seen every pod
// bound. Prints pods bound per second from the first create to the last
// bind, the ratio against plain pod creates per second on the same stack in
// the same run (the API write floor), and placement quality: nodes used
// against the lower bound for MostAllocated, the spread of pods per node for
// LeastAllocated. Returns the process exit code.
int runSchedulerBench(const std::vector<std::string>& args);

}  // namespace berth::bench
