#include "agent/probe/exec_prober.h"

#include <cstdio>

namespace berth::agent::probe {

std::string goDuration(std::chrono::milliseconds d) {
  long long ms = d.count();
  if (ms == 0) return "0s";
  std::string sign = ms < 0 ? "-" : "";
  if (ms < 0) ms = -ms;
  if (ms < 1000) return sign + std::to_string(ms) + "ms";
  long long hours = ms / 3'600'000, minutes = ms / 60'000 % 60, millis = ms % 60'000;
  // Seconds with the fraction's trailing zeros dropped.
  std::string seconds = std::to_string(millis / 1000);
  if (millis % 1000 != 0) {
    char frac[8];
    std::snprintf(frac, sizeof(frac), "%03lld", millis % 1000);
    std::string f = frac;
    while (!f.empty() && f.back() == '0') f.pop_back();
    seconds += "." + f;
  }
  std::string out = sign;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
  return out + seconds + "s";
}

ProbeOutcome probeExec(const ExecRunner& run, const std::vector<std::string>& command,
                       std::chrono::milliseconds timeout) {
  auto result = run(command, timeout, kExecProbeMaxOutput);
  if (!result.ok()) return {ProbeResult::kUnknown, result.error().message};
  if (result->timed_out) {
    std::string joined;
    for (const auto& arg : command) joined += (joined.empty() ? "" : " ") + arg;
    // The CRI client's ErrCommandTimedOut wrapping, with Go's %q quoting.
    return {ProbeResult::kFailure,
            "command timed out: \"" + joined + "\" timed out after " + goDuration(timeout)};
  }
  std::string output = result->out + result->err;
  if (output.size() > kExecProbeMaxOutput) output.resize(kExecProbeMaxOutput);
  return {result->exit_code == 0 ? ProbeResult::kSuccess : ProbeResult::kFailure, output};
}

}  // namespace berth::agent::probe
