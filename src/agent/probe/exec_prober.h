#pragma once

// The exec probe, as upstream's pkg/probe/exec with the kubelet's
// RunInContainer under it: the probe's command runs in the container with
// the probe's timeout; stdout followed by stderr (not interleaved, as
// RunInContainer appends them), at most 10 KiB, is the output.
//
// exit 0: success; another exit code: failure with the output; timeout:
// failure with the CRI client's text, `command timed out: "<cmd>" timed out
// after <timeout>` (ExecProbeTimeout is GA); the runner failing (the
// container is gone, runc broke): unknown with the error, which upstream
// logs as "probe errored" and does not count.
//
// The agent supplies the runner (runtime::execInContainer over runc); the
// prober does not depend on the runtime library.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "agent/probe/probers.h"
#include "common/result.h"

namespace berth::agent::probe {

// upstream's maxReadLength.
inline constexpr size_t kExecProbeMaxOutput = 10 * 1024;

// What the runner reports for one command run in the container.
struct ExecRun {
  int exit_code = 0;
  std::string out;
  std::string err;
  bool timed_out = false;
};

// Runs command in the container, killing it after timeout; keeps at most
// max_output bytes of each stream.
using ExecRunner = std::function<Result<ExecRun>(
    const std::vector<std::string>& command, std::chrono::milliseconds timeout, size_t max_output)>;

ProbeOutcome probeExec(const ExecRunner& run, const std::vector<std::string>& command,
                       std::chrono::milliseconds timeout);

// A duration as Go's time.Duration String() prints it ("1s", "200ms",
// "1.5s", "2m0s"), for messages that quote a timeout.
std::string goDuration(std::chrono::milliseconds d);

}  // namespace berth::agent::probe
